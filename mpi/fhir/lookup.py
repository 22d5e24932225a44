"""The two reads FHIR needs that the record services do not offer.

- ``_since`` and ``meta.lastUpdated``: when the hub received each encounter version.
- Each current encounter's identity fields with their dates (Patient names and identifier periods), and
  the mother's name the papers of a child's encounters record (``mothersMaidenName``).

Read-only, keyword-only, on the caller's connection; never logs a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, literal, select, union_all

from linkage import parse_insurance_cards
from mpi.records.dates import partial_iso
from mpi.records.person import encounters, read_current_encounters
from mpi.store.content import content_tables


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


def received_at(*, conn: Connection, encounter_ids: Iterable[int]) -> dict[int, datetime]:
    """When the hub received each encounter version (aware UTC): its ``meta.lastUpdated``."""
    ids = list(set(encounter_ids))
    if not ids:
        return {}
    rows = conn.execute(select(encounters.c.id, encounters.c.received_at).where(encounters.c.id.in_(ids)))
    return {int(r.id): _utc(r.received_at) for r in rows}


@dataclass(frozen=True, slots=True)
class RecordedIdentity:
    """The identity fields of one current encounter version of a person, as its facility sent them."""

    encounter_id: int
    facility_code: str
    seen: str | None
    """NGAY_VAO (ISO, cut to its precision): when the facility recorded these values."""
    received_at: datetime
    name: str | None
    national_id: str | None
    bhxh_numbers: tuple[str, ...]
    patient_code: str | None


def recorded_identities(
    *, conn: Connection, cluster: tuple[int, ...], encounters: Sequence[Any] | None = None
) -> list[RecordedIdentity]:
    """Every current encounter version of the person's cluster, oldest first: what Patient names and
    identifiers are counted and dated from (``encounters``: those rows, when the caller read them already)."""
    rows = read_current_encounters(conn, cluster) if encounters is None else encounters
    out = [
        RecordedIdentity(
            encounter_id=int(r.id),
            facility_code=str(r.facility_code),
            seen=partial_iso(r.ngay_vao, r.ngay_vao_precision),
            received_at=_utc(r.received_at),
            name=r.ho_ten,
            national_id=r.so_cccd,
            bhxh_numbers=tuple(c.bhxh_number for c in parse_insurance_cards(";".join(r.ma_the_bhyt or ()))),
            patient_code=r.ma_bn,
        )
        for r in rows
    ]
    return sorted(out, key=lambda i: (i.seen or "", i.encounter_id))


MOTHER_TABLES: Final = ("XML7", "XML8", "XML11")
"""Papers that record a child's mother by name (HO_TEN_ME): discharge paper, record summary, sick-leave paper."""


_MOTHERS_NAMES: Final = union_all(
    *(
        select(t.c.encounter_id, t.c.ho_ten_me, literal(k).label("paper"), t.c.row_no).where(
            t.c.encounter_id.in_(bindparam("ids", expanding=True)), t.c.ho_ten_me.is_not(None)
        )
        for k, t in enumerate(content_tables[name] for name in MOTHER_TABLES)
    )
).order_by("paper", "row_no")
"""The mother's names on the papers of the encounters ``ids``, an encounter's papers in MOTHER_TABLES' order.
Built once: SQLAlchemy computes its cache key once, not per read."""


def mothers_names(*, conn: Connection, encounter_ids: Sequence[int]) -> list[str]:
    """The mother's names recorded on these encounters (given oldest first), distinct, newest first."""
    ids = list(encounter_ids)
    if not ids:
        return []
    found: dict[int, list[str]] = {}
    for r in conn.execute(_MOTHERS_NAMES, {"ids": ids}):
        text = " ".join(str(r.ho_ten_me).split())
        if text:
            found.setdefault(int(r.encounter_id), []).append(text)
    return list(dict.fromkeys(n for i in reversed(ids) for n in found.get(i, ())))
