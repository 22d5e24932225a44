"""Batch prediction on Spark (local mode) against DuckDB on the same model rows and the same model JSON.

Data: `bench.bench_relink.model_rows` (synthetic canonical rows, cached under data/bench/; generation is
not timed). With `--base N` every size is cut from the cached N-row table instead of generating it: the
first persons (every record of a person kept) up to the size; sizes above N are made of copies of the
table (`scaled_rows`: new unique and person ids, each copy's CCCD, BHXH number and phone digits shifted so
that copies never share or nearly share an identifier; names, dates of birth and addresses as they are, so
keys on a name and a date gather copies as a larger province gathers namesakes).

`--within-province` blocks with `linkage.model.within_province(BATCH_BLOCKING_RULES)` (the name and date
rules also require the same province_code; CCCD, BHXH number and phone rules stay national), as a
national run does, and makes every copy k > 0 another province's population: besides the identifiers
above, each digit d of its province_code and commune_code becomes (d + 3k) mod 10 (the base rows' 79 / 75
become 02 / 08 in copy 1, 35 / 31 in copy 2, 68 / 64 in copy 3, 91 / 97 in copy 4; communes map one to one
within a copy, so "same commune" and "same province" keep their meaning, and no two copies share a
province or a commune code: checked). So the 5M rows (`--sizes 5000000 --base 1000000 --within-province`)
are the 999,214 cached rows five times plus the first persons of a sixth copy (3,930 rows; 79 / 75 -> 24 /
20), each copy k > 0 in two provinces of its own with the same names, dates of birth and sexes and every
identifier, province and commune digit shifted: twelve provinces, about 0.97M / 0.03M records in each
copy's two. Under the scoped rules no pair crosses copies: the comparisons are about five times the 1M
rows' own.

Each size runs in a fresh process (so the session start and the peak memory are that size's own), in stages:

  session   `linkage.spark.local_session` (JVM start, Splink's UDF jar on the class path)
  load      the Arrow rows into a cached Spark DataFrame (what `spark.read.parquet` of an export gives)
  blocking  the batch blocking rules on Spark, counting the candidate pairs (= comparisons) exactly with
            Splink's `count_comparisons_from_blocking_rules` (per rule: pairs no earlier rule produced)
  predict   `linkage.spark.predict_links_spark` at the review threshold (term-frequency tables, blocking
            again, comparison vectors, weights) and the pairs collected into Arrow, as `mpi relink
            --engine spark` does
  cluster   `linkage.batch.cluster` of those pairs at the auto threshold (as `mpi relink` does)
  duckdb    `linkage.batch.predict_links` on the same rows, and whether both engines found the same pairs

Every stage prints wall and CPU seconds: the CPU of the whole process tree (the Python driver and Spark's
JVM, read from /proc; the Python driver's share in brackets), so that a figure taken on a loaded machine
still says what the work costs; the comparisons per CPU-second of the predict stage are the per-core
throughput. Peak memory: the JVM's and the Python process's peak resident set (VmHWM).

Usage: python -m bench.bench_spark [--sizes 20000 100000] [--base 1000000] [--memory 10g] [--cores 2]
       [--no-duckdb] [--within-province]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bench.bench_relink import AUTO, REVIEW, in_fresh_process, model_rows
from linkage.model import IDENTIFIER_KEYS

_TICK = os.sysconf("SC_CLK_TCK")
_RESIDENCE = ("province_code", "commune_code")


def _shift_digits(column: pa.ChunkedArray, shift: int) -> pa.ChunkedArray:
    """Every digit d of the strings becomes (d + shift) mod 10: a copy's identifier differs in every digit."""
    table = str.maketrans("0123456789", "".join(str((d + shift) % 10) for d in range(10)))
    return pa.chunked_array([pa.array([None if v is None else v.translate(table) for v in column.to_pylist()])])


def _codes(column: pa.ChunkedArray) -> set[str]:
    return {v for v in pc.unique(column).to_pylist() if v is not None}


def scaled_rows(size: int, base: int, *, provinces: bool = False) -> pa.Table:
    """About `size` model rows cut from (copies of) the cached `base`-row table; `provinces`: each copy
    k > 0 in provinces and communes of its own. See the module docstring."""
    rows = model_rows(base)
    copies, persons = [], pc.max(rows.column("person_id")).as_py() + 1
    shifted = sorted(IDENTIFIER_KEYS) + (list(_RESIDENCE) if provinces else [])
    for k in range(-(-size // rows.num_rows)):
        copy = rows
        if k:
            for name in ("unique_id", "person_id"):
                offset = k * (rows.num_rows if name == "unique_id" else persons)
                copy = copy.set_column(copy.schema.get_field_index(name), name, pc.add(copy.column(name), offset))
            for name in shifted:
                copy = copy.set_column(copy.schema.get_field_index(name), name, _shift_digits(copy.column(name), 3 * k))
        copies.append(copy)
    if provinces:
        for name in _RESIDENCE:
            codes = [_codes(copy.column(name)) for copy in copies]
            if sum(map(len, codes)) != len(set().union(*codes)):
                raise ValueError(f"{len(copies)} copies of {base:,} rows: two copies would share a {name}")
    table = pa.concat_tables(copies).combine_chunks()
    if table.num_rows <= size:
        return table
    ids = pc.sort_indices(table.column("person_id"))
    last = table.column("person_id").take(ids)[size - 1]
    return table.filter(pc.less_equal(table.column("person_id"), last))


def _process_tree() -> list[int]:
    pids, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return pids


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its descendants (Spark's JVM) so far."""
    total = 0.0
    for pid in _process_tree():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def _peak_rss_mb() -> dict[str, float]:
    """Peak resident set (MB) of this process and its descendants, by command name."""
    peaks: dict[str, float] = {}
    for pid in _process_tree():
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[name] = max(peaks.get(name, 0.0), int(line.split()[1]) / 1024)
    return peaks


@contextmanager
def _stage(result: dict[str, Any], name: str) -> Iterator[None]:
    t0, c0, p0 = time.perf_counter(), _cpu_seconds(), time.process_time()
    yield
    result[name] = {
        "s": time.perf_counter() - t0,
        "cpu": _cpu_seconds() - c0,
        "python_cpu": time.process_time() - p0,
        "load": os.getloadavg()[0],
    }
    # as it goes, so that a run stopped part-way still tells where its time went
    r = result[name]
    print(
        f"  [{result.get('records', 0):,} records] {name}: {r['s']:.1f} s wall / {r['cpu']:.1f} s CPU"
        f" ({r['python_cpu']:.1f} Python), load {r['load']:.1f}",
        flush=True,
    )


def run_size(
    size: int, memory: str, cores: int | str, duckdb: bool, base: int | None, within: bool = False
) -> dict[str, Any]:
    from splink.backends.spark import SparkAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    from linkage import load_model
    from linkage.batch import cluster, model_input, predict_links
    from linkage.model import BATCH_BLOCKING_RULES, within_province
    from linkage.spark import local_session, predict_links_spark, spark_settings

    model = load_model().model
    rows = (model_rows(size) if base is None else scaled_rows(size, base, provinces=within)).drop_columns(
        ["person_id"]
    )
    blocking_rules = within_province(BATCH_BLOCKING_RULES) if within else BATCH_BLOCKING_RULES
    result: dict[str, Any] = {"records": rows.num_rows, "provinces": len(_codes(rows.column("province_code")))}
    with _stage(result, "session"):
        spark = local_session(cores=cores, memory=memory)
    result["spark"] = spark.version
    with _stage(result, "load"):
        frame = spark.createDataFrame(model_input(rows)).persist()
        frame.count()
    with _stage(result, "blocking"):
        rules = spark_settings(model, blocking_rules=blocking_rules)["blocking_rules_to_generate_predictions"]
        db_api = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
        counts = count_comparisons_from_blocking_rules(
            db_api.register(frame), blocking_rules=rules, link_type="dedupe_only", record_sample_proportion=1.0
        )
    result["comparisons"] = counts[-1]["cumulative_comparison_count"]
    result["per_rule"] = [c["marginal_comparison_count"] for c in counts]
    print(f"  comparisons {result['comparisons']:,}, per rule {result['per_rule']}", flush=True)
    with _stage(result, "predict"):
        pairs = predict_links_spark(
            frame, model, spark=spark, threshold_probability=REVIEW, blocking_rules=blocking_rules
        )
    result["pairs"] = pairs.num_rows
    with _stage(result, "cluster"):
        clusters = cluster(pairs, AUTO)
    result["clustered_records"] = clusters.num_rows
    result["peak_mb"] = _peak_rss_mb()
    spark.stop()
    if duckdb:
        with _stage(result, "duckdb"):
            on_duck = predict_links(rows, model, threshold_probability=REVIEW, blocking_rules=blocking_rules)
        result["same_pairs"] = on_duck.select([0, 1]).equals(pairs.select([0, 1]))
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000])
    ap.add_argument("--base", type=int, default=None, help="cut every size from the cached rows of this size")
    ap.add_argument("--memory", default="10g", help="Spark driver heap (local mode: the driver does the work)")
    ap.add_argument("--cores", default="*", help="local[N] worker threads (default: every core)")
    ap.add_argument("--no-duckdb", action="store_true", help="Spark only (sizes DuckDB already measured)")
    ap.add_argument(
        "--within-province",
        action="store_true",
        help="name/date rules within a province (linkage.model.within_province); copies in provinces of their own",
    )
    args = ap.parse_args()
    rules = "within a province" if args.within_province else "national"
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; batch rules {rules}; wall s / CPU s per stage")
    for size in args.sizes:
        model_rows(args.base or size)
        r = in_fresh_process(
            run_size, size, args.memory, args.cores, not args.no_duckdb, args.base, args.within_province
        )
        stages = ["session", "load", "blocking", "predict", "cluster"] + (["duckdb"] if "duckdb" in r else [])
        print(
            f"{r['records']:,} records in {r['provinces']} provinces (Spark {r['spark']}): "
            + ", ".join(f"{s} {r[s]['s']:.1f}/{r[s]['cpu']:.1f} ({r[s]['python_cpu']:.1f} Python)" for s in stages)
        )
        predict = r["predict"]
        print(
            f"  {r['comparisons']:,} comparisons (per rule, per record: "
            + ", ".join(f"{n / r['records']:.2f}" for n in r["per_rule"])
            + f"), {r['pairs']:,} pairs >= {REVIEW}"
            f" ({r['comparisons'] / predict['cpu'] / 1e3:,.0f}k comparisons per CPU-second of predict);"
            f" same pairs as DuckDB: {r.get('same_pairs', '-')}; peak RSS "
            + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in sorted(r["peak_mb"].items()))
            + "; load "
            + "/".join(f"{r[s]['load']:.1f}" for s in stages)
        )


if __name__ == "__main__":
    main()
