"""``/api/v1/reviews``: the data stewards' queue of ambiguous matches, and their decisions.

Stewards only (an admin manages keys, not identities). Reading a review item discloses two records'
demographics, so it needs a purpose of use (``HOPERAT``, healthcare operations) and writes an audit event
like any other read of patient data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.audited import STEWARD, AuditedRead, audited_read
from api.params import DbId, Offset
from api.schemas import ErrorOut
from mpi.identity.review import ReviewView, Verdict, get_review, list_reviews, resolve_review

router = APIRouter(prefix="/api/v1/reviews", tags=["review"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
}


QueueRead = Annotated[AuditedRead, Depends(audited_read("review_queue", STEWARD))]
ItemRead = Annotated[AuditedRead, Depends(audited_read("review_read", STEWARD))]
DecisionRead = Annotated[AuditedRead, Depends(audited_read("review_decision", STEWARD))]


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
    record: dict[str, Any]
    candidate_records: list[CandidateRecordOut]


class ReviewPage(BaseModel):
    total: int
    items: list[ReviewOut]


class DecisionIn(BaseModel):
    verdict: Literal["same_person", "different_person"]


def _out(view: ReviewView) -> ReviewOut:
    return ReviewOut.model_validate(view, from_attributes=True)


def _disclosed(view: ReviewView) -> list[int]:
    return [view.source_record_id, *(int(r["source_record_id"]) for r in view.candidate_records)]


@router.get("", response_model=ReviewPage, responses=_ERRORS)
def review_queue(
    read: QueueRead,
    status: Annotated[Literal["open", "same_person", "different_person"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> ReviewPage:
    """Review items, most probable first."""
    with read.transaction() as tx:
        total, views = list_reviews(conn=tx.conn, status=status, limit=limit, offset=offset)
        tx.disclosed(record_ids=(i for v in views for i in _disclosed(v)))
    return ReviewPage(total=total, items=[_out(v) for v in views])


@router.get("/{review_id}", response_model=ReviewOut, responses=_ERRORS)
def review_item(review_id: DbId, read: ItemRead) -> ReviewOut:
    with read.transaction() as tx:
        view = get_review(conn=tx.conn, review_id=review_id)
        tx.disclosed(person_id=view.candidate_person_id, record_ids=_disclosed(view))
    return _out(view)


@router.post("/{review_id}/decision", response_model=ReviewOut, responses={409: {"model": ErrorOut}, **_ERRORS})
def decide_review(review_id: DbId, decision: DecisionIn, read: DecisionRead) -> ReviewOut:
    """Record a steward's verdict: ``same_person`` merges and pins, ``different_person`` forbids the link."""
    with read.transaction() as tx:
        view = resolve_review(
            conn=tx.conn, review_id=review_id, verdict=Verdict(decision.verdict), actor=read.reader.actor
        )
        tx.disclosed(
            person_id=view.candidate_person_id, record_ids=_disclosed(view), details={"verdict": decision.verdict}
        )
    return _out(view)
