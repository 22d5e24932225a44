"""Surveillance: the injected outbreak raises an alert, the baseline raises none; persons not encounters;
small counts suppressed outside the department."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from mpi.reports import ReportOptions, build_report, icd_group
from synth.outbreak import OUTBREAK_DX, Outbreak
from tests.support import ReportStore

pytestmark = pytest.mark.slow  # a 400-person province ingested once (tests/reports/conftest.py)


@pytest.mark.parametrize(
    ("code", "group"),
    [("A90", "dengue"), ("A91", "dengue"), ("a97.0", "dengue"), ("B08.4", "hfmd"), ("B08.1", None),
     ("B05.9", "measles"), ("J10.1", "influenza"), ("J18.9", None), ("A15.0", "tb"), ("A09", "diarrhoea"),
     ("B01.9", "chickenpox"), ("", None), (None, None)],
)  # fmt: skip
def test_icd_groups(code: str | None, group: str | None) -> None:
    assert icd_group(code) == group


def test_every_outbreak_code_falls_in_its_group() -> None:
    assert {g: icd_group(code) for g, code in OUTBREAK_DX.items()} == {g: g for g in OUTBREAK_DX}


def test_outbreak_spec_errors() -> None:
    assert Outbreak.parse("dengue:12406:2026-03-02:6:1") == Outbreak("dengue", "12406", date(2026, 3, 2), 6, 1)
    for bad in ("dengue:12406:2026-03-02", "plague:auto:2026-03-02:5", "dengue:auto:2026-03-02:5:9"):
        with pytest.raises(ValueError, match="outbreak"):
            Outbreak.parse(bad)


def test_baseline_raises_no_alert(report_store: ReportStore) -> None:
    rows = report_store.baseline_surveillance.rows
    assert rows, "the baseline has notifiable cases"
    assert [r for r in rows if r["alert"]] == []


def test_outbreak_raises_an_alert_in_its_commune_and_week(report_store: ReportStore) -> None:
    ob = report_store.outbreak
    week = date.fromisoformat(ob["start"])
    week -= timedelta(days=week.weekday())
    report = build_report(engine=report_store.engine, name="surveillance")
    alerts = [(r["week_start"], r["group"], r["commune_code"]) for r in report.rows if r["alert"]]
    assert (week, "dengue", ob["commune_code"]) in alerts
    assert {a for a in alerts if a[2] != "all"} == {(week, "dengue", ob["commune_code"])}
    row = next(r for r in report.rows if (r["week_start"], r["group"], r["commune_code"]) == alerts[0])
    assert row["persons"] >= ob["persons"]
    assert row["persons"] > row["upper"]


def test_counts_persons_not_encounters(report_store: ReportStore) -> None:
    report = build_report(engine=report_store.engine, name="surveillance")
    for r in report.rows:
        if r["commune_code"] == "all":
            parts = [x["persons"] for x in report.rows
                     if (x["week"], x["group"]) == (r["week"], r["group"]) and x["commune_code"] != "all"]  # fmt: skip
            assert r["persons"] <= sum(parts)


def test_small_counts_suppressed_outside_the_department(report_store: ReportStore) -> None:
    full = build_report(engine=report_store.engine, name="surveillance")
    public = build_report(engine=report_store.engine, name="surveillance", options=ReportOptions(suppress=True))
    assert len(full.rows) == len(public.rows)
    small = 0
    for f, p in zip(full.rows, public.rows, strict=True):
        if 0 < f["persons"] < 5:
            small += 1
            assert (p["persons"], p["suppressed"]) == (None, True)
        else:
            assert (p["persons"], p["suppressed"]) == (f["persons"], False)
    assert small > 0


@pytest.mark.parametrize(
    "code", ["A90", "a91.0", " B08.4 ", "B05.9", "J10.1", "J18.9", "A15.0", "A09", "B01.9", "Z00.1", "", None]
)
def test_group_sql_equals_icd_group(code: str | None) -> None:
    import duckdb

    from mpi.reports.surveillance import group_sql

    got = duckdb.connect().execute(f"SELECT {group_sql('icd')} FROM (SELECT ?::VARCHAR AS icd)", [code]).fetchone()
    assert got is not None and got[0] == icd_group(code)


def test_communes_are_named(report_store: ReportStore) -> None:
    from linkage import commune_name

    report = build_report(engine=report_store.engine, name="surveillance")
    named = {r["commune_code"]: r["commune_name"] for r in report.rows}
    assert named.pop("all") == "Toàn tỉnh"
    assert named.pop("unknown", "Không rõ xã") == "Không rõ xã"
    assert named and all(name == commune_name(code) and name for code, name in named.items())
    assert named[report_store.outbreak["commune_code"]].startswith(("Xã", "Phường"))
    facilities = build_report(engine=report_store.engine, name="facilities").rows
    registered = [f for f in facilities if f["registered"] and f["commune_code"]]
    assert registered and all(f["commune_name"] == commune_name(f["commune_code"]) for f in registered)
