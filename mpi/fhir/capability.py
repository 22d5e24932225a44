"""The CapabilityStatement served at ``GET /fhir/metadata``: what this server does, nothing more.

It ``instantiates`` the IHE actor statements it implements: PIXm 3.x Patient Identifier Cross-reference
Manager (ITI-83) and PDQm 3.x Patient Demographics Supplier (ITI-78 search, ITI-119 ``$match``).
"""

from __future__ import annotations

from collections.abc import Sequence
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
_WHOLE: Final = "whole names, case- and diacritic-insensitive; :exact as recorded"
PATIENT_SEARCH: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("_id", "token", f"{_SP}/Resource-id", "our person id (= Patient.id); comma-separated alternatives"),
    ("identifier", "token", f"{_SP}/Patient-identifier", _IDENTIFIER_DOC),
    ("family", "string", f"{_SP}/individual-family", f"the family name: {_WHOLE}"),
    ("given", "string", f"{_SP}/individual-given", f"a run of the given names (An, Văn An): {_WHOLE}"),
    ("birthdate", "date", f"{_SP}/individual-birthdate", "prefixes eq ne gt lt ge le sa eb (not ap: use $match)"),
    ("gender", "token", f"{_SP}/individual-gender", "male, female, other, unknown"),
    ("telecom", "token", f"{_SP}/individual-telecom", "[phone|]number, compared as normalised phone numbers"),
    ("address", "string", f"{_SP}/individual-address",
     "a run of words of the address text, or the start of its province code or name, or the country; :exact"),
    ("address-state", "string", f"{_SP}/individual-address-state",
     "the province: start of its code or name (before or after the 2025 merger); :exact"),
    ("address-country", "string", f"{_SP}/individual-address-country", "VN (Việt Nam); :exact"),
    ("mothersMaidenName", "string", f"{_SP}/patient-extensions-Patient-mothersMaidenName",
     "start (whole words) of the mother's name recorded on the person's papers (XML7, XML8, XML11); :exact"),
    ("active", "token", f"{_SP}/Patient-active", "true (every Patient found is active), false finds none"),
)  # fmt: skip
"""Patient search parameters (name, type, definition, documentation). Not supported, so not declared:
``address-city`` and ``address-postalcode`` (the QĐ 130 record holds neither a city nor a postal code, only
administrative unit codes)."""
_EVERYTHING_DOC: Final = (
    "A paged searchset: the Patient, then each encounter (newest first) with what it recorded; Organizations "
    "and Locations referenced on a page are included (search.mode include). start/end: encounters whose care "
    "period overlaps them; _since: received by the hub at or after; _type: comma-separated, repeatable; "
    "_count: results per page (next/previous links). GET, or POST with a Parameters resource."
)


def capability_statement(
    *, software_version: str, date: str, base: str, search_combinations: Sequence[str]
) -> CapabilityStatement:
    """``search_combinations``: the demographic parameter combinations a search must complete
    (:func:`mpi.fhir.pdq.accepted_combinations`)."""
    read: list[dict[str, Any]] = [{"code": "read"}]
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "profile": "http://hl7.org/fhir/StructureDefinition/Patient",
            "interaction": [*read, {"code": "search-type"}],
            "versioning": "versioned",
            "readHistory": False,
            "conditionalRead": "modified-since",
            "documentation": (
                "Search (IHE PDQm ITI-78): repeated parameters are AND, comma-separated values OR. A search by "
                "demographics alone must include one of: " + "; ".join(search_combinations) + " — a broader "
                "one is refused (400 too-costly) so that no query lists persons in bulk; identifier or _id "
                "may be narrowed by any demographic parameter. A Patient matches when one of its records, as "
                "the reader may see it, satisfies every parameter. Of the PDQm parameters, address-city and "
                "address-postalcode are not supported: the record holds no city or postal code."
            ),
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
