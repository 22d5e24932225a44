"""``/api/v1/persons``: find a person, their summary, their timeline across facilities, one encounter.

Clinicians only, with a purpose of use; every answer is one audit event written in the read's
transaction. Searches go in a POST body so identifiers never reach a URL or an access log.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import EngineDep, LinkerDep, ReaderDep
from api.params import DbId, Offset
from api.schemas import ErrorOut
from api.schemas_records import (
    EncounterDetailOut,
    FacilityDemographicsOut,
    FacilityVisitsOut,
    PatientCodeOut,
    PersonSummaryOut,
    RecurringDiagnosisOut,
    SearchIn,
    SearchOut,
    TimelineEntryOut,
    TimelineOut,
)
from mpi.audit.log import record_read
from mpi.records import encounter_detail, find_persons, person_summary, person_timeline

router = APIRouter(prefix="/api/v1/persons", tags=["records"])
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}, **_ERRORS}
PersonId = DbId


@router.post("/search", response_model=SearchOut, responses={422: {"model": ErrorOut}, **_ERRORS})
def search(body: SearchIn, reader: ReaderDep, engine: EngineDep, linker: LinkerDep) -> SearchOut:
    """Ranked candidates with a grade (certain / probable / possible) and the reason; never a silent pick."""
    with engine.begin() as conn:
        result = find_persons(conn=conn, linker=linker, **body.model_dump())
        ids = result.person_ids
        record_read(
            conn=conn, reader=reader, action="search", resource="POST /api/v1/persons/search",
            person_id=ids[0] if len(ids) == 1 else None,
            record_ids=[c.record.encounter_id for c in result.candidates if c.record is not None],
            details={"kind": result.kind, "person_ids": ids},
        )  # fmt: skip
    return SearchOut.model_validate(result)


@router.get("/{person_id}", response_model=PersonSummaryOut, responses=_NOT_FOUND)
def summary(person_id: PersonId, reader: ReaderDep, engine: EngineDep) -> PersonSummaryOut:
    """Identifiers, demographics as each facility recorded them, facilities visited, recurring diagnoses."""
    with engine.begin() as conn:
        s = person_summary(conn=conn, person_id=person_id)
        record_read(
            conn=conn, reader=reader, action="summary", resource="GET /api/v1/persons/{person_id}",
            person_id=s.person.person_id, record_ids=s.encounter_ids,
        )  # fmt: skip
    return PersonSummaryOut(
        person_id=s.person.person_id,
        requested_id=s.person.requested_id,
        merged_from=[p for p in s.person.cluster if p != s.person.person_id],
        encounter_count=s.encounter_count,
        national_ids=list(s.national_ids),
        bhxh_numbers=list(s.bhxh_numbers),
        patient_codes=[PatientCodeOut(facility_code=f, patient_code=c) for f, c in s.patient_codes],
        demographics=[FacilityDemographicsOut.model_validate(d) for d in s.demographics],
        facilities=[FacilityVisitsOut.model_validate(f) for f in s.facilities],
        recurring_diagnoses=[RecurringDiagnosisOut.model_validate(d) for d in s.recurring_diagnoses],
    )


@router.get("/{person_id}/timeline", response_model=TimelineOut, responses=_NOT_FOUND)
def timeline(
    person_id: PersonId,
    reader: ReaderDep,
    engine: EngineDep,
    date_from: Annotated[date | None, Query(description="First day (NGAY_VAO), inclusive")] = None,
    date_to: Annotated[date | None, Query(description="Last day, inclusive")] = None,
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$", description="MA_CSKCB")] = None,
    encounter_type: Annotated[str | None, Query(alias="type", pattern=r"^\d{2}$", description="MA_LOAI_KCB")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> TimelineOut:
    """Encounters across facilities, newest first: date, facility, type, diagnoses, outcome, referrals."""
    with engine.begin() as conn:
        page = person_timeline(
            conn=conn, person_id=person_id, date_from=date_from, date_to=date_to, facility_code=facility,
            encounter_type=encounter_type, limit=limit, offset=offset,
        )  # fmt: skip
        record_read(
            conn=conn, reader=reader, action="timeline", resource="GET /api/v1/persons/{person_id}/timeline",
            person_id=page.person.person_id, record_ids=page.encounter_ids,
        )  # fmt: skip
    return TimelineOut(
        person_id=page.person.person_id,
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        entries=[TimelineEntryOut.model_validate(e) for e in page.entries],
    )


@router.get("/{person_id}/encounters/{encounter_id}", response_model=EncounterDetailOut, responses=_NOT_FOUND)
def encounter(person_id: PersonId, encounter_id: DbId, reader: ReaderDep, engine: EngineDep) -> EncounterDetailOut:
    """One encounter with every table it came with: drugs, services, lab results, notes, papers..."""
    with engine.begin() as conn:
        detail = encounter_detail(conn=conn, encounter_id=encounter_id, person_id=person_id)
        record_read(
            conn=conn, reader=reader, action="encounter",
            resource="GET /api/v1/persons/{person_id}/encounters/{encounter_id}",
            person_id=detail.person_id, record_ids=[encounter_id],
        )  # fmt: skip
    return EncounterDetailOut.from_detail(detail)
