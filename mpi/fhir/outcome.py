"""OperationOutcome: how every FHIR error and warning is answered. Messages never carry patient data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from fhir.resources.R4B.operationoutcome import OperationOutcome

from mpi.fhir import identifiers as sid

ISSUE_TYPES: Final[dict[int, str]] = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    408: "timeout",
    409: "conflict",
    410: "deleted",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
}
"""HTTP status -> OperationOutcome issue type (http://hl7.org/fhir/issue-type), unless the error names its
own (PIXm's ``code-invalid``, ``too-costly``...)."""


def operation_outcome(
    *, status: int, code: str, message: str, severity: str = "error", issue_type: str | None = None
) -> OperationOutcome:
    """One issue: our stable error ``code`` in ``details.coding`` (system ``…/CodeSystem/error``), the
    message in ``diagnostics``."""
    return OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [_issue(severity, issue_type or ISSUE_TYPES.get(status, "processing"), code, message)],
        }
    )


def warnings(items: Sequence[tuple[str, str, str]]) -> OperationOutcome:
    """Warnings (``code``, message, issue type) returned beside a result: parameters that were ignored
    (``not-supported``), data withheld from the reader (``suppressed``)."""
    return OperationOutcome.model_validate(
        {"resourceType": "OperationOutcome", "issue": [_issue("warning", t, c, m) for c, m, t in items]}
    )


def _issue(severity: str, issue_type: str, code: str, message: str) -> dict[str, object]:
    return {
        "severity": severity,
        "code": issue_type,
        "details": {"coding": [{"system": sid.ERROR_CODES, "code": code}], "text": message},
        "diagnostics": message,
    }
