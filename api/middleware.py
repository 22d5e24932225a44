"""The outermost layer of every request (pure ASGI, no per-request task):

- the request line is checked (a NUL in the path or query is refused: no store accepts it in text);
- the body is read completely, bounded and with deadlines, *before* the application sees the request:
  a body too large is answered 413 before any parsing or authentication, a client that trickles its
  body is answered 408, and neither ever holds a thread or a database connection (a request that declares no
  body, as most reads, has nothing to wait for and goes straight through);
- an unexpected exception is answered as a clean 500 (the connection stays usable; the log gets the
  exception type only, never its message or any request value);
- every answer carries ``nosniff``, ``X-Frame-Options: DENY`` and ``Referrer-Policy: same-origin``
  (``no-referrer`` would make browsers send ``Origin: null`` with their own forms, which the CSRF check
  refuses); answers
  under ``/api``, ``/fhir`` and ``/web`` (patient data) ``Cache-Control: no-store``; the web pages a CSP
  with ``frame-ancestors 'none'``; a form posted to ``/web`` from another origin is refused (403);
- one access-log line per request: method, the *route template* (``/fhir/Patient/{patient_id}``, never
  the identifiers in the path; unmatched paths have their digit runs masked), status, time.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Final

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from mpi.settings import Settings

log = logging.getLogger("api.access")
errors_log = logging.getLogger("api.errors")

SUBMISSIONS_PREFIX: Final = "/api/v1/submissions"
NO_STORE_PREFIXES: Final = ("/api/", "/fhir", "/web")
WEB_CSP: Final = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)
_ALWAYS: Final = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                  (b"referrer-policy", b"same-origin")]  # fmt: skip
_DIGITS = re.compile(r"\d+")


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class _Disconnected(Exception):
    pass


def body_limit(settings: Settings, path: str) -> int:
    """Submissions take a file (as multipart or base64 it grows by up to 4/3, plus form overhead)."""
    if path == SUBMISSIONS_PREFIX or path.startswith(f"{SUBMISSIONS_PREFIX}/"):
        return settings.max_file_bytes * 2 + 65536
    return settings.max_body_bytes


def logged_path(scope: Scope) -> str:
    """What the access log may show of the path: the matched route's template, else the path with every
    run of digits masked (a CCCD or BHXH number sent in a path never reaches a log)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str) and "{path" not in template:
        return f"{scope.get('root_path', '')}{template}"
    return _DIGITS.sub("#", str(scope.get("path", "")))


class RequestGuard:
    """Its limits are those of the application's settings (``app.state.settings``, as for every route)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        path = str(scope.get("path", ""))
        extra = list(_ALWAYS)
        if path.startswith(NO_STORE_PREFIXES):
            extra.append((b"cache-control", b"no-store"))
        if path.startswith("/web"):
            extra.append((b"content-security-policy", WEB_CSP.encode()))

        async def send_tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                present = {bytes(k).lower() for k, _ in message.get("headers", ())}
                message = {**message, "headers": [*message.get("headers", ()),
                                                  *((k, v) for k, v in extra if k not in present)]}  # fmt: skip
            await send(message)

        try:
            _check_target(scope)
            _check_origin(scope)
            body = None if _without_body(scope) else await self._read_body(scope, receive, scope["app"].state.settings)
        except _Refused as refused:
            await error_response(path, refused.status, refused.code, refused.message)(scope, receive, send_tracked)
        except _Disconnected:
            status = 499  # the client left before sending its body: nothing to answer
        else:
            delivered = False

            async def replay() -> Message:
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            try:
                await self.app(scope, receive if body is None else replay, send_tracked)
            except Exception as exc:
                errors_log.error(
                    "unhandled %s on %s %s", type(exc).__name__, scope.get("method"), logged_path(scope)
                )  # the type only: an exception's message may quote request values
                if status:  # the response had started: nothing clean is possible, drop the connection
                    raise
                response = error_response(path, 500, "internal", "internal error")
                await response(scope, receive, send_tracked)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.1f ms", scope.get("method"), logged_path(scope), status, elapsed)

    async def _read_body(self, scope: Scope, receive: Receive, settings: Settings) -> bytes:
        limit = body_limit(settings, str(scope.get("path", "")))
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                raise _Refused(400, "content_length_invalid", "Content-Length must be a decimal number of bytes")
            if int(declared) > limit:
                raise _Refused(413, "body_too_large", f"the request body exceeds {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        deadline = anyio.current_time() + settings.body_total_seconds
        while True:
            wait = min(settings.body_idle_seconds, deadline - anyio.current_time())
            with anyio.move_on_after(max(wait, 0)) as scope_timer:
                message = await receive()
            if scope_timer.cancelled_caught:
                raise _Refused(408, "body_timeout", "the request body did not arrive in time")
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Refused(413, "body_too_large", f"the request body exceeds {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                body = b"".join(chunks)
                if limit == settings.max_body_bytes and _has_nul(body):
                    raise _Refused(400, "nul_in_body", "the request body contains a NUL character")
                return body


def _without_body(scope: Scope) -> bool:
    """An HTTP/1 request with neither ``Content-Length`` (or ``Content-Length: 0``) nor ``Transfer-Encoding``
    has no body (RFC 9112, section 6.3): the server has read all of it with its headers, so there is nothing
    to bound or wait for (most reads are such requests)."""
    if scope.get("http_version") not in ("1.0", "1.1"):
        return False
    for key, value in scope.get("headers", ()):
        name = key.lower()
        if name == b"transfer-encoding" or (name == b"content-length" and bytes(value).strip() != b"0"):
            return False
    return True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _has_nul(body: bytes) -> bool:
    """A NUL in JSON (``\\u0000``), a form (``%00``) or raw: never valid text here, and PostgreSQL refuses
    it. Submissions are exempt: XML is parsed and validated by its own reader."""
    return b"\x00" in body or b"%00" in body or b"\\u0000" in body.lower()


def _check_origin(scope: Scope) -> None:
    """CSRF defence of the web forms: a state-changing request to ``/web`` whose Origin (or Referer) names
    another origin is refused. Browsers send Origin with every cross-origin POST; clients that send
    neither are not browsers, and a browser cannot be made to omit both."""
    if not str(scope.get("path", "")).startswith("/web") or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
        return
    host = _header(scope, b"host")
    origin = _header(scope, b"origin")
    referer = _header(scope, b"referer")
    if origin is None and referer is None:
        return
    claimed = origin if origin is not None else referer or ""
    parts = claimed.split("/")
    if host is None or claimed == "null" or len(parts) < 3 or parts[2] != host:
        raise _Refused(403, "cross_origin", "this form was posted from another site")


def _check_target(scope: Scope) -> None:
    raw_path = scope.get("raw_path") or str(scope.get("path", "")).encode()
    if b"\x00" in raw_path or b"%00" in raw_path or "\x00" in str(scope.get("path", "")):
        raise _Refused(400, "nul_in_path", "the path contains a NUL character")
    query = bytes(scope.get("query_string", b""))
    if b"%00" in query or b"\x00" in query:
        raise _Refused(400, "nul_in_query", "the query contains a NUL character")
