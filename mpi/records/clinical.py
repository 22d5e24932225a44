"""A person's medications and lab results across facilities, for the clinician's overview.

Built from the typed rows of the encounters a reader may see (the caller passes those ids, after the
sensitivity policy): drugs (XML2) newest first with the prescribing facility; lab results (XML4) grouped
per test (MA_CHI_SO, else TEN_CHI_SO, and unit) with every numeric value in time order, for a last value
and a trend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, select

from mpi.records.codes import route_label
from mpi.records.dates import partial_iso
from mpi.records.person import encounters
from mpi.store.content import content_tables


@dataclass(frozen=True, slots=True)
class Medication:
    encounter_id: int
    facility_code: str
    date: str | None
    """NGAY_YL (order time), ISO cut to its precision."""
    name: str | None
    strength: str | None
    dose: str | None
    route: str | None
    """DUONG_DUNG as sent."""
    route_label: str | None
    how: str | None
    quantity: Decimal | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class LabPoint:
    date: str | None
    value: str
    number: float | None
    facility_code: str


@dataclass(frozen=True, slots=True)
class LabSeries:
    code: str | None
    name: str
    unit: str | None
    points: list[LabPoint]
    """Oldest first."""

    @property
    def last(self) -> LabPoint:
        return self.points[-1]

    @property
    def numbers(self) -> list[float]:
        return [p.number for p in self.points if p.number is not None]


def _number(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(Decimal(text.strip().replace(",", ".")))
    except (InvalidOperation, ValueError):
        return None


def medications(*, conn: Connection, encounter_ids: Iterable[int], limit: int = 200) -> list[Medication]:
    ids = list(encounter_ids)
    if not ids:
        return []
    t = content_tables["XML2"]
    rows = conn.execute(
        select(t, encounters.c.facility_code.label("facility"))
        .join(encounters, encounters.c.id == t.c.encounter_id)
        .where(t.c.encounter_id.in_(ids))
        .order_by(t.c.ngay_yl.desc(), t.c.encounter_id.desc(), t.c.row_no)
        .limit(limit)
    )
    return [
        Medication(
            encounter_id=int(r.encounter_id),
            facility_code=str(r.facility),
            date=partial_iso(r.ngay_yl, r.ngay_yl_precision),
            name=r.ten_thuoc,
            strength=r.ham_luong,
            dose=r.lieu_dung,
            route=r.duong_dung,
            route_label=route_label(r.duong_dung),
            how=r.cach_dung,
            quantity=Decimal(str(r.so_luong)) if r.so_luong is not None else None,
            unit=r.don_vi_tinh,
        )
        for r in rows
    ]


def lab_series(*, conn: Connection, encounter_ids: Iterable[int]) -> list[LabSeries]:
    """One series per test and unit, most recently measured first."""
    ids = list(encounter_ids)
    if not ids:
        return []
    t = content_tables["XML4"]
    rows = conn.execute(
        select(t, encounters.c.facility_code.label("facility"))
        .join(encounters, encounters.c.id == t.c.encounter_id)
        .where(t.c.encounter_id.in_(ids), t.c.gia_tri.is_not(None))
        .order_by(t.c.ngay_kq, t.c.encounter_id, t.c.row_no)
    )
    series: dict[tuple[str, str | None], LabSeries] = {}
    for r in rows:
        name = r.ten_chi_so or r.ma_chi_so or r.ma_dich_vu
        if not name or not r.gia_tri:
            continue
        key = (r.ma_chi_so or name, r.don_vi_do)
        s = series.setdefault(key, LabSeries(code=r.ma_chi_so, name=name, unit=r.don_vi_do, points=[]))
        s.points.append(
            LabPoint(date=partial_iso(r.ngay_kq, r.ngay_kq_precision), value=str(r.gia_tri), number=_number(r.gia_tri),
                     facility_code=str(r.facility))
        )  # fmt: skip
    return sorted(series.values(), key=lambda s: s.last.date or "", reverse=True)
