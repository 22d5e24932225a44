"""Splink on Spark (local mode) against Splink on DuckDB: the same model JSON gives the same pairs and clusters.

One Spark session serves the whole test run (`spark` fixture in tests/plugins/stores.py): starting a JVM costs
seconds. Records: the synthetic population of `tests.linkage.synthetic` (households, twins, namesakes,
typos), small enough for CI.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from linkage import load_model, model_table, normalise_record
from linkage.batch import cluster, predict_links
from linkage.model import BATCH_BLOCKING_RULES, within_province
from linkage.spark import _to_spark_sql, predict_links_spark, spark_settings, train_model_spark
from linkage.training import model_id_of, train_model
from tests.linkage.synthetic import synthetic_records

# Spark in local mode on a shared 2-core machine: a JVM start and a few Spark jobs per test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REVIEW, AUTO = 0.30, 0.99


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return model_table(synthetic_records(700, seed=5))


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return load_model().model


def _pairs(table: pa.Table) -> dict[tuple[int, int], float]:
    ids_l, ids_r = table.column("unique_id_l").to_pylist(), table.column("unique_id_r").to_pylist()
    return dict(zip(zip(ids_l, ids_r, strict=True), table.column("match_weight").to_pylist(), strict=True))


def test_spark_settings_transpile_every_function_the_model_uses(model: dict[str, Any]) -> None:
    settings = spark_settings(model)
    text = json.dumps(settings)
    assert "jaro_winkler_similarity" not in text.lower()
    assert "jaro_winkler(" in text.lower()
    assert '\\"' not in text  # DuckDB's double-quoted identifiers became Spark's backticks
    assert settings["sql_dialect"] == "spark"
    assert "damerau" not in text.lower()  # every bound on it has a built-in form (next test)
    assert all(rule["sql_dialect"] == "spark" for rule in settings["blocking_rules_to_generate_predictions"])
    # parameters are untouched
    for mine, theirs in zip(settings["comparisons"], model["comparisons"], strict=True):
        for a, b in zip(mine["comparison_levels"], theirs["comparison_levels"], strict=True):
            assert a.get("m_probability") == b.get("m_probability")
            assert a.get("u_probability") == b.get("u_probability")


_EDITED = (
    "", "a", "ab", "ba", "aab", "aba", "abc", "acb", "bac", "abcd", "abdc", "nguyen van a", "nguyen avn a",
    "0912345678", "0921345678", "091234567", "1990", "1909", "9190", "Đỗ Thị Hà", "Đỗ Tịh Hà", "aaaa", None,
)  # fmt: skip
_EDIT_PAIRS = [(a, b) for a in _EDITED for b in _EDITED]


@pytest.mark.parametrize(
    "condition",
    [
        "damerau_levenshtein(l, r) <= 1",
        "damerau_levenshtein(l, r) < 2",
        "damerau_levenshtein(l, r) = 1",
        "damerau_levenshtein(l, r) = 0",
        "levenshtein(l, r) = 2 AND damerau_levenshtein(l, r) = 1",
    ],
)
def test_damerau_bounds_without_the_udf_agree_with_it(spark: Any, condition: str) -> None:
    from splink.backends.spark import SparkAPI

    SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]  # registers the jar's UDFs
    native = _to_spark_sql(condition)
    assert "damerau" not in native.lower()
    spark.createDataFrame(_EDIT_PAIRS, "l string, r string").createOrReplaceTempView("edit_pairs")
    rows = spark.sql(
        f"SELECT l, r, coalesce(({condition}), false) AS udf, coalesce(({native}), false) AS native FROM edit_pairs"
    ).collect()
    assert any(row.udf for row in rows) and not all(row.udf for row in rows)
    assert [(row.l, row.r) for row in rows if row.udf != row.native] == []


@pytest.mark.parametrize("rules", [None, BATCH_BLOCKING_RULES], ids=["model rules", "batch rules"])
def test_spark_and_duckdb_give_the_same_pairs_and_clusters(
    spark: Any, records: pa.Table, model: dict[str, Any], rules: Any
) -> None:
    on_duckdb = predict_links(records, model, threshold_probability=REVIEW, blocking_rules=rules)
    on_spark = predict_links_spark(records, model, spark=spark, threshold_probability=REVIEW, blocking_rules=rules)
    assert on_spark.schema == on_duckdb.schema
    duck, sprk = _pairs(on_duckdb), _pairs(on_spark)
    assert len(duck) > 500, "the population must produce enough pairs to compare"
    assert set(sprk) == set(duck)
    assert max(abs(sprk[k] - duck[k]) for k in duck) < 1e-9
    ids = records.column("unique_id")
    assert cluster(on_spark, AUTO, unique_ids=ids).equals(cluster(on_duckdb, AUTO, unique_ids=ids))


def _parameters(model: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    return {
        (comparison["output_column_name"], level["label_for_charts"], key): level[key]
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if not level.get("is_null_level")
        for key in ("m_probability", "u_probability")
    }


def test_train_on_spark_writes_a_duckdb_model_both_engines_run(spark: Any) -> None:
    # What is proved is the path (Spark runs the training recipe, DuckDB runs the JSON), not the model's quality:
    # little data, u counted in one query per comparison, at most 3 EM iterations a pass (knobs of both engines;
    # Spark's cost is per query).
    records = model_table(synthetic_records(500, seed=5))
    knobs: dict[str, Any] = {"seed": 1, "max_pairs": 2e4, "u_max_pairs": 2e4, "u_chunks": 1, "em_max_iterations": 3}
    trained = train_model_spark(records, spark=spark, **knobs)
    model = trained.model
    assert trained.provenance["engine"].startswith("spark")
    assert trained.model_id == model_id_of(model)
    assert model["sql_dialect"] == "duckdb"
    assert model["max_iterations"] == 3 and trained.provenance["u_chunks"] == 1
    assert "jaro_winkler_similarity" in json.dumps(model)
    shipped = load_model().model
    assert [c["output_column_name"] for c in model["comparisons"]] == [
        c["output_column_name"] for c in shipped["comparisons"]
    ]
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                assert 0.0 < level["m_probability"] <= 1.0 and 0.0 < level["u_probability"] <= 1.0
    # the same recipe on DuckDB: the prior counts the same pairs; u and m come from other random samples, close
    on_duck = train_model(records, **knobs)
    assert model["probability_two_random_records_match"] == pytest.approx(
        on_duck.model["probability_two_random_records_match"], rel=1e-9
    )
    mine, theirs = _parameters(model), _parameters(on_duck.model)
    assert mine.keys() == theirs.keys()
    far = {key: (round(mine[key], 3), round(theirs[key], 3)) for key in mine if abs(mine[key] - theirs[key]) > 0.1}
    assert far == {}, far
    # the trained JSON runs on DuckDB and on Spark with the same result
    on_duckdb = predict_links(records, model, threshold_probability=REVIEW)
    on_spark = predict_links_spark(records, model, spark=spark, threshold_probability=REVIEW)
    assert on_duckdb.num_rows > 100, "the trained model must link the population's repeat records"
    assert set(_pairs(on_spark)) == set(_pairs(on_duckdb))


def _moved(unique_id: int, name: str, born: str, province: str, cccd: str | None = None) -> dict[str, Any]:
    raw = {"HO_TEN": name, "NGAY_SINH": born, "GIOI_TINH": "1", "MATINH_CU_TRU": province}
    if cccd:
        raw["SO_CCCD"] = cccd
    return {**normalise_record(raw).to_row(), "unique_id": unique_id}


_PROVINCES = model_table(
    [
        _moved(0, "Lê Văn Tám", "198503040000", "79"),  # namesakes born the same day in two provinces
        _moved(1, "Lê Văn Tám", "198503040000", "75"),
        _moved(2, "Phạm Thị Lan", "199007080000", "79", cccd="079190001234"),  # moved, the same CCCD
        _moved(3, "Phạm Thị Lan", "199007080000", "75", cccd="079190001234"),
        _moved(4, "Đỗ Minh Khoa", "200101020000", "79"),  # namesakes born the same day in one province
        _moved(5, "Đỗ Minh Khoa", "200101020000", "79"),
    ]
)


def test_within_province_rules_keep_name_and_date_pairs_in_a_province_and_identifiers_across(
    model: dict[str, Any],
) -> None:
    def candidates(rules: Any) -> set[tuple[int, int]]:
        return set(_pairs(predict_links(_PROVINCES, model, threshold_probability=0.0, blocking_rules=rules)))

    assert candidates(BATCH_BLOCKING_RULES) == {(0, 1), (2, 3), (4, 5)}
    assert candidates(within_province(BATCH_BLOCKING_RULES)) == {(2, 3), (4, 5)}


def test_within_province_rules_give_the_same_pairs_on_spark(spark: Any, model: dict[str, Any]) -> None:
    # the rules' meaning is asserted on DuckDB above; Spark: one predict on the same six records
    rules = within_province(BATCH_BLOCKING_RULES)
    on_spark = predict_links_spark(_PROVINCES, model, spark=spark, threshold_probability=0.0, blocking_rules=rules)
    on_duckdb = predict_links(_PROVINCES, model, threshold_probability=0.0, blocking_rules=rules)
    assert set(_pairs(on_spark)) == set(_pairs(on_duckdb)) == {(2, 3), (4, 5)}
