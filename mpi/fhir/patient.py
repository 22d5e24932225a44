"""A person's summary as a FHIR ``Patient``: every identifier, and demographics as each facility recorded them.

The hub keeps what facilities sent rather than one "golden" record, so names, addresses and phones are the
distinct values across the person's facilities (newest facility first); ``birthDate`` is the newest
facility's, at the precision it was sent (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; a newborn's time in
the birthTime extension). Mapping only: no
queries, no HTTP, no logging.
"""

from __future__ import annotations

from typing import Any, Final

from fhir.resources.R4B.patient import Patient

from mpi.fhir import identifiers as sid
from mpi.fhir.everything import fhir_datetime
from mpi.records import PersonSummary

BIRTH_TIME: Final = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
"""A newborn's birth time (NGAY_SINH to the minute) rides on ``birthDate``, which holds only the day."""
GENDERS: Final[dict[int, str]] = {1: "male", 2: "female", 3: "unknown"}
"""GIOI_TINH -> AdministrativeGender."""


def human_name(text: str) -> dict[str, Any]:
    """A Vietnamese name as recorded: family name first, then middle and given names."""
    parts = text.split()
    name: dict[str, Any] = {"use": "official", "text": text}
    if parts:
        name["family"] = parts[0]
    if len(parts) > 1:
        name["given"] = parts[1:]
    return name


def patient_identifiers(summary: PersonSummary) -> list[dict[str, Any]]:
    person_id = summary.person.person_id
    out: list[dict[str, Any]] = [{"use": "official", "system": sid.PERSON, "value": str(person_id)}]
    out += [{"system": sid.CCCD, "value": v} for v in summary.national_ids]
    out += [{"system": sid.BHXH, "value": v} for v in summary.bhxh_numbers]
    out += [{"system": sid.facility_patient_system(f), "value": c} for f, c in summary.patient_codes]
    return out


def to_patient(summary: PersonSummary) -> Patient:
    person = summary.person
    demographics = summary.demographics  # newest facility first
    names = list(dict.fromkeys(d.name for d in demographics if d.name))
    phones = list(dict.fromkeys(d.phone for d in demographics if d.phone))
    addresses: dict[tuple[str | None, str | None, str | None], None] = {}
    for d in demographics:
        if d.address or d.province_code or d.commune_code:
            addresses[(d.address, d.province_code, d.commune_code)] = None
    birth = next((d.birth_date for d in demographics if d.birth_date), None)
    sex = next((d.sex for d in demographics if d.sex is not None), None)
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(person.person_id),
        "identifier": patient_identifiers(summary),
        "active": True,
        "name": [human_name(n) for n in names] or None,
        "telecom": [{"system": "phone", "value": p, "use": "mobile"} for p in phones] or None,
        "gender": GENDERS.get(sex) if sex is not None else None,
        "birthDate": birth[:10] if birth else None,
        "_birthDate": _birth_time(birth),
        "address": [_address(text, province, commune) for text, province, commune in addresses] or None,
        "managingOrganization": (
            {"reference": f"Organization/{demographics[0].facility_code}"} if demographics else None
        ),
        "link": [
            {"other": {"reference": f"Patient/{p}"}, "type": "replaces"}
            for p in person.cluster
            if p != person.person_id
        ]
        or None,
    }
    return Patient.model_validate({k: v for k, v in data.items() if v is not None})


def _birth_time(birth: str | None) -> dict[str, Any] | None:
    if birth is None or "T" not in birth:
        return None
    return {"extension": [{"url": BIRTH_TIME, "valueDateTime": fhir_datetime(birth)}]}


def _address(text: str | None, province: str | None, commune: str | None) -> dict[str, Any]:
    address: dict[str, Any] = {"use": "home", "country": "VN"}
    if text:
        address["text"] = text
    if province:
        address["state"] = province
    if commune:
        address["extension"] = [{"url": sid.COMMUNE, "valueCode": commune}]
    return address
