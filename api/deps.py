"""Dependency aliases for routes: the engine, a session, the caller and role checks.

Role checks are dependencies on the route, never ``if`` statements in handler bodies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from api.principal import Principal
from mpi.errors import AuthenticationError, PermissionDenied
from mpi.identity.online import OnlineLinker
from mpi.keys import Role, check_key
from mpi.settings import Settings
from mpi.store.db import read_only
from mpi.store.models import ApiKey

log = logging.getLogger(__name__)

# The dependencies that only read the application's state are coroutines: FastAPI runs a plain function in a
# worker thread, and each such hop costs a request a few hundred microseconds of CPU for nothing.


async def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(engine: Annotated[Engine, Depends(_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


_BEARER = HTTPBearer(auto_error=False, scheme_name="apiKey", description="An API key: `Authorization: Bearer mpi_...`")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
"""Declares the bearer scheme in the OpenAPI of a route that authenticates (the key itself is read from the
header by :func:`authenticate`)."""


def authenticate(request: Request, engine: Engine) -> Principal:
    """The caller of ``request`` (``Authorization: Bearer <key>``), checked against the store on every request:
    a revoked or expired key is refused at once. Runs in a worker thread (it queries the store)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("send an API key as 'Authorization: Bearer <key>'", code="key_missing")
    # A read-only connection of its own, closed before the handler runs: a request never holds two
    # connections, and on SQLite checking a key never queues for the write lock.
    settings: Settings = request.app.state.settings
    with read_only(engine).connect() as conn:
        key = check_key(conn=conn, plaintext=token, secret=settings.secret_key)
    if key.used_at is not None:  # at most once a minute per key (mpi.keys.LAST_USED_RESOLUTION)
        if settings.audit_write_behind:
            # Written beside the request, as its audit event is: the request does not wait for the store's
            # write lock (on SQLite held by each stored batch of submissions) for the key's last use.
            threading.Thread(
                target=_record_use, args=(engine, key.id, key.used_at), name="key-last-use", daemon=True
            ).start()
        else:
            _record_use(engine, key.id, key.used_at, log_failure=False)
    return Principal.of(key)


def _record_use(engine: Engine, key_id: int, used_at: datetime, *, log_failure: bool = True) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(update(ApiKey).where(col(ApiKey.id) == key_id).values(last_used_at=used_at))
    except SQLAlchemyError as exc:
        if not log_failure:
            raise
        log.warning("an API key's last use was not recorded: %s", type(exc).__name__)


def _principal(
    request: Request, engine: Annotated[Engine, Depends(_engine)], _credentials: BearerDep
) -> Principal:
    return authenticate(request, engine)


def require_roles(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise PermissionDenied(f"this needs one of the roles: {allowed}", code="role_forbidden")
        return principal

    return check


EngineDep = Annotated[Engine, Depends(_engine)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[Session, Depends(_session)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
SubmitterDep = Annotated[Principal, Depends(require_roles(Role.SUBMITTER, Role.ADMIN))]


ClinicianDep = Annotated[Principal, Depends(require_roles(Role.CLINICIAN))]
"""Clinicians only (bound to a facility). Reads of patient data declare their purposes with
:func:`api.audited.audited_read` instead."""
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


async def _linker(request: Request) -> OnlineLinker:
    linker: OnlineLinker = request.app.state.linker
    return linker


LinkerDep = Annotated[OnlineLinker, Depends(_linker)]
