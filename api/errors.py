"""One error answer for the whole application: ``{"error": {...}}`` under ``/api`` and ``/web``, an
``OperationOutcome`` (``application/fhir+json``) under ``/fhir``. Messages never carry patient data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from starlette.responses import Response

from mpi.fhir.outcome import operation_outcome

FHIR_PREFIX: Final = "/fhir"
FHIR_JSON: Final = "application/fhir+json"


def is_fhir(path: str) -> bool:
    return path == FHIR_PREFIX or path.startswith(f"{FHIR_PREFIX}/")


def error_response(
    path: str,
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The error answer for a request to ``path``; 401s carry ``WWW-Authenticate: Bearer``."""
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if is_fhir(path):
        outcome = operation_outcome(status=status, code=code, message=message)
        return Response(outcome.model_dump_json(exclude_none=True), status, headers, media_type=FHIR_JSON)
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return Response(json.dumps({"error": body}, ensure_ascii=False), status, headers, media_type="application/json")


_OUTCOME_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string"},
                    "code": {"type": "string", "description": "http://hl7.org/fhir/issue-type"},
                    "details": {"type": "object", "description": "coding[0].code: our stable error code"},
                    "diagnostics": {"type": "string"},
                },
            },
        },
    },
}
OPERATION_OUTCOME_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    status: {"description": description, "content": {FHIR_JSON: {"schema": _OUTCOME_SCHEMA}}}
    for status, description in [
        (400, "Bad request (OperationOutcome)"),
        (401, "No valid API key (OperationOutcome)"),
        (403, "Wrong role, facility or purpose of use (OperationOutcome)"),
        (404, "Not found (OperationOutcome)"),
        (413, "Request body too large (OperationOutcome)"),
        (422, "Invalid parameters (OperationOutcome)"),
        (429, "Too many reads: retry after the Retry-After seconds (OperationOutcome)"),
    ]
}
"""How every FHIR route documents its errors: ``application/fhir+json`` OperationOutcomes."""
