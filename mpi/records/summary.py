"""A person at a glance: identifiers, demographics as each facility recorded them, facilities visited,
recurring diagnoses. Built from the current encounter versions of the person's cluster."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from linkage import parse_insurance_cards
from mpi.identity.links import ResolvedPerson, resolve_person
from mpi.records.dates import partial_iso
from mpi.records.person import read_current_encounters


@dataclass(frozen=True, slots=True)
class FacilityDemographics:
    """The identity fields of the newest encounter at one facility, exactly as that facility sent them."""

    facility_code: str
    encounter_id: int
    patient_code: str | None
    """MA_BN."""
    name: str | None
    birth_date: str | None
    sex: int | None
    national_id: str | None
    insurance_cards: tuple[str, ...]
    phone: str | None
    address: str | None
    province_code: str | None
    commune_code: str | None


@dataclass(frozen=True, slots=True)
class FacilityVisits:
    facility_code: str
    encounters: int
    first: str | None
    last: str | None


@dataclass(frozen=True, slots=True)
class RecurringDiagnosis:
    code: str
    """ICD-10."""
    text: str | None
    """CHAN_DOAN_RV of the newest encounter with this main diagnosis (the standard carries no ICD titles)."""
    encounters: int
    last: str | None


@dataclass(frozen=True, slots=True)
class PersonSummary:
    person: ResolvedPerson
    encounter_count: int
    national_ids: tuple[str, ...]
    bhxh_numbers: tuple[str, ...]
    patient_codes: tuple[tuple[str, str], ...]
    """(facility, MA_BN) pairs."""
    demographics: list[FacilityDemographics]
    facilities: list[FacilityVisits]
    recurring_diagnoses: list[RecurringDiagnosis]
    encounter_ids: tuple[int, ...]
    withheld: int = 0
    """Encounters left out by the sensitivity policy (:mod:`mpi.records.sensitivity`): the record says they
    exist, nothing more."""


def _sort_key(r: Any) -> tuple[bool, Any, int]:
    return (r.ngay_vao is not None, r.ngay_vao or 0, int(r.id))


def person_summary(
    *,
    conn: Connection,
    person_id: int,
    min_recurrence: int = 2,
    exclude: Collection[int] = (),
    person: ResolvedPerson | None = None,
    encounters: Sequence[Any] | None = None,
) -> PersonSummary:
    """``exclude``: encounter ids withheld from this reader; they count in ``withheld`` and nowhere else.
    ``person`` and ``encounters``: ``person_id`` resolved and its cluster's current encounters
    (:func:`mpi.records.person.current_encounters`), when the caller's transaction read them already."""
    person = person or resolve_person(conn=conn, person_id=person_id)
    everything = read_current_encounters(conn, person.cluster) if encounters is None else encounters
    rows = sorted((r for r in everything if int(r.id) not in exclude), key=_sort_key)  # oldest first
    national_ids: dict[str, None] = {}
    bhxh: dict[str, None] = {}
    codes: dict[tuple[str, str], None] = {}
    newest_at: dict[str, Any] = {}
    visits: dict[str, list[Any]] = {}
    diagnosis_count: Counter[str] = Counter()
    diagnosis_last: dict[str, Any] = {}
    for r in rows:
        facility = str(r.facility_code)
        if r.so_cccd:
            national_ids[r.so_cccd] = None
        for card in parse_insurance_cards(";".join(r.ma_the_bhyt or ())):
            bhxh[card.bhxh_number] = None
        if r.ma_bn:
            codes[(facility, r.ma_bn)] = None
        newest_at[facility] = r
        visits.setdefault(facility, []).append(r)
        for code in {r.ma_benh_chinh, *(r.ma_benh_kt or ())} - {None, ""}:
            diagnosis_count[code] += 1
        if r.ma_benh_chinh:
            diagnosis_last[r.ma_benh_chinh] = r
    demographics = [
        FacilityDemographics(
            facility_code=f,
            encounter_id=int(r.id),
            patient_code=r.ma_bn,
            name=r.ho_ten,
            birth_date=partial_iso(r.ngay_sinh, r.ngay_sinh_precision),
            sex=r.gioi_tinh,
            national_id=r.so_cccd,
            insurance_cards=tuple(r.ma_the_bhyt or ()),
            phone=r.dien_thoai,
            address=r.dia_chi,
            province_code=r.matinh_cu_tru,
            commune_code=r.maxa_cu_tru,
        )
        for f, r in sorted(newest_at.items(), key=lambda kv: _sort_key(kv[1]), reverse=True)
    ]
    facilities = [
        FacilityVisits(
            facility_code=f,
            encounters=len(v),
            first=partial_iso(v[0].ngay_vao, v[0].ngay_vao_precision),
            last=partial_iso(v[-1].ngay_vao, v[-1].ngay_vao_precision),
        )
        for f, v in sorted(visits.items(), key=lambda kv: _sort_key(kv[1][-1]), reverse=True)
    ]
    recurring = []
    for code, count in diagnosis_count.most_common():
        if count < min_recurrence:
            continue
        last = diagnosis_last.get(code)
        recurring.append(
            RecurringDiagnosis(
                code=code,
                text=last.chan_doan_rv if last is not None else None,
                encounters=count,
                last=partial_iso(last.ngay_vao, last.ngay_vao_precision) if last is not None else None,
            )
        )
    return PersonSummary(
        person=person,
        encounter_count=len(rows),
        national_ids=tuple(national_ids),
        bhxh_numbers=tuple(bhxh),
        patient_codes=tuple(codes),
        demographics=demographics,
        facilities=facilities,
        recurring_diagnoses=recurring,
        encounter_ids=tuple(int(r.id) for r in rows),
        withheld=len(everything) - len(rows),
    )
