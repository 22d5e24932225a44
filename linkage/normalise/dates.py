"""Dates of birth with their precision: `PartialDate` and the parser for XML 130 `yyyymmddHHMM`.

NGAY_SINH is `yyyymmddHHMM`; an unknown time is `0000`, an unknown day or month is `00`
(`195600000000` = year only, common for elderly people). Newborns carry the birth time.

Must never invent a part that the source did not give (no day 01 for an unknown day), and never
log a date of birth.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Literal

from linkage.pickling import by_fields

__all__ = ["PartialDate", "Precision", "parse_partial_date"]

Precision = Literal["year", "month", "day", "minute"]


@by_fields
@dataclass(frozen=True, slots=True, order=False)
class PartialDate:
    """A date known to `precision`: the parts below it are None, never a placeholder."""

    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None

    @property
    def precision(self) -> Precision:
        if self.month is None:
            return "year"
        if self.day is None:
            return "month"
        if self.hour is None:
            return "day"
        return "minute"

    def iso(self) -> str:
        """ISO 8601 to the known precision: `1956`, `1956-03`, `1956-03-07`, `2024-05-01T08:30`."""
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        if self.hour is not None and self.minute is not None:
            text += f"T{self.hour:02d}:{self.minute:02d}"
        return text

    def compatible(self, other: PartialDate) -> bool:
        """True when the two dates agree on every part both of them know."""
        return all(
            a is None or b is None or a == b
            for a, b in (
                (self.year, other.year),
                (self.month, other.month),
                (self.day, other.day),
                (self.hour, other.hour),
                (self.minute, other.minute),
            )
        )

    def sort_key(self) -> tuple[int, int, int, int, int]:
        """Orders dates chronologically; an unknown part sorts before every known one."""
        return (self.year, self.month or 0, self.day or 0, self.hour or 0, self.minute or 0)

    @property
    def is_january_first(self) -> bool:
        """1 January is a common placeholder for an unknown day and month."""
        return self.month == 1 and self.day == 1


def parse_partial_date(raw: str | None, *, min_year: int = 1850, max_year: int = 2100) -> PartialDate | None:
    """Parse `yyyy`, `yyyymm`, `yyyymmdd` or `yyyymmddHHMM` with `00`/`0000` for unknown parts.

    Returns None for anything else: wrong length, non-digits, impossible values (month 13,
    30 February, 24:00), a year outside `[min_year, max_year]`, or a day without a month.
    """
    if raw is None:
        return None
    text = raw.strip()
    if len(text) not in (4, 6, 8, 12) or not text.isascii() or not text.isdigit():
        return None
    year = int(text[0:4])
    if not min_year <= year <= max_year:
        return None
    month = int(text[4:6]) if len(text) >= 6 else 0
    day = int(text[6:8]) if len(text) >= 8 else 0
    hhmm = text[8:12] if len(text) == 12 else "0000"
    if month == 0:
        return PartialDate(year) if day == 0 and hhmm == "0000" else None
    if month > 12:
        return None
    if day == 0:
        return PartialDate(year, month) if hhmm == "0000" else None
    if day > calendar.monthrange(year, month)[1]:
        return None
    if hhmm == "0000":
        return PartialDate(year, month, day)
    hour, minute = int(hhmm[:2]), int(hhmm[2:])
    if hour > 23 or minute > 59:
        return None
    return PartialDate(year, month, day, hour, minute)
