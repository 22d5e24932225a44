"""Referrals addressed to a facility, and whether the patient has arrived.

A referral is a sending encounter with an XML13 (referral letter) or an XML1 whose MA_NOI_DEN names the
receiving facility. It is *received* when the receiving facility has submitted an encounter for the same
person (after merges) that starts no earlier than the referral day, with MA_NOI_DI = the sender and, when
both sides carry one, GIAY_CHUYEN_TUYEN = the letter's number. A referral still pending after
``overdue_days`` is *overdue*.

Index wanted for scale (ask the lead for a migration): ``xml13 (ma_noi_den)`` and ``xml1 (ma_noi_den)``;
without them the list scans those tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Literal

from sqlalchemy import Connection, and_, select

from mpi.identity import links as L
from mpi.identity.links import survivors as _survivors
from mpi.records.codes import REFERRAL_REASONS
from mpi.records.dates import partial_iso
from mpi.records.person import encounters, xml1
from mpi.store.content import content_tables

Status = Literal["pending", "received", "overdue"]
OVERDUE_DAYS: Final = 7
xml13 = content_tables["XML13"]


@dataclass(frozen=True, slots=True)
class PriorRecords:
    """What the hub holds for the patient: enough to decide whether to open the timeline."""

    encounter_count: int
    facilities: tuple[str, ...]
    recent_diagnoses: tuple[str, ...]
    """Main ICD-10 codes of the latest encounters, newest first."""


@dataclass(frozen=True, slots=True)
class Referral:
    encounter_id: int
    """The sending encounter."""
    source_table: str
    """``XML13`` (a referral letter) or ``XML1`` (MA_NOI_DEN only)."""
    sender: str
    receiver: str
    referral_number: str | None
    """XML13 GIAY_CHUYEN_TUYEN, the number the receiving side quotes."""
    sent: str | None
    """NGAY_RA of the sending encounter (the time of referral)."""
    person_id: int | None
    name: str | None
    birth_date: str | None
    sex: int | None
    reason_code: int | None
    """XML13 MA_LYDO_CT."""
    reason: str | None
    clinical_signs: str | None
    main_diagnosis: str | None
    diagnosis_text: str | None
    treatment_direction: str | None
    status: Status
    received_encounter_id: int | None
    received_at: str | None
    prior: PriorRecords | None


@dataclass(frozen=True, slots=True)
class ReferralList:
    facility_code: str
    total: int
    counts: dict[str, int]
    entries: list[Referral]

    @property
    def person_ids(self) -> list[int]:
        return sorted({r.person_id for r in self.entries if r.person_id is not None})

    @property
    def encounter_ids(self) -> list[int]:
        return [r.encounter_id for r in self.entries]


def _sent(conn: Connection, facility_code: str) -> list[dict[str, Any]]:
    s = L.sources
    letters = conn.execute(
        select(
            encounters.c.id, encounters.c.facility_code, s.c.person_id, xml13.c.giay_chuyen_tuyen, xml13.c.ngay_ra,
            xml13.c.ngay_ra_precision, xml13.c.ho_ten, xml13.c.ngay_sinh, xml13.c.ngay_sinh_precision,
            xml13.c.gioi_tinh, xml13.c.ma_lydo_ct, xml13.c.dau_hieu_ls, xml13.c.ma_benh_chinh, xml13.c.chan_doan_rv,
            xml13.c.huong_dieu_tri,
        )
        .select_from(xml13)
        .join(encounters, encounters.c.id == xml13.c.encounter_id)
        .outerjoin(s, s.c.encounter_id == encounters.c.id)
        .where(xml13.c.ma_noi_den == facility_code, encounters.c.is_current.is_(True))
    ).all()  # fmt: skip
    out = [dict(r._mapping, source_table="XML13") for r in letters]
    seen = {r["id"] for r in out}
    summaries = conn.execute(
        select(
            encounters.c.id, encounters.c.facility_code, s.c.person_id, xml1.c.ngay_ra, xml1.c.ngay_ra_precision,
            xml1.c.ho_ten, xml1.c.ngay_sinh, xml1.c.ngay_sinh_precision, xml1.c.gioi_tinh, xml1.c.ma_benh_chinh,
            xml1.c.chan_doan_rv,
        )
        .select_from(xml1)
        .join(encounters, encounters.c.id == xml1.c.encounter_id)
        .outerjoin(s, s.c.encounter_id == encounters.c.id)
        .where(xml1.c.ma_noi_den == facility_code, encounters.c.is_current.is_(True))
    ).all()  # fmt: skip
    out += [dict(r._mapping, source_table="XML1") for r in summaries if r.id not in seen]
    return out


def _arrivals(conn: Connection, facility_code: str, persons: list[int]) -> dict[int, list[Any]]:
    """Encounters at the receiving facility that name a referring facility, by surviving person."""
    if not persons:
        return {}
    s = L.sources
    rows = conn.execute(
        select(s.c.person_id, encounters.c.id, xml1.c.ma_noi_di, xml1.c.giay_chuyen_tuyen, xml1.c.ngay_vao,
               xml1.c.ngay_vao_precision)
        .select_from(s)
        .join(encounters, encounters.c.id == s.c.encounter_id)
        .join(xml1, xml1.c.encounter_id == encounters.c.id)
        .where(
            s.c.person_id.in_(persons),
            and_(encounters.c.facility_code == facility_code, encounters.c.is_current.is_(True)),
            xml1.c.ma_noi_di.is_not(None),
        )
    ).all()  # fmt: skip
    survivors = _survivors(conn, (int(r.person_id) for r in rows))
    out: dict[int, list[Any]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (r.ngay_vao or datetime.min, r.id)):
        out[survivors[int(r.person_id)]].append(r)
    return out


def _prior(conn: Connection, persons: list[int]) -> dict[int, PriorRecords]:
    if not persons:
        return {}
    s = L.sources
    rows = conn.execute(
        select(s.c.person_id, encounters.c.facility_code, xml1.c.ma_benh_chinh, xml1.c.ngay_vao)
        .select_from(s)
        .join(encounters, encounters.c.id == s.c.encounter_id)
        .join(xml1, xml1.c.encounter_id == encounters.c.id)
        .where(s.c.person_id.in_(persons), encounters.c.is_current.is_(True))
    ).all()
    survivors = _survivors(conn, (int(r.person_id) for r in rows))
    grouped: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        grouped[survivors[int(r.person_id)]].append(r)
    out = {}
    for person, rs in grouped.items():
        rs.sort(key=lambda r: r.ngay_vao or datetime.min, reverse=True)
        out[person] = PriorRecords(
            encounter_count=len(rs),
            facilities=tuple(dict.fromkeys(str(r.facility_code) for r in rs)),
            recent_diagnoses=tuple(r.ma_benh_chinh for r in rs[:5] if r.ma_benh_chinh),
        )
    return out


def _received(sent: dict[str, Any], arrivals: list[Any]) -> Any | None:
    sent_at: datetime | None = sent["ngay_ra"]
    number = sent.get("giay_chuyen_tuyen")
    for r in arrivals:
        if r.ma_noi_di != sent["facility_code"]:
            continue
        if number and r.giay_chuyen_tuyen and r.giay_chuyen_tuyen != number:
            continue
        if sent_at is not None and r.ngay_vao is not None and r.ngay_vao < datetime.combine(sent_at.date(), time.min):
            continue
        return r
    return None


def incoming_referrals(
    *,
    conn: Connection,
    facility_code: str,
    today: date | None = None,
    overdue_days: int = OVERDUE_DAYS,
    status: Status | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ReferralList:
    """Referrals addressed to ``facility_code``, newest first, with their status and the patient's history."""
    today = today or date.today()
    sent = _sent(conn, facility_code)
    survivors = _survivors(conn, (int(r["person_id"]) for r in sent if r["person_id"] is not None))
    persons = sorted(set(survivors.values()))
    arrivals = _arrivals(conn, facility_code, persons)
    prior = _prior(conn, persons)
    overdue_before = datetime.combine(today - timedelta(days=overdue_days), time.min)
    entries: list[Referral] = []
    for r in sent:
        person = survivors.get(int(r["person_id"])) if r["person_id"] is not None else None
        arrived = _received(r, arrivals.get(person, [])) if person is not None else None
        sent_at = r["ngay_ra"]
        state: Status = (
            "received" if arrived is not None
            else "overdue" if sent_at is not None and sent_at < overdue_before
            else "pending"
        )  # fmt: skip
        reason_code = r.get("ma_lydo_ct")
        entries.append(
            Referral(
                encounter_id=int(r["id"]),
                source_table=r["source_table"],
                sender=str(r["facility_code"]),
                receiver=facility_code,
                referral_number=r.get("giay_chuyen_tuyen"),
                sent=partial_iso(sent_at, r["ngay_ra_precision"]),
                person_id=person,
                name=r["ho_ten"],
                birth_date=partial_iso(r["ngay_sinh"], r["ngay_sinh_precision"]),
                sex=r["gioi_tinh"],
                reason_code=reason_code,
                reason=REFERRAL_REASONS.get(reason_code) if reason_code is not None else None,
                clinical_signs=r.get("dau_hieu_ls"),
                main_diagnosis=r["ma_benh_chinh"],
                diagnosis_text=r["chan_doan_rv"],
                treatment_direction=r.get("huong_dieu_tri"),
                status=state,
                received_encounter_id=int(arrived.id) if arrived is not None else None,
                received_at=partial_iso(arrived.ngay_vao, arrived.ngay_vao_precision) if arrived is not None else None,
                prior=prior.get(person) if person is not None else None,
            )
        )
    entries.sort(key=lambda e: (e.sent or "", e.encounter_id), reverse=True)
    counts = {s: sum(1 for e in entries if e.status == s) for s in ("pending", "received", "overdue")}
    chosen = [e for e in entries if status is None or e.status == status]
    limit = max(1, min(limit, 200))
    return ReferralList(
        facility_code=facility_code,
        total=len(chosen),
        counts=counts,
        entries=chosen[max(offset, 0) : max(offset, 0) + limit],
    )
