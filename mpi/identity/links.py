"""The only code that changes who is who: persons, source records, links, merges, and their event log.

Every function works inside the caller's transaction (a SQLAlchemy ``Connection``) and appends one event
per change to ``link_event``, so replaying the log reproduces the current state
(:func:`replay_assignments`). Invariants kept here:
- a source record belongs to exactly one person at a time (``source_record.person_id``, mirrored by its
  newest ``link`` row);
- persons are never renumbered or deleted: a merge leaves a redirect, and :func:`unmerge` undoes it;
- automatic decisions never override a steward's constraint (checked by :func:`is_blocked`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from mpi.identity.models import Link, LinkEvent, Person, ReviewItem, SourceRecord, StewardConstraint
from mpi.store.models import utcnow

persons = Person.__table__  # type: ignore[attr-defined]
sources = SourceRecord.__table__  # type: ignore[attr-defined]
links = Link.__table__  # type: ignore[attr-defined]
events = LinkEvent.__table__  # type: ignore[attr-defined]
reviews = ReviewItem.__table__  # type: ignore[attr-defined]
constraints = StewardConstraint.__table__  # type: ignore[attr-defined]

_INSERT_PERSON = insert(persons)
_INSERT_EVENT = insert(events)
_INSERT_LINK = insert(links)
_INSERT_SOURCE = insert(sources)
_MOVE_SOURCE = (
    update(sources)
    .where(sources.c.id == bindparam("sid"))
    .values(person_id=bindparam("pid"), link_state=bindparam("state"))
)


def _id(result: Any) -> int:
    return int(result.inserted_primary_key[0])


def emit(conn: Connection, kind: str, *, actor: str, **fields: Any) -> int:
    """Append one event to the ordered log."""
    return _id(conn.execute(_INSERT_EVENT, {"kind": kind, "actor": actor, "created_at": utcnow(), **fields}))


def create_person(conn: Connection, *, actor: str) -> int:
    person_id = _id(conn.execute(_INSERT_PERSON, {"created_at": utcnow()}))
    emit(conn, "person_created", actor=actor, person_id=person_id)
    return person_id


def current_person(conn: Connection, person_id: int) -> int:
    """Follow merge redirects to the surviving person."""
    seen = set()
    while True:
        target = conn.execute(select(persons.c.merged_into_id).where(persons.c.id == person_id)).scalar_one_or_none()
        if target is None:
            return person_id
        if person_id in seen:  # pragma: no cover - merges never form a cycle; refuse to loop if one did
            raise RuntimeError("merge redirect cycle")
        seen.add(person_id)
        person_id = int(target)


def add_source_record(conn: Connection, *, values: dict[str, Any], person_id: int, state: str) -> int:
    """Insert a source record already assigned to ``person_id`` (its first link is written by the caller)."""
    return _id(
        conn.execute(_INSERT_SOURCE, {**values, "person_id": person_id, "link_state": state, "created_at": utcnow()})
    )


def link(
    conn: Connection,
    *,
    source_record_id: int,
    person_id: int,
    state: str,
    rule: str,
    actor: str,
    match_weight: float | None = None,
    match_probability: float | None = None,
    model_id: str | None = None,
    previous_person_id: int | None = None,
    evidence: dict[str, Any] | None = None,
) -> int:
    """Assign a record to a person: a new immutable link row, the mirror column, and an event.

    ``evidence``: what the policy read beyond the model's score (e.g. a birth-year typo the CCCD corrected,
    a guardian's number); kept in the ``linked`` event's details.
    """
    link_id = _id(
        conn.execute(
            _INSERT_LINK,
            {
                "source_record_id": source_record_id,
                "person_id": person_id,
                "state": state,
                "rule": rule,
                "match_weight": match_weight,
                "match_probability": match_probability,
                "model_id": model_id,
                "actor": actor,
                "created_at": utcnow(),
            },
        )
    )
    conn.execute(_MOVE_SOURCE, {"sid": source_record_id, "pid": person_id, "state": state})
    emit(
        conn,
        "linked",
        actor=actor,
        source_record_id=source_record_id,
        person_id=person_id,
        other_person_id=previous_person_id,
        link_id=link_id,
        details={"state": state, "rule": rule, **({"evidence": evidence} if evidence else {})},
    )
    return link_id


def is_blocked(conn: Connection, *, source_record_id: int, person_id: int) -> bool:
    """True when a steward said this record is not that person (or its merged-in persons)."""
    rows = conn.execute(
        select(constraints.c.person_id).where(
            constraints.c.source_record_id == source_record_id, constraints.c.kind == "different_person"
        )
    ).scalars()
    return any(current_person(conn, int(p)) == person_id for p in rows)


def is_pinned(conn: Connection, *, source_record_id: int) -> bool:
    """True when a steward linked the record by hand: automatic relinking leaves it alone."""
    return (
        conn.execute(
            select(constraints.c.id).where(
                constraints.c.source_record_id == source_record_id, constraints.c.kind == "manual_link"
            )
        ).first()
        is not None
    )


def open_review(
    conn: Connection,
    *,
    source_record_id: int,
    candidate_person_id: int,
    reason: str,
    actor: str,
    match_weight: float | None = None,
    match_probability: float | None = None,
    model_id: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> int:
    existing = conn.execute(
        select(reviews.c.id).where(
            reviews.c.source_record_id == source_record_id,
            reviews.c.candidate_person_id == candidate_person_id,
            reviews.c.status == "open",
        )
    ).first()
    if existing is not None:
        return int(existing.id)
    review_id = _id(
        conn.execute(
            insert(reviews),
            {
                "source_record_id": source_record_id,
                "candidate_person_id": candidate_person_id,
                "reason": reason,
                "match_weight": match_weight,
                "match_probability": match_probability,
                "model_id": model_id,
                "evidence": evidence,
                "status": "open",
                "created_at": utcnow(),
            },
        )
    )
    emit(
        conn,
        "review_opened",
        actor=actor,
        source_record_id=source_record_id,
        person_id=candidate_person_id,
        details={"review_id": review_id, "reason": reason},
    )
    return review_id


def merge(
    conn: Connection,
    *,
    from_person_id: int,
    into_person_id: int,
    actor: str,
    rule: str = "merge",
    match_weight: float | None = None,
    match_probability: float | None = None,
    model_id: str | None = None,
) -> list[int]:
    """Move every record of ``from`` to ``into`` and leave a redirect. Returns the moved record ids.

    A merge the model proposed (batch relinking) passes the evidence: it is stored on every link it writes.
    """
    from_person_id = current_person(conn, from_person_id)
    into_person_id = current_person(conn, into_person_id)
    if from_person_id == into_person_id:
        return []
    moved = [
        (int(r.id), str(r.link_state))
        for r in conn.execute(select(sources.c.id, sources.c.link_state).where(sources.c.person_id == from_person_id))
    ]
    for source_id, state in moved:
        link(
            conn,
            source_record_id=source_id,
            person_id=into_person_id,
            state=state,
            rule=rule,
            actor=actor,
            match_weight=match_weight,
            match_probability=match_probability,
            model_id=model_id,
            previous_person_id=from_person_id,
        )
    conn.execute(
        update(persons).where(persons.c.id == from_person_id).values(merged_into_id=into_person_id, merged_at=utcnow())
    )
    emit(
        conn,
        "merged",
        actor=actor,
        person_id=into_person_id,
        other_person_id=from_person_id,
        details={"moved": [s for s, _ in moved], "rule": rule, **({"model_id": model_id} if model_id else {})},
    )
    return [s for s, _ in moved]


def unmerge(conn: Connection, *, person_id: int, actor: str) -> list[int]:
    """Undo the merge of ``person_id`` into another: its records (as moved by that merge) come back."""
    target = conn.execute(select(persons.c.merged_into_id).where(persons.c.id == person_id)).scalar_one_or_none()
    if target is None:
        return []
    event = conn.execute(
        select(events.c.details)
        .where(and_(events.c.kind == "merged", events.c.other_person_id == person_id))
        .order_by(events.c.seq.desc())
    ).first()
    moved: list[int] = list(event.details["moved"]) if event is not None and event.details else []
    conn.execute(update(persons).where(persons.c.id == person_id).values(merged_into_id=None, merged_at=None))
    for source_id in moved:
        row = conn.execute(select(sources.c.person_id, sources.c.link_state).where(sources.c.id == source_id)).one()
        if is_pinned(conn, source_record_id=source_id) and int(row.person_id) != int(target):
            continue  # a steward placed it elsewhere since: their decision stands
        link(
            conn,
            source_record_id=source_id,
            person_id=person_id,
            state=str(row.link_state),
            rule="unmerge",
            actor=actor,
            previous_person_id=int(row.person_id),
        )
    emit(conn, "unmerged", actor=actor, person_id=person_id, other_person_id=int(target), details={"moved": moved})
    return moved


def replay_assignments(conn: Connection) -> dict[int, int]:
    """Rebuild record -> person from the event log alone (the invariant tests compare it with the state)."""
    state: dict[int, int] = {}
    for row in conn.execute(
        select(events.c.source_record_id, events.c.person_id).where(events.c.kind == "linked").order_by(events.c.seq)
    ):
        state[int(row.source_record_id)] = int(row.person_id)
    return state
