"""Dependency aliases for routes: the engine, a session, the caller and role checks.

Role checks are dependencies on the route, never ``if`` statements in handler bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from api.principal import Principal
from mpi.audit.log import Reader
from mpi.errors import AuthenticationError, PermissionDenied
from mpi.identity.online import OnlineLinker
from mpi.keys import Role, verify_key
from mpi.settings import Settings


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(engine: Annotated[Engine, Depends(_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _principal(request: Request, engine: Annotated[Engine, Depends(_engine)]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("send an API key as 'Authorization: Bearer <key>'", code="key_missing")
    # A session of its own, closed before the handler runs: a request never holds two connections.
    with Session(engine, expire_on_commit=False) as session:
        key = verify_key(session=session, plaintext=token, secret=request.app.state.settings.secret_key)
        session.commit()
    assert key.id is not None
    return Principal(key_id=key.id, role=Role(key.role), facility_code=key.facility_code)


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
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


# --- reads of patient data: clinicians, with a purpose of use ---------------------------------------

PURPOSE_HEADER = "X-Purpose-Of-Use"
CLINICAL_PURPOSES: dict[str, str] = {
    "TREAT": "treatment",
    "ETREAT": "emergency treatment",
    "COC": "coordination of care (referral)",
    "CAREMGT": "care management",
    "PATRQT": "patient requested",
}
"""HL7 v3 PurposeOfUse codes accepted for reading a patient's record. Others (payment, research, public
health...) are not purposes a clinician's record read may claim."""


def _purpose(request: Request) -> str:
    value = request.headers.get(PURPOSE_HEADER, "").strip().upper()
    if not value:
        raise PermissionDenied(
            f"reading patient data needs a purpose of use: send the header {PURPOSE_HEADER} with one of "
            f"{', '.join(CLINICAL_PURPOSES)} (HL7 PurposeOfUse)",
            code="purpose_required",
        )
    if value not in CLINICAL_PURPOSES:
        raise PermissionDenied(
            f"{PURPOSE_HEADER} must be one of {', '.join(CLINICAL_PURPOSES)} (HL7 PurposeOfUse codes)",
            code="purpose_invalid",
        )
    return value


ClinicianDep = Annotated[Principal, Depends(require_roles(Role.CLINICIAN))]
"""Reads of patient records: clinicians only (bound to a facility). Submitters, analysts, stewards and
admins are refused; stewards see candidate pairs in their own review tools, admins read the audit."""
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
PurposeDep = Annotated[str, Depends(_purpose)]


def _reader(principal: ClinicianDep, purpose: PurposeDep) -> Reader:
    return Reader(
        actor=principal.submitter_tag, role=principal.role.value, facility_code=principal.facility_code, purpose=purpose
    )


def _linker(request: Request) -> OnlineLinker:
    linker: OnlineLinker = request.app.state.linker
    return linker


ReaderDep = Annotated[Reader, Depends(_reader)]
"""A clinician with a valid purpose of use: what every audited read needs."""
LinkerDep = Annotated[OnlineLinker, Depends(_linker)]
