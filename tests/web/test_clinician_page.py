"""The clinician page in a real browser: Debian's chromium driven by Playwright against uvicorn.

A clinician signs in with their key, searches a patient by CCCD and by name + date of birth, opens the
timeline, opens the referring facility's encounter and reads its drugs and lab results. Runs on a temp
SQLite store holding the small synthetic province of the record tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from api.app import create_app
from mpi.audit.models import AuditEvent
from mpi.identity.online import OnlineLinker
from mpi.ingest import ingest_file
from mpi.keys import Role, create_key
from mpi.records import encounter_detail
from mpi.settings import Settings
from mpi.store import Encounter, open_store, session_scope
from tests import builders as b
from tests.plugins.province import ProvinceTemplates
from tests.records.province import Province
from tests.support import TEST_SECRET
from tests.web.browser import CHROMIUM_ARGS, chromium, serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, province_templates: ProvinceTemplates
) -> Iterator[tuple[str, Settings, Province]]:
    url = province_templates.copy(tmp_path_factory.mktemp("web") / "store.sqlite3")
    settings = Settings(env="test", secret_key=TEST_SECRET, database_url=url)
    engine = open_store(url)
    linker = OnlineLinker.from_settings(settings)
    linker.warm(engine)
    for facility, hoso in (("74001", b.outpatient("LKWEB1", "74001")), ("74002", b.hiv_visit("LKWEB2", "74002"))):
        ingest_file(engine=engine, data=b.envelope([hoso], facility=facility), submitter="cli", linker=linker)
    engine.dispose()
    with serve(create_app(settings)) as base:
        yield base, settings, province_templates.data


def test_clinician_searches_opens_the_timeline_and_reads_drugs_and_lab_results(
    site: tuple[str, Settings, Province],
) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    base, settings, prov = site
    s = prov.scenario
    engine = open_store(settings.database_url)
    with session_scope(engine) as session:
        _, key = create_key(session=session, role=Role.CLINICIAN, facility_code=s.facility_b)
    with engine.connect() as conn:
        encounter_id = conn.execute(
            select(Encounter.id).where(Encounter.facility_code == s.facility_a, Encounter.ma_lk == s.ma_lk_a)  # type: ignore[arg-type]
        ).scalar_one()
        detail = encounter_detail(conn=conn, encounter_id=encounter_id)
    engine.dispose()
    drugs = [r.text("TEN_THUOC") for r in detail.section("XML2")]
    labs = [(r.text("TEN_CHI_SO"), r.text("GIA_TRI"), r.text("DON_VI_DO")) for r in detail.section("XML4")]
    measured = [lab for lab in labs if lab[1] is not None]
    assert drugs and measured

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            page = browser.new_page()
            page.goto(f"{base}/web/clinician")
            page.fill("input[name=api_key]", key)
            page.click("#login")
            page.wait_for_selector("#search")
            (cookie,) = [c for c in page.context.cookies() if c["name"] == "mpi_session"]
            assert cookie["httpOnly"] is True
            assert cookie["sameSite"] == "Strict"
            assert key not in cookie["value"]

            # by CCCD: one certain candidate
            page.select_option("#purpose", "COC")
            page.fill("input[name=national_id]", s.cccd)
            page.click("#search-button")
            rows = page.locator("#candidates tr")
            assert rows.count() == 2  # header + one person
            assert page.locator("#candidates td.grade-certain").count() == 1
            person_id = page.locator("a.person-link").first.inner_text()

            # by name + date of birth: the same person is among the candidates, first
            page.fill("input[name=national_id]", "")
            page.fill("input[name=name]", s.name)
            page.fill("input[name=birth_date]", s.birth_date)
            page.click("#search-button")
            assert page.locator("a.person-link").first.inner_text() == person_id

            # the timeline, then A's encounter
            page.locator("a.person-link").first.click()
            page.wait_for_selector("#timeline")
            assert page.locator("html").get_attribute("lang") == "vi"
            assert page.locator("#person").inner_text() not in ("", f"Person {person_id}")
            assert "Quá trình khám chữa bệnh" in page.content()
            facilities = page.locator("#timeline td.facility").all_inner_texts()
            assert facilities and not any(re.fullmatch(r"\d{5}", f.strip()) for f in facilities)  # names, not codes
            assert page.locator("#banner-sex").inner_text().split(": ")[1] in ("Nam", "Nữ", "Chưa xác định")
            link = page.locator(f'a.encounter-link[data-facility="{s.facility_a}"][data-ma-lk="{s.ma_lk_a}"]')
            assert link.count() == 1
            link.click()
            page.wait_for_selector("#drugs")
            drug_cells = page.locator("#drugs tr td:first-child").all_inner_texts()
            assert drug_cells == drugs
            routes = page.locator("#drugs td.route").all_inner_texts()
            assert routes and not any(re.fullmatch(r"\d\.\d\d", r.strip()) for r in routes)  # "Uống", not "1.01"
            lab_text = page.locator("#labs").inner_text()
            for name, value, unit in measured:
                assert f"{name}\t{value}\t{unit or ''}".strip() in lab_text
            assert page.locator("#table-XML13").count() == 1
        finally:
            browser.close()


def test_hiv_record_is_withheld_and_break_glass_reveals_it_with_an_audit_entry(
    site: tuple[str, Settings, Province],
) -> None:
    """A clinician of another facility sees that sensitive data exists, breaks the glass with a reason and
    purpose ETREAT, sees the HIV encounter marked; the reveal is in the audit as a break-glass event."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    base, settings, _ = site
    engine = open_store(settings.database_url)
    with session_scope(engine) as session:
        key_row, key = create_key(session=session, role=Role.CLINICIAN, facility_code="74001")
        actor = f"key:{key_row.id}"
        _, admin_key = create_key(session=session, role=Role.ADMIN)
    reason = "Cấp cứu: người bệnh hôn mê, cần biết thuốc đang dùng"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(executable), headless=True,
            args=CHROMIUM_ARGS,
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.goto(f"{base}/web/clinician")
            page.fill("input[name=api_key]", key)
            page.click("#login")
            page.wait_for_selector("#search")
            page.select_option("#purpose", "TREAT")
            page.fill("input[name=national_id]", "074190001234")
            page.click("#search-button")
            page.locator("a.person-link").first.click()
            page.wait_for_selector("#withheld")
            assert "Có 1 lượt khám chứa dữ liệu nhạy cảm đã được ẩn." in page.locator("#withheld").inner_text()
            assert page.locator(".sensitive-marker").count() == 0
            assert page.locator("#timeline a.encounter-link").count() == 1  # only the ordinary visit

            page.select_option("#break-glass-purpose", "ETREAT")
            page.fill("#break-glass-reason", reason)
            page.click("#break-glass-button")
            page.wait_for_selector("#revealed")
            assert page.locator("#withheld").count() == 0
            assert page.locator("#timeline a.encounter-link").count() == 2
            assert page.locator("#timeline .sensitive-marker").count() == 1

            # the department's administrator sees the reveal in the sensitive access report, and the
            # patient access report of that person lists it, in Vietnamese, without naming staff
            admin = browser.new_page()
            admin.goto(f"{base}/web/admin")
            admin.fill("input[name=api_key]", admin_key)
            admin.click("button[type=submit]")
            admin.click("#nav-sensitive")
            row = admin.locator("tr.sensitive-row").first
            assert reason in row.inner_text() and "Cấp cứu" in row.inner_text() and "HIV/AIDS" in row.inner_text()
            row.locator("a").click()
            admin.wait_for_selector("#access-table")
            report = admin.locator("#access-table").inner_text()
            assert "Mở dữ liệu nhạy cảm" in report and reason in report and "Bác sĩ" in report
        finally:
            browser.close()
    events = AuditEvent.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        glass = conn.execute(
            select(events.c.purpose, events.c.details, events.c.record_ids).where(
                events.c.actor == actor, events.c.action == "break_glass"
            )
        ).all()
    engine.dispose()
    assert len(glass) == 1
    assert (glass[0].purpose, glass[0].details["reason"], glass[0].details["categories"]) == ("ETREAT", reason, ["hiv"])
    assert len(glass[0].record_ids) == 1
