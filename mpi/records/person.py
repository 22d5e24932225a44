"""Who a person id means now: merge redirects followed, and every person merged into it.

A merge moves the records of the absorbed person and leaves ``person.merged_into_id``; reads of an old id
land on the survivor, and the survivor's records are those of its whole *cluster* (itself and everything
merged into it, in case a record was left behind by an unmerge in progress or a concurrent relink).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Select, and_, bindparam, or_, select

from mpi.errors import NotFound
from mpi.identity import links as L
from mpi.identity.links import current_person
from mpi.identity.links import survivors as survivors  # the records' callers read it from here
from mpi.store.content import content_tables
from mpi.store.models import Encounter

encounters = Encounter.__table__  # type: ignore[attr-defined]
xml1 = content_tables["XML1"]


@dataclass(frozen=True, slots=True)
class ResolvedPerson:
    person_id: int
    """The surviving person."""
    requested_id: int
    """The id that was asked for (differs from ``person_id`` after a merge)."""
    cluster: tuple[int, ...]
    """``person_id`` and every person merged into it, directly or not."""


_PERSON_AND_ABSORBED: Final = select(L.persons.c.id, L.persons.c.merged_into_id).where(
    or_(L.persons.c.id == bindparam("person_id"), L.persons.c.merged_into_id == bindparam("person_id"))
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
        survivor, absorbed = person_id, [int(r.id) for r in rows if int(r.id) != person_id]
    else:  # a merged id: its survivor's cluster
        survivor = current_person(conn, person_id)
        absorbed = [
            int(p) for p in conn.execute(select(L.persons.c.id).where(L.persons.c.merged_into_id == survivor)).scalars()
        ]
    cluster = [survivor, *absorbed]
    frontier = absorbed
    while frontier:
        deeper = [
            int(p)
            for p in conn.execute(select(L.persons.c.id).where(L.persons.c.merged_into_id.in_(frontier))).scalars()
        ]
        frontier = [p for p in deeper if p not in cluster]
        cluster.extend(frontier)
    return ResolvedPerson(person_id=survivor, requested_id=person_id, cluster=tuple(cluster))


RECORD_COLUMNS: Final = (
    "ho_ten", "so_cccd", "ma_bn", "ngay_sinh", "ngay_sinh_precision", "gioi_tinh", "dia_chi", "matinh_cu_tru",
    "maxa_cu_tru", "dien_thoai", "ma_the_bhyt", "ma_loai_kcb", "ma_benh_chinh", "ma_benh_kt", "chan_doan_rv",
    "ngay_vao", "ngay_vao_precision", "ngay_ra", "ngay_ra_precision", "ket_qua_dtri", "ma_loai_rv", "ma_noi_di",
    "giay_chuyen_tuyen", "ma_noi_den",
)  # fmt: skip
"""The XML1 columns a person's record is built from (summary, timeline, sensitivity, Patient identities, PDQm
filters): not the whole row, whose ``raw`` document and other JSON and date columns cost a read more to
decode than everything else it does."""

_CURRENT: Final = (
    select(encounters, *(xml1.c[c] for c in RECORD_COLUMNS), L.sources.c.person_id.label("linked_person_id"))
    .select_from(L.sources)
    .join(encounters, encounters.c.id == L.sources.c.encounter_id)
    .join(xml1, and_(xml1.c.encounter_id == encounters.c.id, xml1.c.row_no == 1))
    .where(encounters.c.is_current.is_(True))
)


def current_encounters(cluster: tuple[int, ...]) -> Select[Any]:
    """Current encounter versions of a cluster: the encounter's columns and its XML1 row's
    :data:`RECORD_COLUMNS` (index path: source_record.person_id)."""
    return _CURRENT.where(L.sources.c.person_id.in_(cluster))


def person_of_encounter(conn: Connection, encounter_id: int) -> int | None:
    """The surviving person an encounter version is linked to, or None when it is not linked."""
    row = conn.execute(select(L.sources.c.person_id).where(L.sources.c.encounter_id == encounter_id)).first()
    return None if row is None else current_person(conn, int(row.person_id))
