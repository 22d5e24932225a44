"""The record services directly (no HTTP), on both back ends: merges, appointments, referral states,
demographic grades."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from mpi.identity import links as L
from mpi.records import (
    QueryInvalid,
    find_persons,
    incoming_referrals,
    person_summary,
    person_timeline,
    upcoming_appointments,
)
from mpi.records.person import encounters
from mpi.store.content import content_tables
from tests.plugins.province import Store


def _person(store: Store) -> int:
    with store.engine.connect() as conn:
        (c,) = find_persons(conn=conn, linker=store.linker, national_id=store.province.scenario.cccd).candidates
    return c.person_id


def test_a_merged_person_id_reads_the_survivor_with_every_record(store: Store) -> None:
    absorbed = _person(store)
    with store.engine.begin() as conn:
        before = person_timeline(conn=conn, person_id=absorbed).encounter_ids
        survivor = next(
            int(p) for p in conn.execute(select(L.persons.c.id).order_by(L.persons.c.id)).scalars() if p != absorbed
        )
        survivor_before = person_timeline(conn=conn, person_id=survivor).encounter_ids
        L.merge(conn, from_person_id=absorbed, into_person_id=survivor, actor="test")
    with store.engine.connect() as conn:
        page = person_timeline(conn=conn, person_id=absorbed)
        summary = person_summary(conn=conn, person_id=absorbed)
    assert page.person.person_id == survivor
    assert page.person.requested_id == absorbed
    assert set(page.person.cluster) == {survivor, absorbed}
    assert sorted(page.encounter_ids) == sorted(before + survivor_before)
    assert summary.encounter_count == len(before) + len(survivor_before)
    with store.engine.begin() as conn:
        L.unmerge(conn, person_id=absorbed, actor="test")
        assert sorted(person_timeline(conn=conn, person_id=absorbed).encounter_ids) == sorted(before)


def test_upcoming_appointments_are_those_from_today_at_the_facility_soonest_first(store: Store) -> None:
    x14 = content_tables["XML14"]
    with store.engine.connect() as conn:
        facility, count = conn.execute(
            select(encounters.c.facility_code, func.count())
            .join(x14, x14.c.encounter_id == encounters.c.id)
            .where(encounters.c.is_current.is_(True))
            .group_by(encounters.c.facility_code)
            .order_by(func.count().desc(), encounters.c.facility_code)
        ).first()
        everything = upcoming_appointments(conn=conn, facility_code=facility, today=date(2000, 1, 1), limit=200)
        assert everything.total == count
        times = [a.at for a in everything.entries]
        assert times == sorted(times)
        middle = date.fromisoformat(times[len(times) // 2][:10])
        later = upcoming_appointments(conn=conn, facility_code=facility, today=middle, limit=200)
        assert later.total == sum(1 for t in times if t[:10] >= middle.isoformat())
        assert upcoming_appointments(conn=conn, facility_code=facility, today=date(2100, 1, 1)).total == 0
        assert all(a.person_id is not None for a in everything.entries)


def test_pending_referrals_turn_overdue_after_the_configured_days(store: Store) -> None:
    s = store.province.scenario
    with store.engine.connect() as conn:
        early = incoming_referrals(conn=conn, facility_code=s.facility_b, today=date(2000, 1, 1))
        late = incoming_referrals(conn=conn, facility_code=s.facility_b, today=date(2100, 1, 1), overdue_days=7)
        overdue_only = incoming_referrals(
            conn=conn, facility_code=s.facility_b, today=date(2100, 1, 1), status="overdue"
        )
    assert early.counts["overdue"] == 0
    assert early.counts["pending"] >= 1  # the held-back referral
    assert late.counts == {"pending": 0, "received": early.counts["received"], "overdue": early.counts["pending"]}
    assert overdue_only.total == late.counts["overdue"]
    assert {r.status for r in overdue_only.entries} == {"overdue"}


def test_demographic_search_grades_and_refuses_queries_that_block_on_nothing(store: Store) -> None:
    s = store.province.scenario
    person = _person(store)
    with store.engine.connect() as conn:
        exact = find_persons(conn=conn, linker=store.linker, name=s.name, birth_date=s.birth_date).candidates
        assert exact[0].person_id == person
        assert exact[0].grade in ("certain", "probable")
        assert [c.grade for c in exact] == sorted(
            (c.grade for c in exact), key=["certain", "probable", "possible"].index
        )
        year_only = find_persons(conn=conn, linker=store.linker, name=s.name, birth_date=s.birth_date[:4]).candidates
        assert person in [c.person_id for c in year_only]
        assert all(c.grade != "certain" for c in year_only)
        with pytest.raises(QueryInvalid):
            find_persons(conn=conn, linker=store.linker, name="Nguyễn", birth_date="1980")
        with pytest.raises(QueryInvalid):
            find_persons(conn=conn, linker=store.linker, name=s.name, birth_date="31/03/1956")
