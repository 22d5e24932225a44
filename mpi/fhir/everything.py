"""A person's encounters as FHIR resources for ``Patient/$everything``.

Each current encounter version (``EncounterDetail``) becomes an ``Encounter`` plus what it came with:
``Condition`` per ICD-10 diagnosis (MA_BENH_CHINH, MA_BENH_KT), ``MedicationRequest`` per drug (XML2),
``Procedure`` per service (XML3 rows with MA_DICH_VU), ``Observation`` per lab result (XML4),
``ServiceRequest`` for a referral out (XML13, or MA_NOI_DEN alone), ``Appointment`` per re-visit slip
(XML14); and one ``Organization`` per facility named. Ids are derived from the encounter id, so a resource
is stable while its encounter version is current. Mapping only: no queries, no HTTP, no logging.

Times: QĐ 130 times are local (Vietnam, UTC+07:00) to the minute; FHIR ``dateTime`` with a time needs
seconds and a zone, so ``2024-03-05T08:30`` becomes ``2024-03-05T08:30:00+07:00``. Dates keep their
precision.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.resource import Resource

from mpi.facilities import FacilityLabel
from mpi.fhir import identifiers as sid
from mpi.records import EncounterDetail
from mpi.records.detail import Drug, LabResult, Service, TableRow

LOCAL_OFFSET: Final = "+07:00"
ENCOUNTER_CLASSES: Final[dict[str, tuple[str, str]]] = {
    "03": ("IMP", "inpatient encounter"),
    "04": ("SS", "short stay"),
    "09": ("SS", "short stay"),
}
"""MA_LOAI_KCB -> v3 ActCode; every other type (examinations, outpatient care, chronic-care refills,
commune-station stays) is ambulatory."""
_AMBULATORY: Final = ("AMB", "ambulatory")
_ORG_TYPE: Final = "http://terminology.hl7.org/CodeSystem/organization-type"
_LOCATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/location-physical-type"
_OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
VISIT_MINUTES: Final = 30
"""A re-visit slip (XML14) gives the hour the patient is expected, not how long the visit lasts; a booked
``Appointment`` needs an end (invariant app-3), so a timed slip books this long a slot."""
RESOURCE_TYPES: Final = (
    "Patient", "Encounter", "Condition", "MedicationRequest", "Procedure", "Observation", "ServiceRequest",
    "Appointment", "Organization", "Location",
)  # fmt: skip
"""What ``$everything`` can return (and what ``_type`` may ask for)."""


def fhir_datetime(value: str | None) -> str | None:
    """An ISO value cut to its precision, as a FHIR ``dateTime`` (local time with its zone)."""
    if value is None or "T" not in value:
        return value
    return f"{value}:00{LOCAL_OFFSET}" if len(value) == 16 else value


def _ref(kind: str, id_: object) -> dict[str, str]:
    return {"reference": f"{kind}/{id_}"}


def _build(data: dict[str, Any]) -> Resource:
    model = get_fhir_model_class(data["resourceType"])
    resource = model.model_validate({k: v for k, v in data.items() if v is not None and v != []})
    assert isinstance(resource, Resource)
    return resource


def _facility_name(label: FacilityLabel) -> str:
    """The registry's name; an unregistered facility is named by its code (marked as such)."""
    return label.name if label.registered and label.name else label.text("vi")


def organization(label: FacilityLabel) -> Resource:
    """A facility (MA_CSKCB) as the Organization that provides care: name and level from the facility
    registry (its Vietnamese label; the level's code in the hub's facility-level system)."""
    kinds: list[dict[str, Any]] = [{"system": _ORG_TYPE, "code": "prov", "display": "Healthcare Provider"}]
    if label.level is not None:
        kinds.append({"system": sid.FACILITY_LEVEL, "code": label.level, "display": label.level_label("vi")})
    return _build(
        {
            "resourceType": "Organization",
            "id": label.code,
            "identifier": [{"system": sid.FACILITY, "value": label.code}],
            "active": label.active,
            "type": [{"coding": kinds, "text": label.level_label("vi")}],
            "name": _facility_name(label),
        }
    )


def location(label: FacilityLabel) -> Resource:
    """A facility as the place where encounters and re-visits happen (``Location`` id = MA_CSKCB)."""
    return _build(
        {
            "resourceType": "Location",
            "id": label.code,
            "identifier": [{"system": sid.FACILITY, "value": label.code}],
            "status": "active" if label.active else "inactive",
            "mode": "instance",
            "name": _facility_name(label),
            "physicalType": {"coding": [{"system": _LOCATION_TYPE, "code": "bu", "display": "Building"}]},
            "managingOrganization": _ref("Organization", label.code),
        }
    )


def _encounter(detail: EncounterDetail, patient: str, conditions: list[str]) -> Resource:
    e = detail.entry
    klass, display = ENCOUNTER_CLASSES.get(e.encounter_type or "", _AMBULATORY)
    hospitalization: dict[str, Any] = {}
    if e.referred_from:
        hospitalization["origin"] = _ref("Organization", e.referred_from)
    if e.referred_to:
        hospitalization["destination"] = _ref("Organization", e.referred_to)
    if e.discharge_type_label:
        hospitalization["dischargeDisposition"] = {"text": e.discharge_type_label}
    return _build(
        {
            "resourceType": "Encounter",
            "id": str(e.encounter_id),
            "identifier": [{"system": sid.facility_encounter_system(e.facility_code), "value": e.ma_lk}],
            "status": "finished" if e.end else "in-progress",
            "class": {"system": sid.ACT_CODE, "code": klass, "display": display},
            "type": (
                [{"coding": [{"system": sid.ENCOUNTER_TYPE, "code": e.encounter_type,
                              "display": e.encounter_type_label}]}]
                if e.encounter_type else None
            ),
            "subject": _ref("Patient", patient),
            "period": {k: v for k, v in (("start", fhir_datetime(e.start)), ("end", fhir_datetime(e.end))) if v}
            or None,
            "diagnosis": [
                {"condition": _ref("Condition", c), "rank": i + 1} for i, c in enumerate(conditions)
            ],
            "hospitalization": hospitalization or None,
            "location": [{"location": _ref("Location", e.facility_code)}],
            "serviceProvider": _ref("Organization", e.facility_code),
        }
    )  # fmt: skip


def _conditions(detail: EncounterDetail, patient: str) -> list[Resource]:
    e = detail.entry
    codes = [c for c in dict.fromkeys([e.main_diagnosis, *e.other_diagnoses]) if c]
    out = []
    for n, code in enumerate(codes, start=1):
        out.append(
            _build(
                {
                    "resourceType": "Condition",
                    "id": f"{e.encounter_id}-dx-{n}",
                    "category": [{"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "encounter-diagnosis",
                    }]}],
                    "code": {
                        "coding": [{"system": sid.ICD10, "code": code}],
                        "text": e.diagnosis_text if code == e.main_diagnosis else None,
                    },
                    "subject": _ref("Patient", patient),
                    "encounter": _ref("Encounter", e.encounter_id),
                    "recordedDate": fhir_datetime(e.end or e.start),
                }
            )
        )  # fmt: skip
    return out


def _medication(detail: EncounterDetail, drug: Drug, patient: str) -> Resource:
    e = detail.entry
    name = " ".join(x for x in (drug.name, drug.strength) if x) or None
    route = drug.route
    dose = "; ".join(x for x in (drug.dose, drug.instructions) if x) or None
    quantity, unit = drug.quantity, drug.unit
    dosage: dict[str, Any] = {}
    if dose:
        dosage["text"] = dose
    if route:
        dosage["route"] = {"coding": [{"system": sid.ROUTE, "code": route}]}
    code = drug.code
    return _build(
        {
            "resourceType": "MedicationRequest",
            "id": f"{e.encounter_id}-med-{drug.row_no}",
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": sid.DRUG, "code": code}] if code else None,
                "text": name,
            },
            "subject": _ref("Patient", patient),
            "encounter": _ref("Encounter", e.encounter_id),
            "authoredOn": fhir_datetime(drug.ordered_at),
            "dosageInstruction": [dosage] if dosage else None,
            "dispenseRequest": (
                {"quantity": {k: v for k, v in (("value", quantity), ("unit", unit)) if v is not None}}
                if quantity is not None else None
            ),
        }
    )  # fmt: skip


def _procedure(detail: EncounterDetail, service: Service, patient: str) -> Resource | None:
    code = service.code
    if not code:
        return None  # a supply (MA_VAT_TU) or a bed line: not a procedure
    e = detail.entry
    performed = fhir_datetime(service.result_at or service.ordered_at)
    return _build(
        {
            "resourceType": "Procedure",
            "id": f"{e.encounter_id}-svc-{service.row_no}",
            "status": "completed",
            "code": {"coding": [{"system": sid.SERVICE, "code": code}], "text": service.name},
            "subject": _ref("Patient", patient),
            "encounter": _ref("Encounter", e.encounter_id),
            "performedDateTime": performed,
        }
    )


def _observation(detail: EncounterDetail, lab: LabResult, patient: str) -> Resource:
    """A lab result (MA_CHI_SO with GIA_TRI) as a ``laboratory`` Observation; a result without an index
    (MO_TA / KET_LUAN of an imaging or functional examination: X-ray, ultrasound, ECG) as an ``imaging``
    Observation whose value is the report's text."""
    e = detail.entry
    raw, unit = lab.value, lab.unit
    description, conclusion = lab.description, lab.conclusion
    imaging = lab.code is None and raw is None and (description or conclusion) is not None
    value: dict[str, Any] = {}
    if imaging:
        value["valueString"] = "\n".join(t for t in (description, conclusion) if t)
    elif raw is not None:
        try:
            number = Decimal(raw.replace(",", "."))
            if not number.is_finite():
                raise InvalidOperation
            value["valueQuantity"] = {"value": number, **({"unit": unit} if unit else {})}
        except InvalidOperation:
            value["valueString"] = raw if not unit else f"{raw} {unit}"
    notes = [] if imaging else [{"text": t} for t in (description, conclusion) if t]
    code = lab.code or lab.service_code
    coding = [{"system": sid.LAB_INDEX if lab.code else sid.SERVICE, "code": code}] if code else None
    category = "imaging" if imaging else "laboratory"
    return _build(
        {
            "resourceType": "Observation",
            "id": f"{e.encounter_id}-lab-{lab.row_no}",
            "status": "final",
            "category": [{"coding": [{"system": _OBSERVATION_CATEGORY, "code": category}]}],
            "code": {"coding": coding, "text": lab.name or lab.service_name},
            "subject": _ref("Patient", patient),
            "encounter": _ref("Encounter", e.encounter_id),
            "effectiveDateTime": fhir_datetime(lab.result_at),
            "note": notes,
            **value,
        }
    )  # fmt: skip


def _referral(detail: EncounterDetail, patient: str) -> Resource | None:
    e = detail.entry
    letters = detail.section("XML13")
    letter = letters[0] if letters else None
    receiver = (letter.text("MA_NOI_DEN") if letter else None) or e.referred_to
    if receiver is None:
        return None
    number = letter.text("GIAY_CHUYEN_TUYEN") if letter else None
    diagnosis = (letter.text("MA_BENH_CHINH") if letter else None) or e.main_diagnosis
    return _build(
        {
            "resourceType": "ServiceRequest",
            "id": f"{e.encounter_id}-referral",
            "identifier": [{"system": sid.REFERRAL_NUMBER, "value": number}] if number else None,
            "status": "completed",
            "intent": "order",
            "category": [{"coding": [{"system": sid.SNOMED, "code": "3457005", "display": "Patient referral"}]}],
            "code": {"coding": [{"system": sid.SNOMED, "code": "3457005", "display": "Patient referral"}],
                     "text": "Chuyển tuyến"},
            "subject": _ref("Patient", patient),
            "encounter": _ref("Encounter", e.encounter_id),
            "authoredOn": fhir_datetime((letter.text("NGAY_RA") if letter else None) or e.end),
            "requester": _ref("Organization", e.facility_code),
            "performer": [_ref("Organization", receiver)],
            "reasonCode": [{"coding": [{"system": sid.ICD10, "code": diagnosis}]}] if diagnosis else None,
            "note": [{"text": t} for t in (letter.text("HUONG_DIEU_TRI"),) if t] if letter else None,
        }
    )  # fmt: skip


def _appointment(detail: EncounterDetail, row: TableRow, patient: str) -> Resource:
    """A re-visit slip (XML14). With an hour it is ``booked`` for a slot of :data:`VISIT_MINUTES` from that
    hour; dated to the day only, no slot was booked, so it is ``proposed`` with the day as
    ``requestedPeriod`` (invariant app-3: only proposed, cancelled or waitlisted appointments may lack
    start and end). The issuing facility is the place (``Location``) and the encounter that issued the
    slip is its supporting information."""
    e = detail.entry
    at = row.text("NGAY_HEN_KL")
    slip = row.text("SO_GIAYHEN_KL")
    diagnosis = row.text("MA_BENH_CHINH")
    timing: dict[str, Any] = {}
    status = "proposed"
    if at and "T" in at:
        begin = datetime.fromisoformat(f"{at[:16]}:00{LOCAL_OFFSET}")
        finish = begin + timedelta(minutes=VISIT_MINUTES)
        timing = {"start": begin.isoformat(), "end": finish.isoformat(), "minutesDuration": VISIT_MINUTES}
        status = "booked"
    elif at:
        timing["requestedPeriod"] = [{"start": at, "end": at}]
    return _build(
        {
            "resourceType": "Appointment",
            "id": f"{e.encounter_id}-appt-{row.row_no}",
            "identifier": [{"system": sid.APPOINTMENT_SLIP, "value": slip}] if slip else None,
            "status": status,
            "serviceType": [{"text": "Khám lại"}],
            "reasonCode": [{"coding": [{"system": sid.ICD10, "code": diagnosis}]}] if diagnosis else None,
            "description": row.text("CHAN_DOAN_RV"),
            "supportingInformation": [_ref("Encounter", e.encounter_id)],
            "created": (e.end or e.start or "")[:10] or None,
            "participant": [
                {"actor": _ref("Patient", patient), "status": "accepted"},
                {"actor": _ref("Location", e.facility_code), "status": "accepted"},
            ],
            **timing,
        }
    )  # fmt: skip


def encounter_resources(detail: EncounterDetail, patient: str, meta: Meta | None = None) -> list[Resource]:
    """The Encounter and everything recorded in it (Organizations are added once per bundle); each carries
    ``meta`` (the encounter version's)."""
    conditions = _conditions(detail, patient)
    out: list[Resource] = [_encounter(detail, patient, [str(c.id) for c in conditions]), *conditions]
    out += [_medication(detail, d, patient) for d in detail.drugs()]
    out += [p for s in detail.services() if (p := _procedure(detail, s, patient)) is not None]
    out += [_observation(detail, r, patient) for r in detail.lab_results()]
    referral = _referral(detail, patient)
    if referral is not None:
        out.append(referral)
    out += [_appointment(detail, r, patient) for r in detail.section("XML14")]
    if meta is not None:
        for r in out:
            r.meta = meta
    return out


ENCOUNTER_ID_FORMS: Final[dict[str, re.Pattern[str]]] = {
    "Encounter": re.compile(r"([1-9]\d*)"),
    "Condition": re.compile(r"([1-9]\d*)-dx-[1-9]\d*"),
    "MedicationRequest": re.compile(r"([1-9]\d*)-med-[1-9]\d*"),
    "Procedure": re.compile(r"([1-9]\d*)-svc-[1-9]\d*"),
    "Observation": re.compile(r"([1-9]\d*)-lab-[1-9]\d*"),
    "ServiceRequest": re.compile(r"([1-9]\d*)-referral"),
    "Appointment": re.compile(r"([1-9]\d*)-appt-[1-9]\d*"),
}
"""The id of each resource derived from an encounter, in its one canonical spelling (no leading zeros):
the encounter id it came from is the first group."""


def encounter_of(resource_type: str, resource_id: str) -> int | None:
    """The encounter id a resource id derives from, or None when no such resource can exist."""
    pattern = ENCOUNTER_ID_FORMS.get(resource_type)
    match = pattern.fullmatch(resource_id) if pattern is not None else None
    return int(match.group(1)) if match else None


def pick(resources: Iterable[Resource], resource_type: str, resource_id: str) -> Resource | None:
    return next((r for r in resources if r.get_resource_type() == resource_type and r.id == resource_id), None)


def facilities_of(details: Iterable[EncounterDetail]) -> list[str]:
    """Every facility an encounter names: where it happened, who referred, who it was referred to."""
    codes: dict[str, None] = {}
    for d in details:
        e = d.entry
        for code in (e.facility_code, e.referred_from, e.referred_to):
            if code:
                codes[code] = None
        for letter in d.section("XML13"):
            if (receiver := letter.text("MA_NOI_DEN")) is not None:
                codes[receiver] = None
    return list(codes)


def date_bounds(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """``$everything`` ``start``/``end`` (FHIR dates: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) as the first
    and last day they cover; ``ValueError`` for anything else."""
    return (_day(start, last=False) if start else None, _day(end, last=True) if end else None)


def _day(value: str, *, last: bool) -> date:
    parts = value.strip().split("-")
    if len(parts) > 3 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
        raise ValueError("a FHIR date is YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(parts[0])
    if len(parts) == 1:
        return date(year, 12, 31) if last else date(year, 1, 1)
    month = int(parts[1])
    if len(parts) == 2:
        return date(year, month, calendar.monthrange(year, month)[1]) if last else date(year, month, 1)
    return date(year, month, int(parts[2]))
