"""Write and search the audit log of patient-data reads.

An event is written either in the caller's transaction (:func:`record_read`, :func:`record_rows`: a
steward's decision and its event commit together) or, built by :func:`audit_row`, handed to the process's
audit writer (a clinician's read does not wait for the write lock; see :mod:`mpi.audit.writer`). An event holds ids and
codes only — who (key), their role and facility, the purpose of use, what was read (action, resource
without query values), the person and the encounter ids disclosed — never a name, a national id or a
phone number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from mpi.audit.models import AuditEvent
from mpi.store.models import utcnow

events = AuditEvent.__table__  # type: ignore[attr-defined]
MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads and why: what the audit needs from the caller (built by the API from its principal)."""

    actor: str
    """``key:<id>``."""
    role: str
    facility_code: str | None
    purpose: str | None
    granted: frozenset[str] = frozenset()
    """Sensitive categories the reader's key is granted (``mpi keys grant``)."""


def audit_row(
    *,
    reader: Reader,
    action: str,
    resource: str,
    person_id: int | None = None,
    record_ids: Iterable[int] = (),
    details: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> dict[str, Any]:
    """One audit event as an ``audit_event`` row (without its id)."""
    return {
        "occurred_at": utcnow(),
        "actor": reader.actor,
        "role": reader.role,
        "facility_code": reader.facility_code,
        "purpose": reader.purpose,
        "action": action,
        "resource": resource,
        "person_id": person_id,
        "record_ids": sorted(set(record_ids)),
        "outcome": outcome,
        "details": details,
    }


def record_read(
    *,
    conn: Connection,
    reader: Reader,
    action: str,
    resource: str,
    person_id: int | None = None,
    record_ids: Iterable[int] = (),
    details: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> int:
    """Append one audit event in the caller's transaction; returns its id."""
    row = audit_row(
        reader=reader, action=action, resource=resource, person_id=person_id, record_ids=record_ids,
        details=details, outcome=outcome,
    )  # fmt: skip
    key = conn.execute(insert(events).values(**row)).inserted_primary_key
    assert key is not None
    return int(key[0])


def record_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append events built by :func:`audit_row` in the caller's transaction: they commit with it."""
    if rows:
        conn.execute(insert(events), list(rows))


@dataclass(frozen=True, slots=True)
class AuditEntry:
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
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    total: int
    entries: list[AuditEntry]


def search_audit(
    *,
    conn: Connection,
    person_id: int | None = None,
    actor: str | None = None,
    facility_code: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> AuditPage:
    """Events matching every given filter, newest first. ``until`` is exclusive; naive times are UTC."""
    since, until = (t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t for t in (since, until))
    query = select(events)
    if person_id is not None:
        query = query.where(events.c.person_id == person_id)
    if actor is not None:
        query = query.where(events.c.actor == actor)
    if facility_code is not None:
        query = query.where(events.c.facility_code == facility_code)
    if action is not None:
        query = query.where(events.c.action == action)
    if since is not None:
        query = query.where(events.c.occurred_at >= since)
    if until is not None:
        query = query.where(events.c.occurred_at < until)
    total = int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    limit = max(1, min(limit, MAX_PAGE))
    rows = conn.execute(query.order_by(events.c.id.desc()).limit(limit).offset(max(offset, 0)))
    return AuditPage(
        total=total,
        entries=[
            AuditEntry(
                id=int(r.id),
                occurred_at=r.occurred_at,
                actor=r.actor,
                role=r.role,
                facility_code=r.facility_code,
                purpose=r.purpose,
                action=r.action,
                resource=r.resource,
                person_id=r.person_id,
                record_ids=list(r.record_ids or []),
                outcome=r.outcome,
                details=r.details,
            )
            for r in rows
        ],
    )
