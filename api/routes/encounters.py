"""``/api/v1/encounters``: which person an encounter (MA_CSKCB + MA_LK) is linked to, and on what evidence.

For clinicians and data stewards. Answers keys, a person id and link evidence, never demographics; the
read is audited all the same (who asked which encounter belongs to whom), with the purpose if one is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from api.deps import EngineDep, require_roles
from api.principal import Principal
from api.schemas import EncounterPersonOut, ErrorOut
from mpi.audit.log import Reader, record_read
from mpi.identity.export import encounter_link
from mpi.keys import Role

router = APIRouter(prefix="/api/v1/encounters", tags=["identity"])

ClinicianOrStewardDep = Annotated[Principal, Depends(require_roles(Role.CLINICIAN, Role.STEWARD))]
_RESPONSES: dict[int | str, dict[str, object]] = {code: {"model": ErrorOut} for code in (401, 403, 404)}


@router.get("/{facility_code}/{ma_lk}/person", response_model=EncounterPersonOut, responses=_RESPONSES)
def encounter_person(
    facility_code: Annotated[str, Path(max_length=20, description="MA_CSKCB")],
    ma_lk: Annotated[str, Path(max_length=100, description="MA_LK")],
    principal: ClinicianOrStewardDep,
    engine: EngineDep,
    request: Request,
) -> EncounterPersonOut:
    """The person the encounter's current version is linked to (merges followed), and the link's evidence."""
    reader = Reader(
        actor=principal.submitter_tag,
        role=principal.role.value,
        facility_code=principal.facility_code,
        purpose=request.headers.get("X-Purpose-Of-Use", "").strip().upper()[:16] or None,
    )
    with engine.begin() as conn:
        found = encounter_link(conn=conn, facility_code=facility_code, ma_lk=ma_lk)
        record_read(
            conn=conn,
            reader=reader,
            action="encounter_person",
            resource="/api/v1/encounters/{fc}/{ma_lk}/person",
            person_id=found.person_id,
            record_ids=[found.encounter_id],
        )
    return EncounterPersonOut(
        facility_code=found.facility_code,
        ma_lk=found.ma_lk,
        version=found.version,
        person_id=found.person_id,
        link_state=found.link_state,
        match_probability=found.match_probability,
        model_id=found.model_id,
    )
