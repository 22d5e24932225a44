"""Batch prediction on Spark (local mode) against DuckDB on the same model rows and the same model JSON.

Data: `bench.bench_relink.model_rows` (synthetic canonical rows, cached under data/bench/). Each size runs
`linkage.spark.predict_links_spark` (Splink's Spark backend, `local[*]`, Splink's UDF jar from the wheel)
and `linkage.batch.predict_links` (DuckDB) at the review threshold with the batch blocking rules, and
prints wall seconds, pairs, and whether both engines found the same pairs.

Usage: python -m bench.bench_spark [--sizes 20000 100000] [--memory 6g]
"""

from __future__ import annotations

import argparse
import os
import time

from bench.bench_relink import REVIEW, model_rows
from linkage import load_model
from linkage.batch import predict_links
from linkage.model import BATCH_BLOCKING_RULES
from linkage.spark import local_session, predict_links_spark


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000])
    ap.add_argument("--memory", default="6g")
    ap.add_argument("--no-duckdb", action="store_true", help="Spark only (sizes DuckDB already measured)")
    args = ap.parse_args()
    model = load_model().model
    t0 = time.perf_counter()
    spark = local_session(memory=args.memory)
    print(f"spark {spark.version} session: {time.perf_counter() - t0:.1f} s, load {os.getloadavg()[0]:.1f}")
    print(f"{'records':>10}{'spark s':>10}{'duckdb s':>10}{'pairs':>12}{'same pairs':>12}{'load':>7}")
    for size in args.sizes:
        rows = model_rows(size).drop_columns(["person_id"])
        t0 = time.perf_counter()
        on_spark = predict_links_spark(
            rows, model, spark=spark, threshold_probability=REVIEW, blocking_rules=BATCH_BLOCKING_RULES
        )
        spark_s = time.perf_counter() - t0
        duck_s, same = float("nan"), "-"
        if not args.no_duckdb:
            t0 = time.perf_counter()
            on_duck = predict_links(rows, model, threshold_probability=REVIEW, blocking_rules=BATCH_BLOCKING_RULES)
            duck_s = time.perf_counter() - t0
            same = str(on_duck.select([0, 1]).equals(on_spark.select([0, 1])))
        load = os.getloadavg()[0]
        print(f"{rows.num_rows:>10,}{spark_s:>10.1f}{duck_s:>10.1f}{on_spark.num_rows:>12,}{same:>12}{load:>7.1f}")
    spark.stop()


if __name__ == "__main__":
    main()
