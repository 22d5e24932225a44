"""A person's current records: the encounters of a resolved person's *cluster*, and the person of an encounter.

A merge moves the records of the absorbed person and leaves ``person.merged_into_id``; reads of an old id
land on the survivor (``mpi.identity.links.resolve_person``, the one place merge redirects are followed),
and the survivor's records are those of its whole cluster (itself and everything merged into it, in case a
record was left behind by an unmerge in progress or a concurrent relink).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy import Connection, Select, and_, bindparam, select

from mpi.identity import links as L
from mpi.identity.links import current_person
from mpi.store.content import content_tables
from mpi.store.models import Encounter

encounters = Encounter.__table__  # type: ignore[attr-defined]
xml1 = content_tables["XML1"]


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
    :data:`RECORD_COLUMNS` (index path: source_record.person_id). To read them as they are, use
    :func:`read_current_encounters`; this statement is for a caller that narrows it further."""
    return _CURRENT.where(L.sources.c.person_id.in_(cluster))


CURRENT_OF_CLUSTER: Final = _CURRENT.where(L.sources.c.person_id.in_(bindparam("cluster", expanding=True)))
""":func:`current_encounters` with the cluster as a parameter (``{"cluster": [...]}``): one statement object
for every read, so SQLAlchemy computes its cache key once, not per request (for this statement of some forty
columns that costs more CPU than running it)."""


def read_current_encounters(conn: Connection, cluster: Iterable[int]) -> Sequence[Any]:
    """The rows of :func:`current_encounters` for ``cluster``."""
    return conn.execute(CURRENT_OF_CLUSTER, {"cluster": list(cluster)}).all()


def person_of_encounter(conn: Connection, encounter_id: int) -> int | None:
    """The surviving person an encounter version is linked to, or None when it is not linked."""
    row = conn.execute(select(L.sources.c.person_id).where(L.sources.c.encounter_id == encounter_id)).first()
    return None if row is None else current_person(conn, int(row.person_id))
