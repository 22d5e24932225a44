"""Batch relinking at scale: Splink predict + clustering over 100k and 1M records, and a store-backed run.

Data: canonical model rows from `tests.linkage.synthetic` (Zipf Vietnamese names, households, twins,
namesakes, typos, year-only dates, missing identifiers, old phones, moves), about 2.2 records per
person, generated in worker processes and cached as Parquet under `data/bench/` (generation is not
timed). No XML: the linkage layer's input is model rows.

Runs, each in a fresh process so that peak RSS is the run's own:
  predict   `linkage.batch.predict_links` at the review threshold (all pairs a relink looks at)
  cluster   `linkage.batch.cluster` of those pairs at the auto threshold
  store     (--store N) `mpi.identity.relink.relink` on a SQLite store of N source records where the
            "online path" missed every tenth record (it sits alone on a new person): read via Arrow,
            predict, then merges and reviews written through `mpi.identity.links`.
Pairwise precision / recall of the clusters against the synthetic truth are printed too.
Goal (issue §6): <= 3 minutes at 1M source records on this machine.

Usage: python -m bench.bench_relink [--sizes 100000 1000000] [--store 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import queue as queue_module
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CACHE = Path("data/bench")
AUTO, REVIEW = 0.99, 0.30  # mpi.settings defaults
RECORDS_PER_PERSON = 2.25  # tests.linkage.synthetic's mean


def _generate(job: tuple[int, int]) -> pa.Table:
    from linkage import model_table
    from tests.linkage.synthetic import synthetic_records

    persons, seed = job
    raw = synthetic_records(persons, seed=seed)
    table = model_table(raw)
    return table.append_column("person_id", raw.column("person_id"))


def model_rows(records: int, *, seed: int = 7, workers: int = 2) -> pa.Table:
    """About `records` model rows with `person_id` (truth), cached; unique_id is 0..n-1."""
    path = CACHE / f"model_rows_{records}_{seed}.parquet"
    if path.exists():
        return pq.read_table(path)
    parts = max(workers, round(records / 100_000))
    persons = round(records / RECORDS_PER_PERSON / parts)
    jobs = [(persons, seed * 1000 + k) for k in range(parts)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        tables = pool.map(_generate, jobs)
    # Each part numbers its persons from 0: offset them so that parts never share a person.
    offset, shifted = 0, []
    for table in tables:
        pid = table.column("person_id")
        shifted.append(table.set_column(table.schema.get_field_index("person_id"), "person_id", pc.add(pid, offset)))
        offset += pc.max(pid).as_py() + 1
    table = pa.concat_tables(shifted)
    table = table.set_column(0, "unique_id", pa.array(range(table.num_rows), pa.int64()))
    CACHE.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table


def _pairwise(pairs: pa.Table, truth: pa.Table, threshold: float) -> tuple[float, float]:
    """Pairwise precision / recall of the clusters at `threshold` (transitive closure), with DuckDB."""
    import duckdb

    from linkage.batch import cluster

    clusters = cluster(pairs, threshold, unique_ids=truth.column("unique_id"))
    con = duckdb.connect()
    con.register("c", clusters)
    con.register("t", truth)
    tp, predicted, actual = con.sql(
        """
        WITH j AS (SELECT c.cluster_id, t.person_id FROM c JOIN t USING (unique_id)),
        both_ AS (SELECT count(*) n FROM j GROUP BY cluster_id, person_id),
        pc AS (SELECT count(*) n FROM j GROUP BY cluster_id),
        tc AS (SELECT count(*) n FROM j GROUP BY person_id)
        SELECT (SELECT sum(n*(n-1)/2) FROM both_), (SELECT sum(n*(n-1)/2) FROM pc), (SELECT sum(n*(n-1)/2) FROM tc)
        """
    ).fetchall()[0]
    con.close()
    return (tp / predicted if predicted else 1.0, tp / actual if actual else 1.0)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_batch(records: int, num_chunks: int | None, model_rules: bool) -> dict[str, Any]:
    from linkage import load_model
    from linkage.batch import cluster, predict_links
    from linkage.model import BATCH_BLOCKING_RULES

    table = model_rows(records)
    model = load_model().model
    rules = None if model_rules else BATCH_BLOCKING_RULES
    t0, c0 = time.perf_counter(), _cpu()
    pairs = predict_links(table, model, threshold_probability=REVIEW, blocking_rules=rules, num_chunks=num_chunks)
    t1, c1 = time.perf_counter(), _cpu()
    clusters = cluster(pairs, AUTO)
    t2, c2 = time.perf_counter(), _cpu()
    precision, recall = _pairwise(pairs, table.select(["unique_id", "person_id"]), AUTO)
    return {
        "records": table.num_rows,
        "predict_s": t1 - t0,
        "predict_cpu_s": c1 - c0,
        "cluster_s": t2 - t1,
        "cluster_cpu_s": c2 - c1,
        "load": os.getloadavg()[0],
        "pairs": pairs.num_rows,
        "auto_pairs": pairs.filter(pc.greater_equal(pairs.column("match_probability"), AUTO)).num_rows,
        "clustered_records": clusters.num_rows,
        "precision": precision,
        "recall": recall,
    }


def run_store(records: int) -> dict[str, Any]:
    import tempfile

    from bench.relink_store import build_store
    from linkage import load_model
    from mpi.identity.policy import Thresholds
    from mpi.identity.relink import relink

    table = model_rows(records)
    with tempfile.TemporaryDirectory() as tmp:
        engine, setup_s = build_store(f"sqlite:///{tmp}/bench.sqlite3", table, missed_every=10)
        trained = load_model()
        report = relink(engine=engine, model=trained, thresholds=Thresholds(auto=AUTO, review=REVIEW))
        again = relink(engine=engine, model=trained, thresholds=Thresholds(auto=AUTO, review=REVIEW))
        engine.dispose()
    return {"records": table.num_rows, "setup_s": setup_s, **report.as_dict(), "second_run": again.as_dict()}


def _child(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], queue: Any) -> None:
    result = fn(*args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def in_fresh_process(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(fn, args, queue))
    process.start()
    while True:
        try:
            result: dict[str, Any] = queue.get(timeout=5)
            break
        except queue_module.Empty:
            if not process.is_alive():
                raise RuntimeError(f"the benchmark process failed (exit code {process.exitcode})") from None
    process.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--chunks", type=int, default=None, help="predict chunks per side (default: by size)")
    ap.add_argument("--model-rules", action="store_true", help="block with the model's own rules, not the batch ones")
    ap.add_argument("--store", type=int, default=100_000, help="source records in the store-backed run (0: skip)")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load {load:.1f}")
    for size in args.sizes:
        t0 = time.perf_counter()
        n = model_rows(size).num_rows
        print(f"data {n:,} model rows ready in {time.perf_counter() - t0:.1f} s (cached under {CACHE})")
        r = in_fresh_process(run_batch, size, args.chunks, args.model_rules)
        print(
            f"batch {r['records']:>9,} records: predict {r['predict_s']:6.1f} s ({r['predict_cpu_s']:.0f} CPU s),"
            f" cluster {r['cluster_s']:5.1f} s ({r['cluster_cpu_s']:.0f} CPU s),"
            f" total {r['predict_s'] + r['cluster_s']:6.1f} s; {r['pairs']:,} pairs >= {REVIEW},"
            f" {r['auto_pairs']:,} >= {AUTO}; clusters P={r['precision']:.3f} R={r['recall']:.3f};"
            f" peak RSS {r['peak_rss_mb']:,.0f} MB; load {r['load']:.1f}"
        )
    if args.store:
        model_rows(args.store)
        r = in_fresh_process(run_store, args.store)
        print(
            f"store {r['records']:>9,} source records (SQLite; setup {r['setup_s']:.0f} s): relink {r['seconds']:.1f} s"
            f" (read {r['read_seconds']:.1f}, predict {r['predict_seconds']:.1f}, apply {r['apply_seconds']:.1f});"
            f" {r['pairs_scored']:,} pairs, {r['merges']:,} merges, {r['reviews_opened']:,} reviews;"
            f" second run {r['second_run']['seconds']:.1f} s, {r['second_run']['merges']} merges,"
            f" {r['second_run']['reviews_opened']} reviews; peak RSS {r['peak_rss_mb']:,.0f} MB"
        )


if __name__ == "__main__":
    main()
