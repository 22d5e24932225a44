"""The patient access report: who looked at a person's record — facility, role, purpose, time, outcome.

Built from the audit log for the person and everyone merged into them. Staff are never named: an event
holds the API key, and the report shows the key's facility and role only (what the department's policy
allows a patient to be told). Both the admin page and the FHIR ``AuditEvent`` search use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from mpi.audit.log import events
from mpi.identity.links import ResolvedPerson, resolve_person

MAX_ENTRIES = 500


@dataclass(frozen=True, slots=True)
class Access:
    id: int
    occurred_at: datetime
    facility_code: str | None
    role: str
    purpose: str | None
    action: str
    outcome: str
    resource: str
    break_glass_reason: str | None
    actor: str = ""
    """``key:<id>``: for a deployment whose policy names staff (``MPI_ACCESS_REPORT_STAFF``), never shown otherwise."""


@dataclass(frozen=True, slots=True)
class AccessReport:
    person: ResolvedPerson
    total: int
    entries: list[Access]


def _reason(action: str, details: dict[str, Any] | None) -> str | None:
    return str(details.get("reason")) if action == "break_glass" and details else None


def access_report(*, conn: Connection, person_id: int, limit: int = 100, offset: int = 0) -> AccessReport:
    """Reads of the person's record (cluster included), newest first."""
    person = resolve_person(conn=conn, person_id=person_id)
    where = events.c.person_id.in_(person.cluster)
    total = int(conn.execute(select(func.count()).select_from(events).where(where)).scalar_one())
    rows = conn.execute(
        select(events)
        .where(where)
        .order_by(events.c.occurred_at.desc(), events.c.id.desc())
        .limit(max(1, min(limit, MAX_ENTRIES)))
        .offset(max(0, offset))
    )
    entries = [
        Access(
            id=int(r.id),
            occurred_at=r.occurred_at,
            facility_code=r.facility_code,
            role=r.role,
            purpose=r.purpose,
            action=r.action,
            outcome=r.outcome,
            resource=r.resource,
            break_glass_reason=_reason(r.action, r.details),
            actor=r.actor,
        )
        for r in rows
    ]
    return AccessReport(person=person, total=total, entries=entries)
