"""``/api/v1/keys``: the admin's view of API keys — list (never the keys themselves) and revoke."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import Session

from api.deps import AdminDep, EngineDep
from api.params import DbId
from api.schemas import ErrorOut
from mpi.keys import list_keys, revoke_key
from mpi.store.models import ApiKey

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}


class KeyOut(BaseModel):
    id: int
    prefix: str
    role: str
    facility_code: str | None
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    replaced_by_id: int | None
    sensitive_grants: str | None = None
    """Sensitive categories the key may reveal with a typed reason (``mpi keys grant``)."""


def _out(key: ApiKey) -> KeyOut:
    return KeyOut.model_validate(key, from_attributes=True)


@router.get("", response_model=list[KeyOut], responses=_ERRORS)
def keys(_: AdminDep, engine: EngineDep) -> list[KeyOut]:
    """Every key: role, facility, expiry, last use, revocation, replacement."""
    with Session(engine) as session:
        return [_out(k) for k in list_keys(session=session)]


@router.post("/{key_id}/revoke", response_model=KeyOut, responses={404: {"model": ErrorOut}, **_ERRORS})
def revoke(key_id: DbId, _: AdminDep, engine: EngineDep) -> KeyOut:
    """Revoke a key at once (its web sessions end with it)."""
    with Session(engine, expire_on_commit=False) as session:
        key = revoke_key(session=session, key_id=key_id)
        session.commit()
        return _out(key)
