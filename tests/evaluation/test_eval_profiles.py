"""`bench.eval_profiles`: its figures are `mpi evaluate`'s, summarised per seed with the mean and the worst."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.eval_profiles import Run, Stage, _aggregate, summarise
from mpi.evaluation.report import MPI, evaluate_export
from mpi.identity.export import EXPORT_COLUMNS


def _stage(precision: float, recall: float, review: float, split: int, missed: dict[str, tuple[float, int]]) -> Stage:
    return Stage(
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / (precision + recall),
        review_rate=review,
        split_persons=split,
        merged_clusters=0,
        true_clusters=100,
        true_pairs=300,
        records=250,
        missed=missed,
    )


def test_stage_reads_mpi_evaluate_json(tmp_path: Path) -> None:
    links = tmp_path / "links.csv"
    with links.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(
            [
                ("1", "A1", 1, "1", "auto", "", "", "new_person", "", 1),
                ("1", "A2", 1, "1", "auto", "0.999", "m", "model", "", 1),
                ("1", "A3", 1, "2", "review", "0.6", "m", "model_band", "1", 1),
            ]
        )
    truth = tmp_path / "truth.csv"
    with truth.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["facility_code", "ma_lk", "person_id", "noise", "person_tags"],
                ["1", "A1", "P", "", "newborn"],
                ["1", "A2", "P", "", "newborn"],
                ["1", "A3", "P", "name_order_reversed", "newborn"],
            ]
        )
    report = evaluate_export(links, truth, auto_threshold=0.99, review_threshold=0.3).as_dict()
    stage = Stage.from_method(report, next(m for m in report["methods"] if m["method"] == MPI))
    assert (stage.precision, stage.recall) == (1.0, pytest.approx(1 / 3))
    assert stage.review_rate == pytest.approx(1 / 3) and stage.split_persons == 1
    # A3's two pairs are both missed; the person tag covers all three pairs, one found
    assert stage.missed["name_order_reversed"] == (1.0, 2)
    assert stage.missed["person:newborn"] == (pytest.approx(2 / 3), 3)


def test_mean_and_worst_seed() -> None:
    a = _stage(0.999, 0.95, 0.010, 10, {"name_order_reversed": (0.5, 40)})
    b = _stage(0.997, 0.97, 0.020, 30, {"name_order_reversed": (0.7, 60)})
    mean = _aggregate([a, b], lambda v: sum(v) / len(v), worst=False)
    worst = _aggregate([a, b], lambda v: sum(v) / len(v), worst=True)
    assert (mean.precision, mean.recall, mean.review_rate, mean.split_persons) == pytest.approx(
        (0.998, 0.96, 0.015, 20)
    )
    assert (worst.precision, worst.recall, worst.review_rate, worst.split_persons) == (0.997, 0.95, 0.020, 30)
    assert worst.missed["name_order_reversed"] == (0.7, 50)
    text = summarise(
        [
            Run("hard", 1, a, b, {}, {}),
            Run("hard", 2, b, a, {}, {}),
        ]
    )
    assert "| hard / 1 | 0.9990 | 0.9500 |" in text and "| **hard worst** | 0.9970 | 0.9500 |" in text
    assert "| name_order_reversed | 50 | 60.00% | 70.00% |" in text
