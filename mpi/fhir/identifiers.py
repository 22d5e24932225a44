"""The identifier and code systems the hub's FHIR R4 interface uses, in one place.

Every URI below is ours (the hub's namespace ``https://fhir.mpi.vn``) except ICD-10, HL7 and SNOMED CT
systems, which are the published ones. Clients send these systems in ``identifier=system|value`` searches,
``$match`` and ``$ihe-pix``; the README lists them.

=====================  ===================================================  ==================================
What                   System                                               Value
=====================  ===================================================  ==================================
CCCD (national id)     ``https://fhir.mpi.vn/sid/cccd``                     12 digits (SO_CCCD)
BHXH number            ``https://fhir.mpi.vn/sid/bhxh``                     10 digits (from MA_THE_BHYT)
Facility patient id    ``https://fhir.mpi.vn/sid/facility/{MA_CSKCB}/patient-id``  MA_BN at that facility
Our person id          ``https://fhir.mpi.vn/sid/person``                   the MPI person id (= Patient.id)
Facility               ``https://fhir.mpi.vn/sid/cskcb``                    MA_CSKCB (= Organization.id)
Encounter key          ``https://fhir.mpi.vn/sid/facility/{MA_CSKCB}/ma-lk``        MA_LK at that facility
=====================  ===================================================  ==================================

Never logs or stores a value: this module only names systems and parses ``system|value`` tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

BASE: Final = "https://fhir.mpi.vn"
CCCD: Final = f"{BASE}/sid/cccd"
BHXH: Final = f"{BASE}/sid/bhxh"
PERSON: Final = f"{BASE}/sid/person"
FACILITY: Final = f"{BASE}/sid/cskcb"
_FACILITY_PATIENT: Final = f"{BASE}/sid/facility/{{facility}}/patient-id"
_FACILITY_ENCOUNTER: Final = f"{BASE}/sid/facility/{{facility}}/ma-lk"
_FACILITY_PATIENT_RE: Final = re.compile(re.escape(f"{BASE}/sid/facility/") + r"(\d{5})/patient-id")

ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED: Final = "http://snomed.info/sct"
MATCH_GRADE: Final = "http://hl7.org/fhir/StructureDefinition/match-grade"
"""Extension on ``Bundle.entry.search`` (values ``certain`` | ``probable`` | ``possible`` | ``certainly-not``)."""

ENCOUNTER_TYPE: Final = f"{BASE}/CodeSystem/ma-loai-kcb"
"""MA_LOAI_KCB (QĐ 130 encounter types)."""
DRUG: Final = f"{BASE}/CodeSystem/ma-thuoc"
ROUTE: Final = f"{BASE}/CodeSystem/duong-dung"
SERVICE: Final = f"{BASE}/CodeSystem/ma-dich-vu"
LAB_INDEX: Final = f"{BASE}/CodeSystem/ma-chi-so"
COMMUNE: Final = f"{BASE}/StructureDefinition/commune-code"
"""Extension on ``Address``: the commune code (MAXA_CU_TRU); ``Address.state`` holds the province code."""
FACILITY_LEVEL: Final = f"{BASE}/CodeSystem/facility-level"
"""The facility registry's levels (``provincial``, ``district``, ``private``, ``commune``)."""
ERROR_CODES: Final = f"{BASE}/CodeSystem/error"
"""Our stable error codes (``OperationOutcome.issue.details.coding``), the same as ``/api/v1`` answers."""
REFERRAL_NUMBER: Final = f"{BASE}/sid/giay-chuyen-tuyen"
APPOINTMENT_SLIP: Final = f"{BASE}/sid/giay-hen-kham-lai"

Kind = Literal["national_id", "bhxh_number", "patient_code", "person"]


def facility_patient_system(facility_code: str) -> str:
    """The system of MA_BN at one facility (MA_BN is only unique within its facility)."""
    return _FACILITY_PATIENT.format(facility=facility_code)


def facility_encounter_system(facility_code: str) -> str:
    return _FACILITY_ENCOUNTER.format(facility=facility_code)


@dataclass(frozen=True, slots=True)
class Token:
    """A parsed ``[system|]value`` identifier token."""

    system: str | None
    value: str

    @classmethod
    def parse(cls, text: str) -> Token:
        system, bar, value = text.partition("|")
        return cls(system=system or None, value=value) if bar else cls(system=None, value=text)


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a known system means: the kind of identifier and, for MA_BN, its facility."""

    kind: Kind
    facility_code: str | None = None


def resolve_system(system: str) -> Resolved | None:
    """The kind of identifier a system names, or None for a system the hub does not know."""
    if system == CCCD:
        return Resolved("national_id")
    if system == BHXH:
        return Resolved("bhxh_number")
    if system == PERSON:
        return Resolved("person")
    match = _FACILITY_PATIENT_RE.fullmatch(system)
    return Resolved("patient_code", match.group(1)) if match else None
