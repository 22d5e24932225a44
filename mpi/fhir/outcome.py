"""OperationOutcome: how every FHIR error is answered. Messages never carry patient data."""

from __future__ import annotations

from typing import Final

from fhir.resources.R4B.operationoutcome import OperationOutcome

ISSUE_TYPES: Final[dict[int, str]] = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    408: "timeout",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
}
"""HTTP status -> OperationOutcome issue type (http://hl7.org/fhir/issue-type)."""


def operation_outcome(*, status: int, code: str, message: str, severity: str = "error") -> OperationOutcome:
    """One issue: our stable error ``code`` in ``details.coding``, the message in ``diagnostics``."""
    return OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": severity,
                    "code": ISSUE_TYPES.get(status, "processing"),
                    "details": {"coding": [{"code": code}], "text": message},
                    "diagnostics": message,
                }
            ],
        }
    )
