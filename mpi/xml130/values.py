"""Typed values of XML 130 fields: dates with their precision, money as Decimal, codes as strings.

Each parser returns the typed value or raises :class:`ValueProblem` naming what is wrong; the caller
decides whether that is an error or a warning. The original text is always kept by the caller, so a
value this module cannot type is never lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

from linkage.pickling import by_fields


class Precision(StrEnum):
    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    MINUTE = "minute"


class ValueProblem(ValueError):
    """A value that does not fit its field. ``code`` is the validation code to report."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@by_fields
@dataclass(frozen=True, slots=True)
class PartialDateTime:
    """A point in time known to ``precision``. Unknown parts are set to their minimum in ``value``."""

    value: datetime
    precision: Precision
    digits: int
    """How many digits the source had (8 or 12)."""

    def format(self) -> str:
        """Back to the standard's ``yyyymmdd[HHMM]`` with ``00`` for unknown parts."""
        v, p = self.value, self.precision
        month = f"{v.month:02d}" if p is not Precision.YEAR else "00"
        day = f"{v.day:02d}" if p in (Precision.DAY, Precision.MINUTE) else "00"
        out = f"{v.year:04d}{month}{day}"
        if self.digits == 12:
            out += f"{v.hour:02d}{v.minute:02d}" if p is Precision.MINUTE else "0000"
        return out


_DIGITS: Final = re.compile(r"\d+")
_NUMBER: Final = re.compile(r"-?\d+(\.\d+)?")
UNDEFINED_LITERALS: Final = frozenset({"undefined", "null", "NaN", "None"})


def parse_datetime(text: str) -> PartialDateTime:
    """Parse ``yyyymmdd`` or ``yyyymmddHHMM``; ``00`` month/day and ``0000`` time mean unknown.

    A time of ``0000`` is read as "time unknown" (the standard's convention), so the precision is the day.
    """
    if not _DIGITS.fullmatch(text) or len(text) not in (8, 12):
        raise ValueProblem("date_format", f"expected 8 or 12 digits (yyyymmdd[HHMM]), got {len(text)} characters")
    year, month, day = int(text[0:4]), int(text[4:6]), int(text[6:8])
    hour, minute = (int(text[8:10]), int(text[10:12])) if len(text) == 12 else (0, 0)
    if year < 1850 or year > 2200:
        raise ValueProblem("date_invalid", "year out of range 1850..2200")  # no value: may be a birth year
    if month == 0:
        if day != 0 or hour or minute:
            raise ValueProblem("date_invalid", "month unknown (00) but day or time given")
        return PartialDateTime(datetime(year, 1, 1), Precision.YEAR, len(text))
    if day == 0:
        if hour or minute:
            raise ValueProblem("date_invalid", "day unknown (00) but time given")
        try:
            return PartialDateTime(datetime(year, month, 1), Precision.MONTH, len(text))
        except ValueError as exc:
            raise ValueProblem("date_invalid", str(exc)) from None
    try:
        value = datetime(year, month, day, hour, minute)
    except ValueError as exc:
        raise ValueProblem("date_invalid", str(exc)) from None
    precision = Precision.MINUTE if len(text) == 12 and (hour or minute) else Precision.DAY
    return PartialDateTime(value, precision, len(text))


def parse_integer(text: str) -> int:
    if not re.fullmatch(r"-?\d+", text):
        raise ValueProblem("not_integer", "expected a whole number")
    return int(text)


def parse_decimal(text: str) -> Decimal:
    """Numbers use ``.`` as decimal separator and no thousands separator (docs/xml130.md §6)."""
    if not _NUMBER.fullmatch(text):
        raise ValueProblem("not_number", "expected a number with '.' as decimal separator")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid literals
        raise ValueProblem("not_number", "expected a number") from None


def parse_list(text: str) -> list[str]:
    """A ``;``-list; empty items (``a;;b``, a trailing ``;``) are dropped."""
    return [item.strip() for item in text.split(";") if item.strip()]
