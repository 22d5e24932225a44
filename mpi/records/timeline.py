"""A person's encounters across facilities, newest first, with filters and pagination.

Only current versions of encounters count (a corrected resubmission replaces what a clinician sees; the
old version stays in the store). The query walks ``source_record.person_id`` (indexed) for the person's
cluster, then encounters and XML1 by primary / encounter keys, so its cost follows the person's history,
not the size of the store.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select

from mpi.identity.links import ResolvedPerson, resolve_person
from mpi.records.codes import DISCHARGE_TYPES, ENCOUNTER_TYPES, OUTCOMES
from mpi.records.dates import partial_iso
from mpi.records.person import CURRENT_OF_CLUSTER, encounters, xml1

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    encounter_id: int
    facility_code: str
    ma_lk: str
    version: int
    start: str | None
    """NGAY_VAO, ISO cut to its precision."""
    end: str | None
    """NGAY_RA."""
    encounter_type: str | None
    """MA_LOAI_KCB."""
    encounter_type_label: str | None
    main_diagnosis: str | None
    """MA_BENH_CHINH (ICD-10)."""
    other_diagnoses: tuple[str, ...]
    """MA_BENH_KT (ICD-10)."""
    diagnosis_text: str | None
    """CHAN_DOAN_RV."""
    outcome: int | None
    """KET_QUA_DTRI."""
    outcome_label: str | None
    discharge_type: int | None
    """MA_LOAI_RV."""
    discharge_type_label: str | None
    referred_from: str | None
    """MA_NOI_DI: the facility that referred the patient here."""
    referral_number: str | None
    """GIAY_CHUYEN_TUYEN: the incoming referral letter (or appointment slip) number."""
    referred_to: str | None
    """MA_NOI_DEN: the facility the patient was referred to."""
    tables: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimelinePage:
    person: ResolvedPerson
    total: int
    limit: int
    offset: int
    entries: list[TimelineEntry]
    withheld: int = 0
    """Encounters matching the filters that the sensitivity policy withholds from this reader."""

    @property
    def encounter_ids(self) -> list[int]:
        return [e.encounter_id for e in self.entries]


def entry_from_row(r: Any) -> TimelineEntry:
    outcome, discharge = r.ket_qua_dtri, r.ma_loai_rv
    return TimelineEntry(
        encounter_id=int(r.id),
        facility_code=str(r.facility_code),
        ma_lk=str(r.ma_lk),
        version=int(r.version),
        start=partial_iso(r.ngay_vao, r.ngay_vao_precision),
        end=partial_iso(r.ngay_ra, r.ngay_ra_precision),
        encounter_type=r.ma_loai_kcb,
        encounter_type_label=ENCOUNTER_TYPES.get(r.ma_loai_kcb) if r.ma_loai_kcb else None,
        main_diagnosis=r.ma_benh_chinh,
        other_diagnoses=tuple(r.ma_benh_kt or ()),
        diagnosis_text=r.chan_doan_rv,
        outcome=outcome,
        outcome_label=OUTCOMES.get(outcome) if outcome is not None else None,
        discharge_type=discharge,
        discharge_type_label=DISCHARGE_TYPES.get(discharge) if discharge is not None else None,
        referred_from=r.ma_noi_di,
        referral_number=r.giay_chuyen_tuyen,
        referred_to=r.ma_noi_den,
        tables=tuple(r.tables or ()),
    )


def person_timeline(
    *,
    conn: Connection,
    person_id: int,
    date_from: date | None = None,
    date_to: date | None = None,
    facility_code: str | None = None,
    encounter_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
    exclude: Collection[int] = (),
    person: ResolvedPerson | None = None,
) -> TimelinePage:
    """Encounters of the person (and persons merged into it), newest first. ``date_to`` is inclusive.
    ``exclude``: encounter ids withheld from this reader (counted in ``withheld``, never listed).
    ``person``: ``person_id`` resolved, when the caller's transaction did it already."""
    person = person or resolve_person(conn=conn, person_id=person_id)
    page_of, hidden_count, count = _statements(
        date_from is not None, date_to is not None, facility_code is not None, encounter_type is not None,
        bool(exclude),
    )  # fmt: skip
    params: dict[str, Any] = {"cluster": list(person.cluster), "hidden": list(exclude)}
    if date_from is not None:
        params["date_from"] = datetime.combine(date_from, time.min)
    if date_to is not None:
        params["date_to"] = datetime.combine(date_to + timedelta(days=1), time.min)
    if facility_code is not None:
        params["facility"] = facility_code
    if encounter_type is not None:
        params["encounter_type"] = encounter_type
    limit = max(1, min(limit, MAX_PAGE))
    withheld = int(conn.execute(hidden_count, params).scalar_one()) if hidden_count is not None else 0
    # the page and, on each of its rows, how many match in all (one statement; a page past the end has no
    # row to carry it, so it is counted apart, unless it is the first)
    rows = conn.execute(page_of, {**params, "limit": limit, "offset": max(offset, 0)}).all()
    if rows:
        total = int(rows[0].matching)
    elif offset <= 0:
        total = 0
    else:
        total = int(conn.execute(count, params).scalar_one())
    return TimelinePage(
        person=person, total=total, limit=limit, offset=offset, entries=[entry_from_row(r) for r in rows],
        withheld=withheld,
    )  # fmt: skip


@functools.cache
def _statements(
    date_from: bool, date_to: bool, facility: bool, encounter_type: bool, hidden: bool
) -> tuple[Select[Any], Select[Any] | None, Select[Any]]:
    """The timeline's statements for one combination of filters (which are given): the page (with how many
    match, ``count(*) over ()``), how many of the matching encounters are withheld (``hidden``), and how many
    match. Built once per combination, so SQLAlchemy computes their cache keys once, not per request (for
    statements of some forty columns that costs more CPU than running them)."""
    query = CURRENT_OF_CLUSTER
    if date_from:
        query = query.where(xml1.c.ngay_vao >= bindparam("date_from"))
    if date_to:
        query = query.where(xml1.c.ngay_vao < bindparam("date_to"))
    if facility:
        query = query.where(encounters.c.facility_code == bindparam("facility"))
    if encounter_type:
        query = query.where(xml1.c.ma_loai_kcb == bindparam("encounter_type"))
    hidden_count = None
    if hidden:
        withheld = encounters.c.id.in_(bindparam("hidden", expanding=True))
        hidden_count = select(func.count()).select_from(query.where(withheld).subquery())
        query = query.where(encounters.c.id.not_in(bindparam("hidden", expanding=True)))
    page = (
        query.add_columns(func.count().over().label("matching"))
        .order_by(xml1.c.ngay_vao.desc(), encounters.c.id.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    return page, hidden_count, select(func.count()).select_from(query.subquery())
