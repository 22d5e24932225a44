"""The CapabilityStatement served at ``GET /fhir/metadata``: what this server does, nothing more.

It ``instantiates`` the IHE actor statements it implements: PIXm 3.x Patient Identifier Cross-reference
Manager (ITI-83) and PDQm 3.x Patient Demographics Supplier (ITI-78 search, ITI-119 ``$match``).
"""

from __future__ import annotations

from typing import Any, Final

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from mpi.fhir import identifiers as sid
from mpi.fhir.everything import RESOURCE_TYPES

FHIR_VERSION: Final = "4.0.1"
IHE_PIXM_MANAGER: Final = "https://profiles.ihe.net/ITI/PIXm/CapabilityStatement/IHE.PIXm.Manager"
IHE_PDQM_SUPPLIER: Final = "https://profiles.ihe.net/ITI/PDQm/CapabilityStatement/IHE.PDQm.Supplier"
FORMATS: Final = ("application/fhir+json", "application/fhir+xml", "json", "xml")
_SP: Final = "http://hl7.org/fhir/SearchParameter"
_IDENTIFIER_DOC: Final = (
    "[system|]value, comma-separated values are alternatives (OR); systems: "
    f"{sid.CCCD} (CCCD), {sid.BHXH} (BHXH number), {sid.BASE}/sid/facility/{{MA_CSKCB}}/patient-id (MA_BN), "
    f"{sid.PERSON} (our person id). A bare value matches any of them, |value identifiers without a system "
    "(there are none); system| alone is refused (it would list persons in bulk). POST Patient/_search "
    "(form) keeps identifiers out of URLs."
)
PATIENT_SEARCH: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("_id", "token", f"{_SP}/Resource-id", "our person id (= Patient.id); comma-separated alternatives"),
    ("identifier", "token", f"{_SP}/Patient-identifier", _IDENTIFIER_DOC),
    ("family", "string", f"{_SP}/individual-family", "with given and birthdate"),
    ("given", "string", f"{_SP}/individual-given", "with family and birthdate"),
    ("birthdate", "date", f"{_SP}/individual-birthdate", "with family and given; prefix eq (or none) only"),
    ("gender", "token", f"{_SP}/individual-gender", "narrows a family + given + birthdate search"),
)
"""Patient search parameters (name, type, definition, documentation)."""
_EVERYTHING_DOC: Final = (
    "A paged searchset: the Patient, then each encounter (newest first) with what it recorded; Organizations "
    "and Locations referenced on a page are included (search.mode include). start/end: encounters whose care "
    "period overlaps them; _since: received by the hub at or after; _type: comma-separated, repeatable; "
    "_count: results per page (next/previous links). GET, or POST with a Parameters resource."
)


def capability_statement(*, software_version: str, date: str, base: str) -> CapabilityStatement:
    read: list[dict[str, Any]] = [{"code": "read"}]
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "profile": "http://hl7.org/fhir/StructureDefinition/Patient",
            "interaction": [*read, {"code": "search-type"}],
            "versioning": "versioned",
            "readHistory": False,
            "conditionalRead": "modified-since",
            "searchParam": [
                {"name": n, "type": t, "definition": d, "documentation": doc} for n, t, d, doc in PATIENT_SEARCH
            ],
            "operation": [
                {
                    "name": "match",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match",
                    "documentation": "IHE PDQm ITI-119: a Parameters (resource, count, onlyCertainMatches) or a "
                    "bare Patient as the body.",
                },
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    "documentation": _EVERYTHING_DOC,
                },
                {
                    "name": "ihe-pix",
                    "definition": "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix",
                    "documentation": "IHE PIXm ITI-83: GET, or POST form-encoded or with a Parameters body.",
                },
            ],
        },
        *(
            {
                "type": t,
                "interaction": read,
                "versioning": "versioned",
                "conditionalRead": "modified-since",
                "documentation": "Read by id (ids appear in Patient/$everything); no search.",
            }
            for t in RESOURCE_TYPES
            if t != "Patient"
        ),
    ]
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": date,
            "publisher": "Provincial health-data hub",
            "kind": "instance",
            "instantiates": [IHE_PIXM_MANAGER, IHE_PDQM_SUPPLIER],
            "software": {"name": "Provincial health-data hub (MPI)", "version": software_version},
            "implementation": {"description": "Master patient index and longitudinal record (QĐ 130 XML)", "url": base},
            "fhirVersion": FHIR_VERSION,
            "format": list(FORMATS),
            "rest": [
                {
                    "mode": "server",
                    "documentation": (
                        "Reads of patient data need 'Authorization: Bearer <clinician key>' and the header "
                        "X-Purpose-Of-Use (HL7 PurposeOfUse: TREAT, ETREAT, COC, CAREMGT, PATRQT); each read is "
                        "audited. Errors are OperationOutcome; parameters that are ignored are listed as a "
                        "warning in the Bundle (Prefer: handling=strict makes them a 400). Searches page with "
                        "_count and next/previous links (signed cursors, valid for an hour, for the same key); "
                        "_summary=count gives the total alone."
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
