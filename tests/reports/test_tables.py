"""The pilot's tables against an independent count, cell by cell.

The independent count comes from the generator's ground truth (which records exist, their NGAY_VAO, which
are referrals), the registry file (waves), and the MPI's person of each record looked up one by one through
the ORM, then counted in plain Python. The report side is DuckDB over the facts snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from mpi.identity.models import SourceRecord
from mpi.reports import Period, ReportOptions, build_report
from mpi.reports.output import to_csv, to_markdown, to_xlsx
from mpi.store.models import Encounter
from tests.support import UNREGISTERED, ReportStore

pytestmark = pytest.mark.slow  # a 400-person province ingested once (tests/reports/conftest.py)


def _person_of(store: ReportStore) -> dict[tuple[str, str], int]:
    with Session(store.engine) as session:
        rows = session.exec(
            select(Encounter.facility_code, Encounter.ma_lk, SourceRecord.person_id)
            .join(SourceRecord, SourceRecord.encounter_id == Encounter.id)  # type: ignore[arg-type]
            .where(Encounter.is_current == True)  # noqa: E712
        ).all()
    return {(f, m): p for f, m, p in rows}


def _expected_months(store: ReportStore) -> list[dict[str, object]]:
    person = _person_of(store)
    records: dict[str, int] = defaultdict(int)
    referrals: dict[str, int] = defaultdict(int)
    patients: dict[str, set[int]] = defaultdict(set)
    for t in store.truth:
        month = t["encounter_date"][:7]
        records[month] += 1
        referrals[month] += bool(t["referred_to"])
        patients[month].add(person[(t["facility_code"], t["ma_lk"])])
    return [
        {"month": m, "records": records[m], "referral_records": referrals[m], "patients": len(patients[m])}
        for m in sorted(records)
    ]


def test_months_equal_the_independent_count(report_store: ReportStore) -> None:
    expected = _expected_months(report_store)
    assert len(expected) == 12
    assert sum(r["referral_records"] for r in expected) > 0  # type: ignore[misc]
    report = build_report(engine=report_store.engine, name="months")
    assert report.columns == ["month", "records", "referral_records", "patients"]
    assert report.rows == expected


def test_months_for_a_period(report_store: ReportStore) -> None:
    expected = [r for r in _expected_months(report_store) if "2025-09" <= str(r["month"]) <= "2025-11"]
    report = build_report(
        engine=report_store.engine, name="months", options=ReportOptions(period=Period("2025-09", "2025-11"))
    )
    assert report.rows == expected


def test_months_by_received_day(report_store: ReportStore) -> None:
    report = build_report(engine=report_store.engine, name="months", options=ReportOptions(by="received"))
    assert [r["month"] for r in report.rows] == [date.today().strftime("%Y-%m")]
    assert report.rows[0]["records"] == len(report_store.truth)


def test_waves_equal_the_independent_count(report_store: ReportStore) -> None:
    person = _person_of(report_store)
    wave_of = {r["facility_code"]: int(r["wave"]) for r in report_store.registry}
    onboarded = {int(r["wave"]): r["onboarded_on"] for r in report_store.registry}
    facilities: dict[int | None, set[str]] = defaultdict(set)
    for r in report_store.registry:
        facilities[int(r["wave"])].add(r["facility_code"])
    records: dict[int | None, int] = defaultdict(int)
    referrals: dict[int | None, int] = defaultdict(int)
    patients: dict[int | None, set[int]] = defaultdict(set)
    for t in report_store.truth:
        wave = wave_of.get(t["facility_code"])
        if wave is None:
            facilities[None].add(t["facility_code"])
        records[wave] += 1
        referrals[wave] += bool(t["referred_to"])
        patients[wave].add(person[(t["facility_code"], t["ma_lk"])])
    assert facilities[None] == set(UNREGISTERED)  # both left-out facilities did submit
    expected = [
        {"wave": w, "onboarded_on": date.fromisoformat(onboarded[w]) if w else None, "facilities": len(facilities[w]),
         "records": records[w], "patients": len(patients[w]), "referral_records": referrals[w]}
        for w in (1, 2, 3, None)
    ]  # fmt: skip
    report = build_report(engine=report_store.engine, name="waves")
    assert report.columns == ["wave", "onboarded_on", "facilities", "records", "patients", "referral_records"]
    assert report.rows == expected


def test_facilities_table_counts_and_marks_unregistered(report_store: ReportStore) -> None:
    person = _person_of(report_store)
    records: dict[str, int] = defaultdict(int)
    patients: dict[str, set[int]] = defaultdict(set)
    for t in report_store.truth:
        records[t["facility_code"]] += 1
        patients[t["facility_code"]].add(person[(t["facility_code"], t["ma_lk"])])
    report = build_report(engine=report_store.engine, name="facilities")
    assert {r["facility_code"]: r["records"] for r in report.rows} == dict(records)
    assert {r["facility_code"]: r["patients"] for r in report.rows} == {k: len(v) for k, v in patients.items()}
    unregistered = {r["facility_code"]: (r["registered"], r["name"]) for r in report.rows if not r["registered"]}
    assert unregistered == {code: (False, None) for code in UNREGISTERED}


def test_levels_add_up_to_the_province(report_store: ReportStore) -> None:
    report = build_report(engine=report_store.engine, name="levels")
    assert sum(r["records"] for r in report.rows) == len(report_store.truth)
    assert [r["level"] for r in report.rows] == ["commune", "district", "private", "provincial", None]


def test_referral_matrix_counts_every_referral_once(report_store: ReportStore) -> None:
    sent: dict[tuple[str, str], int] = defaultdict(int)
    for t in report_store.truth:
        if t["referred_to"]:
            sent[(t["facility_code"], t["referred_to"])] += 1
    with report_store.engine.connect() as conn:
        person = {(f, m): p for f, m, p in conn.execute(text(
            "SELECT s.facility_code, s.ma_lk, s.person_id FROM source_record s"
            " JOIN encounter e ON e.id = s.encounter_id WHERE e.is_current"))}  # fmt: skip
    # a referral arrives when the MPI put both ends on one person (a missed link leaves it pending)
    received = {(t["referral_source_facility"], t["facility_code"]) for t in report_store.truth
                if t["is_referral_target"] == "true"
                and person.get((t["referral_source_facility"], t["referral_source_ma_lk"]))
                == person.get((t["facility_code"], t["ma_lk"]))}  # fmt: skip
    report = build_report(engine=report_store.engine, name="referrals")
    assert {(r["sender"], r["receiver"]): r["sent"] for r in report.rows} == dict(sent)
    for r in report.rows:
        assert r["received"] + r["pending"] + r["overdue"] == r["sent"]
        assert r["direction"] == "up"  # the generator refers upwards only
        if (r["sender"], r["receiver"]) in received:
            assert r["received"] >= 1
    by_level = build_report(engine=report_store.engine, name="referral_levels")
    assert sum(r["sent"] for r in by_level.rows) == sum(sent.values())
    by_dx = build_report(engine=report_store.engine, name="referral_diagnoses")
    assert sum(r["sent"] for r in by_dx.rows) == sum(sent.values())


def test_quality_scorecard_totals(report_store: ReportStore) -> None:
    report = build_report(engine=report_store.engine, name="quality")
    assert sum(r["encounters_received"] for r in report.rows) == len(report_store.truth)
    assert sum(r["encounters_rejected"] for r in report.rows) == 0
    for r in report.rows:
        shares = (
            "linked_cccd",
            "linked_facility_code",
            "linked_insurance_card",
            "linked_birth_certificate",
            "linked_model",
            "sent_to_review",
            "new_person",
        )
        linked = sum(r[k] for k in shares)
        assert abs(linked - 1) < 0.001, r
        assert r["cccd_valid_rate"] <= r["cccd_present_rate"]
    one = build_report(engine=report_store.engine, name="quality", options=ReportOptions(facility="33001"))
    assert [r["facility_code"] for r in one.rows] == ["33001"]


def test_outputs(report_store: ReportStore) -> None:
    report = build_report(engine=report_store.engine, name="waves")
    csv_text = to_csv(report)
    assert csv_text.splitlines()[0] == "wave,onboarded_on,facilities,records,patients,referral_records"
    assert csv_text.splitlines()[1].startswith("1,2025-07-01,23,")
    assert "| Đợt | Ngày triển khai |" in to_markdown(report)
    assert to_xlsx(report)[:2] == b"PK"
