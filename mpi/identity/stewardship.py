"""A steward's person tools: identity history, merging two persons, moving one record, bulk decisions,
and the workbench's metrics.

Changes go through :mod:`mpi.identity.links` as steward actions (each undoable as a whole); reads never
change anything. Nothing here logs a value.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from sqlalchemy import Connection, and_, func, or_, select

from linkage import IDENTITY_ELEMENTS, PartialDate, Scorer, check_cccd
from linkage.scorer import Explanation, TfTables, explain
from mpi.errors import NotFound
from mpi.identity import links as L
from mpi.identity.models import ConstraintKind, LinkState
from mpi.identity.policy import Rule
from mpi.identity.review import QueueFilter, Reason, Verdict, decide_reviews, queue
from mpi.store.content import content_tables
from mpi.store.models import Encounter, utcnow

encounters = Encounter.__table__  # type: ignore[attr-defined]
xml1 = content_tables["XML1"]

IDENTITY_FIELDS: Final = tuple(name for name in IDENTITY_ELEMENTS if name != "MAHUYEN_CU_TRU")
"""The XML1 elements a steward compares, shown exactly as each facility sent them: the identity elements
linking reads, without the district (empty since the 2025 reform, and the commune code names its commune on
its own), which would otherwise mark the same address as differing between an old and a new export."""


@dataclass(frozen=True, slots=True)
class SourceRecordView:
    source_record_id: int
    encounter_id: int
    facility_code: str
    ma_lk: str
    version: int
    person_id: int
    link_state: str
    features: dict[str, Any]
    raw: dict[str, str | None]
    """The identity elements of XML1 as sent (text, unknown elements aside)."""


def source_records(
    conn: Connection, *, source_record_ids: list[int] | None = None, person_id: int | None = None
) -> list[SourceRecordView]:
    s = L.sources
    query = (
        select(
            s.c.id,
            s.c.encounter_id,
            s.c.facility_code,
            s.c.ma_lk,
            s.c.version,
            s.c.person_id,
            s.c.link_state,
            s.c.features,
            xml1.c.raw,
        )
        .select_from(s)
        .outerjoin(xml1, and_(xml1.c.encounter_id == s.c.encounter_id, xml1.c.row_no == 1))
        .order_by(s.c.id)
    )
    if source_record_ids is not None:
        query = query.where(s.c.id.in_(source_record_ids))
    if person_id is not None:
        query = query.where(s.c.person_id == person_id)
    return [
        SourceRecordView(
            source_record_id=int(r.id),
            encounter_id=int(r.encounter_id),
            facility_code=str(r.facility_code),
            ma_lk=str(r.ma_lk),
            version=int(r.version),
            person_id=int(r.person_id),
            link_state=str(r.link_state),
            features=dict(r.features or {}),
            raw={name: _text((r.raw or {}).get(name)) for name in IDENTITY_FIELDS},
        )
        for r in conn.execute(query)
    ]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


# ---- CCCD findings --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CccdFinding:
    source_record_id: int
    national_id_kind: str | None
    issues: tuple[str, ...]
    """Failed checks of the number against this record (``linkage.check_cccd``): sex, birth_year..."""


def cccd_findings(records: list[dict[str, Any]]) -> list[CccdFinding]:
    """For each record with a 12-digit CCCD: does the number agree with the record's own sex and birth year?"""
    out = []
    for row in records:
        features = row["features"]
        number = features.get("national_id")
        if not number or features.get("national_id_kind") != "CCCD":
            continue
        year = features.get("dob_year")
        issues = check_cccd(str(number), sex=features.get("sex"), dob=PartialDate(int(year)) if year else None)
        out.append(CccdFinding(int(row["source_record_id"]), features.get("national_id_kind"), issues))
    return out


def _corroborates(number: str, features: dict[str, Any]) -> bool:
    year = features.get("dob_year")
    if not year:
        return False
    issues = check_cccd(number, dob=PartialDate(int(year)))
    return "birth_year" not in issues and "birth_century" not in issues


# ---- history --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HistoryEntry:
    seq: int
    kind: str
    at: datetime
    actor: str
    source_record_id: int | None
    person_id: int | None
    other_person_id: int | None
    rule: str | None
    match_weight: float | None
    match_probability: float | None
    model_id: str | None
    action_id: int | None
    undone: bool
    details: dict[str, Any] | None


def person_history(conn: Connection, *, person_id: int, limit: int = 500) -> list[HistoryEntry]:
    """Every event about the person or its records (links, merges, unmerges, decisions), newest first,
    with the evidence of the link it wrote (rule, match weight, probability, model id)."""
    e, lk, a = L.events, L.links, L.actions
    record_ids = select(L.sources.c.id).where(L.sources.c.person_id == person_id)
    rows = conn.execute(
        select(
            e.c.seq,
            e.c.kind,
            e.c.created_at,
            e.c.actor,
            e.c.source_record_id,
            e.c.person_id,
            e.c.other_person_id,
            e.c.action_id,
            e.c.details,
            lk.c.rule,
            lk.c.match_weight,
            lk.c.match_probability,
            lk.c.model_id,
            a.c.undone_by_id,
        )
        .select_from(e.outerjoin(lk, lk.c.id == e.c.link_id).outerjoin(a, a.c.id == e.c.action_id))
        .where(
            or_(
                e.c.person_id == person_id,
                e.c.other_person_id == person_id,
                e.c.source_record_id.in_(record_ids),
            )
        )
        .order_by(e.c.seq.desc())
        .limit(limit)
    )
    return [
        HistoryEntry(
            seq=int(r.seq),
            kind=str(r.kind),
            at=r.created_at,
            actor=str(r.actor),
            source_record_id=r.source_record_id,
            person_id=r.person_id,
            other_person_id=r.other_person_id,
            rule=r.rule or (r.details or {}).get("rule"),
            match_weight=r.match_weight,
            match_probability=r.match_probability,
            model_id=r.model_id or (r.details or {}).get("model_id"),
            action_id=r.action_id,
            undone=r.undone_by_id is not None,
            details=r.details,
        )
        for r in rows
    ]


def person_exists(conn: Connection, person_id: int) -> None:
    if conn.execute(select(L.persons.c.id).where(L.persons.c.id == person_id)).first() is None:
        raise NotFound(f"no person {person_id}", code="person_not_found")


@dataclass(frozen=True, slots=True)
class PersonView:
    """What a steward sees of a person: merge links, source records and history (of the survivor)."""

    links: L.PersonLinks
    records: list[SourceRecordView]
    history: list[HistoryEntry]


def person_view(conn: Connection, person_id: int) -> PersonView:
    """A person's links, and the source records and history of the person they resolve to; NotFound."""
    person_exists(conn, person_id)
    links = L.person_links(conn, person_id)
    return PersonView(
        links=links,
        records=source_records(conn, person_id=links.survivor),
        history=person_history(conn, person_id=links.survivor),
    )


# ---- merge and move -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MergePreview:
    survivor: int
    merged_away: int
    records_moving: int
    conflicts: list[str]
    """Why the merge is refused: a steward said a record of one is not the other."""


def preview_merge(conn: Connection, *, from_person_id: int, into_person_id: int) -> MergePreview:
    person_exists(conn, from_person_id)
    person_exists(conn, into_person_id)
    survivor, away = L.current_person(conn, into_person_id), L.current_person(conn, from_person_id)
    conflicts: list[str] = []
    if survivor == away:
        conflicts.append(f"person {from_person_id} and person {into_person_id} are already one person ({survivor})")
    s = L.sources
    away_records = [int(r) for r in conn.execute(select(s.c.id).where(s.c.person_id == away)).scalars()]
    if survivor != away and L.pair_constraints(conn, away, survivor).kept_apart:
        conflicts.append(
            f"a steward decided that a record of person {away} is not person {survivor}: undo that decision first"
        )
    return MergePreview(survivor=survivor, merged_away=away, records_moving=len(away_records), conflicts=conflicts)


def merge_persons(conn: Connection, *, from_person_id: int, into_person_id: int, actor: str) -> int:
    """Merge ``from`` into ``into`` by a steward's hand; returns the action id (undoable)."""
    L.lock_feed(conn)
    preview = preview_merge(conn, from_person_id=from_person_id, into_person_id=into_person_id)
    if preview.conflicts:
        raise L.Conflict("; ".join(preview.conflicts), code="merge_refused")
    with L.steward_action(
        conn, kind="merge", actor=actor, details={"from": preview.merged_away, "into": preview.survivor}
    ) as action_id:
        L.merge(
            conn, from_person_id=preview.merged_away, into_person_id=preview.survivor, actor=actor, rule=Rule.STEWARD
        )
    return action_id


def move_record(conn: Connection, *, source_record_id: int, to_person_id: int | None, actor: str) -> tuple[int, int]:
    """Move one source record to another person (or a new one when None), pinned there like a decision.

    Returns (action id, the person it now belongs to).
    """
    L.lock_feed(conn)
    s = L.sources
    row = conn.execute(select(s.c.person_id).where(s.c.id == source_record_id)).first()
    if row is None:
        raise NotFound(f"no source record {source_record_id}")
    current = int(row.person_id)
    if to_person_id is not None:
        person_exists(conn, to_person_id)
        to_person_id = L.current_person(conn, to_person_id)
        if to_person_id == current:
            raise L.Conflict(f"source record {source_record_id} is already with person {current}", code="no_change")
        if to_person_id in L.blocked_persons(conn, [source_record_id]):
            raise L.Conflict(
                f"a steward decided that source record {source_record_id} is not person {to_person_id}",
                code="move_refused",
            )
    with L.steward_action(
        conn, kind="move", actor=actor, details={"source_record_id": source_record_id, "from": current}
    ) as action_id:
        target = to_person_id if to_person_id is not None else L.create_person(conn, actor=actor)
        L.link(
            conn,
            source_record_id=source_record_id,
            person_id=target,
            state=LinkState.MANUAL,
            rule=Rule.STEWARD_MOVE,
            actor=actor,
            previous_person_id=current,
        )
        L.add_constraint(
            conn, kind=ConstraintKind.MANUAL_LINK, source_record_id=source_record_id, person_id=target, actor=actor
        )
    return action_id, target


# ---- bulk -----------------------------------------------------------------------------------------
BULK_RULES: Final = {
    "cccd_birth_year_one_side": (
        Reason.NATIONAL_ID_CONFLICT,
        Verdict.DIFFERENT_PERSON,
        "Same CCCD, but its birth-year digits agree with one side only: the other side carries someone "
        "else's number (often a parent's), so they are different people.",
    ),
}


@dataclass(frozen=True, slots=True)
class BulkPreview:
    rule: str
    verdict: Verdict
    review_ids: list[int]
    examined: int


def preview_bulk(conn: Connection, *, rule: str, facility_code: str | None = None) -> BulkPreview:
    """The open items a bulk rule applies to, with uniform evidence only; nothing is changed."""
    if rule not in BULK_RULES:
        raise NotFound(f"no bulk rule {rule!r}; known: {', '.join(BULK_RULES)}", code="bulk_rule_unknown")
    reason, verdict, _ = BULK_RULES[rule]
    page = queue(conn=conn, filters=QueueFilter(reason=reason.value, facility_code=facility_code), limit=100_000)
    chosen: list[int] = []
    for entry in page.entries:
        (record,) = source_records(conn, source_record_ids=[entry.source_record_id])
        number = record.features.get("national_id")
        if not number or record.features.get("national_id_kind") != "CCCD":
            continue
        others = [
            r
            for r in source_records(conn, person_id=L.current_person(conn, entry.candidate_person_id))
            if r.features.get("national_id") == number
        ]
        if not others:
            continue
        mine = _corroborates(str(number), record.features)
        theirs = {_corroborates(str(number), r.features) for r in others}
        if len(theirs) == 1 and mine != theirs.pop():
            chosen.append(entry.id)
    return BulkPreview(rule=rule, verdict=verdict, review_ids=chosen, examined=len(page.entries))


def apply_bulk(
    conn: Connection, *, rule: str, actor: str, expected: list[int], facility_code: str | None = None
) -> int:
    """Decide the previewed items as one action (one undo). ``expected`` is the previewed id list: if the
    set changed meanwhile, nothing is applied (409) and the steward previews again."""
    L.lock_feed(conn)
    preview = preview_bulk(conn, rule=rule, facility_code=facility_code)
    if sorted(preview.review_ids) != sorted(expected):
        raise L.Conflict(
            f"the items matching {rule} changed since the preview ({len(expected)} then, {len(preview.review_ids)} "
            "now): preview again",
            code="changed_since",
        )
    if not preview.review_ids:
        raise L.Conflict(f"no open item matches {rule}", code="nothing_to_do")
    return decide_reviews(
        conn=conn,
        review_ids=preview.review_ids,
        verdict=preview.verdict,
        actor=actor,
        kind="bulk",
        details={"rule": rule},
    )


# ---- metrics --------------------------------------------------------------------------------------
AGE_BUCKETS: Final = (("<1d", 1), ("1-7d", 7), ("7-30d", 30), (">30d", None))
PROBABILITY_BANDS: Final = (0.3, 0.5, 0.7, 0.9, 0.99, 1.0000001)


@dataclass(frozen=True, slots=True)
class BandAgreement:
    band: str
    decided: int
    same_person: int
    different_person: int

    @property
    def same_rate(self) -> float | None:
        return self.same_person / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class Metrics:
    backlog: dict[str, dict[str, int]]
    """reason -> age bucket -> open items."""
    decisions_per_day: dict[str, int]
    decisions_per_steward: dict[str, int]
    agreement: list[BandAgreement]
    """Per model probability band: how often stewards said "same person" (feeds the threshold choice)."""
    actions: int
    undone: int

    @property
    def undo_rate(self) -> float | None:
        return self.undone / self.actions if self.actions else None


def _band(p: float | None) -> str | None:
    if p is None:
        return None
    for low, high in pairwise(PROBABILITY_BANDS):
        if low <= p < high:
            return f"{low:.2f}-{min(high, 1.0):.2f}"
    return f"<{PROBABILITY_BANDS[0]:.2f}"


def metrics(conn: Connection, *, now: datetime | None = None) -> Metrics:
    now = now or utcnow()
    r = L.reviews
    backlog: dict[str, dict[str, int]] = defaultdict(lambda: {name: 0 for name, _ in AGE_BUCKETS})
    for row in conn.execute(select(r.c.reason, r.c.created_at).where(r.c.status == "open")):
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=now.tzinfo)
        age = now - created
        for name, days in AGE_BUCKETS:
            if days is None or age < timedelta(days=days):
                backlog[str(row.reason)][name] += 1
                break
    per_day: Counter[str] = Counter()
    per_steward: Counter[str] = Counter()
    bands: dict[str, list[int]] = {}
    for row in conn.execute(
        select(r.c.status, r.c.resolved_by, r.c.resolved_at, r.c.match_probability).where(r.c.status != "open")
    ):
        if row.resolved_at is not None:
            per_day[f"{row.resolved_at:%Y-%m-%d}"] += 1
        per_steward[str(row.resolved_by)] += 1
        band = _band(row.match_probability)
        if band is not None:
            counts = bands.setdefault(band, [0, 0])
            counts[0 if row.status == Verdict.SAME_PERSON.value else 1] += 1
    a = L.actions
    actions = int(conn.execute(select(func.count()).select_from(a).where(a.c.kind != "undo")).scalar_one())
    undone = int(
        conn.execute(
            select(func.count()).select_from(a).where(a.c.kind != "undo", a.c.undone_by_id.is_not(None))
        ).scalar_one()
    )
    return Metrics(
        backlog={k: dict(v) for k, v in sorted(backlog.items())},
        decisions_per_day=dict(sorted(per_day.items())),
        decisions_per_steward=dict(per_steward.most_common()),
        agreement=[
            BandAgreement(band=b, decided=s + d, same_person=s, different_person=d)
            for b, (s, d) in sorted(bands.items())
        ],
        actions=actions,
        undone=undone,
    )


# ---- the evidence of a review item ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CandidateEvidence:
    record: SourceRecordView
    explanation: Explanation
    """The scorer's waterfall for (record under review, this candidate record)."""


@dataclass(frozen=True, slots=True)
class ItemEvidence:
    record: SourceRecordView
    candidates: list[CandidateEvidence]
    """The candidate person's records, strongest match first."""
    cccd: list[CccdFinding]
    same_cccd: bool
    """The record and at least one candidate record carry the same CCCD."""
    differing_fields: dict[int, set[str]]
    """candidate source record -> XML1 elements whose value differs from the record under review."""


def item_evidence(
    conn: Connection,
    *,
    source_record_id: int,
    candidate_person_id: int,
    scorer: Scorer,
    tf_tables_for: Callable[[list[Mapping[str, Any]]], TfTables],
    limit: int = 20,
) -> ItemEvidence:
    """Both sides as sent and as normalised, the match weights of each candidate record (Splink's waterfall
    computed by ``scorer`` with the current term frequencies), and the CCCD checks."""
    (record,) = source_records(conn, source_record_ids=[source_record_id])
    others = source_records(conn, person_id=candidate_person_id)[:limit]
    tf = scorer.with_tf_tables(tf_tables_for([record.features, *(o.features for o in others)]))
    scored = sorted(
        (CandidateEvidence(o, explain(tf, record.features, o.features)) for o in others),
        key=lambda c: -c.explanation.match_weight,
    )
    rows = [{"source_record_id": r.source_record_id, "features": r.features} for r in (record, *others)]
    number = record.features.get("national_id")
    return ItemEvidence(
        record=record,
        candidates=scored,
        cccd=cccd_findings(rows),
        same_cccd=bool(number) and any(o.features.get("national_id") == number for o in others),
        differing_fields={
            o.source_record_id: {f for f in IDENTITY_FIELDS if (o.raw.get(f) or "") != (record.raw.get(f) or "")}
            for o in others
        },
    )
