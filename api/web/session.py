"""The web session, held server-side: the cookie carries a random token, the store its HMAC (under
``MPI_SECRET_KEY``), the API key it belongs to, its expiry and its revocation.

Signing out revokes the row, so a copied cookie is worthless afterwards; revoking or expiring the key
ends every session of it. The cookie is HttpOnly, SameSite=Strict and Secure over HTTPS; forms are also
protected by the Origin check of :mod:`api.middleware`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from api.principal import Principal
from mpi.keys import Role
from mpi.store.models import ApiKey, WebSession, utcnow

COOKIE = "mpi_session"
LIFETIME_SECONDS = 8 * 3600


def _hash(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), f"web-session:{token}".encode(), hashlib.sha256).hexdigest()


def issue(session: Session, secret: str, key_id: int) -> str:
    """A new session of ``key_id``; returns the cookie value (committed by the caller)."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_hash(secret, token), key_id=key_id, expires_at=utcnow() + timedelta(seconds=LIFETIME_SECONDS)
        )
    )
    return token


def _find(session: Session, secret: str, value: str | None) -> WebSession | None:
    if not value or len(value) > 128:
        return None
    return session.exec(select(WebSession).where(WebSession.token_hash == _hash(secret, value))).first()


def principal_from_cookie(session: Session, secret: str, value: str | None) -> Principal | None:
    row = _find(session, secret, value)
    now = utcnow()
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
        return None
    key = session.get(ApiKey, row.key_id)
    if key is None or key.revoked_at is not None or key.id is None:
        return None
    if key.expires_at is not None and _aware(key.expires_at) <= now:
        return None
    return Principal(key_id=key.id, role=Role(key.role), facility_code=key.facility_code)


def revoke(session: Session, secret: str, value: str | None) -> None:
    """Sign out: the session is over server-side, whatever happens to the cookie."""
    row = _find(session, secret, value)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
