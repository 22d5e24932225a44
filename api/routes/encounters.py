"""``/api/v1/encounters``: which person an encounter (MA_CSKCB + MA_LK) is linked to, and on what evidence.

For clinicians (with a clinical purpose of use) and data stewards (``HOPERAT``). Answers keys, a person id
and link evidence, never demographics; the read is audited like every other (who asked which encounter
belongs to whom, and why).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.audited import CLINICAL_OR_STEWARD, AuditedRead, audited_read
from api.schemas import EncounterPersonOut, ErrorOut
from mpi.identity.export import encounter_link

router = APIRouter(prefix="/api/v1/encounters", tags=["identity"])

EncounterPersonRead = Annotated[AuditedRead, Depends(audited_read("encounter_person", CLINICAL_OR_STEWARD))]
_RESPONSES: dict[int | str, dict[str, object]] = {code: {"model": ErrorOut} for code in (401, 403, 404)}


@router.get("/{facility_code}/{ma_lk}/person", response_model=EncounterPersonOut, responses=_RESPONSES)
def encounter_person(
    facility_code: Annotated[str, Path(max_length=20, description="MA_CSKCB")],
    ma_lk: Annotated[str, Path(max_length=100, description="MA_LK")],
    read: EncounterPersonRead,
) -> EncounterPersonOut:
    """The person the encounter's current version is linked to (merges followed), and the link's evidence."""
    with read.transaction() as tx:
        found = encounter_link(conn=tx.conn, facility_code=facility_code, ma_lk=ma_lk)
        tx.disclosed(person_id=found.person_id, record_ids=[found.encounter_id])
    return EncounterPersonOut(
        facility_code=found.facility_code,
        ma_lk=found.ma_lk,
        version=found.version,
        person_id=found.person_id,
        link_state=found.link_state,
        match_probability=found.match_probability,
        model_id=found.model_id,
    )
