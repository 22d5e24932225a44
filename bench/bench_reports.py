"""Report tables at the pilot's scale: 443,545 encounters of 227,699 persons at 131 facilities.

Goal (reports issue): every table in <= 2 s.

How the store is built: the reports read only what ingest and linking leave behind, so rows are
bulk-inserted straight into the migrated schema (``submission``, ``encounter``, ``xml1``, ``xml13`` for
2% of encounters, ``person``, ``source_record``, ``link``, ``validation_issue`` for 10%, and the registry
of the synthetic province's 131 facilities), spread over 12 months, with dengue and diarrhoea cases for
surveillance. Building it takes minutes; a full synth + ingest would take hours.

What is measured, per table:
- ``cold``: the first report after the store changed: the facts are read from the store (SQLAlchemy, one
  query per fact table) into a fresh DuckDB snapshot, then aggregated;
- ``warm``: the store has not changed since the last report: the snapshot is reused (a fingerprint of a
  few index look-ups decides), only the DuckDB aggregation runs.

DuckDB's SQLite/PostgreSQL scanners were the other candidate; with DuckDB 2.0 they are extensions that
are downloaded on first use, which this deployment never does (no network at run time), so the snapshot
is what the hub uses.

Usage: python -m bench.bench_reports [--encounters 443545] [--persons 227699] [--url sqlite:///...]
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

from sqlalchemy import Engine, insert

from mpi.facilities import import_registry
from mpi.identity import links as L
from mpi.reports import TABLES, build_report
from mpi.reports.facts import facts_connection
from mpi.store import open_store, session_scope
from mpi.store.content import content_tables
from mpi.store.models import Encounter, Submission, ValidationIssue
from mpi.synth.config import SynthConfig
from mpi.synth.facilities import build_province
from mpi.synth.registry import registry_rows

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
    communes = sorted({r.commune_code for r in rows if r.commune_code})
    upper = [r.facility_code for r in rows if r.level == "provincial"]
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
        encs, x1, x13, srcs, lnks, issues = [], [], [], [], [], []
        for k in range(n):
            eid = done + k + 1
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
        done += n
        print(f"  {done:,} / {encounters:,} encounters", flush=True)


def measure(engine: Engine, rounds: int) -> tuple[float, dict[str, float]]:
    """(seconds to reload the facts, {table: median seconds to aggregate it from the snapshot})."""
    from mpi.reports import facts

    facts._snapshots.pop(engine, None)  # as if the store had changed
    t = time.perf_counter()
    facts_connection(engine).close()
    load = time.perf_counter() - t
    warm: dict[str, float] = {}
    for name in TABLES:
        samples = []
        for _ in range(rounds):
            t = time.perf_counter()
            build_report(engine=engine, name=name)
            samples.append(time.perf_counter() - t)
        warm[name] = statistics.median(samples)
    return load, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encounters", type=int, default=443_545)
    parser.add_argument("--persons", type=int, default=227_699)
    parser.add_argument("--url", help="an existing store built by this benchmark (skips the build)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.url:
        engine = open_store(args.url)
    else:
        path = Path(tempfile.mkdtemp(prefix="bench_reports_")) / "store.sqlite3"
        engine = open_store(f"sqlite:///{path}")
        t = time.perf_counter()
        build(engine, encounters=args.encounters, persons=args.persons)
        print(f"build: {time.perf_counter() - t:.0f} s -> sqlite:///{path}")
    cur = facts_connection(engine)
    n = cur.execute("SELECT count(*), count(DISTINCT person_id) FROM enc").fetchone()
    cur.close()
    load, warm = measure(engine, args.rounds)
    print(f"{n[0]:,} encounters, {n[1]:,} persons; {platform.machine()}, {os.cpu_count()} cores, "  # type: ignore[index]
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"facts reload (store changed since the last report): {load:.2f} s")
    print("| table | from the snapshot | first report after a change (reload + table) |")
    print("| --- | ---: | ---: |")
    for name, seconds in warm.items():
        print(f"| {name} | {seconds * 1000:.0f} ms | {load + seconds:.2f} s |")
    print(json.dumps({"date": date.today().isoformat(), "reload": load, "tables": warm}))


if __name__ == "__main__":
    main()
