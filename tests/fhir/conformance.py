"""Checks every resource the FHIR API produces against the official R4 JSON schema (``r4schema/``, HL7's
``fhir.schema.json`` for 4.0.1, kept byte for byte; see ``r4schema/PROVENANCE.md``), ``fhir.resources``,
and the invariants the schema cannot express (Bundle ``bdl-*``, Appointment ``app-*``) in their FHIRPath
form, evaluated with ``fhirpathpy``.

Each resource (the Bundle and each resource inside it) is validated against its own definition: the
schema's ``ResourceList`` is a ``oneOf`` over every resource type told apart by ``resourceType``, so
checking a nested resource against the definition its ``resourceType`` names is the same test, and
hundreds of times faster than letting the validator try every type.

Each check is a function of the resource's JSON alone, so a process checks each distinct resource once: the
tests read the same resources many times (a page and the whole ``$everything``, each reference read back), and
the checks cost more than the requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B import get_fhir_model_class

if TYPE_CHECKING:  # both are imported when first needed: every worker collects the modules that import this one
    from jsonschema import Draft6Validator

SCHEMA = Path(__file__).parent / "r4schema" / "fhir.schema.json"
INVARIANTS: dict[str, dict[str, str]] = {
    "Bundle": {
        "bdl-1": "total.empty() or (type = 'searchset') or (type = 'history')",
        "bdl-2": "entry.search.empty() or (type = 'searchset')",
        "bdl-3": "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or "
        "%resource.type = 'history'))",
        "bdl-4": "entry.all(response.exists() = (%resource.type = 'batch-response' or "
        "%resource.type = 'transaction-response' or %resource.type = 'history'))",
        "bdl-5": "entry.all(resource.exists() or request.exists() or response.exists())",
        "bdl-7": "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId)"
        ".isDistinct()",
        "bdl-8": "entry.all(fullUrl.exists().not() or fullUrl.contains('/_history/').not())",
    },
    "Appointment": {
        "app-2": "start.exists() = end.exists()",
        "app-3": "(start.exists() and end.exists()) or (status in ('proposed' | 'cancelled' | 'waitlist'))",
        "app-4": "Appointment.cancelationReason.exists().not() or (Appointment.status='no-show' or "
        "Appointment.status='cancelled')",
    },
    "Patient": {"pat-1": "contact.all(name.exists() or telecom.exists() or address.exists() or "
                "organization.exists())"},
}  # fmt: skip
"""The FHIRPath of the R4 invariants checked (bdl-6, 9-12 concern document and message Bundles, which
this server does not produce)."""


@cache
def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))["definitions"]
    # Nested resources are checked one by one against their own type (see the module docstring).
    return {**definitions, "ResourceList": {"type": "object", "required": ["resourceType"]}}


@cache
def _validator(resource_type: str) -> Draft6Validator:
    from jsonschema import Draft6Validator

    definitions = _definitions()
    if resource_type not in definitions:
        raise AssertionError(f"'{resource_type}' is not an R4 resource type")
    return Draft6Validator({"$ref": f"#/definitions/{resource_type}", "definitions": definitions})


def resources_in(value: Any) -> Iterator[dict[str, Any]]:
    """The value itself if it is a resource, and every resource nested in it."""
    if isinstance(value, dict):
        if "resourceType" in value:
            yield value
        for v in value.values():
            yield from resources_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from resources_in(v)


def _json(resource: dict[str, Any]) -> str:
    """The resource's JSON, its keys sorted: equal for equal resources (JSON objects are unordered)."""
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_SCHEMA_ERRORS: dict[str, list[str]] = {}
_INVARIANT_ERRORS: dict[str, list[str]] = {}
_MODEL_VALID: set[str] = set()


def _own_schema_errors(r: dict[str, Any]) -> list[str]:
    """Violations of the resource's own definition (a nested resource is only required to name its type)."""
    key = _json(r)
    if key not in _SCHEMA_ERRORS:
        _SCHEMA_ERRORS[key] = [
            f"{r['resourceType']}/{r.get('id')} at {'/'.join(str(p) for p in e.absolute_path)}: {e.message[:200]}"
            for e in _validator(r["resourceType"]).iter_errors(r)
        ]
    return _SCHEMA_ERRORS[key]


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Violations of the official R4 JSON schema, for the resource and each resource inside it."""
    return [error for r in resources_in(resource) for error in _own_schema_errors(r)]


@cache
def _compiled(expression: str) -> Callable[[dict[str, Any], dict[str, Any]], list[Any]]:
    """The FHIRPath expression parsed once (parsing costs far more than evaluating)."""
    import fhirpathpy

    compiled: Callable[[dict[str, Any], dict[str, Any]], list[Any]] = fhirpathpy.compile(expression)
    return compiled


def _own_invariant_errors(r: dict[str, Any]) -> list[str]:
    invariants = INVARIANTS.get(r["resourceType"], {})
    if not invariants:
        return []
    key = _json(r)
    if key not in _INVARIANT_ERRORS:
        _INVARIANT_ERRORS[key] = [
            f"{r['resourceType']}/{r.get('id')} breaks {name}: {expression}"
            for name, expression in invariants.items()
            if _compiled(expression)(r, {"resource": r}) != [True]
        ]
    return _INVARIANT_ERRORS[key]


def invariant_errors(resource: dict[str, Any]) -> list[str]:
    return [error for r in resources_in(resource) for error in _own_invariant_errors(r)]


def check(resource: dict[str, Any]) -> dict[str, Any]:
    """Assert the resource conforms (schema, invariants, ``fhir.resources``); returns it."""
    problems = schema_errors(resource) + invariant_errors(resource)
    assert not problems, "\n".join(problems[:20])
    key = _json(resource)
    if key not in _MODEL_VALID:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        _MODEL_VALID.add(key)
    return resource
