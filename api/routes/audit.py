"""``/api/v1/audit``: who read which person's records, when, from where and why (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.audited import BREAK_GLASS_ACTION
from api.deps import AdminDep, EngineDep
from api.params import MAX_DB_INT, Offset
from api.schemas import ErrorOut
from api.schemas_records import AuditPageOut
from mpi.audit.log import search_audit
from mpi.audit.writer import writer_for
from mpi.store.db import read_only

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPageOut, responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
def audit(
    _: AdminDep,
    engine: EngineDep,
    person_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
    actor: Annotated[str | None, Query(max_length=64, description="key:<id>")] = None,
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[datetime | None, Query(description="Inclusive")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AuditPageOut:
    """Audit events, newest first, filtered by person, user (key), facility, action and time."""
    writer_for(engine).flush()  # this process's events still waiting are part of the answer
    with read_only(engine).connect() as conn:
        page = search_audit(
            conn=conn, person_id=person_id, actor=actor, facility_code=facility, action=action, since=since,
            until=until, limit=limit, offset=offset,
        )  # fmt: skip
    return AuditPageOut.model_validate(page)


@router.get(
    "/sensitive-access", response_model=AuditPageOut, responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
)
def sensitive_access(
    _: AdminDep,
    engine: EngineDep,
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$", description="The reader's facility")] = None,
    since: Annotated[datetime | None, Query(description="Inclusive")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AuditPageOut:
    """The department's sensitive-access report: every break-glass reveal of withheld data (HIV, TB...),
    newest first, with who (key, role, facility), the purpose, the typed reason, the person and encounters."""
    writer_for(engine).flush()  # this process's events still waiting are part of the answer
    with read_only(engine).connect() as conn:
        page = search_audit(
            conn=conn, action=BREAK_GLASS_ACTION, facility_code=facility, since=since, until=until, limit=limit,
            offset=offset,
        )  # fmt: skip
    return AuditPageOut.model_validate(page)
