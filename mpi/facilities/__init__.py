"""The facility registry: which facility a MA_CSKCB is, its level, commune and onboarding wave.

Facilities appear in the store the first time one of their encounters or keys arrives (``facility`` rows
created by ingest with the code only); the registry adds what the department knows about them. A facility
that submits before it is registered keeps working and is shown as unregistered.

- :func:`read_registry_file` reads a registry CSV (UTF-8, header) or XLSX and reports every problem at once.
- :func:`import_registry` / :func:`upsert_facility` write it; :func:`list_facilities`, :func:`get_facility`
  read it.
- :func:`describe_facility` / :func:`describe_facilities` are what every page, report and FHIR resource
  calls to show a facility: its name and level, or its code marked unregistered.

This module never reads patient data.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, select
from sqlmodel import Session

from mpi.errors import InvalidInputFile, MPIError, NotFound
from mpi.store.models import Facility, utcnow

Lang = Literal["vi", "en"]

LEVELS: dict[str, tuple[str, str]] = {
    "provincial": ("Bệnh viện tuyến tỉnh", "Provincial hospital"),
    "district": ("Trung tâm y tế khu vực (tuyến huyện)", "District health centre"),
    "private": ("Phòng khám đa khoa tư nhân", "Private polyclinic"),
    "commune": ("Trạm y tế xã", "Commune health station"),
}
"""Facility levels: code -> (Vietnamese label, English label)."""

LEVEL_RANK: dict[str, int] = {"commune": 1, "private": 2, "district": 2, "provincial": 3}
"""Referral tier: a referral goes up when the receiving rank is higher (commune -> district -> province)."""

REGISTRY_COLUMNS: tuple[str, ...] = ("facility_code", "name", "level", "commune_code", "wave", "onboarded_on")
"""Columns of a registry file, all required, in this order when we write one."""
OPTIONAL_COLUMNS: tuple[str, ...] = ("active",)
"""Accepted as well: ``active`` (1/0, true/false, có/không; empty = active)."""

UNREGISTERED: dict[Lang, str] = {"vi": "chưa đăng ký", "en": "unregistered"}

_CODE = re.compile(r"\d{5}")
_COMMUNE = re.compile(r"\d{5}")
_TRUE = {"1", "true", "yes", "y", "có", "co", "x"}
_FALSE = {"0", "false", "no", "n", "không", "khong"}
_facility = Facility.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One facility as the registry describes it."""

    facility_code: str
    name: str
    level: str
    commune_code: str | None = None
    wave: int | None = None
    onboarded_on: date | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class FacilityLabel:
    """How a facility is shown: the registry's name and level, or the bare code marked unregistered."""

    code: str
    name: str | None
    level: str | None
    registered: bool
    active: bool = True

    def level_label(self, lang: Lang = "vi") -> str | None:
        if self.level is None:
            return None
        return LEVELS[self.level][0 if lang == "vi" else 1] if self.level in LEVELS else self.level

    def text(self, lang: Lang = "vi") -> str:
        """``Name (level)`` for a registered facility, ``74001 (chưa đăng ký)`` otherwise."""
        if not self.registered or not self.name:
            return f"{self.code} ({UNREGISTERED[lang]})"
        level = self.level_label(lang)
        return f"{self.name} ({level})" if level else self.name


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int


# --- reading a registry file -------------------------------------------------------------------------


def read_registry_file(path: Path) -> list[RegistryRow]:
    """Read a registry CSV (UTF-8, header row) or XLSX (first sheet, header row).

    Raises :class:`InvalidInputFile` listing every problem (file, row, column, value, why); nothing is
    returned unless every row is valid.
    """
    suffix = path.suffix.lower()
    header: list[str]
    rows: Sequence[Sequence[Any]]
    if suffix == ".csv":
        header, rows = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        header, rows = _read_xlsx(path)
    else:
        raise InvalidInputFile(
            f"{path.name}: a facility registry is a .csv or .xlsx file", problems=[], code="registry_format"
        )
    return parse_registry(header, rows, source=path.name)


def parse_registry(header: Sequence[str], rows: Iterable[Sequence[Any]], *, source: str) -> list[RegistryRow]:
    """Validate a registry table given as a header and rows (row numbers count the header as row 1)."""
    names = [str(h).strip().lstrip("\ufeff").lower() if h is not None else "" for h in header]
    unknown = [n or "(empty)" for n in names if n not in REGISTRY_COLUMNS and n not in OPTIONAL_COLUMNS]
    missing = [c for c in REGISTRY_COLUMNS if c not in names]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    header_problems = []
    if unknown:
        header_problems.append(f"unknown column(s): {', '.join(unknown)}")
    if missing:
        header_problems.append(f"missing column(s): {', '.join(missing)}")
    if repeated:
        header_problems.append(f"repeated column(s): {', '.join(repeated)}")
    if header_problems:
        expected = ", ".join(REGISTRY_COLUMNS)
        raise InvalidInputFile(
            f"{source}: {'; '.join(header_problems)} (expected: {expected}; optional: active)",
            problems=[f"{source}: {p}" for p in header_problems],
            code="registry_columns",
        )
    problems: list[str] = []
    out: list[RegistryRow] = []
    first_row: dict[str, int] = {}
    for number, raw in enumerate(rows, start=2):
        cells = {name: _cell(raw[i] if i < len(raw) else None) for i, name in enumerate(names)}
        if not any(cells.values()):
            continue  # blank line
        row, row_problems = _parse_row(cells)
        where = f"{source} row {number}"
        problems.extend(f"{where}: {p}" for p in row_problems)
        if row is None:
            continue
        if row.facility_code in first_row:
            problems.append(f"{where}: facility_code {row.facility_code} repeats row {first_row[row.facility_code]}")
            continue
        first_row[row.facility_code] = number
        out.append(row)
    if problems:
        raise InvalidInputFile(
            f"{source}: {len(problems)} problem(s), nothing imported; first: {problems[0]}",
            problems=problems,
            code="registry_invalid",
        )
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _parse_row(cells: Mapping[str, str]) -> tuple[RegistryRow | None, list[str]]:
    problems: list[str] = []
    code = cells["facility_code"]
    if not _CODE.fullmatch(code):
        problems.append(f"facility_code {code!r} is not a MA_CSKCB (5 digits)")
    name = cells["name"]
    if not name:
        problems.append("name is empty")
    elif len(name) > 255:
        problems.append("name is longer than 255 characters")
    level = cells["level"].lower()
    if level not in LEVELS:
        problems.append(f"level {cells['level']!r} is not one of {', '.join(LEVELS)}")
    commune = cells["commune_code"] or None
    if commune is not None and not _COMMUNE.fullmatch(commune):
        problems.append(f"commune_code {commune!r} is not a commune code (5 digits)")
    wave: int | None = None
    if cells["wave"]:
        try:
            wave = int(cells["wave"])
        except ValueError:
            wave = None
        if wave is None or wave < 1:
            problems.append(f"wave {cells['wave']!r} is not a positive whole number")
            wave = None
    onboarded: date | None = None
    if cells["onboarded_on"]:
        try:
            onboarded = date.fromisoformat(cells["onboarded_on"])
        except ValueError:
            problems.append(f"onboarded_on {cells['onboarded_on']!r} is not an ISO date (YYYY-MM-DD)")
    active = True
    flag = cells.get("active", "").lower()
    if flag:
        if flag in _TRUE:
            active = True
        elif flag in _FALSE:
            active = False
        else:
            problems.append(f"active {cells['active']!r} is not 1/0, true/false or có/không")
    if problems:
        return None, problems
    return RegistryRow(code, name, level, commune, wave, onboarded, active), []


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputFile(
            f"{path.name}: not UTF-8 (byte {exc.start}); save the CSV as UTF-8", problems=[], code="registry_encoding"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    table = list(reader)
    if not table:
        raise InvalidInputFile(f"{path.name}: empty file (a header row is needed)", problems=[], code="registry_empty")
    return table[0], table[1:]


def _read_xlsx(path: Path) -> tuple[list[str], list[Sequence[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a damaged file
        raise InvalidInputFile(
            f"{path.name}: not a readable XLSX workbook ({type(exc).__name__})", problems=[], code="registry_format"
        ) from None
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    if not rows:
        raise InvalidInputFile(f"{path.name}: empty sheet (a header row is needed)", problems=[], code="registry_empty")
    header = [_cell(h) for h in rows[0]]
    while header and not header[-1]:
        header.pop()
    return header, [r[: len(header)] for r in rows[1:]]


def write_registry_csv(rows: Iterable[RegistryRow], path: Path) -> None:
    """Write a registry CSV that :func:`read_registry_file` reads back (the ``REGISTRY_COLUMNS``)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REGISTRY_COLUMNS)
        for r in rows:
            writer.writerow(
                (r.facility_code, r.name, r.level, r.commune_code or "", r.wave if r.wave is not None else "",
                 r.onboarded_on.isoformat() if r.onboarded_on else "")
            )  # fmt: skip


# --- writing and reading the registry ----------------------------------------------------------------


def upsert_facility(*, session: Session, row: RegistryRow) -> Literal["created", "updated", "unchanged"]:
    """Register ``row``: create the facility or update it. Keeps ``first_seen_at`` of a known facility."""
    _check_row(row)
    now = utcnow()
    facility = session.get(Facility, row.facility_code)
    if facility is None:
        session.add(
            Facility(
                code=row.facility_code, name=row.name, level=row.level, commune_code=row.commune_code, wave=row.wave,
                onboarded_on=row.onboarded_on, active=row.active, registered_at=now, updated_at=now,
            )
        )  # fmt: skip
        session.flush()
        return "created"
    values = {
        "name": row.name,
        "level": row.level,
        "commune_code": row.commune_code,
        "wave": row.wave,
        "onboarded_on": row.onboarded_on,
        "active": row.active,
    }
    if facility.registered_at is not None and all(getattr(facility, k) == v for k, v in values.items()):
        return "unchanged"
    for k, v in values.items():
        setattr(facility, k, v)
    facility.registered_at = facility.registered_at or now
    facility.updated_at = now
    session.add(facility)
    session.flush()
    return "updated"


def _check_row(row: RegistryRow) -> None:
    """The rules of :func:`parse_registry` for rows that did not come from a file (the API)."""
    cells = {
        "facility_code": row.facility_code,
        "name": row.name,
        "level": row.level,
        "commune_code": row.commune_code or "",
        "wave": "" if row.wave is None else str(row.wave),
        "onboarded_on": row.onboarded_on.isoformat() if row.onboarded_on else "",
    }
    _, problems = _parse_row(cells)
    if problems:
        raise MPIError("; ".join(problems), code="facility_invalid")


def import_registry(*, session: Session, rows: Iterable[RegistryRow]) -> ImportReport:
    """Upsert every row (in the caller's transaction: all or nothing). Facilities not listed are left alone."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        counts[upsert_facility(session=session, row=row)] += 1
    return ImportReport(**counts)


def get_facility(*, session: Session, code: str) -> Facility:
    facility = session.get(Facility, code)
    if facility is None:
        raise NotFound(f"no facility {code} is known (neither registered nor seen in a submission)")
    return facility


def list_facilities(
    *, session: Session, registered: bool | None = None, level: str | None = None, wave: int | None = None
) -> list[Facility]:
    """Facilities by code; ``registered=False`` lists those that submitted but are not in the registry."""
    stmt = select(Facility).order_by(_facility.c.code)
    if registered is True:
        stmt = stmt.where(_facility.c.registered_at.is_not(None))
    elif registered is False:
        stmt = stmt.where(_facility.c.registered_at.is_(None))
    if level is not None:
        stmt = stmt.where(_facility.c.level == level)
    if wave is not None:
        stmt = stmt.where(_facility.c.wave == wave)
    return list(session.execute(stmt).scalars())


# --- showing a facility ------------------------------------------------------------------------------


def describe_facilities(*, conn: Session | Connection, codes: Iterable[str]) -> dict[str, FacilityLabel]:
    """Labels for ``codes`` (one query). Every code gets one: unknown and unregistered codes included."""
    wanted = sorted({c for c in codes if c})
    found: dict[str, FacilityLabel] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        stmt = select(
            _facility.c.code, _facility.c.name, _facility.c.level, _facility.c.registered_at, _facility.c.active
        ).where(_facility.c.code.in_(chunk))
        for code, name, level, registered_at, active in conn.execute(stmt):
            found[code] = FacilityLabel(
                code=code, name=name, level=level, registered=registered_at is not None, active=bool(active)
            )
    return {c: found.get(c) or FacilityLabel(code=c, name=None, level=None, registered=False) for c in wanted}


def describe_facility(*, conn: Session | Connection, code: str) -> FacilityLabel:
    """How to show facility ``code``: ``describe_facility(...).text("vi")`` is "Name (level)" or the code
    marked unregistered."""
    return describe_facilities(conn=conn, codes=[code]).get(code) or FacilityLabel(
        code=code, name=None, level=None, registered=False
    )
