"""API keys: creation, verification and revocation. Only a peppered hash is ever stored.

A key looks like ``mpi_<prefix>_<secret>``. The prefix finds the row; the HMAC-SHA256 of the whole key
under ``MPI_SECRET_KEY`` is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Connection, bindparam
from sqlalchemy import select as core_select
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
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    expires_at: datetime | None = None,
    grants: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is not stored anywhere.

    ``grants``: sensitive categories a clinician key may reveal with a typed reason (``hiv,tb``).

    ``secret`` is the pepper (``MPI_SECRET_KEY``); ``None`` reads it from the process settings.
    """
    if expires_at is not None and expires_at <= utcnow():
        raise MPIError("a key's expiry must be in the future", code="expiry_invalid")
    if role in FACILITY_BOUND and not facility_code:
        raise MPIError(
            f"a {role.value} key must be bound to a facility (--facility MA_CSKCB)", code="facility_required"
        )
    if facility_code is not None and not _FACILITY.fullmatch(facility_code):
        raise MPIError("a facility code (MA_CSKCB) is 5 digits", code="facility_invalid")
    granted = _grants(role, grants)
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    plaintext = f"mpi_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        prefix=prefix,
        key_hash=_digest(plaintext, secret),
        role=role.value,
        facility_code=facility_code,
        label=label,
        expires_at=expires_at,
        sensitive_grants=granted,
    )
    session.add(key)
    session.flush()
    return key, plaintext


def verify_key(*, session: Session, plaintext: str, secret: str | None = None) -> ApiKey:
    key = session.exec(select(ApiKey).where(ApiKey.prefix == _prefix(plaintext))).first()
    used_at = _accept(key, plaintext, secret)
    assert key is not None
    if used_at is not None:
        key.last_used_at = used_at  # committed by the caller; at most one write a minute per key
        session.add(key)
    return key


@dataclass(frozen=True, slots=True)
class CheckedKey:
    """What a request needs of its accepted key (:func:`check_key`)."""

    id: int
    role: str
    facility_code: str | None
    sensitive_grants: str | None
    used_at: datetime | None
    """The instant to record as the key's last use; ``None`` when it was recorded within the last
    ``LAST_USED_RESOLUTION``."""


_keys = ApiKey.__table__  # type: ignore[attr-defined]
_BY_PREFIX: Final = core_select(
    _keys.c.id, _keys.c.key_hash, _keys.c.role, _keys.c.facility_code, _keys.c.sensitive_grants, _keys.c.revoked_at,
    _keys.c.expires_at, _keys.c.last_used_at,
).where(_keys.c.prefix == bindparam("prefix"))  # fmt: skip


def check_key(*, conn: Connection, plaintext: str, secret: str | None = None) -> CheckedKey:
    """:func:`verify_key` on a connection, for the check of every request (one statement, no ORM unit of
    work, which costs more CPU than the check itself); the caller records ``used_at``. Same rules, same
    errors: a revoked or expired key is refused on the next request."""
    key = conn.execute(_BY_PREFIX, {"prefix": _prefix(plaintext)}).first()
    used_at = _accept(key, plaintext, secret)
    assert key is not None
    return CheckedKey(
        id=int(key.id), role=key.role, facility_code=key.facility_code, sensitive_grants=key.sensitive_grants,
        used_at=used_at,
    )  # fmt: skip


def _prefix(plaintext: str) -> str:
    match = _KEY.fullmatch(plaintext.strip())
    if match is None:
        raise AuthenticationError("malformed API key", code="key_malformed")
    return match.group(1)


def _accept(key: Any, plaintext: str, secret: str | None) -> datetime | None:
    """Refuse a key that is unknown, whose hash differs, revoked or expired (:class:`AuthenticationError`);
    else the instant to record as its last use, at most once a ``LAST_USED_RESOLUTION``."""
    if key is None or not hmac.compare_digest(key.key_hash, _digest(plaintext.strip(), secret)):
        raise AuthenticationError("unknown API key", code="key_unknown")
    if key.revoked_at is not None:
        raise AuthenticationError("this API key was revoked", code="key_revoked")
    now = utcnow()
    if key.expires_at is not None and _aware(key.expires_at) <= now:
        raise AuthenticationError("this API key has expired: ask for a new one", code="key_expired")
    if key.last_used_at is None or now - _aware(key.last_used_at) >= LAST_USED_RESOLUTION:
        return now
    return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def rotate_key(
    *, session: Session, key_id: int, grace: timedelta = timedelta(hours=24), secret: str | None = None
) -> tuple[ApiKey, str]:
    """A new key with the old one's role, facility, label and lifetime; the old key keeps working for
    ``grace`` (so the holder can switch over), then expires. Returns the new key and its plaintext."""
    old = session.get(ApiKey, key_id)
    if old is None:
        raise NotFound(f"no API key with id {key_id}")
    if old.revoked_at is not None:
        raise MPIError(f"key {key_id} is revoked: create a new key instead", code="key_revoked")
    now = utcnow()
    lifetime = _aware(old.expires_at) - _aware(old.created_at) if old.expires_at is not None else None
    new, plaintext = create_key(
        session=session, role=Role(old.role), facility_code=old.facility_code, label=old.label, secret=secret,
        expires_at=now + lifetime if lifetime is not None and lifetime > timedelta(0) else None,
        grants=old.sensitive_grants,
    )  # fmt: skip
    end_of_grace = now + grace
    if old.expires_at is None or _aware(old.expires_at) > end_of_grace:
        old.expires_at = end_of_grace
    old.replaced_by_id = new.id
    session.add(old)
    session.flush()
    return new, plaintext


def _grants(role: Role, text: str | None) -> str | None:
    """Validated, normalised grants (``hiv,tb``) or ``None``; only clinician keys read patient data."""
    from mpi.records.sensitivity import parse_categories

    try:
        categories = sorted(c.value for c in parse_categories(text or ""))
    except ValueError as exc:
        raise MPIError(str(exc), code="grant_invalid") from None
    if categories and role is not Role.CLINICIAN:
        raise MPIError("only clinician keys can be granted sensitive categories", code="grant_invalid")
    return ",".join(categories) or None


def grant_key(*, session: Session, key_id: int, categories: str) -> ApiKey:
    """Set exactly the sensitive categories a clinician key may reveal with a typed reason (empty: none).
    A grant never removes the break-glass reason or the audit: it is the "clinician role allowed for that
    category" of the sensitivity policy (:mod:`mpi.records.sensitivity`)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    key.sensitive_grants = _grants(Role(key.role), categories)
    session.add(key)
    session.flush()
    return key


def key_grants(key: ApiKey | CheckedKey) -> frozenset[str]:
    return frozenset(g for g in (key.sensitive_grants or "").split(",") if g)


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
