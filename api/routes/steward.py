"""``/api/v1/events`` (the identity change feed) and ``/api/v1/steward/...`` (person tools, undo, bulk,
metrics).

The feed answers ids and encounter keys only (MA_CSKCB, MA_LK, person ids), never demographics; it is for
downstream systems (``subscriber`` keys) and stewards, and each page read is audited (without a purpose of
use: it discloses no patient data). Every steward route is an audited read of :mod:`api.audited` with the
``HOPERAT`` purpose of use (:func:`api.routes.review.steward_read`); a change writes its event in its own
transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, TypeAdapter

from api.audited import FEED, AuditedRead, audited_read
from api.params import DbId
from api.routes.review import CONFLICT, ERRORS, steward_read
from mpi.identity import links as L
from mpi.identity import stewardship as S

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


FeedRead = Annotated[AuditedRead, Depends(audited_read("event_feed", FEED, limited=False))]

_FEED_EVENTS = TypeAdapter(list[L.FeedEvent])


@events_router.get("", response_model=FeedPage, responses=ERRORS)
def change_feed(
    read: FeedRead,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=L.MAX_FEED_PAGE)] = 1000,
) -> Response:
    """Identity changes after ``after``, oldest first. Keep ``next_after`` and ask again: every change
    arrives exactly once and in commit order, however many writers there are."""
    with read.transaction() as tx:
        page = L.read_feed(tx.conn, after=after, limit=limit)
        tx.disclosed(details={"after": after, "events": len(page)})
    # Serialised once, straight from the dataclasses: validating 5,000 events into ``FeedPage`` and again as
    # the response model cost more than reading them. ``FeedPage`` stays the documented shape.
    next_after = page[-1].id if page else after
    body = b'{"events":' + _FEED_EVENTS.dump_json(page) + b',"next_after":' + str(next_after).encode() + b"}"
    return Response(content=body, media_type="application/json")


# ---- undo ---------------------------------------------------------------------------------------------
@router.post("/actions/{action_id}/undo", response_model=L.ActionView, responses=CONFLICT)
def undo(action_id: DbId, read: Annotated[AuditedRead, steward_read("steward_undo")]) -> L.ActionView:
    """Reverse a decision, merge, move or bulk decision exactly. 409 when it was undone already or a later
    change touched the same records or persons (undo that first)."""
    with read.transaction(writes=True, action_id=action_id) as tx:
        undo_id = L.undo_action(tx.conn, action_id=action_id, actor=read.reader.actor)
        tx.disclosed(details={"undo_action_id": undo_id})
        return L.get_action(tx.conn, undo_id)


# ---- persons --------------------------------------------------------------------------------------
class PersonOut(BaseModel):
    person_id: int
    survivor: int
    replaced_by: int | None
    replaces: list[int]
    records: list[S.SourceRecordView] = Field(description="``raw``: XML1 identity elements exactly as sent")
    history: list[S.HistoryEntry] = Field(description="newest first")


@router.get("/persons/{person_id}", response_model=PersonOut, responses=ERRORS)
def person(person_id: DbId, read: Annotated[AuditedRead, steward_read("steward_person")]) -> PersonOut:
    """A person's source records (as sent and normalised) and identity history, newest first."""
    with read.transaction() as tx:
        view = S.person_view(tx.conn, person_id)
        tx.disclosed(person_id=view.links.survivor, record_ids=[r.encounter_id for r in view.records])
    return PersonOut(
        person_id=person_id,
        survivor=view.links.survivor,
        replaced_by=view.links.replaced_by,
        replaces=list(view.links.replaces),
        records=view.records,
        history=view.history,
    )


class MergeIn(BaseModel):
    into_person_id: int = Field(ge=1, le=2**31 - 1)


class ActionDone(BaseModel):
    action_id: int
    person_id: int


@router.get("/persons/{person_id}/merge-preview", response_model=S.MergePreview, responses=ERRORS)
def merge_preview(
    person_id: DbId,
    into: Annotated[int, Query(ge=1, le=2**31 - 1)],
    read: Annotated[AuditedRead, steward_read("steward_merge_preview")],
) -> S.MergePreview:
    with read.transaction() as tx:
        preview = S.preview_merge(tx.conn, from_person_id=person_id, into_person_id=into)
        tx.disclosed(person_id=preview.survivor, details={"from": preview.merged_away, "into": preview.survivor})
    return preview


@router.post("/persons/{person_id}/merge", response_model=ActionDone, responses=CONFLICT)
def merge(person_id: DbId, body: MergeIn, read: Annotated[AuditedRead, steward_read("steward_merge")]) -> ActionDone:
    """Merge this person into ``into_person_id`` (undoable). 409 across a "different person" decision."""
    with read.transaction(writes=True) as tx:
        action = S.merge_persons(
            tx.conn, from_person_id=person_id, into_person_id=body.into_person_id, actor=read.reader.actor
        )
        survivor = L.current_person(tx.conn, body.into_person_id)
        tx.disclosed(person_id=survivor, details={"from": person_id, "into": survivor, "action_id": action})
    return ActionDone(action_id=action, person_id=survivor)


class MoveIn(BaseModel):
    to_person_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="None: a new person")


@router.post("/records/{source_record_id}/move", response_model=ActionDone, responses=CONFLICT)
def move(
    source_record_id: DbId, body: MoveIn, read: Annotated[AuditedRead, steward_read("steward_move")]
) -> ActionDone:
    """Move one source record (one encounter version) to another person or a new one; pinned there."""
    with read.transaction(writes=True, source_record_id=source_record_id) as tx:
        action, target = S.move_record(
            tx.conn, source_record_id=source_record_id, to_person_id=body.to_person_id, actor=read.reader.actor
        )
        tx.disclosed(person_id=target, details={"action_id": action})
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
    read: Annotated[AuditedRead, steward_read("steward_bulk_preview")],
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
) -> BulkPreviewOut:
    with read.transaction(rule=rule) as tx:
        preview = S.preview_bulk(tx.conn, rule=rule, facility_code=facility)
        tx.disclosed(details={"items": len(preview.review_ids)})
    return BulkPreviewOut(
        rule=rule,
        description=S.BULK_RULES[rule][2],
        verdict=preview.verdict.value,
        review_ids=preview.review_ids,
        examined=preview.examined,
    )


@router.post("/bulk/{rule}", response_model=ActionDone, responses=CONFLICT)
def bulk_apply(rule: str, body: BulkIn, read: Annotated[AuditedRead, steward_read("steward_bulk")]) -> ActionDone:
    """Decide every previewed item as one action (one undo)."""
    with read.transaction(writes=True, rule=rule) as tx:
        action = S.apply_bulk(
            tx.conn, rule=rule, actor=read.reader.actor, expected=body.review_ids, facility_code=body.facility
        )
        tx.disclosed(details={"action_id": action, "items": len(body.review_ids)})
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
def metrics(read: Annotated[AuditedRead, steward_read("steward_metrics")]) -> MetricsOut:
    with read.transaction() as tx:
        m = S.metrics(tx.conn)
        tx.disclosed()
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
