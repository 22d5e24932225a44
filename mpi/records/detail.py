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

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select

from mpi.errors import NotFound
from mpi.identity.links import resolve_person
from mpi.records.dates import partial_iso
from mpi.records.person import encounters, person_of_encounter, xml1
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


def quantity(row: TableRow, name: str) -> Decimal | None:
    """A number field as an exact ``Decimal`` (an integer one too); None when empty."""
    value = row.get(name)
    return value if isinstance(value, Decimal) else Decimal(value) if isinstance(value, int) else None


# ---- the clinical rows, typed: what the REST API returns and the FHIR builders read -------------------------
class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)

    row_no: int


class Drug(_Row):
    """One XML2 row."""

    code: str | None = Field(description="MA_THUOC")
    name: str | None = Field(description="TEN_THUOC")
    strength: str | None = Field(description="HAM_LUONG")
    form: str | None = Field(description="DANG_BAO_CHE")
    unit: str | None = Field(description="DON_VI_TINH")
    dose: str | None = Field(description="LIEU_DUNG: per dose * doses/day * days")
    route: str | None = Field(description="DUONG_DUNG (route code)")
    instructions: str | None = Field(description="CACH_DUNG")
    quantity: Decimal | None = Field(description="SO_LUONG")
    ordered_at: str | None = Field(description="NGAY_YL")

    @classmethod
    def of(cls, r: TableRow) -> Drug:
        return cls(
            row_no=r.row_no, code=r.text("MA_THUOC"), name=r.text("TEN_THUOC"), strength=r.text("HAM_LUONG"),
            form=r.text("DANG_BAO_CHE"), unit=r.text("DON_VI_TINH"), dose=r.text("LIEU_DUNG"),
            route=r.text("DUONG_DUNG"), instructions=r.text("CACH_DUNG"), quantity=quantity(r, "SO_LUONG"),
            ordered_at=r.text("NGAY_YL"),
        )  # fmt: skip


class Service(_Row):
    """One XML3 row: a service (MA_DICH_VU) or a supply (MA_VAT_TU)."""

    code: str | None = Field(description="MA_DICH_VU")
    name: str | None = Field(description="TEN_DICH_VU")
    supply_code: str | None = Field(description="MA_VAT_TU")
    supply_name: str | None = Field(description="TEN_VAT_TU")
    unit: str | None = Field(description="DON_VI_TINH")
    quantity: Decimal | None = Field(description="SO_LUONG")
    ordered_at: str | None = Field(description="NGAY_YL")
    result_at: str | None = Field(description="NGAY_KQ")

    @classmethod
    def of(cls, r: TableRow) -> Service:
        return cls(
            row_no=r.row_no, code=r.text("MA_DICH_VU"), name=r.text("TEN_DICH_VU"), supply_code=r.text("MA_VAT_TU"),
            supply_name=r.text("TEN_VAT_TU"), unit=r.text("DON_VI_TINH"), quantity=quantity(r, "SO_LUONG"),
            ordered_at=r.text("NGAY_YL"), result_at=r.text("NGAY_KQ"),
        )  # fmt: skip


class LabResult(_Row):
    """One XML4 row: a test's value (MA_CHI_SO, GIA_TRI) or an examination's report (MO_TA, KET_LUAN)."""

    service_code: str | None = Field(description="MA_DICH_VU")
    service_name: str | None = Field(default=None, description="TEN_DICH_VU")
    code: str | None = Field(description="MA_CHI_SO")
    name: str | None = Field(description="TEN_CHI_SO")
    value: str | None = Field(description="GIA_TRI")
    unit: str | None = Field(description="DON_VI_DO")
    description: str | None = Field(description="MO_TA")
    conclusion: str | None = Field(description="KET_LUAN")
    result_at: str | None = Field(description="NGAY_KQ")

    @classmethod
    def of(cls, r: TableRow) -> LabResult:
        return cls(
            row_no=r.row_no, service_code=r.text("MA_DICH_VU"), service_name=r.text("TEN_DICH_VU"),
            code=r.text("MA_CHI_SO"), name=r.text("TEN_CHI_SO"), value=r.text("GIA_TRI"), unit=r.text("DON_VI_DO"),
            description=r.text("MO_TA"), conclusion=r.text("KET_LUAN"), result_at=r.text("NGAY_KQ"),
        )  # fmt: skip


class ProgressNote(_Row):
    """One XML5 row."""

    at: str | None = Field(description="THOI_DIEM_DBLS")
    progress: str | None = Field(description="DIEN_BIEN_LS")
    stage: str | None = Field(description="GIAI_DOAN_BENH")
    consultation: str | None = Field(description="HOI_CHAN")
    surgery: str | None = Field(description="PHAU_THUAT")

    @classmethod
    def of(cls, r: TableRow) -> ProgressNote:
        return cls(
            row_no=r.row_no, at=r.text("THOI_DIEM_DBLS"), progress=r.text("DIEN_BIEN_LS"),
            stage=r.text("GIAI_DOAN_BENH"), consultation=r.text("HOI_CHAN"), surgery=r.text("PHAU_THUAT"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EncounterDetail:
    person_id: int | None
    entry: TimelineEntry
    tables: dict[str, list[TableRow]]
    """``XML1`` .. ``XML15`` -> rows, for the tables this encounter came with."""

    def section(self, table: str) -> list[TableRow]:
        return self.tables.get(table, [])

    def drugs(self) -> list[Drug]:
        return [Drug.of(r) for r in self.section("XML2")]

    def services(self) -> list[Service]:
        return [Service.of(r) for r in self.section("XML3")]

    def lab_results(self) -> list[LabResult]:
        return [LabResult.of(r) for r in self.section("XML4")]

    def progress_notes(self) -> list[ProgressNote]:
        return [ProgressNote.of(r) for r in self.section("XML5")]


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
