"""One error answer for the whole application: ``{"error": {...}}`` under ``/api`` and ``/web``, an
``OperationOutcome`` (``application/fhir+json``) under ``/fhir``. Messages never carry patient data."""

from __future__ import annotations

import json
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
    headers: dict[str, str] | None = None,
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
