"""``/api/v1/reviews``: the data stewards' queue of ambiguous matches, and their decisions.

Stewards only (an admin manages keys, not identities). Reading a review item discloses two records'
demographics, so it needs a purpose of use (``HOPERAT``, healthcare operations) and writes an audit event
like any other read of patient data (refusals included). Decisions are audited the same way, in the
decision's own transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.audited import STEWARD, AuditedRead, audited_read
from api.params import DbId, Offset
from api.schemas import ErrorOut
from mpi.identity import links as L
from mpi.identity.review import (
    QueueFilter,
    ReviewView,
    Verdict,
    action_of_review,
    get_review,
    next_review,
    queue,
    resolve_review,
    skip_review,
)

router = APIRouter(prefix="/api/v1/reviews", tags=["review"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut}, **ERRORS}


def steward_read(action: str) -> Any:
    """The dependency of a steward route: stewards only, purpose ``HOPERAT``, one audit event per call
    (refusals included) naming the route (:func:`api.audited.audited_read`); a steward working the queue is
    not metered."""
    return Depends(audited_read(action, STEWARD, limited=False))


QueueRead = Annotated[AuditedRead, steward_read("review_queue")]
ItemRead = Annotated[AuditedRead, steward_read("review_read")]
DecisionRead = Annotated[AuditedRead, steward_read("review_decision")]
SkipRead = Annotated[AuditedRead, steward_read("review_skip")]


class CandidateRecordOut(BaseModel):
    source_record_id: int
    facility_code: str
    ma_lk: str
    features: dict[str, Any]


class ReviewOut(BaseModel):
    id: int
    status: str
    reason: str = Field(description="national_id_conflict, model_band, facility_patient_code_conflict, relink...")
    match_probability: float | None
    match_weight: float | None
    model_id: str | None
    created_at: datetime
    source_record_id: int
    record_person_id: int
    candidate_person_id: int
    facility_code: str
    ma_lk: str
    skipped_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    record: dict[str, Any]
    candidate_records: list[CandidateRecordOut]
    seen_seq: int | None = Field(default=None, description="the change-feed position this view reflects")


class ReviewPage(BaseModel):
    total: int
    counts: dict[str, int] = Field(description="open items per reason under the other filters")
    items: list[ReviewOut]


class DecisionIn(BaseModel):
    verdict: Literal["same_person", "different_person"]
    seen_seq: int | None = Field(
        default=None,
        ge=0,
        description="the change-feed position the steward saw the item at (``seen_seq`` of GET /reviews/{id}): "
        "a change to the same records or persons committed since is a 409, not a decision on stale evidence",
    )


class DecisionOut(BaseModel):
    review: ReviewOut
    action_id: int | None = Field(description="the steward action to undo (POST /api/v1/steward/actions/{id}/undo)")
    next_review_id: int | None
    seen_seq: int


def out(view: ReviewView, seen_seq: int | None = None) -> ReviewOut:
    model = ReviewOut.model_validate(view, from_attributes=True)
    model.seen_seq = seen_seq
    return model


def disclosed(view: ReviewView) -> list[int]:
    return [view.source_record_id, *(int(r["source_record_id"]) for r in view.candidate_records)]


@router.get("", response_model=ReviewPage, responses=ERRORS)
def review_queue(
    read: QueueRead,
    status: Annotated[Literal["open", "same_person", "different_person"], Query()] = "open",
    reason: Annotated[str | None, Query(max_length=40)] = None,
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    min_probability: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_probability: Annotated[float | None, Query(ge=0, le=1)] = None,
    older_than_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> ReviewPage:
    """Review items in working order: not skipped first, candidates known at most facilities, oldest."""
    filters = QueueFilter(
        reason=reason,
        facility_code=facility,
        min_probability=min_probability,
        max_probability=max_probability,
        older_than_days=older_than_days,
        status=status,
    )
    with read.transaction() as tx:
        page = queue(conn=tx.conn, filters=filters, limit=limit, offset=offset)
        views = [get_review(conn=tx.conn, review_id=e.id) for e in page.entries]
        tx.disclosed(record_ids=(i for v in views for i in disclosed(v)))
    return ReviewPage(total=page.total, counts=page.counts, items=[out(v) for v in views])


@router.get("/{review_id}", response_model=ReviewOut, responses=ERRORS)
def review_item(review_id: DbId, read: ItemRead) -> ReviewOut:
    with read.transaction(review_id=review_id) as tx:
        seq = L.last_seq(tx.conn)  # first: a change committed after it is newer than what the view shows
        view = get_review(conn=tx.conn, review_id=review_id)
        tx.disclosed(person_id=view.candidate_person_id, record_ids=disclosed(view))
    return out(view, seq)


@router.post("/{review_id}/decision", response_model=DecisionOut, responses=CONFLICT)
def decide_review(review_id: DbId, decision: DecisionIn, read: DecisionRead) -> DecisionOut:
    """Record a verdict: ``same_person`` merges and pins, ``different_person`` forbids the link. Two stewards
    deciding the same item: the first wins, the other gets 409 saying who decided and when."""
    with read.transaction(writes=True, review_id=review_id, verdict=decision.verdict) as tx:
        view = resolve_review(
            conn=tx.conn,
            review_id=review_id,
            verdict=Verdict(decision.verdict),
            actor=read.reader.actor,
            seen_seq=decision.seen_seq,
        )
        tx.disclosed(person_id=view.candidate_person_id, record_ids=disclosed(view))
        action = action_of_review(tx.conn, review_id)
        following = next_review(conn=tx.conn)
        seq = L.last_seq(tx.conn)
    return DecisionOut(review=out(view), action_id=action, next_review_id=following, seen_seq=seq)


@router.post("/{review_id}/skip", response_model=DecisionOut, responses=CONFLICT)
def skip(review_id: DbId, read: SkipRead) -> DecisionOut:
    """ "Not sure": the item stays open and goes to the back of the queue."""
    with read.transaction(writes=True, review_id=review_id) as tx:
        skip_review(conn=tx.conn, review_id=review_id)
        view = get_review(conn=tx.conn, review_id=review_id)
        tx.disclosed(person_id=view.candidate_person_id, record_ids=disclosed(view))
        following = next_review(conn=tx.conn, exclude=review_id)
        seq = L.last_seq(tx.conn)
    return DecisionOut(review=out(view), action_id=None, next_review_id=following, seen_seq=seq)
