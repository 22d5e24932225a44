"""Batch relinking: score every current source record against every other with Splink and act on what
the online path missed.

The online path (:mod:`mpi.identity.online`) sees one record and a capped candidate list at a time; a
batch run over the whole store finds the rest (a record that arrived before its twin's better copy,
a candidate cut by the cap, term frequencies that have since moved). Steps:

1. Read ``(id, person_id, features)`` of every current source record (its encounter is the current
   version) into Arrow, streamed in batches; the features JSON goes to Arrow's JSON reader as text,
   never through ORM objects.
2. ``linkage.predict_links`` on DuckDB keeps the pairs at or above the review threshold. Candidate
   pairs come from ``linkage.model.BATCH_BLOCKING_RULES`` (the model's keys, with the one whose work
   grows with the square of a commune's size narrowed by the family key: see there), or the rules the
   caller passes (``within_province`` of them for a national or multi-province store). Pairs of records
   with the same CCCD on different persons are added whatever their score: the policy's national-ID
   rule decides them, as it does online.
3. Pairs whose records sit on different persons become proposals, one per pair of persons (its best
   pair), strongest first. Each proposal is re-checked against the store as it is applied:
   - records already on one person (an earlier merge of this run joined them): nothing;
   - a steward constraint ``different_person`` between a record of one person and the other person
     (followed through merge redirects): **skipped**, and no review is opened either (the steward
     has answered that question);
   - a review item between the two persons exists, open or resolved: skipped (a steward is asked or
     has answered; an automatic merge must not pre-empt them);
   - a birth certificate makes one the mother of the other (:mod:`mpi.identity.births`): skipped;
   - otherwise the identity policy decides (:func:`mpi.identity.policy.decide`, the function the online
     path calls): the proposal's record of the newer person against *every* record of the older person,
     scored in process with the run's term frequencies. A link **merges** the newer person (higher id)
     into the older one only when the evidence holds for both whole clusters: no other record of the
     newer person is contradicted by a record of the older one (:func:`mpi.identity.policy.contradicts`);
     one strong pair between two clusters that otherwise disagree opens a review instead
     (``cluster_contradicted``), and so does a pair between clusters holding a record that no record of
     the other cluster supports on its own (:func:`mpi.identity.policy.supports`: the model at least at
     the review threshold, an agreeing CCCD, or the same card and birth; ``cluster_unsupported``).
     Merges go through :func:`mpi.identity.links.merge`, which leaves a redirect; its links carry the
     rule ``relink``, the weight and probability and the model id. A person
     holding a record a steward linked by hand (``manual_link``) is never the one whose records move: the
     merge goes the other way, and when both persons hold such records a review is opened;
   - a review decision (model band, CCCD conflict) opens a review item (reason ``relink``) for the newer
     person's record against the older person, with the policy's rule and the comparison levels and
     weights of the pair in its evidence; a decision for a new person (e.g. a guardian's CCCD) does nothing.
     A review-band pair (``model_band``: the model alone is unsure) between persons of whom a record of one
     contradicts a record of the other (:func:`mpi.identity.policy.contradicts`: a guardian's or a
     conflicting CCCD, two holders' own CCCDs, the model below the contradiction line) opens no review
     either (``band_contradicted``): weak evidence for and clear evidence against is a known non-match, a
     question whose only answer is "different person". In the auto band the same contradiction is a doubt
     and is reviewed (``cluster_contradicted``, ``model_contradicted``).
   Person ids never change otherwise. Proposals are committed in batches (``commit_every``); each is
   self-contained, so an interrupted run leaves a consistent store and the next run continues.
4. A ``relink_run`` event with the report's counts closes a (non dry) run.

Idempotent: right after a run, every auto pair is on one person and every review-band pair has a
review item or a contradiction between its persons, so a second run opens and merges nothing new.
``dry_run`` applies everything in one transaction and rolls it back, so its counts are exact (on SQLite it
holds the write lock meanwhile).

Never logs a name, an identifier or a phone number; the report holds counts only.
"""

from __future__ import annotations

import io
import time
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from sqlalchemy import Connection, Engine, Select, Text, cast, select

from linkage import Scorer, TrainedModel, build_tf_tables, predict_links, probability_from_weight
from linkage.model import BATCH_BLOCKING_RULES, MODEL_COLUMNS, ModelRow
from mpi.identity import births
from mpi.identity import links as L
from mpi.identity.matching import explanation
from mpi.identity.policy import Action, Candidate, Decision, Rule, Thresholds, contradicts, decide, supports
from mpi.identity.tf import MIN_POPULATION
from mpi.store.models import Encounter

__all__ = ["Proposal", "RelinkReport", "proposals", "read_source_records", "relink"]

_encounters = Encounter.__table__  # type: ignore[attr-defined]
REASON: Final = Rule.RELINK
_FEATURE_SCHEMA: Final = pa.schema([(n, t) for n, t in MODEL_COLUMNS.items() if n != "unique_id"])
_JSON_OPTIONS: Final = pj.ParseOptions(explicit_schema=_FEATURE_SCHEMA, unexpected_field_behavior="ignore")


@dataclass(slots=True)
class RelinkReport:
    """What a run did, in counts only."""

    model_id: str
    dry_run: bool
    records: int = 0
    pairs_scored: int = 0
    """Pairs at or above the review threshold."""
    cross_person_pairs: int = 0
    """Of those, pairs whose records were on different persons when the run started."""
    proposals: int = 0
    """Distinct pairs of persons among them."""
    merges: int = 0
    records_moved: int = 0
    reviews_opened: int = 0
    skipped_different_person: int = 0
    """A steward said a record of one person is not the other person."""
    skipped_reviewed: int = 0
    """A review between the two persons was already open or resolved."""
    pinned_to_review: int = 0
    """Auto-band pairs where both persons hold steward-pinned records: opened as reviews instead."""
    conflicts_to_review: int = 0
    """Pairs with equal CCCD but conflicting demographics: opened as reviews instead."""
    cluster_contradicted: int = 0
    """Auto-band pairs not merged because another record of one person contradicts the other person."""
    cluster_unsupported: int = 0
    """Auto-band pairs not merged because a record of one person has no record of the other supporting it."""
    band_contradicted: int = 0
    """Review-band pairs not opened as reviews because a record of one person contradicts a record of the other."""
    not_linked: int = 0
    """Proposals the policy does not link or review (e.g. a guardian's CCCD, or the persons' other records)."""
    mother_and_child: int = 0
    """Proposals between a mother and her child (by birth certificate): never merged, no review."""
    already_together: int = 0
    """Proposals whose persons an earlier merge of the same run had joined."""
    read_seconds: float = 0.0
    predict_seconds: float = 0.0
    apply_seconds: float = 0.0
    seconds: float = 0.0
    thresholds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Proposal:
    """The strongest pair between two persons (as they were when the run read the store)."""

    source_record_l: int
    source_record_r: int
    match_weight: float
    match_probability: float


# ---- read ----------------------------------------------------------------------------------------
def _current_records() -> Select[Any]:
    s = L.sources
    return (
        select(s.c.id, s.c.person_id, cast(s.c.features, Text).label("features"))
        .join(_encounters, _encounters.c.id == s.c.encounter_id)
        .where(_encounters.c.is_current.is_(True))
        .order_by(s.c.id)
    )


def _batches(engine: Engine, batch_size: int) -> Iterator[pa.RecordBatch]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(_current_records())
        for rows in result.partitions():
            ids = [int(r.id) for r in rows]
            persons = [int(r.person_id) for r in rows]
            text = "\n".join(str(r.features) for r in rows).encode("utf-8")
            features = pj.read_json(io.BytesIO(text), parse_options=_JSON_OPTIONS)
            columns = {"unique_id": pa.array(ids, pa.int64()), "person_id": pa.array(persons, pa.int64())}
            columns.update((name, features.column(name).combine_chunks()) for name in _FEATURE_SCHEMA.names)
            yield pa.RecordBatch.from_pydict(columns)


def read_source_records(engine: Engine, *, batch_size: int = 50_000) -> pa.Table:
    """Every current source record as model rows: ``unique_id`` (= source record id), ``person_id``, features."""
    schema = pa.schema([("unique_id", pa.int64()), ("person_id", pa.int64()), *_FEATURE_SCHEMA])
    return pa.Table.from_batches(list(_batches(engine, batch_size)), schema=schema)


# ---- propose -------------------------------------------------------------------------------------
def proposals(records: pa.Table, pairs: pa.Table) -> tuple[int, list[Proposal]]:
    """Pairs across persons, reduced to the strongest per pair of persons, strongest first.

    ``pairs`` are the model's (at or above the review threshold); pairs of records with the same CCCD on
    different persons are added whatever their score, since the policy's national-ID rule decides them
    (their weight is filled in later by the applier's scorer). Returns (number of cross-person pairs,
    proposals). Ties are broken by record ids (deterministic).
    """
    con = duckdb.connect(":memory:")
    try:
        con.register("recs", records.select(["unique_id", "person_id", "national_id", "national_id_kind"]))
        con.register("pairs", pairs)
        con.sql(
            """
            CREATE TEMP TABLE cross_pairs AS
            WITH same_id AS (
                SELECT a.unique_id AS unique_id_l, b.unique_id AS unique_id_r,
                       CAST(NULL AS DOUBLE) AS match_weight, CAST(NULL AS DOUBLE) AS match_probability
                FROM recs a JOIN recs b
                  ON a.national_id = b.national_id AND a.unique_id < b.unique_id AND a.person_id <> b.person_id
                WHERE a.national_id_kind = 'CCCD' AND b.national_id_kind = 'CCCD'
            ), candidates AS (
                SELECT unique_id_l, unique_id_r, match_weight, match_probability FROM pairs
                UNION ALL
                SELECT s.* FROM same_id s ANTI JOIN pairs p
                  ON p.unique_id_l = s.unique_id_l AND p.unique_id_r = s.unique_id_r
            )
            SELECT p.unique_id_l, p.unique_id_r, p.match_weight, p.match_probability,
                   LEAST(a.person_id, b.person_id) AS person_lo, GREATEST(a.person_id, b.person_id) AS person_hi
            FROM candidates p
            JOIN recs a ON a.unique_id = p.unique_id_l
            JOIN recs b ON b.unique_id = p.unique_id_r
            WHERE a.person_id <> b.person_id
            """
        )
        cross = int(con.sql("SELECT count(*) FROM cross_pairs").fetchall()[0][0])
        rows = con.sql(
            """
            SELECT unique_id_l, unique_id_r, coalesce(match_weight, -1e9), coalesce(match_probability, 0.0) FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY person_lo, person_hi
                    ORDER BY match_weight DESC NULLS LAST, unique_id_l, unique_id_r) AS k
                FROM cross_pairs)
            WHERE k = 1
            ORDER BY match_weight DESC NULLS LAST, unique_id_l, unique_id_r
            """
        ).fetchall()
    finally:
        con.close()
    return cross, [Proposal(int(a), int(b), float(w), float(p)) for a, b, w, p in rows]


# ---- apply ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Persons:
    """Steward facts about two persons, read fresh from the store."""

    blocked: bool
    reviewed: bool
    pinned: frozenset[int]
    """Which of the two persons hold a record pinned by a ``manual_link``."""


def _steward_facts(conn: Connection, a: int, b: int) -> _Persons:
    s, r = L.sources, L.reviews
    other = {a: b, b: a}
    constraints = L.pair_constraints(conn, a, b)
    reviewed = any(
        L.current_person(conn, int(row.candidate_person_id)) == other[int(row.holder)]
        for row in conn.execute(
            select(r.c.candidate_person_id, s.c.person_id.label("holder"))
            .join(s, s.c.id == r.c.source_record_id)
            .where(s.c.person_id.in_([a, b]))
        )
    )
    return _Persons(blocked=constraints.kept_apart, reviewed=reviewed, pinned=constraints.pinned)


class _Applier:
    """Applies proposals, strongest first, deciding each with the identity policy over the persons' records.

    The record of the newer person in the proposal plays the incoming record, the older person's records
    its candidates (scored by the in-process scorer with the run's term frequencies), exactly as the online
    path would see them: :func:`mpi.identity.policy.decide` chooses. A link merges the two persons only
    when the evidence holds for both whole clusters: no other record of the newer person is contradicted
    by a record of the older one (:func:`mpi.identity.policy.contradicts`); otherwise a review is opened.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        features: dict[int, ModelRow],
        members: dict[int, list[int]],
        scorer: Scorer,
        thresholds: Thresholds,
        model_id: str,
        actor: str,
        report: RelinkReport,
    ) -> None:
        self.conn = conn
        self.features = features
        self.members = members
        self.scorer = scorer
        self.thresholds = thresholds
        self.model_id = model_id
        self.actor = actor
        self.report = report
        self._scores: dict[tuple[int, int], float] = {}
        self.related = births.mother_child_pairs(conn)
        """Mothers and children by birth certificate: never merged."""

    def _weight(self, a: int, b: int) -> float:
        key = (a, b) if a < b else (b, a)
        weight = self._scores.get(key)
        if weight is None:
            weight = self._scores[key] = self.scorer.match_weight(self.features[key[0]], self.features[key[1]])
        return weight

    def _candidates(self, record: int, person: int) -> list[Candidate]:
        out = []
        for other in self.members[person]:
            weight = self._weight(record, other)
            out.append(
                Candidate(other, person, self.features[other], False, False, weight, probability_from_weight(weight))
            )
        return out

    def _contradiction(self, newer: int, older: int, *, besides: int | None = None) -> list[int] | None:
        """The first pair [record of ``newer``, record of ``older``] of which one speaks against the other
        being the same person (:func:`mpi.identity.policy.contradicts`), leaving out the records of
        ``newer`` in ``besides``; None when there is none."""
        for other in self.members[newer]:
            if other == besides:
                continue
            for candidate in self._candidates(other, older):
                if contradicts(self.features[other], candidate.features, candidate.match_probability):
                    return [other, candidate.source_record_id]
        return None

    def decision(self, record: int, newer: int, older: int) -> Decision:
        """The policy's decision for ``record`` (of ``newer``) against the records of ``older``, checked over
        both whole clusters (:func:`mpi.identity.policy.contradicts`, :func:`mpi.identity.policy.supports`):

        - a link merges only when no other record of ``newer`` contradicts a record of ``older``
          (``cluster_contradicted``) and every record of each has a record of the other that supports it
          on its own (``cluster_unsupported``); either failing opens a review instead;
        - a review-band decision (``model_band``) opens a review only when no record of one contradicts a
          record of the other: otherwise the decision is a new person (the evidence carries
          ``band_contradicted``), since the model's doubt against a contradiction is no question.
        """
        decision = decide(self.features[record], self._candidates(record, older), self.thresholds)
        if decision.action is Action.REVIEW and decision.rule is Rule.MODEL_BAND:
            against = self._contradiction(newer, older)
            if against is not None:
                return Decision(
                    Action.NEW,
                    Rule.NEW_PERSON,
                    match_weight=decision.match_weight,
                    match_probability=decision.match_probability,
                    evidence={**decision.evidence, "band_contradicted": against},
                )
        if decision.action is not Action.LINK:
            return decision
        against = self._contradiction(newer, older, besides=record)
        if against is not None:
            decision.action, decision.rule = Action.REVIEW, Rule.CLUSTER_CONTRADICTED
            decision.evidence = {**decision.evidence, "contradicted_by": against}
            return decision
        supported: set[int] = set()
        for other in self.members[newer]:
            for candidate in self._candidates(other, older):
                if supports(self.features[other], candidate.features, candidate.match_probability, self.thresholds):
                    supported |= {other, candidate.source_record_id}
        unsupported = sorted((set(self.members[newer]) | set(self.members[older])) - supported)
        if unsupported:
            decision.action, decision.rule = Action.REVIEW, Rule.CLUSTER_UNSUPPORTED
            decision.evidence = {**decision.evidence, "unsupported": unsupported}
        return decision

    def apply(self, proposal: Proposal) -> None:
        conn, report = self.conn, self.report
        s = L.sources
        holder = {
            int(row.id): int(row.person_id)
            for row in conn.execute(
                select(s.c.id, s.c.person_id).where(s.c.id.in_([proposal.source_record_l, proposal.source_record_r]))
            )
        }
        person_l, person_r = holder[proposal.source_record_l], holder[proposal.source_record_r]
        if person_l == person_r:
            report.already_together += 1
            return
        facts = _steward_facts(conn, person_l, person_r)
        if facts.blocked:
            report.skipped_different_person += 1
            return
        if facts.reviewed:
            report.skipped_reviewed += 1
            return
        older, newer = sorted((person_l, person_r))
        if newer in self.related.get(older, ()):
            report.mother_and_child += 1
            return
        record = proposal.source_record_l if holder[proposal.source_record_l] == newer else proposal.source_record_r
        decision = self.decision(record, newer, older)
        if decision.action is Action.NEW:
            if "band_contradicted" in decision.evidence:
                report.band_contradicted += 1
            else:
                report.not_linked += 1
            return
        if decision.action is Action.REVIEW:
            if decision.rule is Rule.NATIONAL_ID_CONFLICT:
                report.conflicts_to_review += 1
            elif decision.rule is Rule.CLUSTER_CONTRADICTED:
                report.cluster_contradicted += 1
            elif decision.rule is Rule.CLUSTER_UNSUPPORTED:
                report.cluster_unsupported += 1
            self._review(record, older, decision, rule=decision.rule)
            return
        if newer in facts.pinned:
            if older in facts.pinned:
                report.pinned_to_review += 1
                self._review(record, older, decision, rule=Rule.BOTH_PINNED)
                return
            older, newer = newer, older  # the pinned person's records stay where a steward put them
        moved = L.merge(
            conn,
            from_person_id=newer,
            into_person_id=older,
            actor=self.actor,
            rule=REASON,
            match_weight=decision.match_weight,
            match_probability=decision.match_probability,
            model_id=self.model_id,
        )
        self.members[older] = self.members[older] + self.members.pop(newer)
        for relative in self.related.pop(newer, set()):
            self.related.setdefault(older, set()).add(relative)
            self.related[relative] = (self.related[relative] - {newer}) | {older}
        report.merges += 1
        report.records_moved += len(moved)

    def _review(self, record: int, against: int, decision: Decision, *, rule: Rule) -> None:
        other = decision.source_record_id
        assert other is not None
        score = self.scorer.score(self.features[record], self.features[other])
        L.open_review(
            self.conn,
            source_record_id=record,
            candidate_person_id=against,
            reason=REASON,
            actor=self.actor,
            match_weight=decision.match_weight,
            match_probability=decision.match_probability,
            model_id=self.model_id,
            evidence={
                **decision.evidence,
                "rule": rule,
                "other_source_record_id": other,
                "comparisons": explanation(score),
            },
        )
        self.report.reviews_opened += 1


def _involved(records: pa.Table, chosen: list[Proposal]) -> tuple[dict[int, ModelRow], dict[int, list[int]]]:
    """Model rows and members of every person a proposal touches (the clusters the policy reads)."""
    ids = pa.array(sorted({p.source_record_l for p in chosen} | {p.source_record_r for p in chosen}), pa.int64())
    persons = pc.unique(records.filter(pc.is_in(records.column("unique_id"), ids)).column("person_id"))
    subset = records.filter(pc.is_in(records.column("person_id"), persons))
    features: dict[int, ModelRow] = {}
    members: dict[int, list[int]] = {}
    for row in subset.to_pylist():
        features[int(row["unique_id"])] = typing.cast(ModelRow, row)  # a model row with its person_id
        members.setdefault(int(row["person_id"]), []).append(int(row["unique_id"]))
    return features, members


def _tf_tables(records: pa.Table, model: TrainedModel) -> dict[str, dict[Any, float]]:
    """The run's term frequencies, under the online path's rule: none for a column with too few values."""
    tables = build_tf_tables(records, Scorer.compiled(model.model, model.model_id).tf_columns)
    return {
        column: table if records.column(column).length() - records.column(column).null_count >= MIN_POPULATION else {}
        for column, table in tables.items()
    }


def relink(
    *,
    engine: Engine,
    model: TrainedModel,
    thresholds: Thresholds,
    actor: str = "relink",
    dry_run: bool = False,
    commit_every: int = 500,
    num_chunks: int | None = None,
    predictor: Callable[..., pa.Table] = predict_links,
    blocking_rules: Iterable[tuple[str, ...]] = BATCH_BLOCKING_RULES,
) -> RelinkReport:
    """Score all current source records with ``model`` and merge / review what the online path missed.

    See the module docstring for the rules. ``commit_every``: proposals per transaction.
    ``num_chunks``: passed to ``linkage.batch.predict_links`` (memory bound on large stores).
    ``predictor``: the engine scoring the pairs, called as ``predict_links`` is (e.g. ``linkage.spark``'s
    ``predict_links_spark`` with its session bound): only where the pairs are computed changes.
    ``blocking_rules``: the candidate pairs' equality rules (e.g. ``linkage.model.within_province`` of the
    default for a national store).
    """
    if not 0 < thresholds.review < thresholds.auto <= 1:
        raise ValueError("need 0 < review < auto <= 1")
    began = time.perf_counter()
    report = RelinkReport(
        model_id=model.model_id, dry_run=dry_run, thresholds={"auto": thresholds.auto, "review": thresholds.review}
    )
    records = read_source_records(engine)
    report.records = records.num_rows
    read_done = time.perf_counter()
    report.read_seconds = read_done - began

    pairs = predictor(
        records,
        model.model,
        threshold_probability=thresholds.review,
        blocking_rules=tuple(blocking_rules),
        num_chunks=num_chunks,
    )
    report.pairs_scored = pairs.num_rows
    report.cross_person_pairs, chosen = proposals(records, pairs)
    report.proposals = len(chosen)
    features, members = _involved(records, chosen)
    scorer = Scorer.compiled(model.model, model.model_id).with_tf_tables(_tf_tables(records, model))
    del records, pairs
    predict_done = time.perf_counter()
    report.predict_seconds = predict_done - read_done

    with engine.connect() as conn:
        applier = _Applier(
            conn,
            features=features,
            members=members,
            scorer=scorer,
            thresholds=thresholds,
            model_id=model.model_id,
            actor=actor,
            report=report,
        )
        for done, proposal in enumerate(chosen, start=1):
            applier.apply(proposal)
            if not dry_run and done % commit_every == 0:
                conn.commit()
        report.apply_seconds = time.perf_counter() - predict_done
        report.seconds = time.perf_counter() - began
        if dry_run:
            conn.rollback()
        else:
            details = {k: v for k, v in report.as_dict().items() if k != "dry_run"}
            L.emit(conn, "relink_run", actor=actor, details=details)
            conn.commit()
    return report
