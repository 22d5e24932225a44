"""``/api/v1/persons``: find a person, their summary, their timeline across facilities, one encounter.

Clinicians only, with a purpose of use; every answer is one audit event written in the read's
transaction. Searches go in a POST body so identifiers never reach a URL or an access log.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.audited import CLINICAL, AuditedRead, audited_read
from api.deps import LinkerDep
from api.params import DbId, Offset
from api.schemas import ErrorOut, json_answer
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
from mpi.records import encounter_detail, find_persons, person_summary, person_timeline

router = APIRouter(prefix="/api/v1/persons", tags=["records"])
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}, **_ERRORS}
PersonId = DbId
SearchRead = Annotated[AuditedRead, Depends(audited_read("search", CLINICAL))]
SummaryRead = Annotated[AuditedRead, Depends(audited_read("summary", CLINICAL))]
TimelineRead = Annotated[AuditedRead, Depends(audited_read("timeline", CLINICAL))]
EncounterRead = Annotated[AuditedRead, Depends(audited_read("encounter", CLINICAL))]


@router.post("/search", response_model=SearchOut, responses={422: {"model": ErrorOut}, **_ERRORS})
def search(body: SearchIn, read: SearchRead, linker: LinkerDep) -> SearchOut:
    """Ranked candidates with a grade (certain / probable / possible) and the reason; never a silent pick."""
    with read.transaction() as tx:
        result = find_persons(conn=tx.conn, linker=linker, segmentation=read.segmentation, **body.model_dump())
        tx.disclosed(
            person_ids=result.person_ids, details={"kind": result.kind},
            record_ids=[c.record.encounter_id for c in result.candidates if c.record is not None],
        )  # fmt: skip
    return SearchOut.model_validate(result)


@router.get("/{person_id}", response_model=PersonSummaryOut, responses=_NOT_FOUND)
def summary(person_id: PersonId, read: SummaryRead) -> Response:
    """Identifiers, demographics as each facility recorded them, facilities visited, recurring diagnoses."""
    with read.transaction() as tx:
        seen = tx.person(person_id)
        seg = seen.segmented
        s = person_summary(
            conn=tx.conn, person_id=person_id, exclude=seg.withheld_ids, person=seen.person, encounters=seen.encounters
        )
        tx.disclosed(person_id=s.person.person_id, record_ids=s.encounter_ids)
    return json_answer(
        PersonSummaryOut(
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
            withheld_encounters=s.withheld,
            revealed_encounters=seg.revealed_ids,
        )
    )


@router.get("/{person_id}/timeline", response_model=TimelineOut, responses=_NOT_FOUND)
def timeline(
    person_id: PersonId,
    read: TimelineRead,
    date_from: Annotated[date | None, Query(description="First day (NGAY_VAO), inclusive")] = None,
    date_to: Annotated[date | None, Query(description="Last day, inclusive")] = None,
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$", description="MA_CSKCB")] = None,
    encounter_type: Annotated[str | None, Query(alias="type", pattern=r"^\d{2}$", description="MA_LOAI_KCB")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Response:
    """Encounters across facilities, newest first: date, facility, type, diagnoses, outcome, referrals."""
    with read.transaction() as tx:
        seen = tx.person(person_id)
        seg = seen.segmented
        page = person_timeline(
            conn=tx.conn, person_id=person_id, date_from=date_from, date_to=date_to, facility_code=facility,
            encounter_type=encounter_type, limit=limit, offset=offset, exclude=seg.withheld_ids, person=seen.person,
        )  # fmt: skip
        tx.disclosed(person_id=page.person.person_id, record_ids=page.encounter_ids)
    return json_answer(
        TimelineOut(
            person_id=page.person.person_id,
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            entries=[TimelineEntryOut.model_validate(e) for e in page.entries],
            withheld_encounters=page.withheld,
            revealed_encounters=[i for i in seg.revealed_ids if i in set(page.encounter_ids)],
        )
    )


@router.get("/{person_id}/encounters/{encounter_id}", response_model=EncounterDetailOut, responses=_NOT_FOUND)
def encounter(person_id: PersonId, encounter_id: DbId, read: EncounterRead) -> Response:
    """One encounter with every table it came with: drugs, services, lab results, notes, papers..."""
    with read.transaction() as tx:
        detail = encounter_detail(conn=tx.conn, encounter_id=encounter_id, person_id=person_id)
        decision = tx.encounter(encounter_id, detail.person_id)
        tx.disclosed(person_id=detail.person_id, record_ids=[encounter_id])
    return json_answer(
        EncounterDetailOut.from_detail(detail).model_copy(
            update={
                "sensitivity": sorted(c.value for c in decision.categories),
                "disclosure": decision.disclosure.value,
            }
        )
    )
