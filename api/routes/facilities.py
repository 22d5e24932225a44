"""``/api/v1/facilities``: the facility registry. Any key reads it; admins write it.

A facility is not patient data: names, levels and waves are what every page shows next to a record.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field

from api.deps import AdminDep, PrincipalDep, SessionDep
from api.schemas import ErrorOut
from mpi.facilities import LEVELS, RegistryRow, describe_facility, get_facility, list_facilities, upsert_facility
from mpi.store.models import Facility

router = APIRouter(prefix="/api/v1/facilities", tags=["facilities"])
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
_CODE = Path(pattern=r"^\d{5}$", description="MA_CSKCB")


class FacilityOut(BaseModel):
    code: str = Field(description="MA_CSKCB")
    name: str | None
    level: str | None = Field(description=", ".join(LEVELS))
    level_label_vi: str | None
    level_label_en: str | None
    display_vi: str = Field(description="How pages show it: 'Name (level)' or 'code (chưa đăng ký)'")
    commune_code: str | None
    wave: int | None
    onboarded_on: date | None
    active: bool
    registered: bool
    registered_at: datetime | None
    first_seen_at: datetime


class FacilityListOut(BaseModel):
    items: list[FacilityOut]
    total: int
    unregistered: int


class FacilityIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    level: Literal["provincial", "district", "private", "commune"]
    commune_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    wave: int | None = Field(default=None, ge=1, le=999)
    onboarded_on: date | None = None
    active: bool = True


def _out(session: SessionDep, f: Facility) -> FacilityOut:
    label = describe_facility(conn=session, code=f.code)
    return FacilityOut(
        code=f.code, name=f.name, level=f.level, level_label_vi=label.level_label("vi"),
        level_label_en=label.level_label("en"), display_vi=label.text("vi"), commune_code=f.commune_code,
        wave=f.wave, onboarded_on=f.onboarded_on, active=f.active, registered=f.registered_at is not None,
        registered_at=f.registered_at, first_seen_at=f.first_seen_at,
    )  # fmt: skip


@router.get("", response_model=FacilityListOut, responses=_ERRORS)
def facilities(
    _: PrincipalDep,
    session: SessionDep,
    registered: Annotated[bool | None, Query(description="false: facilities that submitted unregistered")] = None,
    level: Annotated[Literal["provincial", "district", "private", "commune"] | None, Query()] = None,
    wave: Annotated[int | None, Query(ge=1, le=999)] = None,
) -> FacilityListOut:
    """Every facility known to the hub, registered or only seen in submissions."""
    rows = list_facilities(session=session, registered=registered, level=level, wave=wave)
    items = [_out(session, f) for f in rows]
    return FacilityListOut(items=items, total=len(items), unregistered=sum(not i.registered for i in items))


@router.get("/{code}", response_model=FacilityOut, responses={**_ERRORS, 404: {"model": ErrorOut}})
def facility(_: PrincipalDep, session: SessionDep, code: Annotated[str, _CODE]) -> FacilityOut:
    return _out(session, get_facility(session=session, code=code))


@router.put(
    "/{code}", response_model=FacilityOut, responses={**_ERRORS, 201: {"model": FacilityOut}, 422: {"model": ErrorOut}}
)
def put_facility(
    _: AdminDep, session: SessionDep, response: Response, body: FacilityIn, code: Annotated[str, _CODE]
) -> FacilityOut:
    """Register a facility or update its entry (admins). 201 when it was not known before, else 200."""
    row = RegistryRow(facility_code=code, **body.model_dump())
    outcome = upsert_facility(session=session, row=row)
    session.commit()
    if outcome == "created":
        response.status_code = status.HTTP_201_CREATED
    return _out(session, get_facility(session=session, code=code))
