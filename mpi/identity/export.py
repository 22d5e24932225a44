"""Export the MPI's linkage decisions, so that anyone can check them from outside (`mpi export links`).

One CSV row per stored encounter version: the encounter key as the facility sent it (MA_CSKCB, MA_LK,
version), the person it belongs to now (merge redirects followed), the link state, and the evidence of
its newest link (match probability, model id, rule). Two more columns serve evaluation: ``review_person_id``,
the candidate person of the record's newest open review item (followed through merges; empty when none), and
``current`` (1 for the newest version of the encounter).

Encounters are keys and person ids only: no name, identifier, date or phone leaves through this file.
Rejected encounters are not stored, so they have no row. Rows are streamed from the store and written as
they come (the merge-redirect map is the only thing held in memory: one entry per merged person).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, Select, func, select

from mpi.errors import NotFound
from mpi.identity import links as L
from mpi.store.models import Encounter

__all__ = ["EXPORT_COLUMNS", "EncounterLink", "encounter_link", "export_links"]

EXPORT_COLUMNS: Final = (
    "facility_code",
    "ma_lk",
    "version",
    "person_id",
    "link_state",
    "match_probability",
    "model_id",
    "rule",
    "review_person_id",
    "current",
)
_encounters = Encounter.__table__  # type: ignore[attr-defined]
_BATCH: Final = 5_000


def _query() -> Select[Any]:
    e, s, lk, r = _encounters, L.sources, L.links, L.reviews
    newest_link = (
        select(lk.c.source_record_id, func.max(lk.c.id).label("link_id"))
        .group_by(lk.c.source_record_id)
        .subquery("newest_link")
    )
    newest_review = (
        select(r.c.source_record_id, func.max(r.c.id).label("review_id"))
        .where(r.c.status == "open")
        .group_by(r.c.source_record_id)
        .subquery("newest_review")
    )
    review = r.alias("review")
    return (
        select(
            e.c.id.label("encounter_id"),
            e.c.facility_code,
            e.c.ma_lk,
            e.c.version,
            e.c.is_current,
            s.c.person_id,
            s.c.link_state,
            lk.c.match_probability,
            lk.c.model_id,
            lk.c.rule,
            review.c.candidate_person_id,
        )
        .select_from(e)
        .outerjoin(s, s.c.encounter_id == e.c.id)
        .outerjoin(newest_link, newest_link.c.source_record_id == s.c.id)
        .outerjoin(lk, lk.c.id == newest_link.c.link_id)
        .outerjoin(newest_review, newest_review.c.source_record_id == s.c.id)
        .outerjoin(review, review.c.id == newest_review.c.review_id)
        .order_by(e.c.facility_code, e.c.ma_lk, e.c.version)
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def export_links(*, engine: Engine, out: Path) -> int:
    """Write the links CSV (columns :data:`EXPORT_COLUMNS`) to ``out``; returns the number of rows."""
    rows = 0
    with engine.connect() as conn, out.open("w", encoding="utf-8", newline="") as handle:
        resolve = L.person_resolver(conn)
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(_query())
        for batch in result.partitions():
            writer.writerows(
                (
                    r.facility_code,
                    r.ma_lk,
                    r.version,
                    _text(resolve(r.person_id)),
                    _text(r.link_state),
                    _text(r.match_probability),
                    _text(r.model_id),
                    _text(r.rule),
                    _text(resolve(r.candidate_person_id)),
                    1 if r.is_current else 0,
                )
                for r in batch
            )
            rows += len(batch)
    return rows


@dataclass(frozen=True, slots=True)
class EncounterLink:
    """The person the current version of one encounter belongs to, with its newest link's evidence."""

    encounter_id: int
    facility_code: str
    ma_lk: str
    version: int
    person_id: int
    link_state: str
    match_probability: float | None
    model_id: str | None


def encounter_link(*, conn: Connection, facility_code: str, ma_lk: str) -> EncounterLink:
    """The export row of the current version of (MA_CSKCB, MA_LK); NotFound when it is not stored or linked."""
    e = _encounters
    row = conn.execute(
        _query().where(e.c.facility_code == facility_code, e.c.ma_lk == ma_lk, e.c.is_current.is_(True))
    ).first()
    if row is None or row.person_id is None:
        raise NotFound("no linked encounter with this MA_CSKCB and MA_LK")
    return EncounterLink(
        encounter_id=int(row.encounter_id),
        facility_code=row.facility_code,
        ma_lk=row.ma_lk,
        version=int(row.version),
        person_id=L.current_person(conn, int(row.person_id)),
        link_state=row.link_state,
        match_probability=row.match_probability,
        model_id=row.model_id,
    )
