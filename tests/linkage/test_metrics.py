"""Evaluation: pairwise and cluster figures on hand-made cases, and FEBRL floors (slow)."""

from __future__ import annotations

import pytest

from linkage import clusters_from_links, evaluate_links

TRUTH = {1: "A", 2: "A", 3: "A", 4: "B", 5: "B", 6: "C"}  # true pairs: 12, 13, 23, 45 -> 4


def test_pairwise_and_review_figures() -> None:
    links = [(1, 2, 0.999), (2, 3, 0.7), (4, 5, 0.995), (5, 6, 0.995), (1, 4, 0.2)]
    result = evaluate_links(links, TRUTH, auto_threshold=0.99, review_threshold=0.5)
    assert (result.records, result.persons, result.true_pairs) == (6, 3, 4)
    assert (result.auto.true_positives, result.auto.false_positives, result.auto.false_negatives) == (2, 1, 2)
    assert result.auto.precision == pytest.approx(2 / 3)
    assert result.auto.recall == pytest.approx(0.5)
    assert result.auto.f1 == pytest.approx(4 / 7)
    assert (result.auto_and_review.true_positives, result.auto_and_review.false_positives) == (3, 1)
    assert result.review_pairs == 1
    assert result.review_rate == pytest.approx(2 / 6)


def test_cluster_figures() -> None:
    links = [(1, 2, 0.999), (4, 5, 0.995), (5, 6, 0.995)]
    clusters = evaluate_links(links, TRUTH, auto_threshold=0.99, review_threshold=0.5).clusters
    # clusters {1,2} {3} {4,5,6}: none equals a true person; {4,5,6} merges B and C; A is split
    assert (clusters.predicted_clusters, clusters.true_clusters, clusters.exact_clusters) == (3, 3, 0)
    assert (clusters.merged_clusters, clusters.split_persons) == (1, 1)
    # implied pairs 12, 45, 46, 56: 2 true of 4; 2 of the 4 true pairs missed
    assert (clusters.pairwise.true_positives, clusters.pairwise.false_positives) == (2, 2)
    assert clusters.pairwise.false_negatives == 2


def test_transitive_closure_adds_pairs() -> None:
    links = [(1, 2, 1.0), (2, 3, 1.0), (4, 5, 1.0)]
    result = evaluate_links(links, TRUTH, auto_threshold=0.99, review_threshold=0.5)
    assert result.clusters.exact_rate == 1.0
    assert result.clusters.pairwise.f1 == 1.0
    assert result.auto.recall == pytest.approx(3 / 4)  # the 1-3 pair was never scored


def test_a_pair_scored_twice_counts_once_at_its_best() -> None:
    result = evaluate_links([(1, 2, 0.1), (2, 1, 0.999)], TRUTH, auto_threshold=0.99, review_threshold=0.5)
    assert (result.auto.true_positives, result.auto.false_positives) == (1, 0)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError):
        evaluate_links([], TRUTH, auto_threshold=0.5, review_threshold=0.9)
    with pytest.raises(KeyError):
        evaluate_links([(1, 99, 1.0)], TRUTH, auto_threshold=0.9, review_threshold=0.5)


def test_clusters_from_links_includes_singletons() -> None:
    groups = sorted(sorted(g) for g in clusters_from_links([1, 2, 3, 4], [(1, 2), (2, 3)]))
    assert groups == [[1, 2, 3], [4]]


@pytest.mark.slow  # loads and normalises FEBRL4's 10,000 records
def test_febrl_mapping() -> None:
    from linkage.febrl import febrl_records

    records, truth = febrl_records(4)
    assert records.num_rows == 10_000 == len(truth)
    assert len(set(truth.values())) == 5_000
    row = records.to_pylist()[0]
    assert row["family"] is not None and row["given"] is not None and row["national_id"] is not None


@pytest.mark.slow
@pytest.mark.parametrize(("which", "f1_floor"), [(4, 0.99), (3, 0.98)])
def test_febrl_floors(which: int, f1_floor: float) -> None:
    from linkage import evaluate_febrl

    result = evaluate_febrl(which)  # type: ignore[arg-type]
    assert result.evaluation.auto.precision >= 0.995
    assert result.evaluation.auto.f1 >= f1_floor
    assert result.evaluation.clusters.pairwise.f1 >= f1_floor


def test_pairwise_from_assignment_counts_pairs_and_pairs_involving_a_subset() -> None:
    from linkage.metrics import cluster_metrics, pairwise_from_assignment

    assignment = {1: "x", 2: "x", 3: "y", 4: "z", 5: "z", 6: "z"}  # clusters {1,2} {3} {4,5,6}
    m = pairwise_from_assignment(assignment, TRUTH)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (2, 2, 2)
    # pairs with record 6: predicted 46 56 (false), true: none
    only_6 = pairwise_from_assignment(assignment, TRUTH, involving={6})
    assert (only_6.true_positives, only_6.false_positives, only_6.false_negatives) == (0, 2, 0)
    # pairs with record 3: predicted none, true 13 23
    only_3 = pairwise_from_assignment(assignment, TRUTH, involving={3})
    assert (only_3.true_positives, only_3.false_positives, only_3.false_negatives) == (0, 0, 2)
    c = cluster_metrics(assignment, TRUTH)
    assert (c.predicted_clusters, c.exact_clusters, c.merged_clusters, c.split_persons) == (3, 0, 1, 1)
    with pytest.raises(KeyError):
        pairwise_from_assignment({1: "x"}, TRUTH)
