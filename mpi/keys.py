"""API keys: creation, verification and revocation. Only a peppered hash is ever stored.

A key looks like ``mpi_<prefix>_<secret>``. The prefix finds the row; the HMAC-SHA256 of the whole key
under ``MPI_SECRET_KEY`` is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum

from sqlmodel import Session, select

from mpi.errors import AuthenticationError, MPIError, NotFound
from mpi.settings import get_settings
from mpi.store.models import ApiKey, utcnow


class Role(StrEnum):
    SUBMITTER = "submitter"
    """A facility's HIS: may submit its own encounters, may not read records."""
    CLINICIAN = "clinician"
    """Reads patient records, bound to the facility where they work."""
    STEWARD = "steward"
    """Resolves ambiguous matches."""
    ANALYST = "analyst"
    """Aggregates only."""
    SUBSCRIBER = "subscriber"
    """A downstream system (national hub, facility HIS) following the identity change feed: ids only."""
    ADMIN = "admin"


FACILITY_BOUND = frozenset({Role.SUBMITTER, Role.CLINICIAN})
_KEY = re.compile(r"mpi_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{20,})")
_FACILITY = re.compile(r"\d{5}")


def _digest(key: str, secret: str | None) -> str:
    pepper = secret if secret is not None else get_settings().secret_key
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def create_key(
    *,
    session: Session,
    role: Role,
    facility_code: str | None = None,
    label: str | None = None,
    secret: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is not stored anywhere.

    ``secret`` is the pepper (``MPI_SECRET_KEY``); ``None`` reads it from the process settings.
    """
    if role in FACILITY_BOUND and not facility_code:
        raise MPIError(
            f"a {role.value} key must be bound to a facility (--facility MA_CSKCB)", code="facility_required"
        )
    if facility_code is not None and not _FACILITY.fullmatch(facility_code):
        raise MPIError("a facility code (MA_CSKCB) is 5 digits", code="facility_invalid")
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    plaintext = f"mpi_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        prefix=prefix, key_hash=_digest(plaintext, secret), role=role.value, facility_code=facility_code, label=label
    )
    session.add(key)
    session.flush()
    return key, plaintext


def verify_key(*, session: Session, plaintext: str, secret: str | None = None) -> ApiKey:
    match = _KEY.fullmatch(plaintext.strip())
    if match is None:
        raise AuthenticationError("malformed API key", code="key_malformed")
    key = session.exec(select(ApiKey).where(ApiKey.prefix == match.group(1))).first()
    if key is None or not hmac.compare_digest(key.key_hash, _digest(plaintext.strip(), secret)):
        raise AuthenticationError("unknown API key", code="key_unknown")
    if key.revoked_at is not None:
        raise AuthenticationError("this API key was revoked", code="key_revoked")
    return key


def revoke_key(*, session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
    return key


def list_keys(*, session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(ApiKey.id)))  # type: ignore[arg-type]
