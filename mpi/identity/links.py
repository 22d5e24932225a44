"""The only code that changes who is who: persons, source records, links, merges, steward constraints,
review items, and their event log.

Every function works inside the caller's transaction (a SQLAlchemy ``Connection``) and appends one event
per change to ``link_event``, so replaying the log reproduces the current state (:func:`replay_state`).
Invariants kept here:
- a source record belongs to exactly one person at a time (``source_record.person_id``, mirrored by its
  newest ``link`` row);
- persons are never renumbered or deleted: a merge leaves a redirect, and :func:`unmerge` undoes it;
- automatic decisions never override a steward's constraint (checked by :func:`is_blocked`);
- events are numbered in commit order without gaps (:func:`lock_feed`): the change feed can be read with
  a cursor and never misses or reorders a change, however many writers there are.

The hot path (online linking inside an ingest, many encounters per transaction with group commit) calls
:func:`defer_events`: the transaction's events are then numbered as they are emitted but written at
commit in one batch, with the feed head updated once (:mod:`mpi.store.deferred`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Final

from sqlalchemy import JSON, Connection, Select, and_, bindparam, delete, insert, or_, select, update

from mpi.errors import MPIError, NotFound
from mpi.identity.models import (
    ConstraintKind,
    EventFeedHead,
    Link,
    LinkEvent,
    LinkState,
    Person,
    ReviewItem,
    SourceRecord,
    SourceValues,
    StewardAction,
    StewardConstraint,
)
from mpi.identity.policy import Rule
from mpi.store import ahead, deferred
from mpi.store.bulk import BulkInsert, Prepared
from mpi.store.models import utcnow

persons = Person.__table__  # type: ignore[attr-defined]
sources = SourceRecord.__table__  # type: ignore[attr-defined]
links = Link.__table__  # type: ignore[attr-defined]
events = LinkEvent.__table__  # type: ignore[attr-defined]
reviews = ReviewItem.__table__  # type: ignore[attr-defined]
constraints = StewardConstraint.__table__  # type: ignore[attr-defined]
actions = StewardAction.__table__  # type: ignore[attr-defined]
feed_head = EventFeedHead.__table__  # type: ignore[attr-defined]

_INSERT_PERSON = BulkInsert(persons, returning=persons.c.id)
_INSERT_EVENTS = BulkInsert(events, generated_key=False)
_INSERT_LINK = BulkInsert(links, returning=links.c.id)
_INSERT_SOURCE = BulkInsert(sources, returning=sources.c.id)
_INSERT_REVIEW = BulkInsert(reviews, returning=reviews.c.id)
_OPEN_REVIEW = Prepared(
    select(reviews.c.id).where(
        reviews.c.source_record_id == bindparam("sid"),
        reviews.c.candidate_person_id == bindparam("pid"),
        reviews.c.status == "open",
    )
)
_SOURCE_STATE = Prepared(select(sources.c.person_id, sources.c.link_state).where(sources.c.id == bindparam("sid")))
_MOVE_SOURCE = Prepared(
    update(sources)
    .where(sources.c.id == bindparam("sid"))
    .values(person_id=bindparam("pid"), link_state=bindparam("state"))
)
_NEXT_SEQ = Prepared(
    update(feed_head)
    .where(feed_head.c.id == 1)
    .values(last_seq=feed_head.c.last_seq + 1)
    .returning(feed_head.c.last_seq)
)
_TAKE_FEED = Prepared(
    update(feed_head).where(feed_head.c.id == 1).values(last_seq=feed_head.c.last_seq).returning(feed_head.c.last_seq)
)
_SET_HEAD = Prepared(update(feed_head).where(feed_head.c.id == 1).values(last_seq=bindparam("seq")))
_FEED_TX: Final = "mpi.identity.feed_transaction"
_ACTION: Final = "mpi.identity.steward_action"
_DEFERRED_EVENTS: Final = "mpi.identity.events"


class Conflict(MPIError):
    """The change cannot be applied to the current state (someone else changed it first)."""

    code = "conflict"
    status = 409


def _id(result: Any) -> int:
    return int(result.inserted_primary_key[0])


def lock_feed(conn: Connection) -> None:
    """Take the event feed's lock for this transaction (once; a no-op afterwards).

    The lock is the row lock of ``event_feed_head``, held until commit or rollback. Every writer here takes
    it before its first change, so writers touching identity are serialised, event numbers are handed out
    in commit order, and the lock is always taken before any identity row (no lock-order deadlocks). On
    SQLite the write lock of the database does the same; the update is then what makes the transaction a
    writer before it reads, so a steward's check-then-write cannot act on a stale snapshot.
    """
    transaction = conn.get_transaction()
    if transaction is not None and conn.info.get(_FEED_TX) is transaction:
        return
    _take_feed(conn)


def _take_feed(conn: Connection) -> int:
    """Lock the feed head for this transaction; returns the last number handed out."""
    if not conn.in_transaction():
        conn.begin()
    last = int(_TAKE_FEED.scalar(conn))
    conn.info[_FEED_TX] = conn.get_transaction()
    return last


class _DeferredEvents:
    """This transaction's events, numbered from the feed head read under its lock, written at commit."""

    def __init__(self, last_seq: int) -> None:
        self.last_seq = last_seq
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> int:
        seq = self.last_seq + len(self.rows) + 1
        row["seq"] = seq
        self.rows.append(row)
        return seq

    def mark(self) -> int:
        return len(self.rows)

    def restore(self, mark: int) -> None:
        del self.rows[mark:]

    def flush(self, conn: Connection) -> None:
        if self.rows:
            _INSERT_EVENTS.execute(conn, self.rows)
            _SET_HEAD.rows(conn, {"seq": self.last_seq + len(self.rows)})
        self.rows = []

    def discard(self, conn: Connection) -> None:
        self.rows = []
        # the lock may have been taken inside what was rolled back: take it again before the next change
        conn.info.pop(_FEED_TX, None)


def defer_events(conn: Connection) -> None:
    """Until this transaction ends, number events as they are emitted and write them all at its commit.

    For transactions that write many changes and read no events back (ingest). The feed's lock is taken
    now, so numbers stay gap-free and in commit order; a savepoint rolled back gives its numbers back.
    """
    deferred.buffer(conn, _DEFERRED_EVENTS, lambda: _DeferredEvents(_take_feed(conn)))


def _pending_events(conn: Connection) -> _DeferredEvents | None:
    found = deferred.current(conn, _DEFERRED_EVENTS)
    return found if isinstance(found, _DeferredEvents) else None


def _no_pending_events(conn: Connection) -> None:
    if _pending_events(conn) is not None:
        raise RuntimeError("this transaction defers its events (defer_events): read the log after it commits")


def emit(conn: Connection, kind: str, *, actor: str, **fields: Any) -> int:
    """Append one event to the ordered log; returns its sequence number (gap-free, in commit order)."""
    row = {"kind": kind, "actor": actor, "created_at": utcnow(), "action_id": conn.info.get(_ACTION), **fields}
    pending = _pending_events(conn)
    if pending is not None:
        return pending.add(row)
    lock_feed(conn)
    row["seq"] = seq = int(_NEXT_SEQ.scalar(conn))
    _INSERT_EVENTS.execute(conn, [row])
    return seq


@contextmanager
def steward_action(
    conn: Connection, *, kind: str, actor: str, undoes_id: int | None = None, details: dict[str, Any] | None = None
) -> Iterator[int]:
    """Group the changes made inside the block as one steward action (what an undo reverses)."""
    if conn.info.get(_ACTION) is not None:
        raise RuntimeError("steward actions do not nest")
    lock_feed(conn)
    action_id = _id(
        conn.execute(
            insert(actions),
            {"kind": kind, "actor": actor, "created_at": utcnow(), "undoes_id": undoes_id, "details": details},
        )
    )
    conn.info[_ACTION] = action_id
    try:
        yield action_id
    finally:
        conn.info.pop(_ACTION, None)


def create_person(conn: Connection, *, actor: str) -> int:
    lock_feed(conn)
    person_id = ahead.insert(conn, persons, {"created_at": utcnow()}, now=_INSERT_PERSON)
    emit(conn, "person_created", actor=actor, person_id=person_id)
    return person_id


# ---- merge redirects: the one place they are followed ------------------------------------------------
def follow_redirects(redirects: Mapping[int, int], person_id: int) -> int:
    """The surviving person of ``person_id``, given merge redirects (merged person -> the person it was
    merged into): the one place a redirect chain is walked."""
    seen = set()
    while person_id in redirects:
        if person_id in seen:  # pragma: no cover - merges never form a cycle; refuse to loop if one did
            raise RuntimeError("merge redirect cycle")
        seen.add(person_id)
        person_id = redirects[person_id]
    return person_id


def merge_redirects(conn: Connection) -> dict[int, int]:
    """Every merge redirect of the store (merged person -> the person it was merged into)."""
    rows = conn.execute(select(persons.c.id, persons.c.merged_into_id).where(persons.c.merged_into_id.is_not(None)))
    return {int(r.id): int(r.merged_into_id) for r in rows}


def person_resolver(conn: Connection) -> Callable[[int | None], int | None]:
    """Maps a person id to its surviving person (None to None), with the redirects read once from the
    store: for exports that resolve every person of the store."""
    known = merge_redirects(conn)

    @cache
    def resolve(person_id: int | None) -> int | None:
        return None if person_id is None else follow_redirects(known, person_id)

    return resolve


def survivors(conn: Connection, person_ids: Iterable[int]) -> dict[int, int]:
    """Each person id -> its surviving person (merge redirects followed); one query per step of the longest
    redirect chain, one in all when none of them was merged."""
    ids = set(person_ids)
    found: dict[int, int] = {}
    asked: set[int] = set()
    frontier = ids
    while frontier:
        asked |= frontier
        step = {
            int(r.id): int(r.merged_into_id)
            for r in conn.execute(
                select(persons.c.id, persons.c.merged_into_id).where(
                    persons.c.id.in_(sorted(frontier)), persons.c.merged_into_id.is_not(None)
                )
            )
        }
        found.update(step)
        frontier = set(step.values()) - asked
    return {p: follow_redirects(found, p) for p in ids}


def current_person(conn: Connection, person_id: int) -> int:
    """Follow merge redirects to the surviving person."""
    return survivors(conn, (person_id,))[person_id]


def absorbed(conn: Connection, person_id: int, *, direct: Iterable[int] | None = None) -> list[int]:
    """Every person merged into ``person_id``, directly or through others (nearest first); one query per
    level of merges. ``direct``: the persons merged directly into it, when the caller has read them."""
    cluster = [person_id]
    frontier = [p for p in direct if p != person_id] if direct is not None else [person_id]
    if direct is not None:
        cluster.extend(frontier)
    while frontier:
        deeper = [
            int(p) for p in conn.execute(select(persons.c.id).where(persons.c.merged_into_id.in_(frontier))).scalars()
        ]
        frontier = [p for p in deeper if p not in cluster]
        cluster.extend(frontier)
    return cluster[1:]


@dataclass(frozen=True, slots=True)
class ResolvedPerson:
    person_id: int
    """The surviving person."""
    requested_id: int
    """The id that was asked for (differs from ``person_id`` after a merge)."""
    cluster: tuple[int, ...]
    """``person_id`` and every person merged into it, directly or not."""


_PERSON_AND_ABSORBED: Final = select(persons.c.id, persons.c.merged_into_id).where(
    or_(persons.c.id == bindparam("person_id"), persons.c.merged_into_id == bindparam("person_id"))
)
"""A person's own row (does it exist, was it merged) and the persons merged directly into it, at once."""


def resolve_person(*, conn: Connection, person_id: int) -> ResolvedPerson:
    """The person now meant by ``person_id`` and its cluster; one statement for a person nobody was merged
    into twice over (the common case), one more per level of merges."""
    rows = conn.execute(_PERSON_AND_ABSORBED, {"person_id": person_id}).all()
    own = next((r for r in rows if int(r.id) == person_id), None)
    if own is None:
        raise NotFound(f"no person {person_id}", code="person_not_found")
    if own.merged_into_id is None:
        survivor, direct = person_id, [int(r.id) for r in rows if int(r.id) != person_id]
        merged = absorbed(conn, survivor, direct=direct)
    else:  # a merged id: its survivor's cluster
        survivor = current_person(conn, person_id)
        merged = absorbed(conn, survivor)
    return ResolvedPerson(person_id=survivor, requested_id=person_id, cluster=(survivor, *merged))


# ---- source records, links and merges ----------------------------------------------------------------
def add_source_record(
    conn: Connection, *, values: SourceValues, person_id: int, state: LinkState, search_keys: Iterable[Hashable] = ()
) -> int:
    """Insert a source record already assigned to ``person_id`` (its first link is written by the caller).
    ``search_keys``: what a candidate search finds it by (``Matcher.search_keys``), for a transaction that
    writes it later (:mod:`mpi.store.ahead`)."""
    lock_feed(conn)
    row = {**values, "person_id": person_id, "link_state": state, "created_at": utcnow()}
    return ahead.insert(conn, sources, row, now=_INSERT_SOURCE, keys=search_keys)


def link(
    conn: Connection,
    *,
    source_record_id: int,
    person_id: int,
    state: LinkState,
    rule: Rule,
    actor: str,
    match_weight: float | None = None,
    match_probability: float | None = None,
    model_id: str | None = None,
    previous_person_id: int | None = None,
    evidence: dict[str, Any] | None = None,
    added: bool = False,
) -> int:
    """Assign a record to a person: a new immutable link row, the mirror column, and an event.

    ``evidence``: what the policy read beyond the model's score (e.g. a birth-year typo the CCCD corrected,
    a guardian's number); kept in the ``linked`` event's details.
    ``added``: the record was just added by :func:`add_source_record` with this ``person_id`` and ``state``
    in this transaction (its first link), so its current assignment is known without reading it.

    The event keeps the record's previous person and state, so the change can be reversed exactly.
    """
    lock_feed(conn)
    if added:
        previous_person, previous_state = person_id, str(state)
    else:
        ahead.write_pending(conn)
        found = _SOURCE_STATE.first(conn, {"sid": source_record_id})
        if found is None:
            raise NotFound(f"no source record {source_record_id}")
        previous_person, previous_state = int(found[0]), str(found[1])
    link_id = ahead.insert(
        conn,
        links,
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
        now=_INSERT_LINK,
    )
    if (previous_person, previous_state) != (person_id, state):  # a new record is added with its first link's
        _MOVE_SOURCE.rows(conn, {"sid": source_record_id, "pid": person_id, "state": state})
    emit(
        conn,
        "linked",
        actor=actor,
        source_record_id=source_record_id,
        person_id=person_id,
        other_person_id=previous_person_id,
        link_id=link_id,
        details={
            "state": state,
            "rule": rule,
            "previous_person_id": previous_person,
            "previous_state": previous_state,
            **({"evidence": evidence} if evidence else {}),
        },
    )
    return link_id


def blocked_persons(conn: Connection, source_record_ids: Iterable[int]) -> set[int]:
    """The persons (as they are now, through merges) a steward said these records are not."""
    ids = list(source_record_ids)
    if not ids:
        return set()
    rows = conn.execute(
        select(constraints.c.person_id).where(
            constraints.c.source_record_id.in_(ids), constraints.c.kind == ConstraintKind.DIFFERENT_PERSON
        )
    ).scalars()
    return set(survivors(conn, (int(p) for p in rows)).values())


@dataclass(frozen=True, slots=True)
class PairConstraints:
    """What stewards decided about two persons' records."""

    kept_apart: bool
    """A steward said a record now held by one of the two is not the other (persons as they are now)."""
    pinned: frozenset[int]
    """Which of the two hold a record a steward linked by hand (``manual_link``)."""


def pair_constraints(conn: Connection, a: int, b: int) -> PairConstraints:
    """The steward constraints on the records of persons ``a`` and ``b`` (two surviving persons), in one
    statement (one more to follow merges when a "different person" constraint is found)."""
    other = {a: b, b: a}
    rows = conn.execute(
        select(constraints.c.kind, constraints.c.person_id, sources.c.person_id.label("holder"))
        .join(sources, sources.c.id == constraints.c.source_record_id)
        .where(sources.c.person_id.in_([a, b]))
    ).all()
    apart = [r for r in rows if r.kind == ConstraintKind.DIFFERENT_PERSON]
    now = survivors(conn, (int(r.person_id) for r in apart)) if apart else {}
    return PairConstraints(
        kept_apart=any(now[int(r.person_id)] == other[int(r.holder)] for r in apart),
        pinned=frozenset(int(r.holder) for r in rows if r.kind == ConstraintKind.MANUAL_LINK),
    )


def is_blocked(conn: Connection, *, source_record_id: int, person_id: int) -> bool:
    """True when a steward said this record is not that person (or its merged-in persons)."""
    return current_person(conn, person_id) in blocked_persons(conn, [source_record_id])


def is_pinned(conn: Connection, *, source_record_id: int) -> bool:
    """True when a steward linked the record by hand: automatic relinking leaves it alone."""
    return (
        conn.execute(
            select(constraints.c.id).where(
                constraints.c.source_record_id == source_record_id, constraints.c.kind == ConstraintKind.MANUAL_LINK
            )
        ).first()
        is not None
    )


def open_review(
    conn: Connection,
    *,
    source_record_id: int,
    candidate_person_id: int,
    reason: Rule,
    actor: str,
    match_weight: float | None = None,
    match_probability: float | None = None,
    model_id: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> int:
    lock_feed(conn)
    ahead.write_pending(conn)  # the item refers to the record
    existing = _OPEN_REVIEW.first(conn, {"sid": source_record_id, "pid": candidate_person_id})
    if existing is not None:
        return int(existing[0])
    review_id = int(
        _INSERT_REVIEW.insert(
            conn,
            {
                "source_record_id": source_record_id,
                "candidate_person_id": candidate_person_id,
                "reason": reason,
                "match_weight": match_weight,
                "match_probability": match_probability,
                "model_id": model_id,
                "evidence": JSON.NULL if evidence is None else evidence,  # JSON null, as the ORM writes None
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
    rule: Rule = Rule.MERGE,
    match_weight: float | None = None,
    match_probability: float | None = None,
    model_id: str | None = None,
) -> list[int]:
    """Move every record of ``from`` to ``into`` and leave a redirect. Returns the moved record ids.

    A merge the model proposed (batch relinking) passes the evidence: it is stored on every link it writes.
    """
    lock_feed(conn)
    from_person_id = current_person(conn, from_person_id)
    into_person_id = current_person(conn, into_person_id)
    if from_person_id == into_person_id:
        return []
    moved = [
        (int(r.id), LinkState(r.link_state))
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
    _no_pending_events(conn)
    lock_feed(conn)
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
            state=LinkState(row.link_state),
            rule=Rule.UNMERGE,
            actor=actor,
            previous_person_id=int(row.person_id),
        )
    emit(conn, "unmerged", actor=actor, person_id=person_id, other_person_id=int(target), details={"moved": moved})
    return moved


def replay_assignments(conn: Connection) -> dict[int, int]:
    """Rebuild record -> person from the event log alone (the invariant tests compare it with the state)."""
    return {record: person for record, (person, _) in replay_state(conn).assignments.items()}


# ---- constraints and review items ------------------------------------------------------------------
def add_constraint(conn: Connection, *, kind: ConstraintKind, source_record_id: int, person_id: int, actor: str) -> int:
    """A sticky steward fact: ``different_person`` (never link there automatically) or ``manual_link``."""
    lock_feed(conn)
    constraint_id = _id(
        conn.execute(
            insert(constraints),
            {
                "kind": kind,
                "source_record_id": source_record_id,
                "person_id": person_id,
                "actor": actor,
                "created_at": utcnow(),
            },
        )
    )
    emit(
        conn,
        "constraint_added",
        actor=actor,
        source_record_id=source_record_id,
        person_id=person_id,
        details={"constraint_id": constraint_id, "kind": kind},
    )
    return constraint_id


def remove_constraint(conn: Connection, *, constraint_id: int, actor: str) -> None:
    lock_feed(conn)
    row = conn.execute(select(constraints).where(constraints.c.id == constraint_id)).first()
    if row is None:
        raise NotFound(f"no steward constraint {constraint_id}")
    conn.execute(delete(constraints).where(constraints.c.id == constraint_id))
    emit(
        conn,
        "constraint_removed",
        actor=actor,
        source_record_id=int(row.source_record_id),
        person_id=int(row.person_id),
        details={"constraint_id": constraint_id, "kind": row.kind},
    )


def close_review(conn: Connection, *, review_id: int, status: str, actor: str) -> bool:
    """Close an open review item with ``status``; False when it was no longer open (someone decided first).

    The update is conditional on the item being open, so of two stewards deciding at once exactly one
    closes it: on PostgreSQL the second waits for the first's commit and then finds it closed.
    """
    lock_feed(conn)
    closed = conn.execute(
        update(reviews)
        .where(reviews.c.id == review_id, reviews.c.status == "open")
        .values(status=status, resolved_by=actor, resolved_at=utcnow())
    ).rowcount
    if not closed:
        return False
    row = conn.execute(
        select(reviews.c.source_record_id, reviews.c.candidate_person_id).where(reviews.c.id == review_id)
    ).one()
    emit(
        conn,
        "review_resolved",
        actor=actor,
        source_record_id=int(row.source_record_id),
        person_id=int(row.candidate_person_id),
        details={"review_id": review_id, "verdict": status},
    )
    return True


def reopen_review(conn: Connection, *, review_id: int, actor: str) -> None:
    lock_feed(conn)
    row = conn.execute(
        select(reviews.c.source_record_id, reviews.c.candidate_person_id, reviews.c.status).where(
            reviews.c.id == review_id
        )
    ).one()
    conn.execute(
        update(reviews).where(reviews.c.id == review_id).values(status="open", resolved_by=None, resolved_at=None)
    )
    emit(
        conn,
        "review_reopened",
        actor=actor,
        source_record_id=int(row.source_record_id),
        person_id=int(row.candidate_person_id),
        details={"review_id": review_id, "previous_status": row.status},
    )


def skip_review(conn: Connection, *, review_id: int) -> bool:
    """ "Not sure": the item stays open and goes to the back of the queue. Not an identity change: no event."""
    return bool(
        conn.execute(
            update(reviews).where(reviews.c.id == review_id, reviews.c.status == "open").values(skipped_at=utcnow())
        ).rowcount
    )


# ---- redirects -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PersonLinks:
    """Who replaced whom, for ``Patient.link``: ``replaced_by`` is the direct merge target (None if the
    person survives), ``survivor`` the end of the redirect chain, ``replaces`` the persons merged into it."""

    person_id: int
    replaced_by: int | None
    survivor: int
    replaces: tuple[int, ...]


def person_links(conn: Connection, person_id: int) -> PersonLinks:
    row = conn.execute(select(persons.c.merged_into_id).where(persons.c.id == person_id)).first()
    if row is None:
        raise NotFound(f"no person {person_id}")
    replaces = conn.execute(
        select(persons.c.id).where(persons.c.merged_into_id == person_id).order_by(persons.c.id)
    ).scalars()
    return PersonLinks(
        person_id=person_id,
        replaced_by=int(row.merged_into_id) if row.merged_into_id is not None else None,
        survivor=current_person(conn, person_id),
        replaces=tuple(int(p) for p in replaces),
    )


# ---- state, replay and undo -------------------------------------------------------------------------
@dataclass(slots=True)
class IdentityState:
    """Everything the identity log decides: compared whole to prove replay and undo exact."""

    assignments: dict[int, tuple[int, str]] = field(default_factory=dict)
    """source record -> (person, link state)."""
    merged_into: dict[int, int] = field(default_factory=dict)
    constraints: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    """constraint id -> (kind, source record, person)."""
    reviews: dict[int, str] = field(default_factory=dict)
    """review item -> status."""


def current_state(conn: Connection) -> IdentityState:
    return IdentityState(
        assignments={
            int(r.id): (int(r.person_id), str(r.link_state))
            for r in conn.execute(select(sources.c.id, sources.c.person_id, sources.c.link_state))
        },
        merged_into=merge_redirects(conn),
        constraints={
            int(r.id): (str(r.kind), int(r.source_record_id), int(r.person_id))
            for r in conn.execute(
                select(constraints.c.id, constraints.c.kind, constraints.c.source_record_id, constraints.c.person_id)
            )
        },
        reviews={int(r.id): str(r.status) for r in conn.execute(select(reviews.c.id, reviews.c.status))},
    )


def replay_state(conn: Connection, *, until_seq: int | None = None) -> IdentityState:
    """The state rebuilt from the event log alone, up to ``until_seq`` (everything when None)."""
    _no_pending_events(conn)
    state = IdentityState()
    query = select(
        events.c.kind, events.c.source_record_id, events.c.person_id, events.c.other_person_id, events.c.details
    )
    if until_seq is not None:
        query = query.where(events.c.seq <= until_seq)
    for row in conn.execute(query.order_by(events.c.seq)):
        details = row.details or {}
        if row.kind == "linked":
            state.assignments[int(row.source_record_id)] = (int(row.person_id), str(details.get("state")))
        elif row.kind == "merged":
            state.merged_into[int(row.other_person_id)] = int(row.person_id)
        elif row.kind == "unmerged":
            state.merged_into.pop(int(row.person_id), None)
        elif row.kind == "constraint_added":
            state.constraints[int(details["constraint_id"])] = (
                str(details["kind"]),
                int(row.source_record_id),
                int(row.person_id),
            )
        elif row.kind == "constraint_removed":
            state.constraints.pop(int(details["constraint_id"]), None)
        elif row.kind in ("review_opened", "review_reopened"):
            state.reviews[int(details["review_id"])] = "open"
        elif row.kind == "review_resolved":
            state.reviews[int(details["review_id"])] = str(details["verdict"])
    return state


@dataclass(frozen=True, slots=True)
class ActionView:
    id: int
    kind: str
    actor: str
    created_at: datetime
    undoes_id: int | None
    undone_by_id: int | None
    details: dict[str, Any] | None


def get_action(conn: Connection, action_id: int) -> ActionView:
    row = conn.execute(select(actions).where(actions.c.id == action_id)).first()
    if row is None:
        raise NotFound(f"no steward action {action_id}")
    return ActionView(
        id=int(row.id),
        kind=str(row.kind),
        actor=str(row.actor),
        created_at=row.created_at,
        undoes_id=row.undoes_id,
        undone_by_id=row.undone_by_id,
        details=row.details,
    )


def _touched(rows: Iterable[Any]) -> tuple[set[int], set[int]]:
    records: set[int] = set()
    people: set[int] = set()
    for row in rows:
        if row.source_record_id is not None:
            records.add(int(row.source_record_id))
        for p in (row.person_id, row.other_person_id):
            if p is not None:
                people.add(int(p))
        if row.kind == "linked" and row.details:
            people.add(int(row.details["previous_person_id"]))
    return records, people


IDENTITY_CHANGES: Final = ("linked", "merged", "unmerged", "constraint_added", "constraint_removed")
"""The event kinds that change who is who (a link, a merge or its undoing, a steward constraint)."""


def first_change_since(
    conn: Connection,
    *,
    seq: int,
    source_record_ids: Iterable[int],
    person_ids: Iterable[int],
    ignoring_actions: Select[Any] | None = None,
) -> Any | None:
    """The first identity change (:data:`IDENTITY_CHANGES`) after event ``seq`` touching these records or
    persons (``seq``, ``kind``, ``actor``, ``created_at``), or None; the events of the steward actions
    ``ignoring_actions`` selects do not count."""
    query = select(events.c.seq, events.c.kind, events.c.actor, events.c.created_at).where(
        events.c.seq > seq,
        events.c.kind.in_(IDENTITY_CHANGES),
        or_(
            events.c.source_record_id.in_(list(source_record_ids)),
            events.c.person_id.in_(list(person_ids)),
            events.c.other_person_id.in_(list(person_ids)),
        ),
    )
    if ignoring_actions is not None:
        query = query.where(or_(events.c.action_id.is_(None), events.c.action_id.not_in(ignoring_actions)))
    return conn.execute(query.order_by(events.c.seq).limit(1)).first()


def undo_action(conn: Connection, *, action_id: int, actor: str) -> int:
    """Reverse one steward action exactly; returns the id of the undo action.

    Refused (409) when the action was already undone, is itself an undo, or when a later change touched
    the same records or persons: reversing it then would not restore the state before the action, so the
    later change has to be undone first (an action undone since, with its undo, does not count).

    The action's events are inverted newest first: each link goes
    back to the previous person and state, each redirect is removed, each constraint added is removed, each
    review item it closed is reopened. A person the action created stays, without records (ids are never
    reused).
    """
    _no_pending_events(conn)
    lock_feed(conn)
    action = get_action(conn, action_id)
    if action.kind == "undo":
        raise Conflict(f"action {action_id} is an undo; decide again instead of undoing it", code="undo_of_undo")
    if action.undone_by_id is not None:
        raise Conflict(f"action {action_id} was already undone (action {action.undone_by_id})", code="already_undone")
    own = conn.execute(
        select(
            events.c.seq,
            events.c.kind,
            events.c.source_record_id,
            events.c.person_id,
            events.c.other_person_id,
            events.c.details,
        )
        .where(events.c.action_id == action_id)
        .order_by(events.c.seq)
    ).all()
    if not own:
        raise Conflict(f"action {action_id} changed nothing", code="nothing_to_undo")
    records, people = _touched(own)
    cancelled = select(actions.c.id).where(or_(actions.c.undone_by_id.is_not(None), actions.c.undoes_id.is_not(None)))
    # an action undone since, and its undo, cancel out: they changed nothing in between
    later = first_change_since(
        conn, seq=own[-1].seq, source_record_ids=records, person_ids=people, ignoring_actions=cancelled
    )
    if later is not None:
        raise Conflict(
            f"a later change touched the same records or persons (event {later.seq}, {later.kind} by {later.actor} "
            f"at {later.created_at:%Y-%m-%d %H:%M}); undo that first",
            code="changed_since",
        )
    with steward_action(conn, kind="undo", actor=actor, undoes_id=action_id) as undo_id:
        for row in reversed(own):
            details = row.details or {}
            if row.kind == "linked":
                link(
                    conn,
                    source_record_id=int(row.source_record_id),
                    person_id=int(details["previous_person_id"]),
                    state=LinkState(details["previous_state"]),
                    rule=Rule.UNDO,
                    actor=actor,
                    previous_person_id=int(row.person_id),
                )
            elif row.kind == "merged":
                conn.execute(
                    update(persons)
                    .where(persons.c.id == int(row.other_person_id))
                    .values(merged_into_id=None, merged_at=None)
                )
                emit(
                    conn,
                    "unmerged",
                    actor=actor,
                    person_id=int(row.other_person_id),
                    other_person_id=int(row.person_id),
                    details={"moved": list(details.get("moved", [])), "undo_of": action_id},
                )
            elif row.kind == "constraint_added":
                remove_constraint(conn, constraint_id=int(details["constraint_id"]), actor=actor)
            elif row.kind == "review_resolved":
                reopen_review(conn, review_id=int(details["review_id"]), actor=actor)
            elif row.kind not in ("person_created",):
                raise Conflict(
                    f"action {action_id} holds a {row.kind} event, which cannot be undone", code="not_undoable"
                )
        conn.execute(update(actions).where(actions.c.id == action_id).values(undone_by_id=undo_id))
    return undo_id


# ---- the change feed --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FeedEvent:
    id: int
    kind: str
    at: datetime
    actor: str
    person_id: int | None
    other_person_id: int | None
    source_record_id: int | None
    facility_code: str | None
    """MA_CSKCB of the encounter the event is about, if any."""
    ma_lk: str | None
    version: int | None
    action_id: int | None
    details: dict[str, Any] | None


MAX_FEED_PAGE: Final = 5000


def read_feed(conn: Connection, *, after: int = 0, limit: int = 1000) -> list[FeedEvent]:
    """Events with ``seq > after`` in order. Numbers are gap-free and given in commit order
    (:func:`lock_feed`), so a consumer that keeps the last id it saw receives every change exactly once."""
    _no_pending_events(conn)
    limit = max(1, min(limit, MAX_FEED_PAGE))
    query = (
        select(
            events.c.seq,
            events.c.kind,
            events.c.created_at,
            events.c.actor,
            events.c.person_id,
            events.c.other_person_id,
            events.c.source_record_id,
            events.c.action_id,
            events.c.details,
            sources.c.facility_code,
            sources.c.ma_lk,
            sources.c.version,
        )
        .select_from(events.outerjoin(sources, sources.c.id == events.c.source_record_id))
        .where(events.c.seq > after)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [
        FeedEvent(
            id=int(r.seq),
            kind=str(r.kind),
            at=r.created_at,
            actor=str(r.actor),
            person_id=r.person_id,
            other_person_id=r.other_person_id,
            source_record_id=r.source_record_id,
            facility_code=r.facility_code,
            ma_lk=r.ma_lk,
            version=r.version,
            action_id=r.action_id,
            details=r.details,
        )
        for r in conn.execute(query).all()
    ]


def last_seq(conn: Connection) -> int:
    pending = _pending_events(conn)
    if pending is not None:
        return pending.last_seq + len(pending.rows)
    return int(conn.execute(select(feed_head.c.last_seq).where(feed_head.c.id == 1)).scalar_one())
