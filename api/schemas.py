"""Response models: what leaves the process. Receipts carry codes, paths and keys, never patient data."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class IssueOut(BaseModel):
    severity: str = Field(description="error (the encounter or file is rejected) or warning (stored, flagged)")
    code: str
    path: str = Field(description="HOSO[n]/XMLk[row]/FIELD")
    hoso: int | None
    table: str | None
    row: int | None
    field: str | None
    message_vi: str
    message_en: str


class EncounterReceiptOut(BaseModel):
    hoso: int
    facility_code: str | None
    ma_lk: str | None
    status: str = Field(description="accepted, duplicate (same content already stored) or rejected")
    version: int | None
    new_version: bool
    encounter_id: int | None
    warnings: int
    errors: int
    issues: list[IssueOut]


class SignatureOut(BaseModel):
    status: str = Field(description="valid, invalid, unsigned, or no_certificate (none registered for the facility)")
    reason: str | None = Field(
        default=None, description="why invalid: digest_mismatch, certificate_expired, certificate_not_registered, ..."
    )
    certificate: str | None = Field(default=None, description="SHA-256 of the registered certificate checked against")


class ReceiptOut(BaseModel):
    submission_id: int
    sha256: str
    received_at: str
    outcome: str = Field(description="accepted, partial or rejected")
    facility_code: str | None
    declared_count: int | None
    hoso_count: int
    signature_present: bool
    signature: SignatureOut | None = Field(default=None, description="the CHUKYDONVI check (files before it: null)")
    duplicate: bool = Field(description="true when this exact file was received before: the original receipt")
    issues: list[IssueOut]
    encounters: list[EncounterReceiptOut]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class EncounterPersonOut(BaseModel):
    """Who an encounter belongs to: keys, person id and link evidence only, no demographics."""

    facility_code: str = Field(description="MA_CSKCB")
    ma_lk: str = Field(description="MA_LK")
    version: int = Field(description="the current (newest stored) version of the encounter")
    person_id: int = Field(description="the person, after merges (a merged person's id redirects)")
    link_state: str = Field(description="auto, manual or review (pending a steward)")
    match_probability: float | None = Field(description="the newest link's model probability, if a model scored it")
    model_id: str | None = Field(description="the linkage model that scored it")
