"""``/api/v1/referrals`` and ``/api/v1/appointments``: what is coming to the caller's facility.

A clinician sees the referrals addressed to their own facility (with status: pending, received, overdue)
and its upcoming re-visit appointments, each with the person id that opens the timeline. Audited like
every read of patient data.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.audited import CLINICAL, AuditedRead, audited_read
from api.params import Offset
from api.schemas import ErrorOut
from api.schemas_records import AppointmentListOut, ReferralListOut
from mpi.records import incoming_referrals, upcoming_appointments
from mpi.records.referrals import OVERDUE_DAYS

router = APIRouter(prefix="/api/v1", tags=["referrals"])
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
ReferralsRead = Annotated[AuditedRead, Depends(audited_read("referrals", CLINICAL))]
AppointmentsRead = Annotated[AuditedRead, Depends(audited_read("appointments", CLINICAL))]


@router.get("/referrals", response_model=ReferralListOut, responses=_ERRORS)
def referrals(
    read: ReferralsRead,
    status: Annotated[Literal["pending", "received", "overdue"] | None, Query()] = None,
    overdue_days: Annotated[int, Query(ge=1, le=365, description="Pending longer than this is overdue")] = OVERDUE_DAYS,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> ReferralListOut:
    """Referrals (XML13, or XML1 MA_NOI_DEN) addressed to the caller's facility, newest first."""
    facility = read.reader.facility_code
    assert facility is not None  # clinician keys are bound to a facility
    with read.transaction() as tx:
        result = incoming_referrals(
            conn=tx.conn, facility_code=facility, status=status, overdue_days=overdue_days, limit=limit, offset=offset
        )
        tx.disclosed(person_ids=result.person_ids, record_ids=result.encounter_ids)
    return ReferralListOut.model_validate(result)


@router.get("/appointments", response_model=AppointmentListOut, responses=_ERRORS)
def appointments(
    read: AppointmentsRead,
    date_from: Annotated[date | None, Query(description="First day, inclusive; default today")] = None,
    date_to: Annotated[date | None, Query(description="Last day, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> AppointmentListOut:
    """Upcoming re-visit appointments (XML14 NGAY_HEN_KL) at the caller's facility, soonest first."""
    facility = read.reader.facility_code
    assert facility is not None
    with read.transaction() as tx:
        result = upcoming_appointments(
            conn=tx.conn, facility_code=facility, today=date_from, until=date_to, limit=limit, offset=offset
        )
        tx.disclosed(person_ids=result.person_ids, record_ids=result.encounter_ids)
    return AppointmentListOut.model_validate(result)
