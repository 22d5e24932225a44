"""The system-of-record entities written by hand: facilities, submissions, encounters, issues, keys.

The content of each XML table (XML1..XML15) lives in tables generated from the official field table:
see :mod:`mpi.store.content`. An *encounter* is one XML1 record, keyed by (MA_CSKCB, MA_LK) and
versioned: a corrected resubmission adds a version and earlier versions stay readable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Facility(SQLModel, table=True):
    """A health facility: created the first time one of its encounters or keys appears, described by the
    registry (:mod:`mpi.facilities`). ``registered_at`` is empty until the registry names it."""

    code: str = Field(primary_key=True, max_length=20)
    """MA_CSKCB: 2-digit province + 3-digit sequence."""
    name: str | None = None
    first_seen_at: datetime = Field(default_factory=utcnow)
    level: str | None = Field(default=None, max_length=20)
    """One of :data:`mpi.facilities.LEVELS`."""
    commune_code: str | None = Field(default=None, max_length=10)
    """Post-2025 commune (xã/phường) where the facility stands."""
    wave: int | None = None
    """Onboarding wave of the deployment (1, 2, ...)."""
    onboarded_on: date | None = None
    active: bool = True
    registered_at: datetime | None = None
    updated_at: datetime | None = None


class Submission(SQLModel, table=True):
    """One received file, kept whole (gzip) whatever its outcome, with the receipt it was answered."""

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True, index=True)
    received_at: datetime = Field(default_factory=utcnow)
    submitter: str = Field(max_length=64)
    """``key:<id>`` for API keys, ``cli`` for the command line."""
    facility_code: str | None = Field(default=None, max_length=20)
    """Envelope MACSKCB as sent."""
    created_on: str | None = Field(default=None, max_length=20)
    """Envelope NGAYLAP as sent."""
    declared_count: int | None = None
    hoso_count: int = 0
    signature_present: bool = False
    signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    signature_status: str | None = Field(default=None, max_length=16)
    """``valid``, ``invalid``, ``unsigned`` or ``no_certificate`` (:mod:`mpi.xml130.signature`)."""
    signature_reason: str | None = Field(default=None, max_length=40)
    """Why an ``invalid`` signature is invalid (``digest_mismatch``, ``certificate_expired``, ...)."""
    signature_certificate: str | None = Field(default=None, max_length=64)
    """SHA-256 fingerprint of the registered certificate the signature was checked against."""
    size: int
    raw_gzip: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    outcome: str = Field(max_length=16)
    """``processing`` while encounters are being stored; then ``accepted``, ``partial`` or ``rejected``."""
    receipt: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Encounter(SQLModel, table=True):
    """One version of one encounter (XML1 record) and where it came from."""

    __table_args__ = (
        UniqueConstraint("facility_code", "ma_lk", "version", name="uq_encounter_version"),
        Index("ix_encounter_key", "facility_code", "ma_lk", "is_current"),
    )

    id: int | None = Field(default=None, primary_key=True)
    facility_code: str = Field(max_length=20)
    ma_lk: str = Field(max_length=100)
    version: int
    is_current: bool = True
    submission_id: int = Field(foreign_key="submission.id", index=True)
    hoso: int
    content_sha256: str = Field(max_length=64)
    status: str = Field(max_length=32)
    """``accepted`` or ``accepted_with_warnings``."""
    legacy_format: bool = False
    """True when any table came in the QĐ 4210 layout and was mapped."""
    tables: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)


class ValidationIssue(SQLModel, table=True):
    """A problem found in a submission; kept for rejected encounters too."""

    __tablename__ = "validation_issue"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    encounter_id: int | None = Field(default=None, foreign_key="encounter.id", index=True)
    hoso: int | None = None
    ma_lk: str | None = Field(default=None, max_length=100)
    path: str = Field(max_length=200)
    table_name: str | None = Field(default=None, max_length=10)
    row: int | None = None
    field_name: str | None = Field(default=None, max_length=64)
    code: str = Field(max_length=40, index=True)
    severity: str = Field(max_length=8)
    message_vi: str
    message_en: str


class ApiKey(SQLModel, table=True):
    """An API key. Only a peppered hash is stored; the key itself is shown once at creation."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=16, unique=True, index=True)
    key_hash: str = Field(max_length=64)
    role: str = Field(max_length=16)
    facility_code: str | None = Field(default=None, max_length=20)
    label: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    """After this instant the key is refused (401 ``key_expired``); ``None``: no expiry."""
    last_used_at: datetime | None = None
    """The last authenticated request, to the minute (written at most once a minute per key)."""
    replaced_by_id: int | None = Field(default=None, foreign_key="api_key.id")
    """The key that replaced this one (``mpi keys rotate``)."""
    sensitive_grants: str | None = Field(default=None, max_length=200)
    """Sensitive categories this key may reveal with a typed reason, comma-separated (``hiv,tb``)."""


class FacilityCertificate(SQLModel, table=True):
    """A signing certificate registered for a facility (``mpi facilities certificates add``).

    Removing one keeps the row (``removed_at``): submissions name the certificate they were checked against.
    """

    __tablename__ = "facility_certificate"
    __table_args__ = (UniqueConstraint("facility_code", "fingerprint", name="uq_facility_certificate"),)

    id: int | None = Field(default=None, primary_key=True)
    facility_code: str = Field(foreign_key="facility.code", max_length=20, index=True)
    fingerprint: str = Field(max_length=64)
    """SHA-256 of the DER certificate, hex."""
    subject: str = Field(max_length=500)
    issuer: str = Field(max_length=500)
    serial: str = Field(max_length=80)
    not_before: datetime
    not_after: datetime
    pem: str
    added_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A signed-in web page session, held server-side so that signing out (or revoking) ends it at once."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    """HMAC-SHA256 of the cookie's random token; the token itself is only in the user's cookie."""
    key_id: int = Field(foreign_key="api_key.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
