"""Opaque, signed paging cursors for FHIR ``next`` / ``previous`` links.

A cursor is ``base64url(JSON) . base64url(HMAC-SHA256)`` keyed with the application's secret. It holds
positions and person ids only, never a search's identifiers or names (a search posted to keep them out of
URLs must not have them put back into its paging links), and it is bound to the API key that opened the
search and expires, so a link cannot be replayed by another caller or kept forever. Never logs a value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Final

from mpi.errors import MPIError

CURSOR_TTL_SECONDS: Final = 3600
"""A paging link works for an hour after the search (a client pages through a result promptly)."""


class CursorInvalid(MPIError):
    """A ``_page`` cursor that was altered, belongs to another key, or has expired."""

    code = "cursor_invalid"
    status = 400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(hashlib.sha256(b"fhir-cursor:" + secret.encode()).digest(), payload, hashlib.sha256).digest()


def sign_cursor(*, secret: str, actor: str, state: dict[str, Any], now: float | None = None) -> str:
    """An opaque cursor for ``state`` (JSON-serialisable), valid for ``actor`` for an hour."""
    body = {"a": actor, "x": int((now or time.time()) + CURSOR_TTL_SECONDS), "s": state}
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def read_cursor(*, secret: str, actor: str, cursor: str, now: float | None = None) -> dict[str, Any]:
    """The state a cursor was signed with; :class:`CursorInvalid` if it was not signed by us for ``actor``
    or has expired."""
    encoded, dot, mac = cursor.partition(".")
    try:
        payload = _unb64(encoded)
        valid = bool(dot) and hmac.compare_digest(_unb64(mac), _mac(secret, payload))
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise CursorInvalid("the paging cursor (_page) is not one this server issued: start the search again")
    body = json.loads(payload)
    if body.get("a") != actor:
        raise CursorInvalid("the paging cursor (_page) was issued to another API key")
    if int(body.get("x", 0)) < (now or time.time()):
        raise CursorInvalid("the paging cursor (_page) has expired: start the search again")
    state: dict[str, Any] = body["s"]
    return state
