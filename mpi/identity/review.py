"""Data stewards' review: list the ambiguous matches and record their decisions, which are sticky.

- ``same_person``: the record's person and the candidate are one person. The record's person is merged
  into the candidate (a redirect is left) and the record is pinned there (``manual_link``): no automatic
  relink moves it again.
- ``different_person``: the record stays with its own person; a ``different_person`` constraint keeps
  automatic linking from ever putting it with the candidate (or anyone merged into the candidate).
Both are events in the ordered log; nothing is deleted, so every decision can be traced and undone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from mpi.errors import MPIError, NotFound
from mpi.identity import links as L
from mpi.store.models import utcnow


class Verdict(StrEnum):
    SAME_PERSON = "same_person"
    DIFFERENT_PERSON = "different_person"


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


def list_reviews(
    *, conn: Connection, status: str = "open", limit: int = 50, offset: int = 0
) -> tuple[int, list[ReviewView]]:
    r, s = L.reviews, L.sources
    total = int(conn.execute(select(func.count()).select_from(r).where(r.c.status == status)).scalar_one())
    rows = conn.execute(
        select(r, s.c.person_id.label("record_person_id"), s.c.features)
        .join(s, s.c.id == r.c.source_record_id)
        .where(r.c.status == status)
        .order_by(r.c.match_probability.desc().nulls_last(), r.c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return total, [_view(conn, row) for row in rows]


def get_review(*, conn: Connection, review_id: int) -> ReviewView:
    r, s = L.reviews, L.sources
    row = conn.execute(
        select(r, s.c.person_id.label("record_person_id"), s.c.features)
        .join(s, s.c.id == r.c.source_record_id)
        .where(r.c.id == review_id)
    ).first()
    if row is None:
        raise NotFound(f"no review item {review_id}")
    return _view(conn, row)


def _view(conn: Connection, row: Any) -> ReviewView:
    candidate = L.current_person(conn, int(row.candidate_person_id))
    s = L.sources
    records = [
        {"source_record_id": int(c.id), "facility_code": c.facility_code, "ma_lk": c.ma_lk, "features": c.features}
        for c in conn.execute(
            select(s.c.id, s.c.facility_code, s.c.ma_lk, s.c.features).where(s.c.person_id == candidate).limit(20)
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
    )


def resolve_review(*, conn: Connection, review_id: int, verdict: Verdict, actor: str) -> ReviewView:
    """Apply a steward's verdict. A closed review cannot be decided again (open a new one instead)."""
    view = get_review(conn=conn, review_id=review_id)
    if view.status != "open":
        raise ReviewClosed(f"review item {review_id} was already decided ({view.status})")
    record, candidate = view.source_record_id, view.candidate_person_id
    if verdict is Verdict.SAME_PERSON:
        if view.record_person_id != candidate:
            L.merge(conn, from_person_id=view.record_person_id, into_person_id=candidate, actor=actor, rule="steward")
        L.link(
            conn,
            source_record_id=record,
            person_id=candidate,
            state="manual",
            rule="steward",
            actor=actor,
            previous_person_id=view.record_person_id,
        )
        kind = "manual_link"
    else:
        L.link(
            conn,
            source_record_id=record,
            person_id=view.record_person_id,
            state="auto",
            rule="steward",
            actor=actor,
            previous_person_id=view.record_person_id,
        )
        kind = "different_person"
    conn.execute(
        insert(L.constraints),
        {"kind": kind, "source_record_id": record, "person_id": candidate, "actor": actor, "created_at": utcnow()},
    )
    conn.execute(
        update(L.reviews)
        .where(L.reviews.c.id == review_id)
        .values(status=verdict.value, resolved_by=actor, resolved_at=utcnow())
    )
    L.emit(
        conn,
        "review_resolved",
        actor=actor,
        source_record_id=record,
        person_id=candidate,
        details={"review_id": review_id, "verdict": verdict.value},
    )
    return get_review(conn=conn, review_id=review_id)
