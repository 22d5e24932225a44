"""The receipt a sender gets for a submitted file: one pydantic model, stored and answered as it is.

:func:`mpi.ingest.ingest_file` builds it, stores it as JSON on the submission row (``submission.receipt``),
answers it again for the same file, and the API returns it unchanged (``POST /api/v1/submissions``,
``GET /api/v1/submissions/{id}``). ``Receipt.model_dump(mode="json")`` is the stored form; receipts stored
before a field existed read with that field's default. Receipts carry codes, paths and keys, never
patient data.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from mpi.xml130.issues import Severity

__all__ = ["EncounterReceipt", "EncounterStatus", "Outcome", "Receipt", "ReceiptIssue", "SignatureReceipt"]


class Outcome(StrEnum):
    """What became of a file (``Receipt.outcome``, ``submission.outcome``)."""

    ACCEPTED = "accepted"
    """Every encounter stored (or already stored)."""
    PARTIAL = "partial"
    """Some encounters stored, some rejected."""
    REJECTED = "rejected"
    """Nothing stored."""


class EncounterStatus(StrEnum):
    """What became of one HOSO of a file (``EncounterReceipt.status``)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    """The same content is stored already (as its current version)."""
    REJECTED = "rejected"


class ReceiptIssue(BaseModel):
    """One validation finding (:class:`mpi.xml130.issues.Issue`), as the sender reads it."""

    severity: Severity = Field(description="error (the encounter or file is rejected) or warning (stored, flagged)")
    code: str
    path: str = Field(description="HOSO[n]/XMLk[row]/FIELD")
    hoso: int | None
    table: str | None
    row: int | None
    field: str | None
    message_vi: str
    message_en: str


class SignatureReceipt(BaseModel):
    """The CHUKYDONVI check (:class:`mpi.xml130.signature.SignatureCheck`)."""

    status: str = Field(description="valid, invalid, unsigned, or no_certificate (none registered for the facility)")
    reason: str | None = Field(
        default=None, description="why invalid: digest_mismatch, certificate_expired, certificate_not_registered, ..."
    )
    certificate: str | None = Field(default=None, description="SHA-256 of the registered certificate checked against")


class EncounterReceipt(BaseModel):
    hoso: int
    facility_code: str | None
    ma_lk: str | None
    status: EncounterStatus = Field(description="accepted, duplicate (same content already stored) or rejected")
    version: int | None = None
    new_version: bool = False
    encounter_id: int | None = None
    warnings: int = 0
    errors: int = 0
    issues: list[ReceiptIssue] = Field(default_factory=list)
    identity: dict[str, Any] | None = Field(
        default=None, exclude=True, description="what the identity step reported (kept in the process, not sent)"
    )


class Receipt(BaseModel):
    submission_id: int
    sha256: str
    received_at: str
    outcome: Outcome = Field(description="accepted, partial or rejected")
    facility_code: str | None
    declared_count: int | None
    hoso_count: int
    signature_present: bool
    signature: SignatureReceipt | None = Field(
        default=None, description="the CHUKYDONVI check (files before it: null)"
    )
    duplicate: bool = Field(
        default=False, description="true when this exact file was received before: the original receipt"
    )
    issues: list[ReceiptIssue] = Field(description="file-level issues")
    encounters: list[EncounterReceipt]
