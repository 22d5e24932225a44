"""Linkage quality against ground truth: pairwise, cluster and review-workload figures.

`evaluate_links` takes scored pairs (from Splink's predict or `linkage.scorer`) and a mapping
record -> true person, and reports pairwise precision / recall / F1 of the automatic links (score >=
auto threshold) and of automatic + review links (score >= review threshold), the review workload,
and cluster figures from the connected components of the automatic links (what the MPI would hold).
`pairwise_from_assignment` and `cluster_metrics` score a clustering (record -> cluster id) directly.

Pure measurement: never writes to a store, never logs a record value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from linkage.clusters import clusters_from_links

__all__ = [
    "ClusterMetrics",
    "LinkageEvaluation",
    "PairwiseMetrics",
    "cluster_metrics",
    "evaluate_links",
    "pair_key",
    "pairwise_from_assignment",
    "pairwise_from_pairs",
]

Pair = tuple[Hashable, Hashable]
R = TypeVar("R", bound=Hashable)  # a record id


@dataclass(frozen=True, slots=True)
class PairwiseMetrics:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class ClusterMetrics:
    """Clusters = connected components of the automatic links (singletons included)."""

    predicted_clusters: int
    true_clusters: int
    exact_clusters: int  # predicted clusters equal to a true person's full set of records
    merged_clusters: int  # predicted clusters holding records of more than one person
    split_persons: int  # persons whose records are spread over more than one cluster
    pairwise: PairwiseMetrics  # over all record pairs implied by the clusters

    @property
    def exact_rate(self) -> float:
        return self.exact_clusters / self.true_clusters if self.true_clusters else 1.0


@dataclass(frozen=True, slots=True)
class LinkageEvaluation:
    records: int
    persons: int
    true_pairs: int
    auto: PairwiseMetrics
    auto_and_review: PairwiseMetrics
    review_pairs: int
    review_rate: float  # share of records in at least one review-band pair (steward workload)
    clusters: ClusterMetrics


def pair_key(a: Hashable, b: Hashable) -> Pair:
    return (a, b) if repr(a) <= repr(b) else (b, a)


def pairwise_from_pairs(predicted: set[Pair], truth: Mapping[Hashable, Hashable], true_pairs: int) -> PairwiseMetrics:
    """Pairwise figures of a set of predicted pairs (each once, as `pair_key` orders it) against `truth`."""
    tp = sum(1 for a, b in predicted if truth[a] == truth[b])
    return PairwiseMetrics(tp, len(predicted) - tp, true_pairs - tp)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_from_assignment(
    assignment: Mapping[R, Hashable],
    truth: Mapping[R, Hashable],
    *,
    involving: Collection[R] | None = None,
) -> PairwiseMetrics:
    """Pairwise figures of a clustering (record -> cluster id) against `truth` (record -> person).

    A pair is predicted when its records share a cluster, true when they share a person; counted from
    group sizes, never enumerated, so any number of records is fine. With `involving`, only pairs
    with at least one record in it count (e.g. the records carrying one kind of noise). Both mappings
    must hold the same records.
    """
    if assignment.keys() != truth.keys():
        raise KeyError("the assignment and the ground truth must hold the same records")
    flagged: Collection[R] = involving if involving is not None else truth.keys()

    def count(groups: Mapping[Hashable, list[int]]) -> int:
        # per group: all pairs minus the pairs with no flagged record
        return sum(_pairs(total) - _pairs(total - hits) for total, hits in groups.values())

    predicted: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0])
    both: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0])
    actual: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0])
    for record, person in truth.items():
        hit = record in flagged
        for groups, key in ((predicted, assignment[record]), (both, (assignment[record], person)), (actual, person)):
            groups[key][0] += 1
            groups[key][1] += hit
    tp = count(both)
    return PairwiseMetrics(tp, count(predicted) - tp, count(actual) - tp)


def cluster_metrics(assignment: Mapping[R, Hashable], truth: Mapping[R, Hashable]) -> ClusterMetrics:
    """Cluster figures of a clustering (record -> cluster id, e.g. the MPI's person) against `truth`."""
    if assignment.keys() != truth.keys():
        raise KeyError("the assignment and the ground truth must hold the same records")
    persons_of: dict[Hashable, set[Hashable]] = defaultdict(set)
    size: dict[Hashable, int] = defaultdict(int)
    members: dict[Hashable, int] = defaultdict(int)
    clusters_of: dict[Hashable, set[Hashable]] = defaultdict(set)
    for record, person in truth.items():
        cluster_id = assignment[record]
        persons_of[cluster_id].add(person)
        size[cluster_id] += 1
        members[person] += 1
        clusters_of[person].add(cluster_id)
    exact = sum(
        1
        for cluster_id, persons in persons_of.items()
        if len(persons) == 1 and size[cluster_id] == members[next(iter(persons))]
    )
    return ClusterMetrics(
        predicted_clusters=len(persons_of),
        true_clusters=len(members),
        exact_clusters=exact,
        merged_clusters=sum(1 for persons in persons_of.values() if len(persons) > 1),
        split_persons=sum(1 for clusters in clusters_of.values() if len(clusters) > 1),
        pairwise=pairwise_from_assignment(assignment, truth),
    )


def evaluate_links(
    links: Iterable[tuple[Hashable, Hashable, float]],
    truth: Mapping[Hashable, Hashable],
    *,
    auto_threshold: float,
    review_threshold: float,
) -> LinkageEvaluation:
    """Score scored pairs (left id, right id, score) against `truth` (record id -> person id).

    Scores and thresholds share one unit (match probability or match weight). Every record of
    `truth` counts, scored or not; pairs of ids missing from `truth` are an error. A pair scored twice
    counts once, at its highest score.
    """
    if review_threshold > auto_threshold:
        raise ValueError("review_threshold must not exceed auto_threshold")
    best: dict[Pair, float] = {}
    for a, b, score in links:
        if a not in truth or b not in truth:
            raise KeyError("a scored pair names a record that is not in the ground truth")
        key = pair_key(a, b)
        if score > best.get(key, float("-inf")):
            best[key] = score
    members: dict[Hashable, list[Hashable]] = defaultdict(list)
    for record, person in truth.items():
        members[person].append(record)
    true_pairs = sum(len(m) * (len(m) - 1) // 2 for m in members.values())
    auto = {pair for pair, score in best.items() if score >= auto_threshold}
    review = {pair for pair, score in best.items() if review_threshold <= score < auto_threshold}
    in_review = {record for pair in review for record in pair}

    components = clusters_from_links(truth, auto)
    assignment = {record: index for index, component in enumerate(components) for record in component}
    clusters = cluster_metrics(assignment, truth)
    return LinkageEvaluation(
        records=len(truth),
        persons=len(members),
        true_pairs=true_pairs,
        auto=pairwise_from_pairs(auto, truth, true_pairs),
        auto_and_review=pairwise_from_pairs(auto | review, truth, true_pairs),
        review_pairs=len(review),
        review_rate=len(in_review) / len(truth) if truth else 0.0,
        clusters=clusters,
    )
