"""Record reads at scale: timeline + encounter detail of a person with 50 encounters in a large store.

Goal (records issue): p95 <= 20 ms per read for a person with 50 encounters when the store holds 1M
persons.

How the store is built: going through XML would take hours at 1M persons, and the reads do not depend on
how rows arrived, so rows are bulk-inserted straight into the tables ingest writes (``person``,
``encounter``, ``source_record``, ``xml1``, and ``xml2``/``xml3``/``xml4`` for the measured person), with
the same indexes (the migrated schema). Background persons get one encounter each with an XML1 row and
blocking keys; the measured person gets 50 encounters across 5 facilities, each with 4 drugs, 3 services
and 6 lab results. Reads go through the services the API calls (``person_timeline``,
``encounter_detail``) on a fresh connection per read, like a request.

Usage: python bench/bench_records.py [--persons 1000000] [--url sqlite:///...] [--reads 400]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from mpi.audit.log import Reader, record_read
from mpi.identity import links as L
from mpi.records import encounter_detail, person_summary, person_timeline
from mpi.store import open_store
from mpi.store.content import content_tables
from mpi.store.models import Encounter, Submission

CHUNK = 20_000
_enc = Encounter.__table__  # type: ignore[attr-defined]
_sub = Submission.__table__  # type: ignore[attr-defined]
GIVEN = ["AN", "BINH", "CHI", "DUNG", "HA", "HUONG", "LAN", "LINH", "MAI", "NAM", "PHONG", "QUAN", "THAO", "TRANG"]
FAMILY = ["NGUYEN", "TRAN", "LE", "PHAM", "HOANG", "PHAN", "VU", "DANG", "BUI", "DO"]


def _background(engine: Engine, persons: int, rng: random.Random) -> None:
    with engine.begin() as conn:
        submission_id = conn.execute(
            insert(_sub).values(
                sha256="bench",
                submitter="bench",
                size=0,
                raw_gzip=b"",
                outcome="accepted",
                received_at=datetime.now(UTC),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    start = datetime(2024, 1, 1)
    done = 0
    while done < persons:
        n = min(CHUNK, persons - done)
        ids = range(done + 1, done + n + 1)
        people, encs, sources, x1 = [], [], [], []
        for i in ids:
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            dob = datetime(1930, 1, 1) + timedelta(days=rng.randrange(33_000))
            when = start + timedelta(minutes=rng.randrange(900_000))
            people.append({"id": i, "created_at": when.replace(tzinfo=UTC)})
            encs.append(
                {
                    "id": i,
                    "facility_code": f"33{i % 300:03d}",
                    "ma_lk": f"B{i}",
                    "version": 1,
                    "is_current": True,
                    "submission_id": submission_id,
                    "hoso": 1,
                    "content_sha256": "x",
                    "status": "accepted",
                    "legacy_format": False,
                    "tables": ["XML1"],
                    "received_at": when.replace(tzinfo=UTC),
                }
            )
            sources.append(
                {
                    "id": i,
                    "encounter_id": i,
                    "facility_code": f"33{i % 300:03d}",
                    "ma_lk": f"B{i}",
                    "version": 1,
                    "patient_code": f"BN{i}",
                    "person_id": i,
                    "link_state": "auto",
                    "given_key": given,
                    "family_key": family,
                    "dob_date": dob.strftime("%Y-%m-%d"),
                    "dob_year": dob.year,
                    "national_id": f"0{i:011d}",
                    "features": {},
                    "created_at": when.replace(tzinfo=UTC),
                }
            )
            x1.append(
                {
                    "encounter_id": i,
                    "row_no": 1,
                    "ma_lk": f"B{i}",
                    "ho_ten": f"{family} {given}",
                    "ngay_sinh": dob,
                    "ngay_sinh_precision": "day",
                    "ngay_vao": when,
                    "ngay_vao_precision": "minute",
                    "ma_loai_kcb": "01",
                    "ma_benh_chinh": "J06.9",
                    "ma_cskcb": f"33{i % 300:03d}",
                    "raw": {},
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(L.persons), people)
            conn.execute(insert(_enc), encs)
            conn.execute(insert(L.sources), sources)
            conn.execute(insert(content_tables["XML1"]), x1)
        done += n
        print(f"\r  {done:,} persons", end="", flush=True)
    print()


def _measured(engine: Engine, first_id: int, encounters: int = 50) -> tuple[int, list[int]]:
    person = first_id
    ids = list(range(first_id, first_id + encounters))
    with engine.begin() as conn:
        conn.execute(insert(L.persons), [{"id": person, "created_at": datetime(2020, 1, 1, tzinfo=UTC)}])
        rows: dict[str, list[dict[str, Any]]] = {"XML1": [], "XML2": [], "XML3": [], "XML4": []}
        encs, sources = [], []
        for n, eid in enumerate(ids):
            when = datetime(2022, 1, 1) + timedelta(days=17 * n, hours=8)
            facility = f"34{n % 5:03d}"
            encs.append(
                {
                    "id": eid,
                    "facility_code": facility,
                    "ma_lk": f"M{n}",
                    "version": 1,
                    "is_current": True,
                    "submission_id": 1,
                    "hoso": 1,
                    "content_sha256": "x",
                    "status": "accepted",
                    "legacy_format": False,
                    "tables": ["XML1", "XML2", "XML3", "XML4"],
                    "received_at": when.replace(tzinfo=UTC),
                }
            )
            sources.append(
                {
                    "id": eid,
                    "encounter_id": eid,
                    "facility_code": facility,
                    "ma_lk": f"M{n}",
                    "version": 1,
                    "patient_code": "BNX",
                    "person_id": person,
                    "link_state": "auto",
                    "features": {},
                    "created_at": when.replace(tzinfo=UTC),
                }
            )
            rows["XML1"].append(
                {
                    "encounter_id": eid,
                    "row_no": 1,
                    "ma_lk": f"M{n}",
                    "ho_ten": "BENCH PERSON",
                    "ngay_vao": when,
                    "ngay_vao_precision": "minute",
                    "ngay_ra": when + timedelta(hours=3),
                    "ngay_ra_precision": "minute",
                    "ma_loai_kcb": "01",
                    "ma_benh_chinh": "I10",
                    "ma_benh_kt": ["E11"],
                    "chan_doan_rv": "Tăng huyết áp",
                    "ket_qua_dtri": 2,
                    "ma_loai_rv": 1,
                    "ma_cskcb": facility,
                    "raw": {},
                }
            )
            rows["XML2"] += [
                {
                    "encounter_id": eid,
                    "row_no": k + 1,
                    "ten_thuoc": f"Drug {k}",
                    "lieu_dung": "1 viên/lần * 2",
                    "duong_dung": "1.01",
                    "don_vi_tinh": "Viên",
                    "raw": {},
                }
                for k in range(4)
            ]
            rows["XML3"] += [
                {"encounter_id": eid, "row_no": k + 1, "ma_dich_vu": f"DV{k}", "ten_dich_vu": f"Service {k}", "raw": {}}
                for k in range(3)
            ]
            rows["XML4"] += [
                {"encounter_id": eid, "row_no": k + 1, "ten_chi_so": f"Lab {k}", "gia_tri": "5.1", "don_vi_do": "G/L",
                 "ngay_kq": when, "ngay_kq_precision": "minute", "raw": {}} for k in range(6)
            ]  # fmt: skip
        conn.execute(insert(_enc), encs)
        conn.execute(insert(L.sources), sources)
        for table, values in rows.items():
            conn.execute(insert(content_tables[table]), values)
    return person, ids


def _percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"p50 {q[49]:6.2f} ms  p95 {q[94]:6.2f} ms  p99 {q[98]:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--url", default=None, help="a store URL; default a temp SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = open_store(url)
        t0 = time.perf_counter()
        _background(engine, args.persons, random.Random(7))
        person, encounter_ids = _measured(engine, args.persons + 1)
        build = time.perf_counter() - t0
        reader = Reader(actor="key:0", role="clinician", facility_code="34000", purpose="TREAT")
        timings: dict[str, list[float]] = {"timeline": [], "detail": [], "summary": []}
        rng = random.Random(1)
        for i in range(args.reads + 20):
            for name in timings:
                t = time.perf_counter()
                with engine.begin() as conn:
                    if name == "timeline":
                        page = person_timeline(conn=conn, person_id=person, limit=50)
                        assert page.total == 50
                        ids = page.encounter_ids
                    elif name == "detail":
                        eid = rng.choice(encounter_ids)
                        d = encounter_detail(conn=conn, encounter_id=eid, person_id=person)
                        assert len(d.section("XML4")) == 6
                        ids = [eid]
                    else:
                        ids = list(person_summary(conn=conn, person_id=person).encounter_ids)
                    record_read(
                        conn=conn, reader=reader, action=name, resource="bench", person_id=person, record_ids=ids
                    )
                if i >= 20:  # warm-up excluded
                    timings[name].append((time.perf_counter() - t) * 1000)
        engine.dispose()
        backend = engine.url.get_backend_name()
        print(f"store: {args.persons:,} background persons + 1 person with 50 encounters ({backend})")
        print(f"build: {build:.0f} s (bulk insert)")
        for name, samples in timings.items():
            print(f"{name:8s} {_percentiles(samples)}  (n={len(samples)}, incl. its audit event)")
        print(f"machine: {platform.processor() or platform.machine()}, {platform.system()} {platform.release()}, "
              f"Python {platform.python_version()}")  # fmt: skip


if __name__ == "__main__":
    main()
