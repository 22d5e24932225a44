"""A facility's upcoming re-visit appointments (XML14 NGAY_HEN_KL) and whose records they open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection, func, select

from mpi.identity import links as L
from mpi.identity.links import survivors as _survivors
from mpi.records.dates import partial_iso
from mpi.records.person import encounters
from mpi.store.content import content_tables

xml14 = content_tables["XML14"]


@dataclass(frozen=True, slots=True)
class Appointment:
    encounter_id: int
    """The encounter that issued the appointment slip."""
    slip_number: str | None
    """SO_GIAYHEN_KL."""
    at: str | None
    """NGAY_HEN_KL, ISO cut to its precision."""
    person_id: int | None
    name: str | None
    birth_date: str | None
    sex: int | None
    main_diagnosis: str | None
    diagnosis_text: str | None


@dataclass(frozen=True, slots=True)
class AppointmentList:
    facility_code: str
    total: int
    entries: list[Appointment]

    @property
    def person_ids(self) -> list[int]:
        return sorted({a.person_id for a in self.entries if a.person_id is not None})

    @property
    def encounter_ids(self) -> list[int]:
        return [a.encounter_id for a in self.entries]


def upcoming_appointments(
    *,
    conn: Connection,
    facility_code: str,
    today: date | None = None,
    until: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> AppointmentList:
    """Appointments at ``facility_code`` from ``today`` (inclusive) to ``until`` (inclusive), soonest first."""
    start = datetime.combine(today or date.today(), time.min)
    s = L.sources
    query = (
        select(
            encounters.c.id, xml14.c.so_giayhen_kl, xml14.c.ngay_hen_kl, xml14.c.ngay_hen_kl_precision,
            s.c.person_id, xml14.c.ho_ten, xml14.c.ngay_sinh, xml14.c.ngay_sinh_precision, xml14.c.gioi_tinh,
            xml14.c.ma_benh_chinh, xml14.c.chan_doan_rv,
        )
        .select_from(xml14)
        .join(encounters, encounters.c.id == xml14.c.encounter_id)
        .outerjoin(s, s.c.encounter_id == encounters.c.id)
        .where(
            encounters.c.facility_code == facility_code,
            encounters.c.is_current.is_(True),
            xml14.c.ngay_hen_kl >= start,
        )
    )  # fmt: skip
    if until is not None:
        query = query.where(xml14.c.ngay_hen_kl < datetime.combine(until + timedelta(days=1), time.min))
    total = int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    limit = max(1, min(limit, 200))
    rows = conn.execute(query.order_by(xml14.c.ngay_hen_kl, encounters.c.id).limit(limit).offset(max(offset, 0))).all()
    survivors = _survivors(conn, (int(r.person_id) for r in rows if r.person_id is not None))
    return AppointmentList(
        facility_code=facility_code,
        total=total,
        entries=[
            Appointment(
                encounter_id=int(r.id),
                slip_number=r.so_giayhen_kl,
                at=partial_iso(r.ngay_hen_kl, r.ngay_hen_kl_precision),
                person_id=survivors.get(int(r.person_id)) if r.person_id is not None else None,
                name=r.ho_ten,
                birth_date=partial_iso(r.ngay_sinh, r.ngay_sinh_precision),
                sex=r.gioi_tinh,
                main_diagnosis=r.ma_benh_chinh,
                diagnosis_text=r.chan_doan_rv,
            )
            for r in rows
        ],
    )
