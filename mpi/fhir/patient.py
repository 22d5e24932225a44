"""A person's summary as a FHIR ``Patient``: every identifier, and demographics as each facility recorded them.

The hub keeps what facilities sent rather than one "golden" record, so addresses and phones are the
distinct values across the person's facilities (newest facility first), and names are each form recorded
with one ``official`` among them; ``birthDate`` is the newest
facility's, at the precision it was sent (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; a newborn's time in
the birthTime extension). Mapping only: no
queries, no HTTP, no logging.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from fhir.resources.R4B.patient import Patient

from mpi.fhir import identifiers as sid
from mpi.fhir.everything import fhir_datetime
from mpi.fhir.lookup import RecordedIdentity
from mpi.records import PersonSummary

BIRTH_TIME: Final = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
"""A newborn's birth time (NGAY_SINH to the minute) rides on ``birthDate``, which holds only the day."""
GENDERS: Final[dict[int, str]] = {1: "male", 2: "female", 3: "unknown"}
"""GIOI_TINH -> AdministrativeGender."""


MOTHERS_MAIDEN_NAME: Final = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
RECORDED_BY: Final = f"{sid.BASE}/StructureDefinition/recorded-by"
"""Extension on a ``HumanName``: a facility (Organization) that recorded the name in this form."""
ASSIGNERS: Final[dict[str, str]] = {
    sid.CCCD: "Bộ Công an",
    sid.BHXH: "Bảo hiểm xã hội Việt Nam",
    sid.PERSON: "Master patient index (MPI)",
}
"""Who issues each national identifier (``Identifier.assigner.display``); MA_BN's assigner is its facility."""


def human_name(text: str, *, use: str | None = None) -> dict[str, Any]:
    """A Vietnamese name as recorded: family name first, then middle and given names."""
    parts = text.split()
    name: dict[str, Any] = {"text": text}
    if use is not None:
        name["use"] = use
    if parts:
        name["family"] = parts[0]
    if len(parts) > 1:
        name["given"] = parts[1:]
    return name


def fold_name(text: str) -> str:
    """A name without case, diacritics or spacing: forms of one name fold to the same key."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _is_proper(text: str) -> tuple[bool, bool]:
    """Written with its Vietnamese diacritics (not an ASCII copy of the name), and in mixed case (not the
    capitals some software prints): the better form of a name sorts higher."""
    return (fold_name(text) != " ".join(text.casefold().split()), text != text.upper())


def patient_names(identities: Sequence[RecordedIdentity]) -> list[dict[str, Any]]:
    """One ``official`` name: the most often recorded name, in its proper form — with its diacritics and in
    mixed case where any facility wrote it so (then the most frequent such form, then the most recent).
    Other spellings of it follow without a use; different names (a newborn's provisional name, a former
    name) are ``old`` when last recorded before the official one, else ``usual``. Each name says which
    facilities recorded it (``recorded-by``)."""
    forms: dict[str, list[RecordedIdentity]] = {}
    for i in identities:  # oldest first
        if i.name:
            forms.setdefault(i.name, []).append(i)
    if not forms:
        return []
    groups: dict[str, list[str]] = {}
    for text in forms:
        groups.setdefault(fold_name(text), []).append(text)

    def last(texts: Iterable[str]) -> tuple[str, int]:
        return max((forms[t][-1].seen or "", forms[t][-1].encounter_id) for t in texts)

    def weight(texts: list[str]) -> tuple[int, tuple[str, int]]:
        return (sum(len(forms[t]) for t in texts), last(texts))

    official_key = max(groups, key=lambda k: weight(groups[k]))
    official_texts = groups[official_key]
    official = max(official_texts, key=lambda t: (_is_proper(t), len(forms[t]), last([t])))
    official_last = last(official_texts)
    out = [_recorded(human_name(official, use="official"), forms[official])]
    out += [_recorded(human_name(t), forms[t]) for t in official_texts if t != official]
    for key, texts in groups.items():
        if key == official_key:
            continue
        use = "old" if last(texts) < official_last else "usual"
        out += [_recorded(human_name(t, use=use), forms[t]) for t in texts]
    return out


def _recorded(name: dict[str, Any], seen: Sequence[RecordedIdentity]) -> dict[str, Any]:
    facilities = list(dict.fromkeys(i.facility_code for i in reversed(seen)))
    name["extension"] = [{"url": RECORDED_BY, "valueReference": {"reference": f"Organization/{f}"}} for f in facilities]
    return name


def patient_identifiers(summary: PersonSummary, identities: Sequence[RecordedIdentity] = ()) -> list[dict[str, Any]]:
    """Every identifier, each with who issues it (``assigner``) and, from ``identities``, the period the
    hub saw it in records; of two CCCDs (or BHXH numbers) the most recently recorded is ``official``, the
    others ``old`` with the last time they were recorded as the period's end."""
    person_id = summary.person.person_id
    seen: dict[tuple[str, str], list[str]] = {}
    for i in identities:
        keys = [(sid.CCCD, i.national_id)] if i.national_id else []
        keys += [(sid.BHXH, b) for b in i.bhxh_numbers]
        if i.patient_code:
            keys.append((sid.facility_patient_system(i.facility_code), i.patient_code))
        for key in keys:
            seen.setdefault(key, []).append(i.seen or "")
    out: list[dict[str, Any]] = [
        {
            "use": "official",
            "system": sid.PERSON,
            "value": str(person_id),
            "assigner": {"display": ASSIGNERS[sid.PERSON]},
        }
    ]
    for system, values in ((sid.CCCD, summary.national_ids), (sid.BHXH, summary.bhxh_numbers)):
        newest = max(values, key=lambda v: max(seen.get((system, v), [""]))) if len(values) > 1 else None
        for value in values:
            identifier: dict[str, Any] = {"system": system, "value": value, "assigner": {"display": ASSIGNERS[system]}}
            if newest is not None:
                identifier["use"] = "official" if value == newest else "old"
            dates = sorted(d for d in seen.get((system, value), []) if d)
            if dates:
                period = {"start": fhir_datetime(dates[0])}
                if identifier.get("use") == "old":
                    period["end"] = fhir_datetime(dates[-1])
                identifier["period"] = period
            out.append(identifier)
    for facility, code in summary.patient_codes:
        system = sid.facility_patient_system(facility)
        identifier = {
            "use": "usual",
            "system": system,
            "value": code,
            "assigner": {"reference": f"Organization/{facility}"},
        }
        dates = sorted(d for d in seen.get((system, code), []) if d)
        if dates:
            identifier["period"] = {"start": fhir_datetime(dates[0])}
        out.append(identifier)
    return out


def to_patient(
    summary: PersonSummary,
    identities: Sequence[RecordedIdentity] = (),
    review_partners: Sequence[int] = (),
    security: Sequence[dict[str, str]] = (),
    mothers_names: Sequence[str] = (),
    identifier_systems: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The person as a Patient, in its FHIR JSON form (``Patient.model_validate`` makes it the model where one
    is needed; a read answers the JSON as it is, and tests check it is exactly what the model writes):
    ``link`` ``replaces`` for each person merged into it and ``seealso`` for each person an open review
    pairs it with; ``meta.lastUpdated`` is the newest encounter's arrival,
    ``meta.versionId`` a digest of the content (it changes whenever the Patient does) and ``meta.security``
    the labels of the reader's view (sensitive data shown, data withheld). ``mothers_names``: the mother's
    name as recorded, newest first (the first one is the ``mothersMaidenName`` extension: Vietnamese names
    do not change on marriage). ``identifier_systems``: show only identifiers of these systems (the domains
    a PDQm search asked for)."""
    person = summary.person
    demographics = summary.demographics  # newest facility first
    phones = list(dict.fromkeys(d.phone for d in demographics if d.phone))
    addresses: dict[tuple[str | None, str | None, str | None], None] = {}
    for d in demographics:
        if d.address or d.province_code or d.commune_code:
            addresses[(d.address, d.province_code, d.commune_code)] = None
    birth = next((d.birth_date for d in demographics if d.birth_date), None)
    sex = next((d.sex for d in demographics if d.sex is not None), None)
    names = (
        patient_names(identities)
        if identities
        else [human_name(n, use="official") for n in dict.fromkeys(d.name for d in demographics if d.name)][:1]
    )
    links = [
        {"other": {"reference": f"Patient/{p}"}, "type": "replaces"} for p in person.cluster if p != person.person_id
    ]
    links += [{"other": {"reference": f"Patient/{p}"}, "type": "seealso"} for p in review_partners]
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(person.person_id),
        "identifier": [
            i
            for i in patient_identifiers(summary, identities)
            if identifier_systems is None or i["system"] in identifier_systems
        ],
        "active": True,
        "name": names or None,
        "telecom": [{"system": "phone", "value": p, "use": "mobile"} for p in phones] or None,
        "gender": GENDERS.get(sex) if sex is not None else None,
        "birthDate": birth[:10] if birth else None,
        "_birthDate": _birth_time(birth),
        "address": [_address(text, province, commune) for text, province, commune in addresses] or None,
        "managingOrganization": (
            {"reference": f"Organization/{demographics[0].facility_code}"} if demographics else None
        ),
        "link": links or None,
        "extension": [{"url": MOTHERS_MAIDEN_NAME, "valueString": mothers_names[0]}] if mothers_names else None,
    }
    data = {k: v for k, v in data.items() if v is not None}
    content = json.dumps([data, list(security)], sort_keys=True, default=str)
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    meta: dict[str, Any] = {"versionId": digest}
    if security:
        meta["security"] = list(security)
    if identities:
        meta["lastUpdated"] = fhir_instant(max(i.received_at for i in identities))
    return {**data, "meta": meta}


def replaced_patient(requested_id: int, survivor_id: int) -> Patient:
    """A person merged into another: inactive, pointing at the survivor (``replaced-by``), nothing else
    (its records now belong to the survivor)."""
    return Patient.model_validate(
        {
            "resourceType": "Patient",
            "id": str(requested_id),
            "identifier": [{"use": "old", "system": sid.PERSON, "value": str(requested_id)}],
            "active": False,
            "link": [{"other": {"reference": f"Patient/{survivor_id}"}, "type": "replaced-by"}],
        }
    )


def fhir_instant(when: datetime) -> str:
    """An aware instant as FHIR JSON writes it (UTC as ``Z``, as ``fhir.resources`` does)."""
    text = when.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


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
