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
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Engine, text

from linkage.normalise.provinces import CCCD_PROVINCES
from mpi.reports.surveillance import group_sql

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


def _columns(conn: Connection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    """Run ``sql`` and return its result as Arrow columns (types inferred; dates cast later in DuckDB)."""
    result = conn.execute(text(sql), params or {})
    names = list(result.keys())
    rows = result.fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    arrays = []
    for values in cols:
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types (e.g. text and numbers): keep the text
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.table(dict(zip(names, arrays, strict=True)))


def _as_day(column: str) -> str:
    """A DuckDB expression: the day of a timestamp that SQLite gives as text and PostgreSQL as a value."""
    return f"TRY_CAST(left(CAST({column} AS VARCHAR), 10) AS DATE)"


def _cccd_valid_sql() -> str:
    """SO_CCCD is a 12-digit CCCD passing every structure check of :func:`linkage.check_cccd` (province
    code, century not begun, sex digit vs GIOI_TINH, century and year vs NGAY_SINH), as one vectorised
    expression over ``v`` (the cleaned number), ``sex`` and ``birth_year``. ``tests/reports`` checks it
    agrees with :func:`linkage.classify_national_id` case by case."""
    provinces = ", ".join(f"'{p}'" for p in sorted(CCCD_PROVINCES))
    g = "TRY_CAST(substr(v, 4, 1) AS INTEGER)"
    century = f"(1900 + 100 * ({g} // 2))"
    return f"""(regexp_full_match(v, '[0-9]{{12}}') AND replace(v, left(v, 1), '') <> ''
        AND left(v, 3) IN ({provinces}) AND {century} <= 2000
        AND (sex NOT IN (1, 2) OR sex IS NULL OR {g} % 2 = sex - 1)
        AND (birth_year IS NULL OR (birth_year // 100 * 100 = {century}
                                    AND birth_year % 100 = TRY_CAST(substr(v, 5, 2) AS INTEGER))))"""


def load_facts(conn: Connection, con: duckdb.DuckDBPyConnection) -> None:
    """Read the facts from the store into DuckDB tables ``enc``, ``sub``, ``iss`` and ``fac``."""
    con.register("enc_raw", _columns(conn, _ENCOUNTERS, {"true": True}))
    con.execute(f"""
        CREATE TABLE enc AS
        WITH cleaned AS (
            SELECT *, upper(regexp_replace(CAST(so_cccd AS VARCHAR), '[\\s.\\-]', '', 'g')) AS v,
                   TRY_CAST(gioi_tinh AS INTEGER) AS sex, year({_as_day("ngay_sinh")}) AS birth_year
            FROM enc_raw)
        SELECT CAST(id AS BIGINT) AS id, CAST(facility_code AS VARCHAR) AS facility_code,
               CAST(submission_id AS BIGINT) AS submission_id, {_as_day("received_at")} AS received_day,
               CAST(status AS VARCHAR) AS status, CAST(person_id AS BIGINT) AS person_id,
               CAST(commune_code AS VARCHAR) AS commune_code, CAST(first_rule AS VARCHAR) AS first_rule,
               CAST(first_state AS VARCHAR) AS first_state, {_as_day("ngay_vao")} AS visit_day,
               {_as_day("ngay_ra")} AS discharge_day, CAST(ma_noi_den AS VARCHAR) AS noi_den,
               CAST(ma_noi_di AS VARCHAR) AS noi_di, CAST(giay_chuyen_tuyen AS VARCHAR) AS giay_chuyen_tuyen,
               CAST(ma_benh_chinh AS VARCHAR) AS icd, coalesce(v, '') <> '' AS cccd_present,
               CASE WHEN coalesce(v, '') = '' THEN NULL ELSE coalesce({_cccd_valid_sql()}, false) END AS cccd_valid,
               CAST(letter_to AS VARCHAR) AS letter_to, CAST(letter_no AS VARCHAR) AS letter_no,
               letter_id IS NOT NULL AS has_letter, {group_sql("ma_benh_chinh")} AS disease_group
        FROM cleaned
        QUALIFY row_number() OVER (PARTITION BY id ORDER BY letter_id NULLS LAST) = 1
    """)  # noqa: S608 - built from this module's constants
    con.register("sub_raw", _columns(conn, _SUBMISSIONS))
    con.execute(f"""
        CREATE TABLE sub AS SELECT CAST(id AS BIGINT) AS id, CAST(facility_code AS VARCHAR) AS facility_code,
               {_as_day("received_at")} AS received_day, CAST(outcome AS VARCHAR) AS outcome,
               CAST(hoso_count AS BIGINT) AS hoso_count FROM sub_raw
    """)  # noqa: S608
    con.register("iss_raw", _columns(conn, _ISSUES))
    con.execute(f"""
        CREATE TABLE iss AS SELECT CAST(submission_id AS BIGINT) AS submission_id,
               CAST(encounter_id AS BIGINT) AS encounter_id, CAST(hoso AS BIGINT) AS hoso,
               CAST(code AS VARCHAR) AS code,
               CAST(field_name AS VARCHAR) AS field_name, CAST(table_name AS VARCHAR) AS table_name,
               CAST(severity AS VARCHAR) AS severity, CAST(facility_code AS VARCHAR) AS facility_code,
               {_as_day("received_at")} AS received_day FROM iss_raw
    """)  # noqa: S608
    con.register("fac_raw", _columns(conn, _FACILITIES))
    con.execute(f"""
        CREATE TABLE fac AS SELECT CAST(code AS VARCHAR) AS code, CAST(name AS VARCHAR) AS name,
               CAST(level AS VARCHAR) AS level, CAST(commune_code AS VARCHAR) AS commune_code,
               CAST(wave AS BIGINT) AS wave, {_as_day("onboarded_on")} AS onboarded_on,
               CAST(active AS BOOLEAN) AS active, registered_at IS NOT NULL AS registered,
               {_as_day("first_seen_at")} AS first_seen_day FROM fac_raw
    """)  # noqa: S608
    for name in ("enc_raw", "sub_raw", "iss_raw", "fac_raw"):
        con.unregister(name)


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
            con = duckdb.connect(":memory:")
            load_facts(conn, con)
            if snap is not None:
                snap.con.close()
            _snapshots[engine] = _Snapshot(fingerprint, con)
            return con.cursor()
