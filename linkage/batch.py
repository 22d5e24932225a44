"""Batch linkage: score every blocked pair of a whole record set with Splink on DuckDB, and cluster the links.

`predict_links` is the batch half of the engine (the online half is `linkage.scorer`): it runs a saved
model JSON over model rows (`linkage.model_table` output plus an int64 `unique_id`) with the model's own
blocking rules, term frequencies computed from the same records, and returns only the pairs at or above
a match probability, as a small Arrow table. Memory stays bounded on large inputs: the prediction can
run in chunks (`num_chunks`: the records are split by hashed id into k parts and the k x k chunk pairs
are scored one after another, keeping only pairs above the threshold) and DuckDB can spill
intermediates to Parquet files (`spill_dir`). Before predicting, every "at most one edit" condition of the
model (`damerau_levenshtein(x_l, x_r) <= 1`, likewise `levenshtein`) is rewritten into the same condition
behind cheap necessary tests (`guarded_settings`): equal strings pass at once, strings whose lengths differ
by more than one, or that share neither a first nor a last half, fail without the edit-distance matrix.
The truth value is unchanged for every pair (NULLs included), so the scores are the model's own; only the
per-pair cost falls.

`predict_pairs` is the small-input variant the evaluations use: scored pairs as Python tuples, with
optional population-level term-frequency tables (to score a sample the way the online scorer does).

`cluster` groups records linked at or above a threshold into connected components (union-find in
`linkage.clusters`, the same result as Splink's `cluster_pairwise_predictions_at_threshold`); a cluster's
id is its smallest member id. Cluster ids are therefore not stable across runs: the caller (`mpi`) owns
stable identities.

Pure: Arrow in, Arrow out; no store, no network. Never logs a value (Splink's own log is raised above
warnings: it carries only counts, but is noise).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from linkage.clusters import clusters_from_links
from linkage.model import model_table, prediction_blocking_rules
from linkage.scorer import TfTables, build_tf_tables, tf_columns

__all__ = ["PAIR_SCHEMA", "cluster", "guarded_settings", "model_input", "predict_links", "predict_pairs"]

PAIR_SCHEMA: Final = pa.schema(
    [
        ("unique_id_l", pa.int64()),
        ("unique_id_r", pa.int64()),
        ("match_weight", pa.float64()),
        ("match_probability", pa.float64()),
    ]
)
CLUSTER_SCHEMA: Final = pa.schema([("unique_id", pa.int64()), ("cluster_id", pa.int64())])
_SPLINK_LOG_LEVEL: Final = logging.WARNING + 5
"""Splink's own log is silenced up to its warnings. Its settings validation (``validate_settings``) only
logs such warnings (columns a rule names that the records lack), so it is not run: it parses every SQL
condition of the model again, a third of a small prediction's time."""
_ROWS_PER_CHUNK: Final = 1_000_000
"""Default chunking: records per chunk side. Each chunk pair blocks and scores anew, so fewer chunks are
cheaper (`python -m bench.bench_relink`: 1M records in one part, peak RSS 2.1 GB)."""


_AT_MOST_ONE_EDIT: Final = re.compile(r'\b(damerau_levenshtein|levenshtein)\("(\w+)_l", "\2_r"\) <= 1')


def _guarded_one_edit(match: re.Match[str]) -> str:
    """`fn(a, b) <= 1` as `(a = b OR (necessary tests AND fn(a, b) <= 1))`: the same truth value.

    One edit (substitution, insertion, deletion, or a swap of neighbours, at character p of the shorter
    string of length m) leaves the first p and the last m - p - 2 characters alike; with
    k = (m - 1) // 2 one of them is at least k long, so the first k or the last k characters agree, and
    the lengths differ by at most one. A NULL side makes every part NULL, as the bare call is.
    """
    fn, column = match.group(1), match.group(2)
    a, b = f'"{column}_l"', f'"{column}_r"'
    k = f"((least(length({a}), length({b})) - 1) // 2)"
    return (
        f"({a} = {b} OR (abs(length({a}) - length({b})) <= 1"
        f" AND (left({a}, {k}) = left({b}, {k}) OR right({a}, {k}) = right({b}, {k}))"
        f" AND {fn}({a}, {b}) <= 1))"
    )


def guarded_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of Splink settings (a saved model) whose one-edit conditions skip the edit-distance
    function wherever a cheap test already decides them (see the module's docs); same levels, same
    parameters, same truth value of every condition for every pair."""
    guarded = copy.deepcopy(dict(settings))
    for comparison in guarded.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            level["sql_condition"] = _AT_MOST_ONE_EDIT.sub(_guarded_one_edit, level["sql_condition"])
    return guarded


def model_input(records: pa.Table) -> pa.Table:
    table = model_table(records)  # model rows pass through in Arrow; canonical rows are derived
    if table.column("unique_id").null_count:
        raise ValueError("every record needs a unique_id")
    return table


def predict_links(
    records: pa.Table,
    model: Mapping[str, Any],
    *,
    threshold_probability: float,
    blocking_rules: Iterable[tuple[str, ...]] | None = None,
    num_chunks: int | None = None,
    spill_dir: Path | None = None,
    threads: int | None = None,
) -> pa.Table:
    """Splink predict over `records`: pairs with match probability >= `threshold_probability`.

    `records`: model rows (`MODEL_COLUMNS`, extra columns ignored) with a unique int64 `unique_id`; canonical
    rows are accepted too (converted with `linkage.model_table`, in Python: slower).
    `model`: a saved model JSON (dict), e.g. `linkage.load_model().model`. Term-frequency tables are
    computed from `records` themselves and registered before predicting.
    `blocking_rules`: equality rules (column tuples) generating the candidate pairs instead of the model's
    own, e.g. `linkage.model.BATCH_BLOCKING_RULES`; they choose which pairs are scored, never the scores.
    `num_chunks`: k splits each side into k hashed parts (k * k chunk pairs); default one part per
    1,000,000 records. `spill_dir`: let DuckDB write intermediates as Parquet there instead of memory.
    `threads`: DuckDB threads (default: all cores).

    Returns a table of `PAIR_SCHEMA` (unique_id_l < unique_id_r), sorted by the two ids.
    """
    if not 0.0 <= threshold_probability <= 1.0:
        raise ValueError("threshold_probability must be within [0, 1]")
    from splink import DuckDBAPI, Linker

    table = model_input(records)
    if table.num_rows < 2:
        return PAIR_SCHEMA.empty_table()
    chunks = num_chunks or max(1, -(-table.num_rows // _ROWS_PER_CHUNK))
    con = duckdb.connect(":memory:")
    try:
        con.sql("SET enable_progress_bar = false")
        if threads is not None:
            con.sql(f"SET threads TO {int(threads)}")
        db_api = (
            DuckDBAPI(con, materialisation="parquet", materialisation_dir=spill_dir)
            if spill_dir is not None
            else DuckDBAPI(con)
        )
        settings = guarded_settings(model)
        # Only ids and weights are read back: the compared columns need not be carried to the output.
        settings["retain_matching_columns"] = False
        settings["retain_intermediate_calculation_columns"] = False
        if blocking_rules is not None:
            settings["blocking_rules_to_generate_predictions"] = prediction_blocking_rules(blocking_rules)
        linker = Linker(
            db_api.register(table, dataset_display_name="records"),
            settings,
            log_level=_SPLINK_LOG_LEVEL,
            validate_settings=False,  # see _SPLINK_LOG_LEVEL
        )
        for column in tf_columns(dict(model)):
            linker.table_management.compute_tf_table(column)
        predicted = linker.inference.predict(
            threshold_match_probability=threshold_probability,
            num_chunks_left=chunks,
            num_chunks_right=chunks,
            warning_mode="never",
        )
        # Splink orders dedupe pairs l < r already; LEAST/GREATEST makes the contract explicit.
        columns = "LEAST(unique_id_l, unique_id_r), GREATEST(unique_id_l, unique_id_r), match_weight, match_probability"
        sql = f"SELECT {columns} FROM {predicted.physical_name} ORDER BY 1, 2"  # noqa: S608 - Splink's table name
        pairs = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return pairs.rename_columns(PAIR_SCHEMA.names).cast(PAIR_SCHEMA)


def cluster(pairs: pa.Table, threshold: float, *, unique_ids: pa.Array | None = None) -> pa.Table:
    """Connected components of the pairs with `match_probability >= threshold`: (unique_id, cluster_id).

    `cluster_id` is the smallest `unique_id` of the component. Only records in at least one such pair are
    listed, unless `unique_ids` names every record (singletons are then their own cluster).
    Equivalent to Splink's `cluster_pairwise_predictions_at_threshold`, without a database round trip.
    """
    kept = pairs.filter(pc.greater_equal(pairs.column("match_probability"), threshold))
    lefts, rights = kept.column("unique_id_l").to_pylist(), kept.column("unique_id_r").to_pylist()
    records = unique_ids.to_pylist() if unique_ids is not None else dict.fromkeys([*lefts, *rights])
    assignment: dict[int, int] = {}
    for component in clusters_from_links(records, zip(lefts, rights, strict=True)):
        root = min(int(member) for member in component)  # type: ignore[call-overload]
        assignment.update((int(member), root) for member in component)  # type: ignore[call-overload]
    ids = sorted(assignment)
    return pa.table(
        {"unique_id": pa.array(ids, pa.int64()), "cluster_id": pa.array([assignment[i] for i in ids], pa.int64())},
        schema=CLUSTER_SCHEMA,
    )


def predict_pairs(
    model: Mapping[str, Any],
    records: pa.Table,
    *,
    tf_tables: TfTables | None = None,
    min_probability: float = 0.01,
) -> list[tuple[Any, Any, float, float]]:
    """Splink predict over `records` (canonical or model rows): (id_l, id_r, weight, probability).

    TF tables default to the records' own (as Splink computes them); pass population-level tables
    to score a sample the way the online scorer does.
    """
    from splink import DuckDBAPI, Linker

    table = model_table(records)
    tables = tf_tables if tf_tables is not None else build_tf_tables(table, tf_columns(model))
    con = duckdb.connect(":memory:")
    db_api = DuckDBAPI(con)
    linker = Linker(
        db_api.register(table, dataset_display_name="records"),
        dict(model),
        log_level=_SPLINK_LOG_LEVEL,
        validate_settings=False,  # see _SPLINK_LOG_LEVEL
    )
    for column, frequencies in tables.items():
        tf = pa.table({column: list(frequencies), f"tf_{column}": list(frequencies.values())})
        linker.table_management.register_term_frequency_lookup(
            db_api.register(tf, dataset_display_name=f"tf_lookup_{column}"), column
        )
    predicted = linker.inference.predict(threshold_match_probability=min_probability)
    predictions: pa.Table = predicted.as_pyarrow_table()  # type: ignore[no-untyped-call]
    result = list(
        zip(
            predictions.column("unique_id_l").to_pylist(),
            predictions.column("unique_id_r").to_pylist(),
            predictions.column("match_weight").to_pylist(),
            predictions.column("match_probability").to_pylist(),
            strict=True,
        )
    )
    con.close()
    return result
