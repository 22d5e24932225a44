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

import logging
import threading
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Engine, text

from linkage.normalise.provinces import CCCD_PROVINCES
from mpi.reports.surveillance import group_sql

# One row per encounter version with what the reports need (the snapshot keeps the current ones). The first
# link of each source record is the decision ingest took (later links are merges, steward decisions and
# relinks). ``{where}`` selects the rows: all current ones, an id range, or given ids.
_ENCOUNTERS = """
SELECT e.id, e.facility_code, e.ma_lk, e.is_current, e.submission_id, e.received_at, e.status,
       s.person_id, s.commune_code,
       fl.rule AS first_rule, fl.state AS first_state,
       x.ngay_vao, x.ngay_ra, x.ma_noi_den, x.ma_noi_di, x.giay_chuyen_tuyen, x.ma_benh_chinh,
       x.so_cccd, x.gioi_tinh, x.ngay_sinh,
       l.ma_noi_den AS letter_to, l.giay_chuyen_tuyen AS letter_no, l.id AS letter_id, x.encounter_id AS xml1_of
FROM encounter e
LEFT JOIN xml1 x ON x.encounter_id = e.id
LEFT JOIN source_record s ON s.encounter_id = e.id
LEFT JOIN link fl ON fl.id = (SELECT min(l2.id) FROM link l2 WHERE l2.source_record_id = s.id)
LEFT JOIN xml13 l ON l.encounter_id = e.id
WHERE {where}
"""
_SUBMISSIONS = "SELECT id, facility_code, received_at, outcome, hoso_count FROM submission WHERE {where}"
_ISSUES = """
SELECT i.id, i.submission_id, i.encounter_id, i.hoso, i.code, i.field_name, i.table_name, i.severity,
       coalesce(e.facility_code, sub.facility_code) AS facility_code, sub.received_at
FROM validation_issue i
JOIN submission sub ON sub.id = i.submission_id
LEFT JOIN encounter e ON e.id = i.encounter_id
WHERE {where}
"""
_FACILITIES = """
SELECT code, name, level, commune_code, wave, onboarded_on, active, registered_at, first_seen_at FROM facility
"""
# Cheap to read (primary-key look-ups and counts): it changes whenever anything the reports show changed.
# The identity log's sequence is gap-free and in commit order, so every relink, merge, move and late-linked
# encounter since the last refresh is found through it; the counts catch rows whose id is below a maximum
# already seen (PostgreSQL hands out ids before commit, so a slower transaction can commit a lower id later).
_FINGERPRINT = """
SELECT (SELECT max(id) FROM encounter), (SELECT count(*) FROM encounter),
       (SELECT max(seq) FROM link_event),
       (SELECT max(id) FROM submission), (SELECT count(*) FROM submission),
       (SELECT count(*) FROM submission WHERE outcome = 'processing'),
       (SELECT max(id) FROM validation_issue), (SELECT count(*) FROM validation_issue),
       (SELECT max(updated_at) FROM facility), (SELECT count(*) FROM facility)
"""
_CHANGED_BY_LOG = """
SELECT DISTINCT s.encounter_id FROM link_event ev JOIN source_record s ON s.id = ev.source_record_id
WHERE ev.seq > :after AND ev.seq <= :upto
"""
_IN_CHUNK = 500


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


def _enc_select(raw: str) -> str:
    """The ``enc`` fact rows from the raw encounter rows registered as ``raw``, plus ``is_current``: the row
    is a fact (the current version, with its XML1)."""
    return f"""
        WITH cleaned AS (
            SELECT *, upper(regexp_replace(CAST(so_cccd AS VARCHAR), '[\\s.\\-]', '', 'g')) AS v,
                   TRY_CAST(gioi_tinh AS INTEGER) AS sex, year({_as_day("ngay_sinh")}) AS birth_year
            FROM {raw})
        SELECT CAST(id AS BIGINT) AS id, CAST(facility_code AS VARCHAR) AS facility_code,
               CAST(ma_lk AS VARCHAR) AS ma_lk,
               CAST(submission_id AS BIGINT) AS submission_id, {_as_day("received_at")} AS received_day,
               CAST(status AS VARCHAR) AS status, CAST(person_id AS BIGINT) AS person_id,
               CAST(commune_code AS VARCHAR) AS commune_code, CAST(first_rule AS VARCHAR) AS first_rule,
               CAST(first_state AS VARCHAR) AS first_state, {_as_day("ngay_vao")} AS visit_day,
               {_as_day("ngay_ra")} AS discharge_day, CAST(ma_noi_den AS VARCHAR) AS noi_den,
               CAST(ma_noi_di AS VARCHAR) AS noi_di, CAST(giay_chuyen_tuyen AS VARCHAR) AS giay_chuyen_tuyen,
               CAST(ma_benh_chinh AS VARCHAR) AS icd, coalesce(v, '') <> '' AS cccd_present,
               CASE WHEN coalesce(v, '') = '' THEN NULL ELSE coalesce({_cccd_valid_sql()}, false) END AS cccd_valid,
               CAST(letter_to AS VARCHAR) AS letter_to, CAST(letter_no AS VARCHAR) AS letter_no,
               letter_id IS NOT NULL AS has_letter, {group_sql("ma_benh_chinh")} AS disease_group,
               CAST(is_current AS BOOLEAN) AND xml1_of IS NOT NULL AS is_current
        FROM cleaned
        QUALIFY row_number() OVER (PARTITION BY id ORDER BY letter_id NULLS LAST) = 1
    """  # noqa: S608 - built from this module's constants


def _sub_select(raw: str) -> str:
    return f"""
        SELECT CAST(id AS BIGINT) AS id, CAST(facility_code AS VARCHAR) AS facility_code,
               {_as_day("received_at")} AS received_day, CAST(outcome AS VARCHAR) AS outcome,
               CAST(hoso_count AS BIGINT) AS hoso_count FROM {raw}
    """  # noqa: S608


def _iss_select(raw: str) -> str:
    return f"""
        SELECT CAST(id AS BIGINT) AS id, CAST(submission_id AS BIGINT) AS submission_id,
               CAST(encounter_id AS BIGINT) AS encounter_id, CAST(hoso AS BIGINT) AS hoso,
               CAST(code AS VARCHAR) AS code,
               CAST(field_name AS VARCHAR) AS field_name, CAST(table_name AS VARCHAR) AS table_name,
               CAST(severity AS VARCHAR) AS severity, CAST(facility_code AS VARCHAR) AS facility_code,
               {_as_day("received_at")} AS received_day FROM {raw}
    """  # noqa: S608


def _load_facilities(conn: Connection, con: duckdb.DuckDBPyConnection) -> None:
    con.register("fac_raw", _columns(conn, _FACILITIES))
    con.execute(f"""
        CREATE OR REPLACE TABLE fac AS SELECT CAST(code AS VARCHAR) AS code, CAST(name AS VARCHAR) AS name,
               CAST(level AS VARCHAR) AS level, CAST(commune_code AS VARCHAR) AS commune_code,
               CAST(wave AS BIGINT) AS wave, {_as_day("onboarded_on")} AS onboarded_on,
               CAST(active AS BOOLEAN) AS active, registered_at IS NOT NULL AS registered,
               {_as_day("first_seen_at")} AS first_seen_day FROM fac_raw
    """)  # noqa: S608
    con.unregister("fac_raw")


def load_facts(conn: Connection, con: duckdb.DuckDBPyConnection) -> None:
    """Read the facts from the store into DuckDB tables ``enc``, ``sub``, ``iss`` and ``fac`` (and
    ``enc_seen``, every encounter version read, current or not)."""
    con.register("enc_raw", _columns(conn, _ENCOUNTERS.format(where="e.is_current = :true"), {"true": True}))
    con.execute(f"CREATE TABLE enc_all AS {_enc_select('enc_raw')}")
    con.execute("CREATE TABLE enc AS SELECT * EXCLUDE (is_current) FROM enc_all WHERE is_current")
    con.unregister("enc_raw")
    # the retired versions' ids only (their rows are not facts): the count check compares with the store
    con.register("ids_raw", _columns(conn, "SELECT id FROM encounter WHERE is_current = :false", {"false": False}))
    con.execute("CREATE TABLE enc_seen AS SELECT id FROM enc_all UNION ALL SELECT CAST(id AS BIGINT) FROM ids_raw")
    con.execute("DROP TABLE enc_all")
    con.unregister("ids_raw")
    con.register("sub_raw", _columns(conn, _SUBMISSIONS.format(where="1 = 1")))
    con.execute(f"CREATE TABLE sub AS {_sub_select('sub_raw')}")
    con.unregister("sub_raw")
    con.register("iss_raw", _columns(conn, _ISSUES.format(where="1 = 1")))
    con.execute(f"CREATE TABLE iss AS {_iss_select('iss_raw')}")
    con.unregister("iss_raw")
    _load_facilities(conn, con)


@dataclass(frozen=True, slots=True)
class _Marks:
    """What the snapshot has read of the store (one :data:`_FINGERPRINT` row)."""

    encounter_max: int
    encounter_count: int
    seq: int
    submission_max: int
    submission_count: int
    processing: int
    issue_max: int
    issue_count: int
    facility_updated: Any
    facility_count: int

    @classmethod
    def read(cls, conn: Connection) -> _Marks:
        row = conn.execute(text(_FINGERPRINT)).one()
        n = [int(v or 0) if i != 8 else 0 for i, v in enumerate(row)]  # 8: the registry's stamp, kept as is
        return cls(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], row[8], n[9])


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _IN_CHUNK] for i in range(0, len(ids), _IN_CHUNK)]


def _id_list(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()  # fetched to the end: DuckDB refuses other work on an open result
    return int(rows[0][0]) if rows else 0


def _missing(conn: Connection, con: duckdb.DuckDBPyConnection, store_table: str, seen: str, upto: int) -> list[int]:
    """Ids of ``store_table`` up to ``upto`` that the snapshot table ``seen`` lacks (rows committed late)."""
    sql = f"SELECT id FROM {store_table} WHERE id <= :upto"  # noqa: S608 - table names are this module's
    con.register("store_ids", _columns(conn, sql, {"upto": upto}))
    rows = con.execute(f"SELECT CAST(id AS BIGINT) FROM store_ids EXCEPT SELECT id FROM {seen}").fetchall()  # noqa: S608
    con.unregister("store_ids")
    return [int(r[0]) for r in rows]


def _refresh(conn: Connection, con: duckdb.DuckDBPyConnection, old: _Marks, new: _Marks) -> None:
    """Bring the snapshot from ``old`` to ``new`` reading only what changed (one DuckDB transaction)."""
    con.execute("BEGIN")
    try:
        # encounters: new versions, records the identity log touched, and rows committed late
        changed = {
            int(r[0])
            for r in conn.execute(text(_CHANGED_BY_LOG), {"after": old.seq, "upto": new.seq})
            if r[0] is not None
        }
        known = _count(con, "SELECT count(*) FROM enc_seen")
        if known + _count_new(conn, "encounter", old.encounter_max, new.encounter_max) != new.encounter_count:
            changed.update(_missing(conn, con, "encounter", "enc_seen", old.encounter_max))
        changed = {i for i in changed if i <= old.encounter_max}  # newer ones are read by their id range
        raw = [_columns(conn, _ENCOUNTERS.format(where="e.id > :after AND e.id <= :upto"),
                        {"after": old.encounter_max, "upto": new.encounter_max})]  # fmt: skip
        raw += [
            _columns(conn, _ENCOUNTERS.format(where=f"e.id IN ({_id_list(ids)})")) for ids in _chunks(sorted(changed))
        ]
        for i, table in enumerate(raw):
            con.register("enc_raw", table)
            verb = "CREATE OR REPLACE TEMP TABLE enc_new AS" if i == 0 else "INSERT INTO enc_new"
            con.execute(f"{verb} {_enc_select('enc_raw')}")
            con.unregister("enc_raw")
        con.execute("""
            DELETE FROM enc WHERE id IN (SELECT id FROM enc_new) OR EXISTS (
                SELECT 1 FROM enc_new n WHERE n.is_current AND n.facility_code = enc.facility_code
                                           AND n.ma_lk = enc.ma_lk)
        """)
        con.execute("INSERT INTO enc SELECT * EXCLUDE (is_current) FROM enc_new WHERE is_current")
        con.execute("INSERT INTO enc_seen SELECT DISTINCT id FROM enc_new WHERE id NOT IN (SELECT id FROM enc_seen)")
        # submissions: new ones, the ones still being received, and rows committed late
        sub_ids = [int(r[0]) for r in con.execute("SELECT id FROM sub WHERE outcome = 'processing'").fetchall()]
        known = _count(con, "SELECT count(*) FROM sub")
        if known + _count_new(conn, "submission", old.submission_max, new.submission_max) != new.submission_count:
            sub_ids += _missing(conn, con, "submission", "sub", old.submission_max)
        _upsert(con, "sub", _sub_select, [
            _columns(conn, _SUBMISSIONS.format(where="id > :after AND id <= :upto"),
                     {"after": old.submission_max, "upto": new.submission_max}),
            *(_columns(conn, _SUBMISSIONS.format(where=f"id IN ({_id_list(ids)})")) for ids in _chunks(sub_ids)),
        ])  # fmt: skip
        # validation issues are never changed once written
        iss_ids: list[int] = []
        known = _count(con, "SELECT count(*) FROM iss")
        if known + _count_new(conn, "validation_issue", old.issue_max, new.issue_max) != new.issue_count:
            iss_ids = _missing(conn, con, "validation_issue", "iss", old.issue_max)
        _upsert(con, "iss", _iss_select, [
            _columns(conn, _ISSUES.format(where="i.id > :after AND i.id <= :upto"),
                     {"after": old.issue_max, "upto": new.issue_max}),
            *(_columns(conn, _ISSUES.format(where=f"i.id IN ({_id_list(ids)})")) for ids in _chunks(iss_ids)),
        ])  # fmt: skip
        if (old.facility_updated, old.facility_count) != (new.facility_updated, new.facility_count):
            _load_facilities(conn, con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _count_new(conn: Connection, table: str, after: int, upto: int) -> int:
    sql = f"SELECT count(*) FROM {table} WHERE id > :after AND id <= :upto"  # noqa: S608 - a constant name
    return int(conn.execute(text(sql), {"after": after, "upto": upto}).scalar_one())


def _upsert(con: duckdb.DuckDBPyConnection, table: str, select: Any, parts: list[pa.Table]) -> None:
    for part in parts:
        if part.num_rows == 0:
            continue
        con.register("part_raw", part)
        con.execute(f"CREATE OR REPLACE TEMP TABLE part_new AS {select('part_raw')}")
        con.unregister("part_raw")
        con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM part_new)")  # noqa: S608
        con.execute(f"INSERT INTO {table} SELECT * FROM part_new")  # noqa: S608


@dataclass
class _Snapshot:
    marks: _Marks
    con: duckdb.DuckDBPyConnection


log = logging.getLogger(__name__)
_snapshots: WeakKeyDictionary[Engine, _Snapshot] = WeakKeyDictionary()
_lock = threading.Lock()


def facts_connection(engine: Engine) -> duckdb.DuckDBPyConnection:
    """A DuckDB cursor over the store's current facts.

    The first call for a store reads every fact; later calls compare :data:`_FINGERPRINT` with what the
    snapshot has read and, when the store changed, read only the new and changed rows (:func:`_refresh`,
    applied in one DuckDB transaction, so a report running meanwhile sees the old or the new facts).
    """
    with engine.connect() as conn:
        marks = _Marks.read(conn)
        with _lock:
            snap = _snapshots.get(engine)
            if snap is None:
                con = duckdb.connect(":memory:")
                load_facts(conn, con)
                _snapshots[engine] = _Snapshot(marks, con)
                return con.cursor()
            if snap.marks != marks:
                _refresh(conn, snap.con, snap.marks, marks)
                snap.marks = marks
            return snap.con.cursor()


def warm_in_background(engine: Engine) -> threading.Thread:
    """Read every fact in a daemon thread (the API calls it at start), so the first report after a restart
    does not pay the full read; a report asked for meanwhile waits for it instead of reading twice."""

    def run() -> None:
        try:
            facts_connection(engine).close()
        except Exception:  # the reports read them again on demand and report the error there
            log.exception("reports: reading the facts at start failed")

    thread = threading.Thread(target=run, name="reports-facts", daemon=True)
    thread.start()
    return thread
