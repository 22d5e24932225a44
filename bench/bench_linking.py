"""Latency of the online path: linking ONE new record against a store of N persons.

The store is built directly (no XML): synthetic persons with 1-5 noisy records each
(`tests/linkage/synthetic.py`, the same generator the linkage tests use), every record a source record
already linked to its true person, with term-frequency counts. Then held-out records of the same
population (and new persons) are linked one at a time through `OnlineLinker.link_record`, each in its
own committed transaction, exactly as ingest calls it. Reported: p50 / p95 / p99 per record, wall and
CPU time (the CPU time of the process during the call: what the work costs on a shared machine where the
wall time includes waiting for a core), and peak RSS.
Goal (linkage issue): p95 <= 10 ms at 1M persons on this 2-core machine.

Usage: python -m bench.bench_linking --persons 100000 [--queries 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from collections import Counter
from typing import Any

from sqlalchemy import insert

from linkage import CanonicalRecord
from linkage.normalise.dates import parse_partial_date
from mpi.identity import links as L
from mpi.identity.models import TermFrequency
from mpi.identity.online import OnlineLinker, source_values
from mpi.settings import Settings
from mpi.store import Encounter, Submission, open_store
from mpi.store.models import utcnow
from tests.linkage.synthetic import synthetic_records

_CANONICAL_FIELDS = tuple(CanonicalRecord.__dataclass_fields__)


def _canonical(row: dict[str, Any]) -> Any:
    values = {f: row.get(f) for f in _CANONICAL_FIELDS}
    iso = row.get("dob_iso")
    values["dob"] = parse_partial_date(iso.replace("-", "")) if iso else None
    values["national_id_issues"] = tuple(filter(None, (row.get("national_id_issues") or "").split(";")))
    values["commune_split"] = bool(row.get("commune_split"))
    return CanonicalRecord(**values)


def _encounter_row(row: dict[str, Any], ma_lk: str, now: Any) -> dict[str, Any]:
    """A minimal current encounter version of the bench's single submission."""
    return {
        "facility_code": row.get("facility_code") or "74001",
        "ma_lk": ma_lk,
        "version": 1,
        "is_current": True,
        "submission_id": 1,
        "hoso": 1,
        "content_sha256": "0",
        "status": "accepted",
        "legacy_format": False,
        "tables": ["XML1"],
        "received_at": now,
    }


def build_store(url: str, rows: list[dict[str, Any]], linker: OnlineLinker) -> None:
    engine = open_store(url)
    enc_t, sub_t = Encounter.__table__, Submission.__table__  # type: ignore[attr-defined]
    persons = sorted({int(r["person_id"]) for r in rows})
    tf: dict[str, Counter[str]] = {c: Counter() for c in linker.tf.columns}
    with engine.begin() as conn:
        conn.execute(
            insert(sub_t),
            {
                "sha256": "0" * 64,
                "received_at": utcnow(),
                "submitter": "bench",
                "size": 0,
                "raw_gzip": b"",
                "outcome": "accepted",
                "hoso_count": 0,
                "signature_present": False,
            },
        )
        now = utcnow()
        conn.execute(insert(L.persons), [{"id": p, "created_at": now} for p in persons])
        batch = 20_000
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            conn.execute(
                insert(enc_t),
                [{"id": r["unique_id"] + 1, **_encounter_row(r, f"B{r['unique_id']}", now)} for r in chunk],
            )
            sources = []
            for r in chunk:
                values = source_values(
                    _canonical(r),
                    encounter_id=r["unique_id"] + 1,
                    facility_code=r.get("facility_code") or "74001",
                    ma_lk=f"B{r['unique_id']}",
                    version=1,
                )
                sources.append({**values, "person_id": int(r["person_id"]), "link_state": "auto", "created_at": now})
                for column in tf:
                    value = values["features"].get(column)
                    if value is not None:
                        tf[column][str(value)[:128]] += 1
            conn.execute(insert(L.sources), sources)
        tf_table = TermFrequency.__table__  # type: ignore[attr-defined]
        conn.execute(
            insert(tf_table),
            [{"column_name": c, "value": v, "count": n} for c, counts in tf.items() for v, n in counts.items()],
        )
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000])
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    settings = Settings(env="test", secret_key="bench-secret-0123456789")
    print(f"machine: {platform.machine()} CPython {platform.python_version()}, cpus={len(os.sched_getaffinity(0))}")
    for n in args.persons:
        t0 = time.perf_counter()
        table = synthetic_records(n, seed=3)
        rows = table.to_pylist()
        held_out, stored = rows[: args.queries], rows[args.queries :]
        linker = OnlineLinker.from_settings(settings)
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite3"
            build_store(url, stored, linker)
            built = time.perf_counter() - t0
            engine = open_store(url)
            linker.warm(engine)
            enc_t = Encounter.__table__  # type: ignore[attr-defined]
            latencies, cpu = [], []
            rules: Counter[str] = Counter()
            for i, r in enumerate(held_out):
                record = _canonical(r)
                start, start_cpu = time.perf_counter(), time.process_time()
                with engine.begin() as conn:
                    eid = conn.execute(
                        insert(enc_t),
                        _encounter_row(r, f"Q{i}", utcnow()),
                    ).inserted_primary_key[0]
                    result = linker.link_record(
                        conn,
                        record=record,
                        encounter_id=int(eid),
                        facility_code=r.get("facility_code") or "74001",
                        ma_lk=f"Q{i}",
                        version=1,
                    )
                latencies.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
                rules[result["rule"]] += 1
            engine.dispose()
        q, c = statistics.quantiles(latencies, n=100), statistics.quantiles(cpu, n=100)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"persons={n:,} source_records={len(stored):,} (store built in {built:.0f} s)")
        print(
            f"  link one record: p50 {q[49]:.2f} ms  p95 {q[94]:.2f} ms  p99 {q[98]:.2f} ms  "
            f"(n={len(latencies)}, including the encounter insert and commit; load {os.getloadavg()[0]:.1f})"
        )
        print(f"  CPU time per record: p50 {c[49]:.2f} ms  p95 {c[94]:.2f} ms  p99 {c[98]:.2f} ms")
        print(f"  decisions: {dict(rules.most_common())}")
        print(f"  peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
