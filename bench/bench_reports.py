"""Report tables at the pilot's scale: 443,545 encounters of 227,699 persons at 131 facilities.

Goal (reports issue): every table in <= 2 s.

How the store is built: the reports read only what ingest and linking leave behind, so rows are
bulk-inserted straight into the migrated schema (``submission``, ``encounter``, ``xml1``, ``xml13`` for
2% of encounters, ``person``, ``source_record``, ``link``, ``validation_issue`` for 10%, and the registry
of the synthetic province's 131 facilities), spread over 12 months, with dengue and diarrhoea cases for
surveillance. Building it takes minutes; a full synth + ingest would take hours.

What is measured:
- the first load (after a restart): every fact read from the store into a fresh DuckDB snapshot;
- per table, the first report right after new data arrived: ``--batch`` new encounters written as ingest
  writes them (encounter, XML1, source record, link, the identity log's entry; warnings for 10%) and one
  merge of two persons, then the report, which refreshes the snapshot with only those rows
  (:mod:`mpi.reports.facts`) and aggregates; wall and CPU time;
- per table, the median of ``--rounds`` reports from the unchanged snapshot.

DuckDB's SQLite/PostgreSQL scanners were the other candidate; with DuckDB 2.0 they are extensions that
are downloaded on first use, which this deployment never does (no network at run time).

Usage: python -m bench.bench_reports [--encounters 443545] [--persons 227699] [--url sqlite:///...] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from mpi.facilities import import_registry
from mpi.identity import links as L
from mpi.reports import TABLES, build_report
from mpi.reports.facts import facts_connection
from mpi.store import open_store, session_scope
from mpi.store.content import content_tables
from mpi.store.models import Encounter, Facility, Submission, ValidationIssue
from synth.config import SynthConfig
from synth.facilities import build_province
from synth.registry import registry_rows

CHUNK = 20_000
_enc = Encounter.__table__  # type: ignore[attr-defined]
_sub = Submission.__table__  # type: ignore[attr-defined]
_iss = ValidationIssue.__table__  # type: ignore[attr-defined]
DX = ("J00", "J06.9", "A09", "K29.7", "I10", "E11.9", "A90", "M54.5", "R50.9", "J18.9", "B01.9", "Z00.1")


def build(engine: Engine, *, encounters: int, persons: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    cfg = SynthConfig()
    province = build_province(random.Random(seed), cfg)
    rows = registry_rows(province, start=cfg.start)
    with session_scope(engine) as session:
        import_registry(session=session, rows=rows)
    codes = [r.facility_code for r in rows]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(L.persons), [{"id": i, "created_at": now} for i in range(1, persons + 1)])
        n_sub = max(1, encounters // 50)
        conn.execute(
            insert(_sub),
            [{"id": i, "sha256": f"{i:064d}", "submitter": "bench", "size": 0, "raw_gzip": b"", "outcome": "accepted",
              "received_at": now, "hoso_count": 50, "facility_code": codes[i % len(codes)]}
             for i in range(1, n_sub + 1)],
        )  # fmt: skip
    start = datetime(2025, 7, 1)
    done = 0
    while done < encounters:
        n = min(CHUNK, encounters - done)
        add_encounters(engine, rng, first=done + 1, n=n, persons=persons, n_sub=n_sub, start=start)
        done += n
        print(f"  {done:,} / {encounters:,} encounters", flush=True)


def add_encounters(
    engine: Engine,
    rng: random.Random,
    *,
    first: int,
    n: int,
    persons: int,
    n_sub: int,
    start: datetime,
    events: bool = False,
) -> None:
    """Encounters ``first``..``first + n - 1`` with their XML1 (XML13 for 2%), source record, link (and with
    ``events`` the identity log's entry, as ingest writes it) and a warning for 10%."""
    with engine.connect() as conn:
        codes = list(conn.execute(select(Facility.code).order_by(Facility.code)).scalars())
        upper = list(conn.execute(select(Facility.code).where(Facility.level == "provincial")).scalars())
        communes = sorted(c for c in conn.execute(select(Facility.commune_code).distinct()).scalars() if c)
    now = datetime.now(UTC)
    encs, x1, x13, srcs, lnks, issues = [], [], [], [], [], []
    for k in range(n):
        eid = first + k
        # every person has at least one encounter; the rest go to random persons
        person = eid if eid <= persons else rng.randrange(1, persons + 1)
        facility = codes[rng.randrange(len(codes))]
        visit = start + timedelta(days=rng.randrange(365), hours=rng.randrange(8, 17))
        ma_lk = f"LK{eid:09d}"
        referral = rng.random() < 0.02
        encs.append({"id": eid, "facility_code": facility, "ma_lk": ma_lk, "version": 1, "is_current": True,
                     "submission_id": 1 + eid % n_sub, "hoso": 1, "content_sha256": "0" * 64,
                     "status": "accepted" if rng.random() < 0.9 else "accepted_with_warnings",
                     "legacy_format": False, "tables": ["XML1"], "received_at": now})  # fmt: skip
        x1.append({"encounter_id": eid, "row_no": 1, "raw": {}, "ma_lk": ma_lk, "ngay_vao": visit,
                   "ngay_ra": visit + timedelta(hours=2), "ma_benh_chinh": rng.choice(DX),
                   "so_cccd": f"0{rng.randrange(33, 35)}{rng.randrange(10**9):09d}" if rng.random() < 0.7 else None,
                   "gioi_tinh": rng.choice((1, 2)), "ngay_sinh": datetime(rng.randrange(1940, 2024), 1, 1),
                   "ma_noi_den": rng.choice(upper) if referral else None})  # fmt: skip
        if referral:
            x13.append({"encounter_id": eid, "row_no": 1, "raw": {}, "ma_lk": ma_lk,
                        "ma_noi_den": x1[-1]["ma_noi_den"], "giay_chuyen_tuyen": f"CT{eid}"})  # fmt: skip
        srcs.append({"id": eid, "encounter_id": eid, "facility_code": facility, "ma_lk": ma_lk, "version": 1,
                     "person_id": person, "link_state": "auto", "features": {}, "created_at": now,
                     "commune_code": rng.choice(communes)})  # fmt: skip
        lnks.append({"source_record_id": eid, "person_id": person, "state": "auto",
                     "rule": rng.choice(("national_id", "model", "facility_patient_code", "new_person")),
                     "actor": "bench", "created_at": now})  # fmt: skip
        if rng.random() < 0.1:
            issues.append({"submission_id": 1 + eid % n_sub, "encounter_id": eid, "hoso": 1, "ma_lk": ma_lk,
                           "path": "HOSO[1]/XML14[1]/NGAY_HEN_KL", "table_name": "XML14", "row": 1,
                           "field_name": "NGAY_HEN_KL", "code": "date_short", "severity": "warning",
                           "message_vi": "-", "message_en": "-"})  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(_enc), encs)
        conn.execute(insert(content_tables["XML1"]), x1)
        if x13:
            conn.execute(insert(content_tables["XML13"]), x13)
        conn.execute(insert(L.sources), srcs)
        conn.execute(insert(L.links), lnks)
        if issues:
            conn.execute(insert(_iss), issues)
        if events:
            for row in srcs:
                L.emit(conn, "linked", actor="bench", source_record_id=row["id"], person_id=row["person_id"])


def _timed(work: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``work()``."""
    t, c = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - t, time.process_time() - c


def measure(engine: Engine, rounds: int, batch: int) -> dict[str, Any]:
    """The first load, then per table: the first report right after new data arrived (``batch`` encounters
    written as ingest writes them, with their identity-log entries, and one merge of two persons), and the
    median of ``rounds`` reports from the unchanged snapshot."""
    from mpi.reports import facts

    facts._snapshots.pop(engine, None)  # as after a restart
    load = _timed(lambda: facts_connection(engine).close())
    with engine.connect() as conn:
        top = int(conn.execute(select(func.max(_enc.c.id))).scalar_one())
        n_sub = int(conn.execute(select(func.count()).select_from(_sub)).scalar_one())
        persons = int(conn.execute(select(func.max(L.persons.c.id))).scalar_one())
    rng = random.Random(top)
    after_change: dict[str, tuple[float, float]] = {}
    warm: dict[str, float] = {}
    for name in TABLES:
        add_encounters(engine, rng, first=top + 1, n=batch, persons=persons, n_sub=n_sub,
                       start=datetime(2025, 7, 1), events=True)  # fmt: skip
        top += batch
        with engine.begin() as conn:
            a, b = rng.sample(range(1, persons + 1), 2)
            L.merge(conn, from_person_id=a, into_person_id=b, actor="bench")
        after_change[name] = _timed(lambda name=name: build_report(engine=engine, name=name))
        warm[name] = statistics.median(
            _timed(lambda name=name: build_report(engine=engine, name=name))[0] for _ in range(rounds)
        )
    return {"load": load, "after_change": after_change, "warm": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encounters", type=int, default=443_545)
    parser.add_argument("--persons", type=int, default=227_699)
    parser.add_argument("--url", help="an existing store built by this benchmark (skips the build)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000, help="encounters arriving before each measured report")
    args = parser.parse_args()
    if args.url:
        engine = open_store(args.url)
    else:
        path = Path(tempfile.mkdtemp(prefix="bench_reports_")) / "store.sqlite3"
        engine = open_store(f"sqlite:///{path}")
        t = time.perf_counter()
        build(engine, encounters=args.encounters, persons=args.persons)
        print(f"build: {time.perf_counter() - t:.0f} s -> sqlite:///{path}")
    load_start = os.getloadavg()
    m = measure(engine, args.rounds, args.batch)
    cur = facts_connection(engine)
    n = cur.execute("SELECT count(*), count(DISTINCT person_id) FROM enc").fetchall()[0]
    cur.close()
    print(f"{n[0]:,} encounters, {n[1]:,} persons; {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load {load_start[0]:.1f} -> {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"first load (after a restart): {m['load'][0]:.1f} s wall, {m['load'][1]:.1f} s CPU")
    print(f"| table | right after {args.batch:,} new encounters + a merge (wall / CPU) | unchanged store |")
    print("| --- | ---: | ---: |")
    for name, (wall, cpu) in m["after_change"].items():
        print(f"| {name} | {wall * 1000:.0f} / {cpu * 1000:.0f} ms | {m['warm'][name] * 1000:.0f} ms |")
    print(json.dumps({"date": date.today().isoformat(), "batch": args.batch, **m}))


if __name__ == "__main__":
    main()
