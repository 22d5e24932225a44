"""The one exception tree of the hub. Every error a caller can act on is one of these.

    MPIError
    ├── SubmissionError          a file could not be accepted at all (too large, not XML 130...)
    ├── AuthError
    │   ├── AuthenticationError  no key, or an unknown or revoked key         -> HTTP 401
    │   └── PermissionDenied     a valid key without the right role/facility  -> HTTP 403
    ├── NotFound                 the thing asked for does not exist            -> HTTP 404
    ├── InvalidInputFile         an uploaded table (facility registry) has problems: all listed -> 422
    └── ConfigurationError       the deployment is misconfigured              -> HTTP 500

Each error carries a stable machine-readable ``code`` and a message that never contains patient data.
"""

from __future__ import annotations


class MPIError(Exception):
    code = "error"
    status = 400
    headers: dict[str, str] | None = None
    """HTTP headers the answer must carry (e.g. ``Retry-After``)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class SubmissionError(MPIError):
    code = "submission_rejected"
    status = 422


class AuthError(MPIError):
    status = 401


class AuthenticationError(AuthError):
    code = "unauthenticated"
    status = 401


class PermissionDenied(AuthError):
    code = "forbidden"
    status = 403


class NotFound(MPIError):
    code = "not_found"
    status = 404


class InvalidInputFile(MPIError):
    """A CSV/XLSX input with problems; ``problems`` lists every one (where, what, why)."""

    code = "file_invalid"
    status = 422

    def __init__(self, message: str, *, problems: list[str], code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.problems = problems


class ConfigurationError(MPIError):
    code = "configuration"
    status = 500
