"""``linkage.scorer.explain`` gives Splink's own waterfall: the same bars, labels and numbers as
``records_to_waterfall_data`` over Splink's predict output, on pairs from every band (with TF tables)."""

from __future__ import annotations

import json
import math
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from splink import DuckDBAPI, Linker
from splink.internals.waterfall_chart import records_to_waterfall_data

from linkage import Scorer, build_tf_tables, load_model, model_table
from linkage.scorer import explain, tf_columns
from tests.linkage.synthetic import synthetic_records

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def case() -> tuple[dict[str, Any], pa.Table, dict[str, dict[Any, float]], Linker, list[dict[str, Any]]]:
    model = json.loads(json.dumps(load_model().model))
    model["retain_intermediate_calculation_columns"] = True  # the waterfall needs the bf_ columns
    model["retain_matching_columns"] = True
    records = model_table(synthetic_records(300, seed=11))
    tf = build_tf_tables(synthetic_records(1000, seed=12), tf_columns(model))
    db_api = DuckDBAPI(duckdb.connect())
    linker = Linker(db_api.register(records, dataset_display_name="records"), model, log_level=40)
    for column, frequencies in tf.items():
        lookup = pa.table({column: list(frequencies), f"tf_{column}": list(frequencies.values())})
        linker.table_management.register_term_frequency_lookup(
            db_api.register(lookup, dataset_display_name=f"tf_{column}"), column
        )
    predictions = sorted(linker.inference.predict().as_record_list(), key=lambda r: r["match_weight"])
    # a few pairs across the whole range: clear non-matches, the review band, certain matches
    step = max(1, len(predictions) // 12)
    return model, records, tf, linker, predictions[::step]


def test_explain_equals_splinks_waterfall(
    case: tuple[dict[str, Any], pa.Table, dict[str, dict[Any, float]], Linker, list[dict[str, Any]]],
) -> None:
    model, records, tf, linker, pairs = case
    assert len(pairs) >= 10
    scorer = Scorer(model, tf)
    rows = {row["unique_id"]: row for row in records.to_pylist()}
    waterfall = records_to_waterfall_data(pairs, linker._settings_obj, False)
    per_pair = len(waterfall) // len(pairs)
    tf_bars_seen = 0
    for i, pair in enumerate(pairs):
        ours = explain(scorer, rows[pair["unique_id_l"]], rows[pair["unique_id_r"]])
        theirs = waterfall[i * per_pair : (i + 1) * per_pair]
        assert [b.column_name for b in ours.bars] == [t["column_name"] for t in theirs]
        assert [b.label for b in ours.bars] == [t["label_for_charts"] for t in theirs]
        for bar, t in zip(ours.bars, theirs, strict=True):
            assert bar.log2_bayes_factor == pytest.approx(t["log2_bayes_factor"], abs=TOLERANCE), bar.column_name
            assert bar.comparison_vector_value == t["comparison_vector_value"]
            assert sorted(bar.value_l.split(", ")) == sorted(str(t["value_l"]).split(", "))
            tf_bars_seen += bar.term_frequency_adjustment and bar.log2_bayes_factor != 0
        assert math.fsum(b.log2_bayes_factor for b in ours.bars[:-1]) == pytest.approx(ours.match_weight, abs=1e-9)
        assert ours.match_weight == pytest.approx(pair["match_weight"], abs=1e-6)
        assert ours.match_weight == scorer.score(rows[pair["unique_id_l"]], rows[pair["unique_id_r"]]).match_weight
    assert tf_bars_seen > 0  # the term-frequency adjustments were exercised
