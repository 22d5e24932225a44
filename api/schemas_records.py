"""Response models of the record API: lookup, person summary, timeline, encounter detail, referrals,
appointments, audit. They decide what leaves the process; the services' dataclasses are mapped here.

Dates are ISO 8601 cut to the precision the facility sent (``1956``, ``2025-12-12``, ``2025-12-12T16:25``);
quantities and money are exact decimals serialised as strings; codes are as sent.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mpi.records.detail import SECTIONS, Drug, EncounterDetail, LabResult, ProgressNote, Service

FieldValue = str | int | Decimal | list[str]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- search ----------------------------------------------------------------------------------------


class SearchIn(BaseModel):
    """Exactly one way to search: ``national_id``; ``bhxh_number``; ``facility_code`` + ``patient_code``; or
    ``name`` + ``birth_date`` (optionally ``sex``, ``commune_code``). Sent in the body, so identifiers never
    appear in URLs or access logs."""

    model_config = ConfigDict(extra="forbid")

    national_id: str | None = Field(default=None, max_length=20, description="SO_CCCD: CCCD, CMND or passport")
    bhxh_number: str | None = Field(default=None, max_length=40, description="10-digit BHXH number or card code")
    facility_code: str | None = Field(default=None, pattern=r"^\d{5}$", description="MA_CSKCB, with patient_code")
    patient_code: str | None = Field(default=None, max_length=100, description="MA_BN at that facility")
    name: str | None = Field(default=None, max_length=255, description="HO_TEN")
    birth_date: str | None = Field(default=None, max_length=10, description="YYYY-MM-DD, YYYY-MM or YYYY")
    sex: Literal[1, 2, 3] | None = None
    commune_code: str | None = Field(default=None, pattern=r"^\d{5}$", description="MAXA_CU_TRU")

    @model_validator(mode="after")
    def _one_way(self) -> SearchIn:
        ways = [
            self.national_id is not None,
            self.bhxh_number is not None,
            self.patient_code is not None,
            self.name is not None or self.birth_date is not None,
        ]
        if sum(ways) != 1:
            raise ValueError(
                "search by exactly one of: national_id; bhxh_number; facility_code + patient_code; name + birth_date"
            )
        if (self.name is None) != (self.birth_date is None):
            raise ValueError("a demographic search needs both name and birth_date")
        if self.patient_code is not None and self.facility_code is None:
            raise ValueError("patient_code (MA_BN) needs facility_code")
        return self


class RecordedDemographicsOut(_Out):
    encounter_id: int
    facility_code: str
    name: str | None
    birth_date: str | None
    sex: int | None
    commune_code: str | None


class CandidateOut(_Out):
    person_id: int
    grade: Literal["certain", "probable", "possible"]
    reason: str
    match_probability: float | None
    matched_on: list[str]
    record: RecordedDemographicsOut | None = Field(description="The best-matching record, as its facility sent it")


class SearchOut(_Out):
    kind: str
    candidates: list[CandidateOut]
    truncated: bool


# --- person ----------------------------------------------------------------------------------------


class FacilityDemographicsOut(_Out):
    facility_code: str
    encounter_id: int
    patient_code: str | None
    name: str | None
    birth_date: str | None
    sex: int | None
    national_id: str | None
    insurance_cards: list[str]
    phone: str | None
    address: str | None
    province_code: str | None
    commune_code: str | None


class FacilityVisitsOut(_Out):
    facility_code: str
    encounters: int
    first: str | None
    last: str | None


class RecurringDiagnosisOut(_Out):
    code: str
    text: str | None
    encounters: int
    last: str | None


class PatientCodeOut(BaseModel):
    facility_code: str
    patient_code: str


class PersonSummaryOut(BaseModel):
    person_id: int
    requested_id: int
    merged_from: list[int]
    encounter_count: int
    national_ids: list[str]
    bhxh_numbers: list[str]
    patient_codes: list[PatientCodeOut]
    demographics: list[FacilityDemographicsOut] = Field(description="Newest record per facility, as sent")
    facilities: list[FacilityVisitsOut]
    recurring_diagnoses: list[RecurringDiagnosisOut]
    withheld_encounters: int = Field(
        0, description="Encounters with sensitive data (HIV, TB...) withheld from this reader; break-glass reveals them"
    )
    revealed_encounters: list[int] = Field([], description="Encounters revealed by this break-glass read")


class TimelineEntryOut(_Out):
    encounter_id: int
    facility_code: str
    ma_lk: str
    version: int
    start: str | None
    end: str | None
    encounter_type: str | None
    encounter_type_label: str | None
    main_diagnosis: str | None
    other_diagnoses: list[str]
    diagnosis_text: str | None
    outcome: int | None
    outcome_label: str | None
    discharge_type: int | None
    discharge_type_label: str | None
    referred_from: str | None
    referral_number: str | None
    referred_to: str | None
    tables: list[str]


class TimelineOut(BaseModel):
    person_id: int
    total: int
    limit: int
    offset: int
    entries: list[TimelineEntryOut]
    withheld_encounters: int = Field(
        0, description="Encounters matching the filters that are withheld as sensitive from this reader"
    )
    revealed_encounters: list[int] = Field([], description="Encounters revealed by this break-glass read")


# --- encounter detail --------------------------------------------------------------------------------


class TableRowOut(BaseModel):
    row_no: int
    fields: dict[str, FieldValue] = Field(description="Official field name -> typed value; empty fields left out")


class TableOut(BaseModel):
    table: str = Field(description="XML1 .. XML15")
    section: str
    rows: list[TableRowOut]


class EncounterDetailOut(BaseModel):
    person_id: int | None
    encounter: TimelineEntryOut
    drugs: list[Drug]
    services: list[Service]
    lab_results: list[LabResult]
    progress_notes: list[ProgressNote]
    tables: list[TableOut] = Field(description="Every table the encounter came with, XML1 first")
    sensitivity: list[str] = Field([], description="Sensitive categories of this encounter (hiv, tb...)")
    disclosure: str = Field("open", description="open | own_facility | revealed (break-glass)")

    @classmethod
    def from_detail(cls, detail: EncounterDetail) -> EncounterDetailOut:
        return cls(
            person_id=detail.person_id,
            encounter=TimelineEntryOut.model_validate(detail.entry),
            drugs=detail.drugs(),
            services=detail.services(),
            lab_results=detail.lab_results(),
            progress_notes=detail.progress_notes(),
            tables=[
                TableOut(
                    table=name,
                    section=SECTIONS[name],
                    rows=[
                        TableRowOut(
                            row_no=r.row_no,
                            fields={k: list(v) if isinstance(v, tuple) else v for k, v in r.fields.items()},
                        )
                        for r in rows
                    ],
                )
                for name, rows in detail.tables.items()
            ],
        )  # fmt: skip


# --- referrals and appointments ----------------------------------------------------------------------


class PriorRecordsOut(_Out):
    encounter_count: int
    facilities: list[str]
    recent_diagnoses: list[str]


class ReferralOut(_Out):
    encounter_id: int = Field(description="The sending encounter")
    source_table: str
    sender: str
    receiver: str
    referral_number: str | None
    sent: str | None
    person_id: int | None
    name: str | None
    birth_date: str | None
    sex: int | None
    reason_code: int | None
    reason: str | None
    clinical_signs: str | None
    main_diagnosis: str | None
    diagnosis_text: str | None
    treatment_direction: str | None
    status: Literal["pending", "received", "overdue"]
    received_encounter_id: int | None
    received_at: str | None
    prior: PriorRecordsOut | None


class ReferralListOut(_Out):
    facility_code: str
    total: int
    counts: dict[str, int]
    entries: list[ReferralOut]


class AppointmentOut(_Out):
    encounter_id: int
    slip_number: str | None
    at: str | None
    person_id: int | None
    name: str | None
    birth_date: str | None
    sex: int | None
    main_diagnosis: str | None
    diagnosis_text: str | None


class AppointmentListOut(_Out):
    facility_code: str
    total: int
    entries: list[AppointmentOut]


# --- audit -------------------------------------------------------------------------------------------


class AuditEntryOut(_Out):
    id: int
    occurred_at: datetime
    actor: str
    role: str
    facility_code: str | None
    purpose: str | None
    action: str
    resource: str
    person_id: int | None
    record_ids: list[int]
    outcome: str
    details: dict[str, list[int] | list[str] | str | int | None] | None


class AuditPageOut(_Out):
    total: int
    entries: list[AuditEntryOut]
