"""`mpi.evaluation.report` and `mpi.evaluation.calibration` on hand-made exports and truths with known figures."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mpi.evaluation.calibration import choose_thresholds, threshold_curve
from mpi.evaluation.report import evaluate_export, render_markdown
from mpi.identity.export import EXPORT_COLUMNS

# (facility, ma_lk, version, person, state, probability, rule, review candidate)
LINKS = [
    ("1", "A1", 1, "1", "auto", "", "new_person", ""),
    ("1", "A2", 1, "1", "auto", "0.999", "model", ""),
    ("1", "A3", 1, "9", "auto", "", "new_person", ""),  # an older version: superseded by version 2
    ("1", "A3", 2, "2", "review", "0.6", "model_band", "1"),
    ("2", "B1", 1, "3", "auto", "", "new_person", ""),
    ("2", "B2", 1, "3", "auto", "0.995", "model", ""),
    ("2", "C1", 1, "3", "auto", "0.992", "model", ""),  # a false merge: C1 is another person
    ("2", "X9", 1, "4", "auto", "", "new_person", ""),  # not in the truth
]
# true persons P (A1 A2 A3), Q (B1 B2), R (C1); D1 was rejected at ingest (not stored)
TRUTH = [
    ("1", "A1", "P", ""),
    ("1", "A2", "P", "name_typo"),
    ("1", "A3", "P", "dob_off_by_one;name_typo"),
    ("2", "B1", "Q", ""),
    ("2", "B2", "Q", ""),
    ("2", "C1", "R", "cccd_missing"),
    ("3", "D1", "S", ""),
]


def _write_links(path: Path, rows: list[tuple[object, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for f, lk, v, person, state, p, rule, review in rows:
            writer.writerow([f, lk, v, person, state, p, "m1" if p else "", rule, review, 1])
    return path


@pytest.fixture
def links(tmp_path: Path) -> Path:
    return _write_links(tmp_path / "links.csv", LINKS)  # type: ignore[arg-type]


@pytest.fixture(params=["csv", "parquet"])
def truth(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    columns = ["facility_code", "ma_lk", "person_id", "noise"]
    if request.param == "parquet":
        path = tmp_path / "truth.parquet"
        pq.write_table(pa.table({c: [row[i] for row in TRUTH] for i, c in enumerate(columns)}), path)
        return path
    path = tmp_path / "truth.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([columns, *TRUTH])
    return path


def test_pairwise_cluster_review_and_noise_figures(links: Path, truth: Path) -> None:
    report = evaluate_export(links, truth, auto_threshold=0.99, review_threshold=0.3)
    assert (report.records, report.persons, report.true_pairs) == (6, 3, 4)
    assert (report.truth_encounters, report.not_stored, report.not_in_truth) == (7, 1, 1)
    assert report.model_ids == ("m1",)
    (mpi,) = report.methods
    # clusters {A1 A2} {A3} {B1 B2 C1}: pairs A1A2 B1B2 (true), B1C1 B2C1 (false); A1A3 A2A3 missed
    assert (mpi.auto.true_positives, mpi.auto.false_positives, mpi.auto.false_negatives) == (2, 2, 2)
    assert (mpi.auto.precision, mpi.auto.recall) == (0.5, 0.5)
    # A3 joined to its review candidate person 1: {A1 A2 A3} {B1 B2 C1}
    assert (mpi.auto_and_review.true_positives, mpi.auto_and_review.false_positives) == (4, 2)
    assert mpi.auto_and_review.recall == 1.0
    assert (mpi.review_records, mpi.review_rate) == (1, pytest.approx(1 / 6))
    c = mpi.clusters
    assert (c.predicted_clusters, c.true_clusters, c.exact_clusters, c.merged_clusters, c.split_persons) == (
        3, 3, 0, 1, 1,
    )  # fmt: skip
    noise = {n.kind: n for n in mpi.by_noise}
    assert list(noise) == ["cccd_missing", "dob_off_by_one", "name_typo", "(none)"]
    # C1: two false pairs, no true pair
    assert (noise["cccd_missing"].auto.false_positives, noise["cccd_missing"].true_pairs) == (2, 0)
    assert noise["cccd_missing"].auto.precision == 0.0
    # A3: its two true pairs are missed automatically, found with review
    assert (noise["dob_off_by_one"].auto.recall, noise["dob_off_by_one"].auto_and_review.recall) == (0.0, 1.0)
    assert noise["dob_off_by_one"].review_rate == 1.0
    # A2 or A3: pairs A1A2 (found), A1A3, A2A3 (missed)
    assert (noise["name_typo"].records, noise["name_typo"].true_pairs) == (2, 3)
    assert noise["name_typo"].auto.recall == pytest.approx(1 / 3)
    # A1, B1, B2: A1A2, A1A3, B1B2 true; B1C1, B2C1 false
    assert (noise["(none)"].auto.true_positives, noise["(none)"].auto.false_positives) == (2, 2)
    markdown = render_markdown(report, command="mpi evaluate --links l.csv --truth t.csv")
    assert "| MPI (online linkage) | 0.5000 | 0.5000 | 0.5000 | 0.6667 | 1.0000 | 16.67% | 0 / 3 | 1 | 1 |" in markdown


def test_person_tags_are_kinds_of_their_own(links: Path, tmp_path: Path) -> None:
    """A truth with ``person_tags`` breaks the figures down by them too; a tag alone is not noise."""
    tags = {"A1": "namesake", "A2": "namesake", "A3": "namesake", "C1": "newborn;twin"}
    path = tmp_path / "truth.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["facility_code", "ma_lk", "person_id", "noise", "person_tags"])
        writer.writerows([(f, lk, person, noise, tags.get(lk, "")) for f, lk, person, noise in TRUTH])
    (mpi,) = evaluate_export(links, path, auto_threshold=0.99, review_threshold=0.3).methods
    noise = {n.kind: n for n in mpi.by_noise}
    assert list(noise) == [
        "cccd_missing", "dob_off_by_one", "name_typo", "person:namesake", "person:newborn", "person:twin", "(none)"
    ]  # fmt: skip
    # P's three records: A1A2 found, A1A3 and A2A3 missed
    assert (noise["person:namesake"].records, noise["person:namesake"].true_pairs) == (3, 3)
    assert noise["person:namesake"].auto.recall == pytest.approx(1 / 3)
    assert (noise["person:twin"].auto.false_positives, noise["person:twin"].true_pairs) == (2, 0)
    # A1 (tagged, no noise) still counts as a record without noise
    assert noise["(none)"].records == 3


def test_calibration_curve_and_choice(tmp_path: Path) -> None:
    """Open-threshold store: A2 and A3 waited in review with their probabilities; C1 (a different person) too."""
    links = _write_links(
        tmp_path / "links.csv",
        [
            ("1", "A1", 1, "1", "auto", "", "new_person", ""),
            ("1", "A2", 1, "2", "review", "0.9995", "model_band", "1"),
            ("1", "A3", 1, "3", "review", "0.7", "model_band", "1"),
            ("2", "B1", 1, "4", "auto", "", "new_person", ""),
            ("2", "B2", 1, "4", "auto", "", "national_id", ""),
            ("2", "C1", 1, "5", "review", "0.95", "model_band", "4"),
            ("2", "D1", 1, "6", "review", "", "national_id_conflict", "4"),
        ],
    )
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "facility_code,ma_lk,person_id\n1,A1,P\n1,A2,P\n1,A3,P\n2,B1,Q\n2,B2,Q\n2,C1,R\n2,D1,S\n", encoding="utf-8"
    )
    curve = threshold_curve(links, truth, grid=(0.5, 0.9, 0.99, 0.9999))
    assert curve.records == 7
    assert curve.rule_reviews == 1
    got = {p.threshold: (p.linked.true_positives, p.linked.false_positives, p.band_records) for p in curve.points}
    # true pairs: A1A2 A1A3 A2A3 B1B2
    assert got == {0.5: (4, 2, 3), 0.9: (2, 2, 2), 0.99: (2, 0, 1), 0.9999: (1, 0, 0)}
    assert curve.review_rate(auto=0.99, review=0.5) == pytest.approx((1 + 3 - 1) / 7)
    choice = choose_thresholds(curve, min_precision=0.999, min_recall=0.99, max_review_rate=0.5)
    assert (choice.auto, choice.review, choice.note) == (0.99, 0.5, "meets every target")
    assert choice.review_recall == 1.0
    tight = choose_thresholds(curve, min_precision=0.999, min_recall=0.99, max_review_rate=0.3)
    assert (tight.auto, tight.review) == (0.99, 0.9)
    assert tight.note == "auto + review recall below the target within the review budget"
    assert choose_thresholds(curve, max_review_rate=0.2).note == "review budget exceeded"
