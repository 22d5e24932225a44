"""One encounter with every table it came with, typed: drugs with dose and route, services, lab results
with values and units, progress notes, and every other table (discharge paper, record summary, birth
certificate, referral, appointment, TB, HIV...) as rows of official fields.

Values keep their types: codes and texts as sent, quantities and money as exact ``Decimal``, dates as ISO
cut to the precision sent, ``;``-lists as tuples. Field names stay the standard's (``TEN_THUOC``), so a
FHIR layer maps them from one documented vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, select

from mpi.errors import NotFound
from mpi.records.dates import partial_iso
from mpi.records.person import encounters, person_of_encounter, resolve_person, xml1
from mpi.records.timeline import TimelineEntry, entry_from_row
from mpi.store.content import CONTENT_TABLES, content_tables
from mpi.xml130.fields import Kind, field_table

Value = str | int | Decimal | tuple[str, ...]

SECTIONS: Final[dict[str, str]] = {
    "XML1": "summary",
    "XML2": "drugs",
    "XML3": "services",
    "XML4": "lab_results",
    "XML5": "progress_notes",
    "XML6": "hiv",
    "XML7": "discharge_paper",
    "XML8": "record_summary",
    "XML9": "birth_certificate",
    "XML10": "pregnancy_leave",
    "XML11": "sick_leave",
    "XML12": "medical_assessment",
    "XML13": "referral",
    "XML14": "appointment",
    "XML15": "tb_treatment",
}
"""The English name of each table's section."""


@dataclass(frozen=True, slots=True)
class TableRow:
    row_no: int
    fields: dict[str, Value]
    """Official field name -> typed value; empty fields are left out."""

    def get(self, name: str) -> Value | None:
        return self.fields.get(name)

    def text(self, name: str) -> str | None:
        value = self.fields.get(name)
        return None if value is None else ";".join(value) if isinstance(value, tuple) else str(value)


@dataclass(frozen=True, slots=True)
class EncounterDetail:
    person_id: int | None
    entry: TimelineEntry
    tables: dict[str, list[TableRow]]
    """``XML1`` .. ``XML15`` -> rows, for the tables this encounter came with."""

    def section(self, table: str) -> list[TableRow]:
        return self.tables.get(table, [])


def _typed(fdef_kind: Kind, value: Any, precision: str | None) -> Value | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, datetime):
        return partial_iso(value, precision)
    if fdef_kind is Kind.LIST:
        return tuple(str(v) for v in value)
    if isinstance(value, Decimal | int | str):
        return value
    return str(value)


def _rows(conn: Connection, table_name: str, encounter_id: int) -> list[TableRow]:
    table = content_tables[table_name]
    fdefs = field_table()[table_name]
    out = []
    for r in conn.execute(select(table).where(table.c.encounter_id == encounter_id).order_by(table.c.row_no)):
        m = r._mapping
        fields: dict[str, Value] = {}
        for f in fdefs:
            precision = m.get(f"{f.column}_precision") if f.kind is Kind.DATETIME else None
            value = _typed(f.kind, m[f.column], precision)
            if value is not None:
                fields[f.name] = value
        out.append(TableRow(row_no=int(r.row_no), fields=fields))
    return out


def encounter_detail(*, conn: Connection, encounter_id: int, person_id: int | None = None) -> EncounterDetail:
    """Every table of one encounter version (any version: ids in a timeline are the current ones).

    With ``person_id``, the encounter must belong to that person (after merges), else :class:`NotFound`.
    """
    head = conn.execute(
        select(encounters, xml1)
        .join(xml1, xml1.c.encounter_id == encounters.c.id)
        .where(encounters.c.id == encounter_id)
    ).first()
    if head is None:
        raise NotFound(f"no encounter {encounter_id}", code="encounter_not_found")
    owner = person_of_encounter(conn, encounter_id)
    if person_id is not None and (owner is None or owner != resolve_person(conn=conn, person_id=person_id).person_id):
        raise NotFound(f"no encounter {encounter_id} for person {person_id}", code="encounter_not_found")
    present = [t for t in CONTENT_TABLES if t in set(head.tables or ())]
    tables = {t: _rows(conn, t, encounter_id) for t in present}
    return EncounterDetail(person_id=owner, entry=entry_from_row(head), tables=tables)
