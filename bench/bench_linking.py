"""Latency of the online path: linking ONE new record against a store of N persons.

The store is built directly (no XML): synthetic persons with 1-5 noisy records each
(`tests/linkage/synthetic.py`, the same generator the linkage tests use), every record a source record
already linked to its true person, with term-frequency counts. Then held-out records of the same
population (and new persons) are linked one at a time through `OnlineLinker.link_record`, each in its
own committed transaction, exactly as ingest calls it: on SQLite with the rows' ids handed out ahead and the
rows written at commit (`mpi.store.ahead`, as `mpi.ingest.store_group` does), the encounter inserted first.
Reported: p50 / p95 / p99 per record, wall and CPU time (the CPU time of the process during the call: what
the work costs on a shared machine where the wall time includes waiting for a core), and peak RSS.
Goal (linkage issue): p95 <= 10 ms at 1M persons on this 2-core machine.

``--store PATH`` (one ``--persons`` value) builds the store once at PATH, with the held-out records beside it
(``PATH.queries.json``), and reuses both on later runs: each run links the same queries into a scratch copy
of the store (removed afterwards), so reruns measure the same records against the same store. Building the
1M-person store takes ~25 min, mostly generating the population.
``--decisions FILE`` writes every query's decision (rule, and whether it joined the true person) as JSON
lines; ``bench.compare_decisions`` compares two such files.
``--warm`` reads every source record and index once before timing (through the connection the queries use, so
its memory map has every page mapped), as in a process that has served a while; without it each query's
candidates are mostly read for the first time since the process started.
``--stages`` also prints where each query's CPU time went (:class:`_Stages`: candidate search, scoring, policy,
the decision's writes, commit), on average and over the slowest tenth of queries.

Usage: python -m bench.bench_linking --persons 100000 [--queries 2000] [--store /tmp/link100k.sqlite3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from api.heap import freeze_start_up
from linkage import CanonicalRecord
from linkage.normalise.dates import parse_partial_date
from mpi.identity import links as L
from mpi.identity.models import TermFrequency
from mpi.identity.online import OnlineLinker, source_values
from mpi.settings import Settings
from mpi.store import Encounter, Submission, ahead, open_store
from mpi.store.bulk import BulkInsert
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


def _decision(i: int, row: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """What ``link_record`` decided for query ``i`` (the bench's persons keep their true ids; new persons are
    numbered in query order, so two runs on the same store give equal ids for equal decisions)."""
    return {
        "query": i,
        "true_person": int(row["person_id"]),
        "person": result["person_id"],
        "rule": result["rule"],
        "state": result["link_state"],
        "probability": result["match_probability"],
        "review": result["review_id"] is not None,
    }


def _held_out(n: int, queries: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The population of ``n`` persons (seed 3) split into the held-out queries and the stored records."""
    rows = synthetic_records(n, seed=3).to_pylist()
    return rows[:queries], rows[queries:]


@contextmanager
def _store(path: str | None, n: int, queries: int, linker: OnlineLinker) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The URL of a store of ``n`` persons to link into, and the held-out queries.

    Without ``path``: built in a temporary directory, deleted afterwards. With ``path``: built there once
    (under a temporary name, renamed when complete) with the queries beside it, then each use links into a
    scratch copy, so the kept store never holds a run's queries."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=Path(path).parent if path else None) as tmp:
        if path is None:
            held_out, stored = _held_out(n, queries)
            url = f"sqlite:///{tmp}/bench.sqlite3"
            build_store(url, stored, linker)
            print(f"persons={n:,} source_records={len(stored):,} (store built in {time.perf_counter() - t0:.0f} s)")
            yield url, held_out
            return
        kept, sidecar = Path(path), Path(f"{path}.queries.json")
        if kept.exists() and sidecar.exists():
            saved = json.loads(sidecar.read_text(encoding="utf-8"))
            if saved["persons"] != n or len(saved["queries"]) < queries:
                raise SystemExit(
                    f"{path} holds {saved['persons']:,} persons and {len(saved['queries'])} queries, "
                    f"not {n:,} persons and {queries}: remove it (and {sidecar.name}) or give another --store"
                )
            held_out = saved["queries"][:queries]
            print(f"persons={n:,}: reusing {path}")
        else:
            held_out, stored = _held_out(n, queries)
            building = f"{path}.building"
            for stale in (building, f"{building}-wal", f"{building}-shm"):
                Path(stale).unlink(missing_ok=True)
            build_store(f"sqlite:///{building}", stored, linker)
            sidecar.write_text(json.dumps({"persons": n, "queries": held_out}), encoding="utf-8")
            Path(building).replace(kept)
            shutil.rmtree(f"{building}-locks", ignore_errors=True)  # the migration's lock files (mpi.store.locks)
            built = time.perf_counter() - t0
            print(f"persons={n:,} source_records={len(stored):,} (store built at {path} in {built:.0f} s)")
        scratch = f"{tmp}/run.sqlite3"
        with closing(sqlite3.connect(kept)) as src, closing(sqlite3.connect(scratch)) as dst:
            src.backup(dst)  # consistent even if the kept store still has a WAL
        yield f"sqlite:///{scratch}", held_out


class _Stages:
    """CPU time per stage of each query, by wrapping the online path's steps (``--stages``; a few µs of
    timing overhead per query). A stage called inside another is counted in the inner one only."""

    def __init__(self) -> None:
        self.current: Counter[str] = Counter()
        self.per_query: list[tuple[float, Counter[str]]] = []
        self._stack: list[list[float]] = []
        self.candidates: list[int] = []

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)
        stages = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [time.process_time(), 0.0]  # start, time spent in inner stages
            stages._stack.append(frame)
            try:
                return original(*args, **kwargs)
            finally:
                stages._stack.pop()
                spent = time.process_time() - frame[0]
                stages.current[stage] += spent - frame[1]
                if stages._stack:
                    stages._stack[-1][1] += spent
                if stage == "scoring" and len(args) >= 4:
                    stages.candidates.append(len(args[3]))

        setattr(owner, name, timed)

    def install(self) -> None:
        from mpi.identity import births, matching, online, tf
        from mpi.store import ahead as ahead_module

        self.wrap(matching.Matcher, "national_id_candidates", "CCCD search")
        self.wrap(matching.Matcher, "candidates", "candidate search")
        self.wrap(matching.Matcher, "weights", "scoring")
        self.wrap(online.OnlineLinker, "_candidates", "candidates built")
        self.wrap(online, "decide", "policy")
        self.wrap(online, "decide_by_national_id", "policy")
        self.wrap(births, "for_record", "births look-up")
        self.wrap(L, "blocked_persons", "blocked look-up")
        self.wrap(online.OnlineLinker, "_apply", "decision (buffered)")
        self.wrap(ahead_module.RowsAhead, "flush", "commit: rows")
        self.wrap(tf._PendingCounts, "flush", "commit: term frequencies")
        self.wrap(L._DeferredEvents, "flush", "commit: events")
        self.wrap(L, "defer_events", "feed lock")
        self.wrap(ahead_module.RowsAhead, "add", "ids ahead")

    def engine(self, engine: Any) -> None:
        self.wrap(engine.dialect, "do_commit", "SQLite COMMIT")

    def end_query(self, total: float) -> None:
        self.current["other"] += total - sum(self.current.values())
        self.per_query.append((total, self.current))
        self.current = Counter()

    def report(self) -> None:
        ranked = sorted(self.per_query, key=lambda q: q[0])
        n = len(ranked)
        tail = ranked[-max(1, n // 10) :]
        around = ranked[int(n * 0.93) : max(int(n * 0.93) + 1, int(n * 0.97))]  # the queries around p95
        names = sorted({name for _, c in ranked for name in c}, key=lambda name: -sum(c[name] for _, c in around))
        print("  CPU ms per query by stage: mean / mean of the slowest tenth / mean of p93-p97")
        for name in [*names, None]:
            cells = [
                1000 * statistics.mean(t if name is None else c[name] for t, c in part)
                for part in (ranked, tail, around)
            ]
            print(f"    {name or 'total':32s} " + " / ".join(f"{x:6.2f}" for x in cells))
        if self.candidates:
            q = statistics.quantiles(self.candidates, n=100)
            print(
                f"  candidates scored per call: mean {statistics.mean(self.candidates):.0f}, p95 {q[94]:.0f}, "
                f"max {max(self.candidates)}"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000])
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--store", help="keep the store in this file and reuse it when it exists (never in the repo)")
    ap.add_argument("--decisions", help="write each query's decision as JSON lines to this file")
    ap.add_argument("--stages", action="store_true", help="print the CPU time per stage (slowest tenth too)")
    ap.add_argument(
        "--warm",
        action="store_true",
        help="read every source record once before timing (its pages mapped, as in a process that has run a while)",
    )
    args = ap.parse_args()
    if args.store and len(args.persons) != 1:
        ap.error("--store takes a single --persons value")
    settings = Settings(env="test", secret_key="bench-secret-0123456789")
    print(f"machine: {platform.machine()} CPython {platform.python_version()}, cpus={len(os.sched_getaffinity(0))}")
    stages = _Stages() if args.stages else None
    if stages is not None:
        stages.install()
    for n in args.persons:
        linker = OnlineLinker.from_settings(settings)
        with _store(args.store, n, args.queries, linker) as (url, held_out):
            engine = open_store(url)
            linker.warm(engine)
            if args.warm:
                started = time.perf_counter()
                with engine.connect() as conn:  # the pool's one connection, reused by every query below
                    conn.exec_driver_sql("SELECT sum(length(features)) FROM source_record").all()
                    for index in L.sources.indexes:  # each index's pages too, scanned in full
                        first = next(iter(index.columns)).name
                        conn.exec_driver_sql(
                            f'SELECT count("{first}") FROM source_record INDEXED BY "{index.name}"'
                            f' WHERE "{first}" IS NOT NULL'
                        ).all()
                print(f"  store's source records read once before timing in {time.perf_counter() - started:.1f} s")
            # as the processes that link do (the server and the intake process, api.heap.freeze_start_up): the
            # imported modules, the term frequencies and the held-out queries stay out of every full collection
            freeze_start_up()
            if stages is not None:
                stages.engine(engine)
            enc_t = Encounter.__table__  # type: ignore[attr-defined]
            insert_encounter = BulkInsert(enc_t, returning=enc_t.c.id)
            latencies, cpu = [], []
            rules: Counter[str] = Counter()
            decisions = []
            for i, r in enumerate(held_out):
                record = _canonical(r)
                start, start_cpu = time.perf_counter(), time.process_time()
                with engine.begin() as conn:
                    if stages is not None:
                        stages.current["begin"] += time.process_time() - start_cpu
                    ahead.enable(conn)  # as ingest's transaction does on SQLite (mpi.ingest.store_group)
                    eid = ahead.insert(conn, enc_t, _encounter_row(r, f"Q{i}", utcnow()), now=insert_encounter)
                    if stages is not None:
                        stages.current["encounter insert (buffered)"] += time.process_time() - start_cpu
                        stages.current["encounter insert (buffered)"] -= stages.current["begin"]
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
                if stages is not None:
                    stages.end_query(cpu[-1] / 1000)
                rules[result["rule"]] += 1
                decisions.append(_decision(i, r, result))
            engine.dispose()
        q, c = statistics.quantiles(latencies, n=100), statistics.quantiles(cpu, n=100)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  link one record: p50 {q[49]:.2f} ms  p95 {q[94]:.2f} ms  p99 {q[98]:.2f} ms  "
            f"(n={len(latencies)}, including the encounter insert and commit; load {os.getloadavg()[0]:.1f})"
        )
        print(f"  CPU time per record: p50 {c[49]:.2f} ms  p95 {c[94]:.2f} ms  p99 {c[98]:.2f} ms")
        print(f"  decisions: {dict(rules.most_common())}")
        print(f"  peak RSS {rss:.0f} MiB")
        if stages is not None:
            stages.report()
        if args.decisions:
            with Path(args.decisions).open("w", encoding="utf-8") as f:
                f.writelines(json.dumps(d, sort_keys=True) + "\n" for d in decisions)


if __name__ == "__main__":
    main()
