"""The CapabilityStatement served at ``GET /fhir/metadata``: what this server does, nothing more."""

from __future__ import annotations

from typing import Any, Final

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from mpi.fhir import identifiers as sid
from mpi.fhir.everything import RESOURCE_TYPES

FHIR_VERSION: Final = "4.0.1"
_SEARCH_DOC: Final = (
    "identifier: [system|]value; systems: "
    f"{sid.CCCD} (CCCD), {sid.BHXH} (BHXH number), {sid.BASE}/sid/facility/{{MA_CSKCB}}/patient-id (MA_BN), "
    f"{sid.PERSON} (our person id). Without a system, matches any of them. POST Patient/_search (form) keeps "
    "identifiers out of URLs."
)


def capability_statement(*, software_version: str, date: str) -> CapabilityStatement:
    read_only: list[dict[str, Any]] = [{"code": "read"}]
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "interaction": [*read_only, {"code": "search-type"}],
            "searchParam": [
                {"name": "identifier", "type": "token", "documentation": _SEARCH_DOC},
                {"name": "family", "type": "string", "documentation": "with given and birthdate"},
                {"name": "given", "type": "string", "documentation": "with family and birthdate"},
                {"name": "birthdate", "type": "date", "documentation": "with family and given"},
            ],
            "operation": [
                {"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match"},
                {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
                {"name": "ihe-pix", "definition": "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix"},
            ],
        },
        *({"type": t} for t in RESOURCE_TYPES if t != "Patient"),
    ]
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": date,
            "kind": "instance",
            "software": {"name": "Provincial health-data hub (MPI)", "version": software_version},
            "implementation": {"description": "Master patient index and longitudinal record (QĐ 130 XML)"},
            "fhirVersion": FHIR_VERSION,
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": (
                        "Reads of patient data need 'Authorization: Bearer <clinician key>' and the header "
                        "X-Purpose-Of-Use (HL7 PurposeOfUse: TREAT, ETREAT, COC, CAREMGT, PATRQT); each read is "
                        "audited. Errors are OperationOutcome."
                    ),
                    "security": {
                        "service": [{"text": "API key (Bearer)"}],
                        "description": "Clinician keys bound to a facility; purpose of use required.",
                    },
                    "resource": resources,
                }
            ],
        }
    )
