"""Identity entities: persons, source records, links, link events, review items, steward constraints.

- A **source record** is the demographic snapshot of one encounter version (MA_CSKCB + MA_LK + version).
- A **person** has a stable id. It is never renumbered: a merge leaves ``merged_into_id`` as a redirect.
- A **link** assigns a source record to a person. Link rows are immutable: the current link of a record
  is its newest row, and ``source_record.person_id`` mirrors it for lookups.
- Every change is a **link event** in one ordered log (``seq``), for replay and downstream sync.
- **Constraints** from stewards are sticky: automatic linking never crosses a "different person" one and
  never moves a record a steward linked by hand.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from linkage.model import ModelRow
from mpi.store.models import utcnow


class LinkState(StrEnum):
    """How a source record is on its person (``source_record.link_state``, ``link.state``); stored values."""

    AUTO = "auto"
    """Linked (or started a new person) by the policy."""
    MANUAL = "manual"
    """Placed by a steward: relinking never moves it (a ``manual_link`` constraint pins it)."""
    REVIEW = "review"
    """On its own provisional person, pending a steward's review."""


class ConstraintKind(StrEnum):
    """A steward's sticky fact (``steward_constraint.kind``); stored values."""

    DIFFERENT_PERSON = "different_person"
    """The record is not that person: automatic linking never puts it there."""
    MANUAL_LINK = "manual_link"
    """A steward put the record on that person: automatic linking never moves it."""


class SourceValues(TypedDict):
    """The values of a new ``source_record`` row (:func:`mpi.identity.online.source_values`)."""

    encounter_id: int
    facility_code: str
    ma_lk: str
    version: int
    patient_code: str | None
    # blocking keys, copied from the model row into indexed columns
    given_key: str | None
    family_key: str | None
    name_sorted: str | None
    dob_date: str | None
    dob_year: int | None
    national_id: str | None
    bhxh_number: str | None
    phone: str | None
    commune_code: str | None
    features: ModelRow


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    merged_into_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    """Set when this person was merged into another: follow it (redirect)."""
    merged_at: datetime | None = None


class SourceRecord(SQLModel, table=True):
    __tablename__ = "source_record"
    __table_args__ = (
        # One index per blocking rule of the linkage model (linkage.model.BLOCKING_RULES; the matcher's
        # candidate search, mpi.identity.matching, looks them up; tests/identity/test_matcher.py holds them).
        Index("ix_source_given_dob", "given_key", "dob_date"),
        Index("ix_source_family_given_year", "family_key", "given_key", "dob_year"),
        Index("ix_source_family_dob", "family_key", "dob_date"),
        Index("ix_source_facility_patient", "facility_code", "patient_code"),
        Index("ix_source_facility_ma_lk", "facility_code", "ma_lk"),  # earlier versions of the same encounter
        Index("ix_source_given_commune", "given_key", "commune_code"),
        Index("ix_source_name_sorted_year", "name_sorted", "dob_year"),
    )

    id: int | None = Field(default=None, primary_key=True)
    encounter_id: int = Field(foreign_key="encounter.id", unique=True)
    facility_code: str = Field(max_length=20)
    ma_lk: str = Field(max_length=100)
    version: int
    patient_code: str | None = Field(default=None, max_length=100)
    person_id: int = Field(foreign_key="person.id", index=True)
    link_state: str = Field(max_length=16)
    # blocking keys (normalised; see linkage.normalise)
    given_key: str | None = Field(default=None, max_length=64)
    family_key: str | None = Field(default=None, max_length=64)
    name_sorted: str | None = Field(default=None, max_length=128)
    """The name's tokens in sorted order (linkage.normalise.names.sorted_name_key): finds reordered names."""
    dob_date: str | None = Field(default=None, max_length=10)
    dob_year: int | None = None
    national_id: str | None = Field(default=None, max_length=20, index=True)
    bhxh_number: str | None = Field(default=None, max_length=10, index=True)
    phone: str | None = Field(default=None, max_length=15, index=True)
    commune_code: str | None = Field(default=None, max_length=10)
    features: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """The model row (``linkage.model.model_row``) the scorer compares."""
    created_at: datetime = Field(default_factory=utcnow)


class Link(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source_record_id: int = Field(foreign_key="source_record.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    state: str = Field(max_length=16)
    """A :class:`LinkState`."""
    rule: str = Field(max_length=32)
    """What decided it: a :class:`mpi.identity.policy.Rule`."""
    match_weight: float | None = None
    match_probability: float | None = None
    model_id: str | None = Field(default=None, max_length=64)
    actor: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class LinkEvent(SQLModel, table=True):
    __tablename__ = "link_event"

    seq: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    """``linked``, ``person_created``, ``review_opened``, ``review_resolved``, ``merged``, ``unmerged``."""
    source_record_id: int | None = Field(default=None, foreign_key="source_record.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    other_person_id: int | None = Field(default=None, foreign_key="person.id")
    link_id: int | None = Field(default=None, foreign_key="link.id")
    actor: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    action_id: int | None = Field(default=None, foreign_key="steward_action.id", index=True)
    """The steward action (decision, merge, move, bulk, undo) this event belongs to; None for automatic ones."""


class EventFeedHead(SQLModel, table=True):
    """One row: the last ``link_event.seq`` handed out.

    Every transaction that appends events increments it first and holds its row lock until commit, so
    sequence numbers are given out in commit order and without gaps (a rollback returns them): a consumer
    reading ``seq > cursor`` never misses an event committed later with a smaller number.
    """

    __tablename__ = "event_feed_head"

    id: int = Field(primary_key=True)
    last_seq: int = 0


class StewardAction(SQLModel, table=True):
    """One thing a steward did (a decision, a merge, a move, a bulk decision) or the undo of one.

    Its events carry its id, so an undo knows exactly which changes to reverse.
    """

    __tablename__ = "steward_action"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    """``decision``, ``bulk``, ``merge``, ``move``, ``undo``."""
    actor: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    undoes_id: int | None = Field(default=None, foreign_key="steward_action.id")
    undone_by_id: int | None = Field(default=None, foreign_key="steward_action.id")
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ReviewItem(SQLModel, table=True):
    __tablename__ = "review_item"

    id: int | None = Field(default=None, primary_key=True)
    source_record_id: int = Field(foreign_key="source_record.id", index=True)
    candidate_person_id: int = Field(foreign_key="person.id", index=True)
    reason: str = Field(max_length=32)
    """``national_id_conflict``, ``model_band``, ``facility_patient_code_conflict``, ``relink``."""
    match_weight: float | None = None
    match_probability: float | None = None
    model_id: str | None = Field(default=None, max_length=64)
    evidence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default="open", max_length=16, index=True)
    """``open``, ``same_person``, ``different_person``."""
    created_at: datetime = Field(default_factory=utcnow)
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = None
    skipped_at: datetime | None = None
    """Last time a steward said "not sure": the item stays open and goes to the back of the queue."""


class StewardConstraint(SQLModel, table=True):
    __tablename__ = "steward_constraint"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    """``different_person``: the record never goes to that person automatically;
    ``manual_link``: the record stays with the person a steward chose."""
    source_record_id: int = Field(foreign_key="source_record.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    actor: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class TermFrequency(SQLModel, table=True):
    """How many source records carry each value of each term-frequency column of the model.

    Updated in the same transaction as each new source record, so the counts are always current; the
    scorer's relative frequencies are ``count / total`` of the column.
    """

    __tablename__ = "term_frequency"

    column_name: str = Field(primary_key=True, max_length=32)
    value: str = Field(primary_key=True, max_length=128)
    count: int


class BirthCertificate(SQLModel, table=True):
    """One child of an XML9 birth certificate (giấy chứng sinh): the mother's encounter names the child.

    The certificate comes with the delivery encounter, whose XML1 is the mother's record
    (``mother_source_record_id``; her person is that record's person). ``child`` is the model row of the
    child's data (HO_TEN_CON, NGAY_SINH_CON with the birth time, GIOI_TINH_CON, MA_THE_TAM), ``mother`` the
    model row of the mother's (HO_TEN_NND, NGAYSINH_NND, SO_CCCD_NND, MA_THE_NND). ``child_person_id`` is the
    person the child's records are linked to, once one arrives (follow merge redirects). Written and read by
    :mod:`mpi.identity.births`; the rule that uses it lives in :mod:`mpi.identity.policy`.
    """

    __tablename__ = "birth_certificate"

    id: int | None = Field(default=None, primary_key=True)
    encounter_id: int = Field(foreign_key="encounter.id", index=True)
    row_no: int
    """The child's 1-based row in the encounter's XML9 table (several for a multiple birth)."""
    mother_source_record_id: int = Field(foreign_key="source_record.id", index=True)
    child_person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    dob_date: str | None = Field(default=None, max_length=10, index=True)
    """The child's birth date, ``YYYY-MM-DD`` (the look-up key of a newborn's records)."""
    child: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    mother: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
