"""SO_CCCD: classify the national ID (CCCD / CMND / passport / other) and check a CCCD's structure.

A 12-digit personal identification number is `PPP G YY NNNNNN`: PPP the province of birth
registration (see `provinces.CCCD_PROVINCES`), G century and sex (1900s male 0 / female 1, 2000s 2/3,
2100s 4/5, ...), YY the last two digits of the birth year. There is no check digit.

Classification rule (documented choice):
- 12 digits -> "CCCD", always. The 12-digit CMND issued 2012-2016 used the same structure and its
  number carried over to the CCCD, so it is the same identifier; a 12-digit number that fails the
  structure is a CCCD with issues (a typo or a wrong person's number), not another kind.
- 9 digits -> "CMND" (old identity card).
- one upper-case letter + 7 digits -> "PASSPORT" (the common Vietnamese passport shape).
- anything else non-empty -> "OTHER" (e-ID account codes, 10-digit BHXH numbers in the wrong field,
  foreign passports). One repeated digit (000000000000) -> "OTHER" with issue "placeholder".

Checks return the names of the failed checks; an equal CCCD with failed checks must go to review,
never link silently (a guardian's number on a child's record). Never log an ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from linkage.normalise.dates import PartialDate
from linkage.normalise.provinces import CCCD_PROVINCES

__all__ = ["NationalId", "NationalIdKind", "cccd_birth_year", "cccd_sex", "check_cccd", "classify_national_id"]

NationalIdKind = Literal["CCCD", "CMND", "PASSPORT", "OTHER"]

_SEPARATORS = re.compile(r"[\s.\-]")
_PASSPORT = re.compile(r"[A-Z]\d{7}")


@dataclass(frozen=True, slots=True)
class NationalId:
    value: str
    kind: NationalIdKind
    issues: tuple[str, ...] = ()


def cccd_birth_year(number: str) -> int:
    """The birth year a 12-digit CCCD's digits give: the century from G, the rest from YY."""
    return 1900 + 100 * (int(number[3]) // 2) + int(number[4:6])


def cccd_sex(number: str) -> int:
    """The sex a 12-digit CCCD's G digit gives: 1 male (G even), 2 female (G odd)."""
    return int(number[3]) % 2 + 1


def check_cccd(number: str, *, sex: int | None = None, dob: PartialDate | None = None) -> tuple[str, ...]:
    """Failed structure checks of a 12-digit CCCD, in a fixed order; () when all pass.

    - "province_code": PPP is not one of the 63 province codes.
    - "century": G says a birth century that has not begun (2100 or later).
    - "sex": G's sex disagrees with GIOI_TINH (1 male, 2 female; 3/None is not checked).
    - "birth_century": G's century disagrees with the DOB year.
    - "birth_year": YY disagrees with the DOB year.
    """
    issues: list[str] = []
    if number[:3] not in CCCD_PROVINCES:
        issues.append("province_code")
    year = cccd_birth_year(number)
    century = year // 100 * 100
    if century > 2000:
        issues.append("century")
    if sex in (1, 2) and sex != cccd_sex(number):
        issues.append("sex")
    if dob is not None:
        if dob.year // 100 * 100 != century:
            issues.append("birth_century")
        if dob.year % 100 != year % 100:
            issues.append("birth_year")
    return tuple(issues)


@lru_cache(maxsize=65536)
def classify_national_id(
    raw: str | None, *, sex: int | None = None, dob: PartialDate | None = None
) -> NationalId | None:
    """Clean (spaces, dots, dashes out; upper case), classify, and check a SO_CCCD value."""
    if raw is None:
        return None
    value = _SEPARATORS.sub("", raw).upper()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        if len(set(value)) == 1:
            return NationalId(value, "OTHER", ("placeholder",))
        if len(value) == 12:
            return NationalId(value, "CCCD", check_cccd(value, sex=sex, dob=dob))
        if len(value) == 9:
            return NationalId(value, "CMND")
        return NationalId(value, "OTHER")
    if _PASSPORT.fullmatch(value):
        return NationalId(value, "PASSPORT")
    return NationalId(value, "OTHER")
