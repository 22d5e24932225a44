"""The in-process scorer equals Splink's own scores for the shipped model, to 1e-6, on >= 1,000 pairs.

Pairs: every pair Splink's predict finds with the model's blocking rules over a synthetic population
(true matches, namesakes, household members: the band around the thresholds), plus a cartesian block of
random records through `score_pairs` (no blocking: mostly clear non-matches). The TF tables come from a
*different*, larger population and are registered in Splink, so both sides must use the supplied
tables rather than frequencies of the scored records.
"""

from __future__ import annotations

import json
import random
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from splink import DuckDBAPI, Linker

from linkage import Scorer, build_tf_tables, load_model, model_table
from linkage.scorer import tf_columns
from tests.linkage.synthetic import synthetic_records

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    model = json.loads(json.dumps(load_model().model))  # a deep copy: the test edits a display flag
    model["retain_intermediate_calculation_columns"] = True  # keeps gamma_* columns; scores unchanged
    return model


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return model_table(synthetic_records(1200, seed=101))


@pytest.fixture(scope="module")
def tf_tables(model: dict[str, Any]) -> dict[str, dict[Any, float]]:
    return build_tf_tables(synthetic_records(3000, seed=202), tf_columns(model))


@pytest.fixture(scope="module")
def splink_scores(
    model: dict[str, Any], records: pa.Table, tf_tables: dict[str, dict[Any, float]]
) -> list[dict[str, Any]]:
    db_api = DuckDBAPI(duckdb.connect())
    linker = Linker(db_api.register(records, dataset_display_name="records"), model, log_level=40)
    for column, frequencies in tf_tables.items():
        lookup = pa.table({column: list(frequencies), f"tf_{column}": list(frequencies.values())})
        linker.table_management.register_term_frequency_lookup(
            db_api.register(lookup, dataset_display_name=f"tf_{column}"), column
        )
    blocked = linker.inference.predict().as_record_list()
    rng = random.Random(5)
    sample = rng.sample(range(records.num_rows), 80)
    left = db_api.register(records.take(sample[:40]), dataset_display_name="sample_left")
    right = db_api.register(records.take(sample[40:]), dataset_display_name="sample_right")
    random_pairs = linker.inference.score_pairs(left, right).as_record_list()
    return blocked + random_pairs


def test_parity_with_splink(
    model: dict[str, Any],
    records: pa.Table,
    tf_tables: dict[str, dict[Any, float]],
    splink_scores: list[dict[str, Any]],
) -> None:
    scorer = Scorer(model, tf_tables)
    rows = {row["unique_id"]: row for row in records.to_pylist()}
    worst = 0.0
    level_mismatches = []
    for pair in splink_scores:
        ours = scorer.score(rows[pair["unique_id_l"]], rows[pair["unique_id_r"]])
        worst = max(worst, abs(ours.match_weight - pair["match_weight"]))
        assert ours.match_probability == pytest.approx(pair["match_probability"], abs=TOLERANCE)
        for explanation in ours.comparisons:
            if explanation.gamma != pair[f"gamma_{explanation.comparison}"]:
                level_mismatches.append((pair["unique_id_l"], pair["unique_id_r"], explanation.comparison))
    assert len(splink_scores) >= 1000
    assert level_mismatches == []
    assert worst < TOLERANCE


def test_parity_set_covers_the_threshold_band(splink_scores: list[dict[str, Any]]) -> None:
    weights = [pair["match_weight"] for pair in splink_scores]
    assert sum(1 for w in weights if -4 <= w <= 14) >= 200  # around review (p 0.5) and auto (p 0.999)
    assert sum(1 for w in weights if w > 14) >= 200
    assert sum(1 for w in weights if w < -4) >= 1000


def test_tf_adjustment_follows_the_supplied_tables(model: dict[str, Any], records: pa.Table) -> None:
    row = records.to_pylist()[0]
    base = Scorer(model, {}).match_weight(row, row)
    common = {column: {row[column]: 0.5} for column in tf_columns(model) if row[column] is not None}
    rare = {column: {row[column]: 1e-5} for column in tf_columns(model) if row[column] is not None}
    assert Scorer(model, common).match_weight(row, row) < base < Scorer(model, rare).match_weight(row, row)


def test_match_weights_of_one_record_against_many_are_match_weight_exactly(
    model: dict[str, Any],
    records: pa.Table,
    tf_tables: dict[str, dict[Any, float]],
    splink_scores: list[dict[str, Any]],
) -> None:
    """The online path scores a record against all its candidates in one pass (the record's columns and
    term frequencies read once): the same floats as pair by pair, with and without TF tables."""
    rows = {row["unique_id"]: row for row in records.to_pylist()}
    against: dict[Any, list[dict[str, Any]]] = {}
    for pair in splink_scores:
        against.setdefault(pair["unique_id_l"], []).append(rows[pair["unique_id_r"]])
    partial = {column: dict(list(table.items())[::2]) for column, table in tf_tables.items()}  # some values unknown
    for tables in (tf_tables, partial, {}):
        scorer = Scorer(model, tables)
        for left_id, rights in against.items():
            left = rows[left_id]
            assert scorer.match_weights(left, rights) == [scorer.match_weight(left, right) for right in rights]
    assert Scorer(model, tf_tables).match_weights(rows[next(iter(against))], []) == []


def test_match_weights_reuse_a_term_frequency_adjustment_only_for_the_same_level_and_value(
    model: dict[str, Any], records: pa.Table, tf_tables: dict[str, dict[Any, float]]
) -> None:
    """``match_weights`` computes each TF adjustment once per level and right value: right rows that repeat a
    value, reach it at another level (the left row's value in one column, others' in the rest) or carry a
    column without a table still score as ``match_weight`` scores them."""
    rows = records.to_pylist()[:150]
    left = rows[0]
    echoed = [{**right, column: left[column]} for right in rows for column in tf_columns(model)]
    rights = [*rows, *echoed, *rows]
    one_table = dict(list(tf_tables.items())[:1])
    for tables in (tf_tables, one_table):
        scorer = Scorer(model, tables)
        assert scorer.match_weights(left, rights) == [scorer.match_weight(left, right) for right in rights]


def test_match_weights_read_rows_without_every_column_as_match_weight_does(
    model: dict[str, Any], records: pa.Table, tf_tables: dict[str, dict[Any, float]]
) -> None:
    """A right row lacking some columns (not a full model row) is read column by column: a missing column is
    NULL, as ``match_weight`` reads it."""
    rows = records.to_pylist()[:60]
    rng = random.Random(11)
    rights = [{k: v for k, v in row.items() if rng.random() > 0.2} for row in rows]
    scorer = Scorer(model, tf_tables)
    assert scorer.match_weights(rows[0], rights) == [scorer.match_weight(rows[0], right) for right in rights]


def test_a_function_written_by_several_levels_is_computed_once_per_pair(
    model: dict[str, Any], records: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped model tests the same similarity against two thresholds (given names' Jaro-Winkler, birth
    years' Levenshtein): each is computed at most once per pair, with the same weights."""
    from linkage import scorer as scorer_module

    calls: list[tuple[Any, Any]] = []
    jaro_winkler = scorer_module._FUNCTIONS["jaro_winkler_similarity"]

    def counted(a: Any, b: Any) -> Any:
        calls.append((a, b))
        return jaro_winkler(a, b)

    monkeypatch.setitem(scorer_module._FUNCTIONS, "jaro_winkler_similarity", counted)
    rows = records.to_pylist()[:80]
    scorer = Scorer(model, {})  # compiled after the patch: its generated code calls `counted`
    left = rows[0]
    both_levels = 0
    for right in rows:
        expected = scorer.match_weight(left, right)
        calls.clear()
        assert scorer.match_weights(left, [right]) == [expected]
        pair = (left["given_key"], right["given_key"])
        assert calls.count(pair) <= 1
        weight = jaro_winkler(*pair) if None not in pair and pair[0] != pair[1] else None
        both_levels += weight is not None and weight < 0.92 and pair[0] != right["given"]
    assert both_levels, "the sample must reach the second similarity level"
