"""``/api/v1/reviews``: the data stewards' queue of ambiguous matches, and their decisions.

Reading a review item discloses two records' demographics, so it needs a purpose of use (``HOPERAT``,
healthcare operations) and writes an audit event like any other read of patient data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.deps import EngineDep, require_roles
from api.params import DbId, Offset
from api.principal import Principal
from api.schemas import ErrorOut
from mpi.audit.log import Reader, record_read
from mpi.errors import PermissionDenied
from mpi.identity.review import ReviewView, Verdict, get_review, list_reviews, resolve_review
from mpi.keys import Role

router = APIRouter(prefix="/api/v1/reviews", tags=["review"])
STEWARD_PURPOSES = {"HOPERAT": "healthcare operations (data stewardship)"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
}


def _steward_reader(
    request: Request, principal: Annotated[Principal, Depends(require_roles(Role.STEWARD, Role.ADMIN))]
) -> Reader:
    purpose = request.headers.get("X-Purpose-Of-Use", "").strip().upper()
    if purpose not in STEWARD_PURPOSES:
        raise PermissionDenied(
            "reviewing matches discloses patient data: send X-Purpose-Of-Use: HOPERAT (healthcare operations)",
            code="purpose_required" if not purpose else "purpose_invalid",
        )
    return Reader(actor=principal.submitter_tag, role=principal.role.value, facility_code=None, purpose=purpose)


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
    reader: StewardReader,
    engine: EngineDep,
    status: Annotated[Literal["open", "same_person", "different_person"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> ReviewPage:
    """Review items, most probable first."""
    with engine.begin() as conn:
        total, views = list_reviews(conn=conn, status=status, limit=limit, offset=offset)
        record_read(
            conn=conn,
            reader=reader,
            action="review_queue",
            resource="/api/v1/reviews",
            record_ids=(i for v in views for i in _disclosed(v)),
        )
    return ReviewPage(total=total, items=[_out(v) for v in views])


@router.get("/{review_id}", response_model=ReviewOut, responses=_ERRORS)
def review_item(review_id: DbId, reader: StewardReader, engine: EngineDep) -> ReviewOut:
    with engine.begin() as conn:
        view = get_review(conn=conn, review_id=review_id)
        record_read(
            conn=conn,
            reader=reader,
            action="review_read",
            resource="/api/v1/reviews/{id}",
            person_id=view.candidate_person_id,
            record_ids=_disclosed(view),
        )
    return _out(view)


@router.post("/{review_id}/decision", response_model=ReviewOut, responses={409: {"model": ErrorOut}, **_ERRORS})
def decide_review(
    review_id: DbId, decision: DecisionIn, reader: StewardReader, engine: EngineDep
) -> ReviewOut:
    """Record a steward's verdict: ``same_person`` merges and pins, ``different_person`` forbids the link."""
    with engine.begin() as conn:
        view = resolve_review(conn=conn, review_id=review_id, verdict=Verdict(decision.verdict), actor=reader.actor)
        record_read(
            conn=conn,
            reader=reader,
            action="review_decision",
            resource="/api/v1/reviews/{id}/decision",
            person_id=view.candidate_person_id,
            record_ids=_disclosed(view),
            details={"verdict": decision.verdict},
        )
    return _out(view)
