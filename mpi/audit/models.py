"""The audit log. Append-only; holds ids and codes, never names, national ids or phone numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from mpi.store.models import utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_person_time", "person_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=64, index=True)
    """``key:<id>`` of the API key used."""
    role: str = Field(max_length=16)
    facility_code: str | None = Field(default=None, max_length=20, index=True)
    """The facility the reader works at (from the key)."""
    purpose: str | None = Field(default=None, max_length=16)
    """HL7 PurposeOfUse code sent in ``X-Purpose-Of-Use`` (TREAT, ETREAT, COC, ...)."""
    action: str = Field(max_length=32)
    """What was done: ``search``, ``read``, ``everything``, ``match``, ``referrals``..."""
    resource: str = Field(max_length=128)
    """The route or FHIR interaction, without query values."""
    person_id: int | None = Field(default=None, foreign_key="person.id")
    record_ids: list[int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """Encounter ids disclosed by this read."""
    outcome: str = Field(default="ok", max_length=16)
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
