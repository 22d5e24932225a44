"""The facts every report aggregates, read from the store once and held in DuckDB.

The store (SQLite or PostgreSQL) is read through SQLAlchemy with a handful of narrow queries (one row
per current encounter, per submission, per issue, per facility) into Arrow tables that an in-memory
DuckDB aggregates. DuckDB's own SQLite/PostgreSQL scanners would need extensions downloaded at run time,
which this deployment never does. The snapshot is kept per store and reloaded when the store changed:
a fingerprint of the highest ids of encounters, links, submissions and issues and the registry's last
update (a few index look-ups) is compared on every report. ``bench/bench_reports.py`` measures the load
and the aggregation separately.

Facts hold codes, dates and person ids only: never a name, an identifier or a phone number (the CCCD is
reduced to present / valid here and goes no further).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from weakref import WeakKeyDictionary

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Engine, text

from linkage import PartialDate, classify_national_id

# One row per current encounter with what the reports need. The first link of each source record is the
# decision ingest took (later links are merges, steward decisions and relinks).
_ENCOUNTERS = """
SELECT e.id, e.facility_code, e.submission_id, e.received_at, e.status,
       s.person_id, s.commune_code,
       fl.rule AS first_rule, fl.state AS first_state,
       x.ngay_vao, x.ngay_ra, x.ma_noi_den, x.ma_noi_di, x.giay_chuyen_tuyen, x.ma_benh_chinh,
       x.so_cccd, x.gioi_tinh, x.ngay_sinh,
       l.ma_noi_den AS letter_to, l.giay_chuyen_tuyen AS letter_no, l.id AS letter_id
FROM encounter e
JOIN xml1 x ON x.encounter_id = e.id
LEFT JOIN source_record s ON s.encounter_id = e.id
LEFT JOIN link fl ON fl.id = (SELECT min(l2.id) FROM link l2 WHERE l2.source_record_id = s.id)
LEFT JOIN xml13 l ON l.encounter_id = e.id
WHERE e.is_current = :true
"""
_SUBMISSIONS = "SELECT id, facility_code, received_at, outcome, hoso_count FROM submission"
_ISSUES = """
SELECT i.submission_id, i.encounter_id, i.hoso, i.code, i.field_name, i.table_name, i.severity,
       coalesce(e.facility_code, sub.facility_code) AS facility_code, sub.received_at
FROM validation_issue i
JOIN submission sub ON sub.id = i.submission_id
LEFT JOIN encounter e ON e.id = i.encounter_id
"""
_FACILITIES = """
SELECT code, name, level, commune_code, wave, onboarded_on, active, registered_at, first_seen_at FROM facility
"""
_FINGERPRINT = """
SELECT (SELECT max(id) FROM encounter), (SELECT max(id) FROM link), (SELECT max(id) FROM submission),
       (SELECT max(id) FROM validation_issue), (SELECT max(updated_at) FROM facility),
       (SELECT count(*) FROM facility)
"""


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _cccd_valid(raw: str | None, sex: Any, dob: Any) -> bool | None:
    """None without a SO_CCCD; else whether it is a CCCD passing every structure check (linkage's rules)."""
    if raw is None or not str(raw).strip():
        return None
    born = _day(dob)
    nid = classify_national_id(
        str(raw), sex=int(sex) if sex is not None else None, dob=PartialDate(born.year) if born else None
    )
    return nid is not None and nid.kind == "CCCD" and not nid.issues


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], types: dict[str, pa.DataType]) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return pa.table({name: pa.array(values, type=types[name]) for name, values in zip(columns, cols, strict=True)})


_S, _I, _D, _B = pa.string(), pa.int64(), pa.date32(), pa.bool_()


def load_facts(conn: Connection) -> dict[str, pa.Table]:
    """Read the facts from the store: ``enc``, ``sub``, ``iss``, ``fac`` (Arrow tables)."""
    rows = conn.execute(text(_ENCOUNTERS), {"true": True}).all()
    enc_rows = []
    seen: set[int] = set()
    for r in rows:
        if r[0] in seen:  # two XML13 rows on one encounter: the first letter speaks for it
            continue
        seen.add(r[0])
        enc_rows.append(
            (r[0], r[1], r[2], _day(r[3]), r[4], r[5], r[6], r[7], r[8], _day(r[9]), _day(r[10]), r[11], r[12],
             r[13], r[14], r[15] is not None and bool(str(r[15]).strip()), _cccd_valid(r[15], r[16], r[17]),
             r[18], r[19], r[20] is not None)
        )  # fmt: skip
    enc = _table(
        ("id", "facility_code", "submission_id", "received_day", "status", "person_id", "commune_code",
         "first_rule", "first_state", "visit_day", "discharge_day", "noi_den", "noi_di", "giay_chuyen_tuyen",
         "icd", "cccd_present", "cccd_valid", "letter_to", "letter_no", "has_letter"),
        enc_rows,
        {"id": _I, "facility_code": _S, "submission_id": _I, "received_day": _D, "status": _S, "person_id": _I,
         "commune_code": _S, "first_rule": _S, "first_state": _S, "visit_day": _D, "discharge_day": _D,
         "noi_den": _S, "noi_di": _S, "giay_chuyen_tuyen": _S, "icd": _S, "cccd_present": _B, "cccd_valid": _B,
         "letter_to": _S, "letter_no": _S, "has_letter": _B},
    )  # fmt: skip
    sub = _table(
        ("id", "facility_code", "received_day", "outcome", "hoso_count"),
        [(r[0], r[1], _day(r[2]), r[3], r[4]) for r in conn.execute(text(_SUBMISSIONS))],
        {"id": _I, "facility_code": _S, "received_day": _D, "outcome": _S, "hoso_count": _I},
    )
    iss = _table(
        ("submission_id", "encounter_id", "hoso", "code", "field_name", "table_name", "severity", "facility_code",
         "received_day"),
        [(*r[:8], _day(r[8])) for r in conn.execute(text(_ISSUES))],
        {"submission_id": _I, "encounter_id": _I, "hoso": _I, "code": _S, "field_name": _S, "table_name": _S,
         "severity": _S, "facility_code": _S, "received_day": _D},
    )  # fmt: skip
    fac = _table(
        ("code", "name", "level", "commune_code", "wave", "onboarded_on", "active", "registered", "first_seen_day"),
        [(r[0], r[1], r[2], r[3], r[4], _day(r[5]), bool(r[6]), r[7] is not None, _day(r[8]))
         for r in conn.execute(text(_FACILITIES))],
        {"code": _S, "name": _S, "level": _S, "commune_code": _S, "wave": _I, "onboarded_on": _D, "active": _B,
         "registered": _B, "first_seen_day": _D},
    )  # fmt: skip
    return {"enc": enc, "sub": sub, "iss": iss, "fac": fac}


@dataclass
class _Snapshot:
    fingerprint: tuple[Any, ...]
    con: duckdb.DuckDBPyConnection


_snapshots: WeakKeyDictionary[Engine, _Snapshot] = WeakKeyDictionary()
_lock = threading.Lock()


def facts_connection(engine: Engine) -> duckdb.DuckDBPyConnection:
    """A DuckDB cursor over the store's current facts (reloaded only when the store changed).

    Callers must use it under :data:`FACTS_LOCK` or take their own ``.cursor()`` inside it.
    """
    with engine.connect() as conn:
        fingerprint = tuple(conn.execute(text(_FINGERPRINT)).one())
        with _lock:
            snap = _snapshots.get(engine)
            if snap is not None and snap.fingerprint == fingerprint:
                return snap.con.cursor()
            facts = load_facts(conn)
            con = duckdb.connect(":memory:")
            for name, table in facts.items():
                con.register(f"{name}_arrow", table)
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608 - fixed names
                con.unregister(f"{name}_arrow")
            if snap is not None:
                snap.con.close()
            _snapshots[engine] = _Snapshot(fingerprint, con)
            return con.cursor()
