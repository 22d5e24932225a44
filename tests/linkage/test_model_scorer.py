"""The in-process scorer: SQL semantics (three-valued logic, DuckDB string functions), TF tables,
explanations, unsupported SQL refused at load time, and speed."""

from __future__ import annotations

import math
from typing import Any

import pytest

from linkage import Scorer, build_tf_tables, load_model, model_row, normalise_record
from linkage.scorer import UnsupportedSql, compile_condition, probability_from_weight

SQL_CASES = [
    ("eq-true", '"a_l" = "a_r"', {"a": "X"}, {"a": "X"}, True),
    ("eq-null", '"a_l" = "a_r"', {"a": None}, {"a": "X"}, None),
    ("is-null", '"a_l" IS NULL OR "a_r" IS NULL', {"a": None}, {"a": "X"}, True),
    ("is-not-null", '"a_l" IS NOT NULL', {"a": None}, {}, False),
    ("and-null-false", '"a_l" = "a_r" AND "b_l" = "b_r"', {"a": None, "b": 1}, {"a": "X", "b": 2}, False),
    ("and-null-true", '"a_l" = "a_r" AND "b_l" = "b_r"', {"a": None, "b": 1}, {"a": "X", "b": 1}, None),
    ("or-null-true", '"a_l" = "a_r" OR "b_l" = "b_r"', {"a": None, "b": 1}, {"a": "X", "b": 1}, True),
    ("not-null", 'NOT ("a_l" = "a_r")', {"a": None}, {"a": "X"}, None),
    ("neq", '"a_l" <> "a_r"', {"a": "X"}, {"a": "Y"}, True),
    ("abs", 'abs("y_l" - "y_r") <= 1', {"y": 1990}, {"y": 1991}, True),
    ("abs-null", 'abs("y_l" - "y_r") <= 1', {"y": None}, {"y": 1991}, None),
    ("jw", 'jaro_winkler_similarity("a_l", "a_r") >= 0.9', {"a": "MARTHA"}, {"a": "MARHTA"}, True),
    ("jw-empty", 'jaro_winkler_similarity("a_l", "a_r") >= 0.0', {"a": ""}, {"a": ""}, True),
    ("jw-empty-is-zero", 'jaro_winkler_similarity("a_l", "a_r") > 0.5', {"a": ""}, {"a": ""}, False),
    ("lev", 'levenshtein("a_l", "a_r") <= 1', {"a": "1990-02-15"}, {"a": "1990-02-16"}, True),
    ("damerau-unrestricted", 'damerau_levenshtein("a_l", "a_r") = 2', {"a": "CA"}, {"a": "ABC"}, True),
    ("table-qualified", "l.a = r.a", {"a": 3}, {"a": 3}, True),
    ("literal", '"s_l" = 3 OR "s_r" = 3', {"s": 1}, {"s": 3}, True),
    ("not-and-null-false", 'NOT ("a_l" = "a_r" AND "b_l" = "b_r")', {"a": None, "b": 1}, {"a": "X", "b": 2}, True),
    ("not-and-null-true", 'NOT ("a_l" = "a_r" AND "b_l" = "b_r")', {"a": None, "b": 1}, {"a": "X", "b": 1}, None),
    ("not-or-false", 'NOT ("a_l" = "a_r" OR "b_l" = "b_r")', {"a": "Y", "b": 1}, {"a": "X", "b": 2}, True),
    ("not-or-null", 'NOT ("a_l" = "a_r" OR "b_l" = "b_r")', {"a": None, "b": 1}, {"a": "X", "b": 2}, None),
    ("not-not", 'NOT (NOT ("a_l" <> "a_r"))', {"a": "X"}, {"a": "X"}, False),
    ("lev-null-arg", 'levenshtein("a_l", "a_r") <= 1 OR "b_l" = "b_r"', {"a": None, "b": 1}, {"a": "X", "b": 2}, None),
    ("null-literal", '"a_l" = NULL OR TRUE', {"a": "X"}, {"a": "X"}, True),
    ("false-literal", '"a_l" = "a_r" AND FALSE', {"a": None}, {"a": "X"}, False),
]


@pytest.mark.parametrize(
    ("sql", "left", "right", "expected"), [c[1:] for c in SQL_CASES], ids=[c[0] for c in SQL_CASES]
)
def test_sql_semantics(sql: str, left: dict[str, Any], right: dict[str, Any], expected: object) -> None:
    assert compile_condition(sql)(left, right) is expected


def test_matches_duckdb_on_the_same_sql() -> None:
    import duckdb

    con = duckdb.connect()
    for _, sql, left, right, expected in SQL_CASES:
        if "l.a" in sql:
            continue
        columns = {f"{k}_l": v for k, v in left.items()} | {f"{k}_r": v for k, v in right.items()}
        select = ", ".join(f'{"NULL" if v is None else repr(v)} AS "{k}"' for k, v in columns.items())
        got = con.sql(f"SELECT ({sql}) FROM (SELECT {select})").fetchall()[0][0]
        assert got is expected, sql


@pytest.mark.parametrize("sql", ['soundex("a_l") = soundex("a_r")', "\"a_l\" LIKE 'X%'", '"a_l" = "b"'])
def test_unsupported_sql_is_refused_at_load(sql: str) -> None:
    with pytest.raises(UnsupportedSql):
        compile_condition(sql)


def test_model_without_else_level_is_refused() -> None:
    model = {
        "probability_two_random_records_match": 0.01,
        "comparisons": [
            {
                "output_column_name": "a",
                "comparison_levels": [{"sql_condition": '"a_l" = "a_r"', "m_probability": 0.9, "u_probability": 0.1}],
            }
        ],
    }
    with pytest.raises(UnsupportedSql, match="ELSE"):
        Scorer(model)


def _toy_model() -> dict[str, Any]:
    return {
        "probability_two_random_records_match": 0.01,
        "comparisons": [
            {
                "output_column_name": "name",
                "comparison_levels": [
                    {"sql_condition": '"n_l" IS NULL OR "n_r" IS NULL', "is_null_level": True},
                    {
                        "sql_condition": '"n_l" = "n_r"',
                        "m_probability": 0.9,
                        "u_probability": 0.01,
                        "tf_adjustment_column": "n",
                        "tf_adjustment_weight": 1.0,
                        "tf_minimum_u_value": 0.001,
                    },
                    {
                        "sql_condition": 'jaro_winkler_similarity("n_l", "n_r") >= 0.8',
                        "m_probability": 0.08,
                        "u_probability": 1e-6,
                        "tf_adjustment_column": "n",
                        "tf_adjustment_weight": 0.5,
                    },
                    {"sql_condition": "ELSE", "m_probability": 0.02, "u_probability": 0.99},
                ],
            }
        ],
    }


def test_level_without_numeric_m_or_u_is_refused() -> None:
    model = _toy_model()
    model["comparisons"][0]["comparison_levels"][2]["u_probability"] = "level not observed in training dataset"
    with pytest.raises(UnsupportedSql, match="no m or u"):
        Scorer(model)


def test_weights_by_hand() -> None:
    tf = {"n": {"AN": 0.2, "ANH": 0.05, "XYZ": 1e-6}}
    scorer = Scorer(_toy_model(), tf)
    prior = math.log2(0.01 / 0.99)
    exact = scorer.score({"n": "AN"}, {"n": "AN"})
    assert exact.match_weight == pytest.approx(prior + math.log2(0.9 / 0.01) + math.log2(0.01) - math.log2(0.2))
    assert exact.comparisons[0].gamma == 2
    rare = scorer.match_weight({"n": "XYZ"}, {"n": "XYZ"})  # tf floored at tf_minimum_u_value
    assert rare == pytest.approx(prior + math.log2(0.9 / 0.01) + math.log2(0.01) - math.log2(0.001))
    fuzzy = scorer.score({"n": "AN"}, {"n": "ANH"})  # max of the two frequencies, half weight
    expected_tf = 0.5 * (math.log2(0.01) - math.log2(0.2))
    assert fuzzy.comparisons[0].tf_adjustment == pytest.approx(expected_tf)
    assert fuzzy.match_weight == pytest.approx(prior + math.log2(0.08 / 1e-6) + expected_tf)
    unknown = scorer.score({"n": "QQ"}, {"n": "QQ"})  # value not in the TF table: no adjustment
    assert unknown.comparisons[0].tf_adjustment == 0.0
    null = scorer.score({"n": None}, {"n": "AN"})
    assert (null.match_weight, null.comparisons[0].gamma) == (pytest.approx(prior), -1)
    assert null.match_probability == pytest.approx(0.01)


def test_probability_from_weight_is_stable() -> None:
    assert probability_from_weight(0.0) == 0.5
    assert probability_from_weight(-3000.0) == 0.0
    assert probability_from_weight(3000.0) == 1.0


def test_build_tf_tables_counts_non_null_values() -> None:
    rows = [{"family": "NGUYỄN"}, {"family": "NGUYỄN"}, {"family": "LÊ"}, {"family": None}]
    assert build_tf_tables(rows, ["family"]) == {"family": {"NGUYỄN": 2 / 3, "LÊ": 1 / 3}}


def test_explanations_and_tf_direction_on_the_shipped_model() -> None:
    model = load_model().model
    born = {"NGAY_SINH": "199002150000", "GIOI_TINH": "1"}
    a = model_row(normalise_record({"HO_TEN": "Nguyễn Văn Đức", **born}).to_row())
    b = model_row(normalise_record({"HO_TEN": "NGUYEN VAN DUC", **born}).to_row())
    scorer = Scorer(model, {"given_ascii": {"DUC": 0.05}, "family_ascii": {"NGUYEN": 0.38}})
    result = scorer.score(a, b)
    labels = {e.comparison: e.label for e in result.comparisons}
    assert labels["given"] == "Exact match without diacritics"
    assert labels["national_id"] == "national_id is NULL or of another kind"
    by_name = {e.comparison: e for e in result.comparisons}
    assert by_name["family"].tf_adjustment < 0  # Nguyễn is common: less evidence than the average surname
    assert result.match_weight == pytest.approx(
        scorer.prior_weight + sum(e.match_weight + e.tf_adjustment for e in result.comparisons)
    )
