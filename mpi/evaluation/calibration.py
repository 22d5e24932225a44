"""Calibrate the link thresholds on labelled data: the precision / recall curve they are read from.

Recipe (what `mpi calibrate` and `notebooks/evaluation.py` run):

1. Ingest a labelled synthetic province with the online linker at *open* thresholds,
   ``MPI_LINK_AUTO_PROBABILITY=1.0`` and ``MPI_LINK_REVIEW_PROBABILITY=0.01``: every record the model
   would link at any threshold in between is instead put in review against its best candidate person,
   with the probability stored. Rule-based decisions (equal valid CCCD, the facility's patient code, an
   earlier version) do not depend on the thresholds and are taken as they are.
2. `mpi export links` that store; then :func:`threshold_curve` over the export and the truth.

For a threshold ``t`` the curve answers: had the auto threshold been ``t``, which pairs would the MPI
hold (every model-band record with ``p >= t`` joined to its candidate person), and had the review
threshold been ``t``, what would auto + review reach (the same join). With an auto threshold ``a`` and a
review threshold ``r``, the records in review are the model-band records with ``r <= p < a`` plus the
reviews the rules open whatever the thresholds (e.g. equal CCCD with conflicting demographics).

Approximation, stated: at ingest a record linked earlier changes the candidate person a later record
sees; the sweep joins persons afterwards instead (the same union a merge makes). The thresholds it picks
are then checked by ingesting again with them and running `mpi evaluate` (the README table).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from linkage import PairwiseMetrics, pairwise_from_assignment
from mpi.evaluation.report import read_links, read_truth, union_clusters
from mpi.identity.models import LinkState
from mpi.identity.policy import Rule

__all__ = ["DEFAULT_GRID", "Curve", "CurvePoint", "ThresholdChoice", "choose_thresholds", "threshold_curve"]

DEFAULT_GRID: Final = (
    0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998,
    0.999, 0.9995, 0.9999, 0.99999, 0.999999,
)  # fmt: skip
BAND_RULE: Final = Rule.MODEL_BAND


@dataclass(frozen=True, slots=True)
class CurvePoint:
    threshold: float
    linked: PairwiseMetrics
    """Every model-band record with p >= threshold joined to its candidate: the MPI's pairs with the auto
    threshold at ``threshold`` (auto figures), or auto + review with the review threshold there."""
    band_records: int
    """Model-band records with p >= threshold."""


@dataclass(frozen=True, slots=True)
class Curve:
    records: int
    rule_reviews: int
    """Records in review whatever the thresholds (reviews opened by a rule, not by the model band)."""
    points: tuple[CurvePoint, ...]

    def review_rate(self, *, auto: float, review: float) -> float:
        """Share of records in review with these thresholds (both must be points of the curve)."""
        at = {p.threshold: p.band_records for p in self.points}
        return (self.rule_reviews + at[review] - at[auto]) / self.records if self.records else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "rule_reviews": self.rule_reviews,
            "points": [
                {
                    "threshold": p.threshold,
                    "precision": p.linked.precision,
                    "recall": p.linked.recall,
                    "f1": p.linked.f1,
                    "false_positives": p.linked.false_positives,
                    "false_negatives": p.linked.false_negatives,
                    "band_records": p.band_records,
                }
                for p in self.points
            ],
        }


def threshold_curve(links_csv: Path, truth_path: Path, *, grid: Sequence[float] = DEFAULT_GRID) -> Curve:
    """The curve over an export of a store linked at open thresholds (see the module docstring)."""
    exported = read_links(links_csv)
    truth_rows = read_truth(truth_path)
    keys = sorted(k for k in exported if k in truth_rows)
    truth: dict[int, Hashable] = {i: truth_rows[k][0] for i, k in enumerate(keys)}
    links = [exported[k] for k in keys]
    assignment: dict[int, Hashable] = {i: link.person_id for i, link in enumerate(links)}
    band = [
        (i, link.review_person_id, link.match_probability)
        for i, link in enumerate(links)
        if link.rule == BAND_RULE and link.review_person_id and link.match_probability is not None
    ]
    banded = {i for i, _, _ in band}
    rule_reviews = sum(
        1
        for i, link in enumerate(links)
        if i not in banded and (link.review_person_id or link.link_state == LinkState.REVIEW)
    )
    points = []
    for threshold in sorted(set(grid)):
        joins = [(i, candidate) for i, candidate, p in band if p >= threshold]
        points.append(
            CurvePoint(
                threshold=threshold,
                linked=pairwise_from_assignment(union_clusters(assignment, joins), truth),
                band_records=len(joins),
            )
        )
    return Curve(records=len(keys), rule_reviews=rule_reviews, points=tuple(points))


@dataclass(frozen=True, slots=True)
class ThresholdChoice:
    auto: float | None
    review: float | None
    auto_precision: float | None
    auto_recall: float | None
    review_recall: float | None
    review_rate: float | None
    note: str


def choose_thresholds(
    curve: Curve, *, min_precision: float = 0.999, min_recall: float = 0.99, max_review_rate: float = 0.02
) -> ThresholdChoice:
    """The lowest auto threshold whose precision (and every higher one's) meets ``min_precision``; then the
    highest review threshold below it whose auto + review recall meets ``min_recall`` within the review
    budget (or, if none does, the one with the best recall within the budget)."""
    points = sorted(curve.points, key=lambda p: p.threshold)
    auto = None
    for index, point in enumerate(points):
        if all(p.linked.precision >= min_precision for p in points[index:]):
            auto = point
            break
    if auto is None:
        return ThresholdChoice(None, None, None, None, None, None, "no threshold reaches the precision floor")
    below = [p for p in points if p.threshold < auto.threshold]
    within = [p for p in below if curve.review_rate(auto=auto.threshold, review=p.threshold) <= max_review_rate]
    meeting = [p for p in within if p.linked.recall >= min_recall]
    if meeting:
        review, note = max(meeting, key=lambda p: p.threshold), "meets every target"
    elif within:
        review = max(within, key=lambda p: (p.linked.recall, p.threshold))
        note = "auto + review recall below the target within the review budget"
    else:
        return ThresholdChoice(
            auto.threshold, None, auto.linked.precision, auto.linked.recall, None, None, "review budget exceeded"
        )
    return ThresholdChoice(
        auto=auto.threshold,
        review=review.threshold,
        auto_precision=auto.linked.precision,
        auto_recall=auto.linked.recall,
        review_recall=review.linked.recall,
        review_rate=curve.review_rate(auto=auto.threshold, review=review.threshold),
        note=note,
    )
