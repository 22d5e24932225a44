"""``/api/v1/events`` (the identity change feed) and ``/api/v1/steward/...`` (person tools, undo, bulk,
metrics).

The feed answers ids and encounter keys only (MA_CSKCB, MA_LK, person ids), never demographics; it is for
downstream systems (``subscriber`` keys) and stewards, and each page read is audited. Every steward route
needs the ``HOPERAT`` purpose of use and writes one audit event in its own transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, TypeAdapter

from api.deps import EngineDep, require_roles
from api.params import DbId
from api.principal import Principal
from api.routes.review import CONFLICT, ERRORS, StewardReader
from mpi.audit.log import Reader, record_read
from mpi.identity import links as L
from mpi.identity import stewardship as S
from mpi.keys import Role
from mpi.store.db import read_only

events_router = APIRouter(prefix="/api/v1/events", tags=["events"])
router = APIRouter(prefix="/api/v1/steward", tags=["steward"])


# ---- the change feed --------------------------------------------------------------------------------
class FeedPage(BaseModel):
    events: list[L.FeedEvent] = Field(
        description="oldest first; ``id`` is the position in the feed (gap-free, in commit order); ``kind``: linked, "
        "person_created, merged, unmerged, review_opened, review_resolved, review_reopened, constraint_added, "
        "constraint_removed, relink_run; ``facility_code``/``ma_lk``: the encounter's MA_CSKCB and MA_LK"
    )
    next_after: int = Field(description="pass as ``after`` for the next page (unchanged when nothing new)")


def _feed_reader(
    principal: Annotated[Principal, Depends(require_roles(Role.SUBSCRIBER, Role.STEWARD, Role.ADMIN))],
) -> Reader:
    return Reader(actor=principal.submitter_tag, role=principal.role.value, facility_code=None, purpose=None)


_FEED_EVENTS = TypeAdapter(list[L.FeedEvent])


@events_router.get("", response_model=FeedPage, responses=ERRORS)
def change_feed(
    reader: Annotated[Reader, Depends(_feed_reader)],
    engine: EngineDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=L.MAX_FEED_PAGE)] = 1000,
) -> Response:
    """Identity changes after ``after``, oldest first. Keep ``next_after`` and ask again: every change
    arrives exactly once and in commit order, however many writers there are."""
    with read_only(engine).connect() as conn:
        page = L.read_feed(conn, after=after, limit=limit)
    with engine.begin() as conn:
        record_read(
            conn=conn,
            reader=reader,
            action="event_feed",
            resource="/api/v1/events",
            details={"after": after, "events": len(page)},
        )
    # Serialised once, straight from the dataclasses: validating 5,000 events into ``FeedPage`` and again as
    # the response model cost more than reading them. ``FeedPage`` stays the documented shape.
    next_after = page[-1].id if page else after
    body = b'{"events":' + _FEED_EVENTS.dump_json(page) + b',"next_after":' + str(next_after).encode() + b"}"
    return Response(content=body, media_type="application/json")


# ---- undo ---------------------------------------------------------------------------------------------
@router.post("/actions/{action_id}/undo", response_model=L.ActionView, responses=CONFLICT)
def undo(action_id: DbId, reader: StewardReader, engine: EngineDep) -> L.ActionView:
    """Reverse a decision, merge, move or bulk decision exactly. 409 when it was undone already or a later
    change touched the same records or persons (undo that first)."""
    with engine.begin() as conn:
        undo_id = L.undo_action(conn, action_id=action_id, actor=reader.actor)
        record_read(
            conn=conn,
            reader=reader,
            action="steward_undo",
            resource="/api/v1/steward/actions/{id}/undo",
            details={"action_id": action_id, "undo_action_id": undo_id},
        )
        return L.get_action(conn, undo_id)


# ---- persons --------------------------------------------------------------------------------------
class PersonOut(BaseModel):
    person_id: int
    survivor: int
    replaced_by: int | None
    replaces: list[int]
    records: list[S.SourceRecordView] = Field(description="``raw``: XML1 identity elements exactly as sent")
    history: list[S.HistoryEntry] = Field(description="newest first")


@router.get("/persons/{person_id}", response_model=PersonOut, responses=ERRORS)
def person(person_id: DbId, reader: StewardReader, engine: EngineDep) -> PersonOut:
    """A person's source records (as sent and normalised) and identity history, newest first."""
    with engine.begin() as conn:
        S.person_exists(conn, person_id)
        links = L.person_links(conn, person_id)
        records = S.source_records(conn, person_id=links.survivor)
        history = S.person_history(conn, person_id=links.survivor)
        record_read(
            conn=conn,
            reader=reader,
            action="steward_person",
            resource="/api/v1/steward/persons/{id}",
            person_id=links.survivor,
            record_ids=[r.encounter_id for r in records],
        )
    return PersonOut(
        person_id=person_id,
        survivor=links.survivor,
        replaced_by=links.replaced_by,
        replaces=list(links.replaces),
        records=records,
        history=history,
    )


class MergeIn(BaseModel):
    into_person_id: int = Field(ge=1, le=2**31 - 1)


class ActionDone(BaseModel):
    action_id: int
    person_id: int


@router.get("/persons/{person_id}/merge-preview", response_model=S.MergePreview, responses=ERRORS)
def merge_preview(
    person_id: DbId, into: Annotated[int, Query(ge=1, le=2**31 - 1)], reader: StewardReader, engine: EngineDep
) -> S.MergePreview:
    with engine.begin() as conn:
        preview = S.preview_merge(conn, from_person_id=person_id, into_person_id=into)
        record_read(
            conn=conn,
            reader=reader,
            action="steward_merge_preview",
            resource="/api/v1/steward/persons/{id}/merge-preview",
            person_id=preview.survivor,
            details={"from": preview.merged_away, "into": preview.survivor},
        )
    return preview


@router.post("/persons/{person_id}/merge", response_model=ActionDone, responses=CONFLICT)
def merge(person_id: DbId, body: MergeIn, reader: StewardReader, engine: EngineDep) -> ActionDone:
    """Merge this person into ``into_person_id`` (undoable). 409 across a "different person" decision."""
    with engine.begin() as conn:
        action = S.merge_persons(conn, from_person_id=person_id, into_person_id=body.into_person_id, actor=reader.actor)
        survivor = L.current_person(conn, body.into_person_id)
        record_read(
            conn=conn,
            reader=reader,
            action="steward_merge",
            resource="/api/v1/steward/persons/{id}/merge",
            person_id=survivor,
            details={"from": person_id, "into": survivor, "action_id": action},
        )
    return ActionDone(action_id=action, person_id=survivor)


class MoveIn(BaseModel):
    to_person_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="None: a new person")


@router.post("/records/{source_record_id}/move", response_model=ActionDone, responses=CONFLICT)
def move(source_record_id: DbId, body: MoveIn, reader: StewardReader, engine: EngineDep) -> ActionDone:
    """Move one source record (one encounter version) to another person or a new one; pinned there."""
    with engine.begin() as conn:
        action, target = S.move_record(
            conn, source_record_id=source_record_id, to_person_id=body.to_person_id, actor=reader.actor
        )
        record_read(
            conn=conn,
            reader=reader,
            action="steward_move",
            resource="/api/v1/steward/records/{id}/move",
            person_id=target,
            details={"source_record_id": source_record_id, "action_id": action},
        )
    return ActionDone(action_id=action, person_id=target)


# ---- bulk and metrics -----------------------------------------------------------------------------------
class BulkPreviewOut(BaseModel):
    rule: str
    description: str
    verdict: str
    review_ids: list[int]
    examined: int


class BulkIn(BaseModel):
    review_ids: list[int] = Field(description="the ids the preview listed: if they changed, 409")
    facility: str | None = Field(default=None, pattern=r"^\d{5}$")


@router.get("/bulk/{rule}", response_model=BulkPreviewOut, responses=ERRORS)
def bulk_preview(
    rule: str,
    reader: StewardReader,
    engine: EngineDep,
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
) -> BulkPreviewOut:
    with engine.begin() as conn:
        preview = S.preview_bulk(conn, rule=rule, facility_code=facility)
        record_read(
            conn=conn,
            reader=reader,
            action="steward_bulk_preview",
            resource="/api/v1/steward/bulk/{rule}",
            details={"rule": rule, "items": len(preview.review_ids)},
        )
    return BulkPreviewOut(
        rule=rule,
        description=S.BULK_RULES[rule][2],
        verdict=preview.verdict.value,
        review_ids=preview.review_ids,
        examined=preview.examined,
    )


@router.post("/bulk/{rule}", response_model=ActionDone, responses=CONFLICT)
def bulk_apply(rule: str, body: BulkIn, reader: StewardReader, engine: EngineDep) -> ActionDone:
    """Decide every previewed item as one action (one undo)."""
    with engine.begin() as conn:
        action = S.apply_bulk(
            conn, rule=rule, actor=reader.actor, expected=body.review_ids, facility_code=body.facility
        )
        record_read(
            conn=conn,
            reader=reader,
            action="steward_bulk",
            resource="/api/v1/steward/bulk/{rule}",
            details={"rule": rule, "action_id": action, "items": len(body.review_ids)},
        )
    return ActionDone(action_id=action, person_id=0)


class BandOut(BaseModel):
    band: str
    decided: int
    same_person: int
    different_person: int
    same_rate: float | None


class MetricsOut(BaseModel):
    backlog: dict[str, dict[str, int]] = Field(description="reason -> age bucket -> open items")
    decisions_per_day: dict[str, int]
    decisions_per_steward: dict[str, int]
    agreement: list[BandOut] = Field(description="per model probability band: steward verdicts")
    actions: int
    undone: int
    undo_rate: float | None


@router.get("/metrics", response_model=MetricsOut, responses=ERRORS)
def metrics(reader: StewardReader, engine: EngineDep) -> MetricsOut:
    with engine.begin() as conn:
        m = S.metrics(conn)
        record_read(conn=conn, reader=reader, action="steward_metrics", resource="/api/v1/steward/metrics")
    return metrics_out(m)


def metrics_out(m: S.Metrics) -> MetricsOut:
    return MetricsOut(
        backlog=m.backlog,
        decisions_per_day=m.decisions_per_day,
        decisions_per_steward=m.decisions_per_steward,
        agreement=[
            BandOut(
                band=a.band,
                decided=a.decided,
                same_person=a.same_person,
                different_person=a.different_person,
                same_rate=a.same_rate,
            )
            for a in m.agreement
        ],
        actions=m.actions,
        undone=m.undone,
        undo_rate=m.undo_rate,
    )
