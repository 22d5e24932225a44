"""Data stewards' review: the queue of ambiguous matches and the decisions on it, which are sticky.

- ``same_person``: the record's person and the candidate are one person. The record's person is merged
  into the candidate (a redirect is left) and the record is pinned there (``manual_link``): no automatic
  relink moves it again.
- ``different_person``: the record stays with its own person; a ``different_person`` constraint keeps
  automatic linking from ever putting it with the candidate (or anyone merged into the candidate).
- "not sure" (:func:`skip_review`): the item stays open and goes to the back of the queue.

Every change goes through :mod:`mpi.identity.links` as one steward action, so it is in the ordered log
and can be undone exactly (:func:`mpi.identity.links.undo_action`). Two stewards deciding the same item:
the first commit wins, the other gets :class:`ReviewClosed` (409) saying who decided and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Connection, Select, bindparam, distinct, func, select, union_all

from mpi.errors import MPIError, NotFound
from mpi.identity import links as L
from mpi.identity.models import ConstraintKind, LinkState
from mpi.identity.policy import Rule
from mpi.store.models import utcnow


class Verdict(StrEnum):
    SAME_PERSON = "same_person"
    DIFFERENT_PERSON = "different_person"


class Reason(StrEnum):
    """Why an item is in the queue (``review_item.reason``), as the filters of the queue name them."""

    MODEL_BAND = Rule.MODEL_BAND.value
    NATIONAL_ID_CONFLICT = Rule.NATIONAL_ID_CONFLICT.value
    FACILITY_PATIENT_CODE_CONFLICT = Rule.FACILITY_PATIENT_CODE_CONFLICT.value
    PREVIOUS_VERSION_CONFLICT = Rule.PREVIOUS_VERSION_CONFLICT.value
    RELINK = Rule.RELINK.value


class ReviewClosed(MPIError):
    code = "review_closed"
    status = 409


@dataclass(frozen=True, slots=True)
class ReviewView:
    id: int
    status: str
    reason: str
    match_probability: float | None
    match_weight: float | None
    model_id: str | None
    created_at: datetime
    source_record_id: int
    record_person_id: int
    candidate_person_id: int
    record: dict[str, Any]
    """The demographics of the record under review (the model row)."""
    candidate_records: list[dict[str, Any]]
    """The candidate person's records, each with its facility, MA_LK and model row."""
    facility_code: str = ""
    ma_lk: str = ""
    skipped_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """The queue's filters; every field None means "any"."""

    reason: str | None = None
    facility_code: str | None = None
    """MA_CSKCB of the record under review."""
    min_probability: float | None = None
    max_probability: float | None = None
    older_than_days: int | None = None
    status: str = "open"


@dataclass(frozen=True, slots=True)
class QueueEntry:
    id: int
    reason: str
    match_probability: float | None
    created_at: datetime
    skipped_at: datetime | None
    facility_code: str
    ma_lk: str
    source_record_id: int
    record_person_id: int
    candidate_person_id: int
    candidate_facilities: int
    """How many facilities the candidate person already has encounters at (the queue's first sort key)."""


@dataclass(frozen=True, slots=True)
class Queue:
    total: int
    counts: dict[str, int]
    """Open items per reason, under the other filters."""
    entries: list[QueueEntry] = field(default_factory=list)


def _filtered(query: Select[Any], f: QueueFilter, *, with_reason: bool = True) -> Select[Any]:
    r, s = L.reviews, L.sources
    query = query.where(r.c.status == f.status)
    if with_reason and f.reason:
        query = query.where(r.c.reason == f.reason)
    if f.facility_code:
        query = query.where(s.c.facility_code == f.facility_code)
    if f.min_probability is not None:
        query = query.where(r.c.match_probability >= f.min_probability)
    if f.max_probability is not None:
        query = query.where(r.c.match_probability < f.max_probability)
    if f.older_than_days is not None:
        query = query.where(r.c.created_at <= utcnow() - timedelta(days=f.older_than_days))
    return query


def _facility_count() -> Any:
    s2 = L.sources.alias("candidate_source")
    return (
        select(func.count(distinct(s2.c.facility_code)))
        .where(s2.c.person_id == L.reviews.c.candidate_person_id)
        .scalar_subquery()
    )


def queue(*, conn: Connection, filters: QueueFilter | None = None, limit: int = 50, offset: int = 0) -> Queue:
    """The queue in working order: items not skipped first, then candidates already known at several
    facilities (a wrong merge there touches the most), then the oldest."""
    f = filters or QueueFilter()
    r, s = L.reviews, L.sources
    joined = r.join(s, s.c.id == r.c.source_record_id)
    total = int(conn.execute(_filtered(select(func.count()).select_from(joined), f)).scalar_one())
    counts = {
        str(row.reason): int(row.n)
        for row in conn.execute(
            _filtered(select(r.c.reason, func.count().label("n")).select_from(joined), f, with_reason=False).group_by(
                r.c.reason
            )
        )
    }
    facilities = _facility_count().label("facilities")
    rows = conn.execute(
        _filtered(
            select(
                r.c.id,
                r.c.reason,
                r.c.match_probability,
                r.c.created_at,
                r.c.skipped_at,
                r.c.source_record_id,
                r.c.candidate_person_id,
                s.c.facility_code,
                s.c.ma_lk,
                s.c.person_id,
                facilities,
            ).select_from(joined),
            f,
        )
        .order_by(r.c.skipped_at.is_not(None), r.c.skipped_at, facilities.desc(), r.c.created_at, r.c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return Queue(
        total=total,
        counts=counts,
        entries=[
            QueueEntry(
                id=int(x.id),
                reason=str(x.reason),
                match_probability=x.match_probability,
                created_at=x.created_at,
                skipped_at=x.skipped_at,
                facility_code=str(x.facility_code),
                ma_lk=str(x.ma_lk),
                source_record_id=int(x.source_record_id),
                record_person_id=int(x.person_id),
                candidate_person_id=int(x.candidate_person_id),
                candidate_facilities=int(x.facilities or 0),
            )
            for x in rows
        ],
    )


def next_review(*, conn: Connection, filters: QueueFilter | None = None, exclude: int | None = None) -> int | None:
    """The id of the item a steward should see next (after a decision: the queue's new head)."""
    for entry in queue(conn=conn, filters=filters, limit=2).entries:
        if entry.id != exclude:
            return entry.id
    return None


def list_reviews(
    *, conn: Connection, status: str = "open", limit: int = 50, offset: int = 0
) -> tuple[int, list[ReviewView]]:
    page = queue(conn=conn, filters=QueueFilter(status=status), limit=limit, offset=offset)
    return page.total, [get_review(conn=conn, review_id=e.id) for e in page.entries]


def get_review(*, conn: Connection, review_id: int) -> ReviewView:
    r, s = L.reviews, L.sources
    row = conn.execute(
        select(r, s.c.person_id.label("record_person_id"), s.c.features, s.c.facility_code, s.c.ma_lk)
        .join(s, s.c.id == r.c.source_record_id)
        .where(r.c.id == review_id)
    ).first()
    if row is None:
        raise NotFound(f"no review item {review_id}")
    candidate = L.current_person(conn, int(row.candidate_person_id))
    records = [
        {"source_record_id": int(c.id), "facility_code": c.facility_code, "ma_lk": c.ma_lk, "features": c.features}
        for c in conn.execute(
            select(s.c.id, s.c.facility_code, s.c.ma_lk, s.c.features)
            .where(s.c.person_id == candidate)
            .order_by(s.c.id)
            .limit(20)
        )
    ]
    return ReviewView(
        id=int(row.id),
        status=str(row.status),
        reason=str(row.reason),
        match_probability=row.match_probability,
        match_weight=row.match_weight,
        model_id=row.model_id,
        created_at=row.created_at,
        source_record_id=int(row.source_record_id),
        record_person_id=int(row.record_person_id),
        candidate_person_id=candidate,
        record=dict(row.features),
        candidate_records=records,
        facility_code=str(row.facility_code),
        ma_lk=str(row.ma_lk),
        skipped_at=row.skipped_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )


@dataclass(frozen=True, slots=True)
class DecisionPreview:
    """What a verdict would do, shown before the steward decides."""

    survivor: int
    """The person the record ends with."""
    merged_away: int | None
    """The person merged into the survivor (same person), if any."""
    records_moving: int
    """How many source records (encounters) change person."""


def preview_decision(*, conn: Connection, view: ReviewView, verdict: Verdict) -> DecisionPreview:
    if verdict is Verdict.DIFFERENT_PERSON or view.record_person_id == view.candidate_person_id:
        return DecisionPreview(survivor=view.record_person_id, merged_away=None, records_moving=0)
    moving = int(
        conn.execute(
            select(func.count()).select_from(L.sources).where(L.sources.c.person_id == view.record_person_id)
        ).scalar_one()
    )
    return DecisionPreview(survivor=view.candidate_person_id, merged_away=view.record_person_id, records_moving=moving)


def changes_since(conn: Connection, *, seq: int, source_record_ids: list[int], person_ids: list[int]) -> str | None:
    """A description of the first identity change after ``seq`` touching these records or persons, if any."""
    row = L.first_change_since(conn, seq=seq, source_record_ids=source_record_ids, person_ids=person_ids)
    if row is None:
        return None
    return f"event {row.seq}: {row.kind} by {row.actor} at {row.created_at:%Y-%m-%d %H:%M:%S}"


def _apply_verdict(conn: Connection, *, view: ReviewView, verdict: Verdict, actor: str) -> None:
    record, candidate = view.source_record_id, view.candidate_person_id
    if not L.close_review(conn, review_id=view.id, status=verdict.value, actor=actor):
        raise _closed(conn, view.id)
    if verdict is Verdict.SAME_PERSON:
        if view.record_person_id != candidate:
            L.merge(
                conn, from_person_id=view.record_person_id, into_person_id=candidate, actor=actor, rule=Rule.STEWARD
            )
        L.link(
            conn,
            source_record_id=record,
            person_id=candidate,
            state=LinkState.MANUAL,
            rule=Rule.STEWARD,
            actor=actor,
            previous_person_id=view.record_person_id,
        )
        L.add_constraint(
            conn, kind=ConstraintKind.MANUAL_LINK, source_record_id=record, person_id=candidate, actor=actor
        )
    else:
        L.link(
            conn,
            source_record_id=record,
            person_id=view.record_person_id,
            state=LinkState.AUTO,
            rule=Rule.STEWARD,
            actor=actor,
            previous_person_id=view.record_person_id,
        )
        L.add_constraint(
            conn, kind=ConstraintKind.DIFFERENT_PERSON, source_record_id=record, person_id=candidate, actor=actor
        )


def _closed(conn: Connection, review_id: int) -> ReviewClosed:
    row = conn.execute(
        select(L.reviews.c.status, L.reviews.c.resolved_by, L.reviews.c.resolved_at).where(L.reviews.c.id == review_id)
    ).one()
    when = f" at {row.resolved_at:%Y-%m-%d %H:%M:%S}" if row.resolved_at else ""
    return ReviewClosed(f"review item {review_id} was already decided: {row.status} by {row.resolved_by}{when}")


def resolve_review(
    *, conn: Connection, review_id: int, verdict: Verdict, actor: str, seen_seq: int | None = None
) -> ReviewView:
    """Apply a steward's verdict as one steward action (undoable).

    ``seen_seq``: the feed position the steward's page showed. If a change to the same records or persons
    committed since (a relink, another steward), the decision is refused (409) with what happened, because
    the steward decided on evidence that is no longer current. A closed item is never decided again.
    """
    decide_reviews(conn=conn, review_ids=[review_id], verdict=verdict, actor=actor, seen_seq=seen_seq, kind="decision")
    return get_review(conn=conn, review_id=review_id)


def decide_reviews(
    *,
    conn: Connection,
    review_ids: list[int],
    verdict: Verdict,
    actor: str,
    seen_seq: int | None = None,
    kind: str = "bulk",
    details: dict[str, Any] | None = None,
) -> int:
    """Apply one verdict to several items as one action (one undo); returns the action id. All or nothing."""
    L.lock_feed(conn)  # first: from here on this transaction sees every committed change and is the only writer
    with L.steward_action(
        conn, kind=kind, actor=actor, details={"verdict": verdict.value, "review_ids": review_ids, **(details or {})}
    ) as action_id:
        for review_id in review_ids:
            view = get_review(conn=conn, review_id=review_id)
            if view.status != "open":
                raise _closed(conn, review_id)
            if seen_seq is not None:
                changed = changes_since(
                    conn,
                    seq=seen_seq,
                    source_record_ids=[view.source_record_id],
                    person_ids=[view.record_person_id, view.candidate_person_id],
                )
                if changed is not None:
                    raise L.Conflict(
                        f"review item {review_id} changed after you opened it ({changed}); reload it and decide again",
                        code="changed_since",
                    )
            _apply_verdict(conn, view=view, verdict=verdict, actor=actor)
    return action_id


def skip_review(*, conn: Connection, review_id: int) -> None:
    """ "Not sure": stays open, goes to the back of the queue."""
    L.lock_feed(conn)
    if not L.skip_review(conn, review_id=review_id):
        if conn.execute(select(L.reviews.c.id).where(L.reviews.c.id == review_id)).first() is None:
            raise NotFound(f"no review item {review_id}")
        raise _closed(conn, review_id)


def action_of_review(conn: Connection, review_id: int) -> int | None:
    """The steward action that decided this item (the one an undo reverses), if it is decided."""
    e = L.events
    record = conn.execute(select(L.reviews.c.source_record_id).where(L.reviews.c.id == review_id)).scalar_one_or_none()
    if record is None:
        raise NotFound(f"no review item {review_id}")
    rows = conn.execute(
        select(e.c.action_id, e.c.details)
        .where(e.c.source_record_id == record, e.c.kind == "review_resolved", e.c.action_id.is_not(None))
        .order_by(e.c.seq.desc())
    )
    return next((int(r.action_id) for r in rows if (r.details or {}).get("review_id") == review_id), None)


_OPEN_REVIEW_PARTNERS: Final = union_all(
    select(L.reviews.c.candidate_person_id.label("person_id"))
    .join(L.sources, L.sources.c.id == L.reviews.c.source_record_id)
    .where(L.reviews.c.status == "open", L.sources.c.person_id.in_(bindparam("cluster", expanding=True))),
    select(L.sources.c.person_id)
    .join(L.reviews, L.sources.c.id == L.reviews.c.source_record_id)
    .where(L.reviews.c.status == "open", L.reviews.c.candidate_person_id.in_(bindparam("cluster", expanding=True))),
)
"""The persons an open review item pairs with the persons ``cluster``, on either side. Built once (a Patient
read runs it): SQLAlchemy computes its cache key once, not per read."""


def open_review_partners(*, conn: Connection, cluster: tuple[int, ...]) -> list[int]:
    """The surviving persons an open review item pairs with this person's cluster (on either side): the MPI
    is not sure whether they are one person (FHIR ``Patient.link`` ``seealso``)."""
    partners = conn.execute(_OPEN_REVIEW_PARTNERS, {"cluster": list(cluster)})
    found = set(L.survivors(conn, {int(p) for p in partners.scalars()}).values())
    return sorted(p for p in found if p not in cluster)
