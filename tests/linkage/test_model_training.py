"""Training: a model trained on a small synthetic population is deterministic, saved with provenance, and
links that population with floors on precision and recall; the shipped default model loads and verifies."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from linkage import TrainedModel, evaluate_links, load_model, predict_pairs, save_model, train_model
from linkage.training import TrainingDataTooSmall, main, model_id_of
from tests.linkage.synthetic import synthetic_records

pytestmark = pytest.mark.slow  # trains models with Splink


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return synthetic_records(1500, seed=3)


@pytest.fixture(scope="module")
def trained(records: pa.Table) -> TrainedModel:
    return train_model(records, seed=1, max_pairs=2e5, u_max_pairs=3e5)


def test_provenance(trained: TrainedModel, records: pa.Table) -> None:
    p = trained.provenance
    assert p["model_id"] == model_id_of(trained.model) == trained.model_id
    assert len(p["model_id"]) == 12
    assert (p["splink_version"], p["training_records"], p["seed"]) == ("5.0.0", records.num_rows, 1)
    assert "linker_uid" not in trained.model


def test_training_is_deterministic(trained: TrainedModel, records: pa.Table) -> None:
    again = train_model(records, seed=1, max_pairs=2e5, u_max_pairs=3e5)
    assert again.model_id == trained.model_id


def test_every_level_has_parameters_and_m_is_floored(trained: TrainedModel) -> None:
    for comparison in trained.model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            assert level["m_probability"] is not None and level["u_probability"] is not None
            if isinstance(level["m_probability"], float):
                assert level["m_probability"] >= 0.9e-3


def test_trained_model_links_its_population(trained: TrainedModel, records: pa.Table) -> None:
    truth = dict(zip(records.column("unique_id").to_pylist(), records.column("person_id").to_pylist(), strict=True))
    pairs = predict_pairs(trained.model, records)
    result = evaluate_links([(a, b, p) for a, b, _, p in pairs], truth, auto_threshold=0.99, review_threshold=0.5)
    assert result.auto.precision >= 0.99
    assert result.auto.recall >= 0.85
    assert result.auto_and_review.recall >= 0.9


def test_save_load_round_trip_and_tamper_check(trained: TrainedModel, tmp_path: Path) -> None:
    path = save_model(trained, tmp_path, name="m")
    assert load_model(path) == trained
    model = json.loads(path.read_text(encoding="utf-8"))
    model["probability_two_random_records_match"] = 0.5
    path.write_text(json.dumps(model), encoding="utf-8")
    with pytest.raises(ValueError, match="does not match"):
        load_model(path)


def test_command_line_retrains_from_parquet(records: pa.Table, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(records, tmp_path / "records.parquet")
    argv = ["--records", str(tmp_path / "records.parquet"), "--out", str(tmp_path), "--max-pairs", "1e5"]
    assert main([*argv, "--u-max-pairs", "2e5"]) == 0
    assert load_model(tmp_path / "default.json").provenance["training_records"] == records.num_rows


def test_shipped_default_model_loads_and_verifies() -> None:
    shipped = load_model()
    assert shipped.provenance["splink_version"].startswith("5.0")
    assert shipped.provenance["training_records"] > 10_000
    names = [c["output_column_name"] for c in shipped.model["comparisons"]]
    assert names == ["given", "family", "middle", "dob", "sex", "national_id", "bhxh_number", "phone", "residence"]


def test_too_few_records_for_em_is_a_clear_error_not_splinks_underflow() -> None:
    """100 records leave EM so few agreeing pairs that an m probability underflows float64; Splink's
    ValueError ("Please use a value >= 1e-300") becomes one that says what, why and what to do."""
    with pytest.raises(TrainingDataTooSmall) as raised:
        train_model(synthetic_records(100, seed=3), seed=1, max_pairs=1e5, u_max_pairs=2e5)
    message = str(raised.value)
    assert "EM on the records agreeing on" in message and "too small to represent" in message
    assert "Train on more records" in message
    assert "underflow" in str(raised.value.__cause__)
