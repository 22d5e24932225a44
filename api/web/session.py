"""The web session: a cookie naming the API key a user signed in with, signed with ``MPI_SECRET_KEY``.

The cookie holds ``<key id>.<expiry>.<HMAC>`` — never the key itself — and is HttpOnly, SameSite=Strict
(no cross-site request carries it, which is the CSRF defence of the forms) and Secure over HTTPS. Each
request re-reads the key, so revoking it ends the session at once.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from sqlmodel import Session

from api.principal import Principal
from mpi.keys import Role
from mpi.store.models import ApiKey

COOKIE = "mpi_session"
LIFETIME_SECONDS = 8 * 3600


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), f"web-session:{payload}".encode(), hashlib.sha256).hexdigest()


def issue(secret: str, key_id: int, now: float | None = None) -> str:
    payload = f"{key_id}.{int((now or time.time()) + LIFETIME_SECONDS)}"
    return f"{payload}.{_sign(secret, payload)}"


def principal_from_cookie(session: Session, secret: str, value: str | None) -> Principal | None:
    if not value or value.count(".") != 2:
        return None
    key_id, expires, signature = value.split(".")
    if not hmac.compare_digest(signature, _sign(secret, f"{key_id}.{expires}")):
        return None
    if not (key_id.isdigit() and expires.isdigit()) or int(expires) < time.time():
        return None
    key = session.get(ApiKey, int(key_id))
    if key is None or key.revoked_at is not None or key.id is None:
        return None
    return Principal(key_id=key.id, role=Role(key.role), facility_code=key.facility_code)
