"""The two reads FHIR needs that the record services do not offer.

- MA_BN without a facility: FHIR token search ``identifier=value`` matches any system, so a bare value is
  looked up as a patient code at *every* facility (records services insist on a facility, as a clinician
  typing an MA_BN should give one).
- ``_since``: which of a person's encounter versions the hub received at or after an instant.

Read-only, keyword-only, on the caller's connection; never logs a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from mpi.identity import links as L
from mpi.identity.matching import IDENTIFIER_CAP
from mpi.records import Candidate, SearchResult
from mpi.records.lookup import MAX_RESULTS
from mpi.records.person import encounters, survivors


def search_patient_code_anywhere(*, conn: Connection, value: str, limit: int = MAX_RESULTS) -> SearchResult:
    """Persons holding ``value`` as MA_BN at any facility; ``probable`` when several persons do."""
    code = value.strip()
    if not code:
        return SearchResult(kind="patient_code", candidates=[], truncated=False)
    s = L.sources
    rows = conn.execute(
        select(s.c.person_id, s.c.facility_code)
        .where(s.c.patient_code == code)
        .order_by(s.c.id.desc())
        .limit(IDENTIFIER_CAP)
    ).all()
    survivor_of = survivors(conn, (int(r.person_id) for r in rows))
    persons = sorted({survivor_of[int(r.person_id)] for r in rows})
    shared = len(persons) > 1
    candidates = [
        Candidate(
            person_id=p,
            grade="probable" if shared else "certain",
            reason=f"patient_code held by {len(persons)} persons: choose" if shared else "same patient_code",
            match_probability=None,
            matched_on=("patient_code",),
            record=None,
        )
        for p in persons
    ]
    return SearchResult(kind="patient_code", candidates=candidates[:limit], truncated=len(candidates) > limit)


def received_since(*, conn: Connection, encounter_ids: Iterable[int], since: datetime) -> set[int]:
    """The encounter versions among ``encounter_ids`` received at or after ``since`` (naive = UTC)."""
    ids = list(encounter_ids)
    if not ids:
        return set()
    rows = conn.execute(select(encounters.c.id, encounters.c.received_at).where(encounters.c.id.in_(ids)))
    cutoff = _utc(since)
    return {int(r.id) for r in rows if _utc(r.received_at) >= cutoff}


def _utc(value: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive UTC, PostgreSQL aware)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
