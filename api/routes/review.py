"""``/api/v1/reviews``: the data stewards' queue of ambiguous matches, and their decisions.

Stewards only (an admin manages keys, not identities). Reading a review item discloses two records'
demographics, so it needs a purpose of use (``HOPERAT``, healthcare operations) and writes an audit event
like any other read of patient data. Decisions are audited the same way, in the decision's own transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.audited import STEWARD, check_purpose, reader_of
from api.deps import EngineDep, require_roles
from api.params import DbId, Offset
from api.principal import Principal
from api.schemas import ErrorOut
from mpi.audit.log import Reader, record_read
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
from mpi.keys import Role

router = APIRouter(prefix="/api/v1/reviews", tags=["review"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut}, **ERRORS}


def steward_reader_for(principal: Principal, purpose: str) -> Reader:
    """The audit's reader for a steward: refused without the ``HOPERAT`` purpose of use (checked by the one
    purpose-of-use rule, :func:`api.audited.check_purpose`)."""
    return reader_of(principal, check_purpose(principal, STEWARD, purpose))


def _steward_reader(request: Request, principal: Annotated[Principal, Depends(require_roles(Role.STEWARD))]) -> Reader:
    return steward_reader_for(principal, request.headers.get("X-Purpose-Of-Use", ""))


StewardReader = Annotated[Reader, Depends(_steward_reader)]


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
    reader: StewardReader,
    engine: EngineDep,
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
    with engine.begin() as conn:
        page = queue(conn=conn, filters=filters, limit=limit, offset=offset)
        views = [get_review(conn=conn, review_id=e.id) for e in page.entries]
        record_read(
            conn=conn,
            reader=reader,
            action="review_queue",
            resource="/api/v1/reviews",
            record_ids=(i for v in views for i in disclosed(v)),
        )
    return ReviewPage(total=page.total, counts=page.counts, items=[out(v) for v in views])


@router.get("/{review_id}", response_model=ReviewOut, responses=ERRORS)
def review_item(review_id: DbId, reader: StewardReader, engine: EngineDep) -> ReviewOut:
    with engine.begin() as conn:
        seq = L.last_seq(conn)  # first: a change committed after it is newer than what the view shows
        view = get_review(conn=conn, review_id=review_id)
        record_read(
            conn=conn,
            reader=reader,
            action="review_read",
            resource="/api/v1/reviews/{id}",
            person_id=view.candidate_person_id,
            record_ids=disclosed(view),
        )
    return out(view, seq)


@router.post("/{review_id}/decision", response_model=DecisionOut, responses=CONFLICT)
def decide_review(review_id: DbId, decision: DecisionIn, reader: StewardReader, engine: EngineDep) -> DecisionOut:
    """Record a verdict: ``same_person`` merges and pins, ``different_person`` forbids the link. Two stewards
    deciding the same item: the first wins, the other gets 409 saying who decided and when."""
    with engine.begin() as conn:
        view = resolve_review(
            conn=conn,
            review_id=review_id,
            verdict=Verdict(decision.verdict),
            actor=reader.actor,
            seen_seq=decision.seen_seq,
        )
        record_read(
            conn=conn,
            reader=reader,
            action="review_decision",
            resource="/api/v1/reviews/{id}/decision",
            person_id=view.candidate_person_id,
            record_ids=disclosed(view),
            details={"verdict": decision.verdict},
        )
        action = action_of_review(conn, review_id)
        following = next_review(conn=conn)
        seq = L.last_seq(conn)
    return DecisionOut(review=out(view), action_id=action, next_review_id=following, seen_seq=seq)


@router.post("/{review_id}/skip", response_model=DecisionOut, responses=CONFLICT)
def skip(review_id: DbId, reader: StewardReader, engine: EngineDep) -> DecisionOut:
    """ "Not sure": the item stays open and goes to the back of the queue."""
    with engine.begin() as conn:
        skip_review(conn=conn, review_id=review_id)
        view = get_review(conn=conn, review_id=review_id)
        record_read(
            conn=conn,
            reader=reader,
            action="review_skip",
            resource="/api/v1/reviews/{id}/skip",
            person_id=view.candidate_person_id,
            record_ids=disclosed(view),
        )
        following = next_review(conn=conn, exclude=review_id)
        seq = L.last_seq(conn)
    return DecisionOut(review=out(view), action_id=None, next_review_id=following, seen_seq=seq)
