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

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.principal import Principal
from mpi.errors import MPIError
from mpi.keys import Role, verify_key
from mpi.store.db import read_only
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


def principal_of(request: Request, engine: Engine, secret: str, role: Role | None = None) -> Principal | None:
    """The principal signed in by the request's cookie (only of ``role`` when given), or None. Read on a
    connection of its own, closed before the page's transaction: a page holds one connection at a time."""
    with Session(read_only(engine)) as session:
        principal = principal_from_cookie(session, secret, request.cookies.get(COOKIE))
    return principal if principal is not None and (role is None or principal.role is role) else None


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
    return Principal.of(key)


def revoke(session: Session, secret: str, value: str | None) -> None:
    """Sign out: the session is over server-side, whatever happens to the cookie."""
    row = _find(session, secret, value)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SignInRefused(Exception):
    """The key was not accepted: 401 (unknown, revoked or expired) or 403 (a role this page does not serve)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def sign_in(*, engine: Engine, secret: str, plaintext: str, roles: frozenset[Role]) -> str:
    """Verify a pasted API key for a page serving ``roles`` and open a session; returns the cookie value."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            key = verify_key(session=session, plaintext=plaintext, secret=secret)
        except MPIError as exc:
            raise SignInRefused(401) from exc
        if Role(key.role) not in roles or key.id is None:
            raise SignInRefused(403)
        token = issue(session, secret, key.id)
        session.commit()
    return token


def signed_in(request: Request, location: str, token: str) -> Response:
    """The redirect after signing in, carrying the session cookie (HttpOnly, SameSite=Strict, /web only)."""
    response = RedirectResponse(location, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=LIFETIME_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/web",
    )
    return response


def sign_out(request: Request, *, engine: Engine, secret: str, location: str) -> Response:
    """Revoke the session server-side and drop the cookie."""
    with Session(engine) as session:
        revoke(session, secret, request.cookies.get(COOKIE))
        session.commit()
    response = RedirectResponse(location, status_code=303)
    response.delete_cookie(COOKIE, path="/web")
    return response
