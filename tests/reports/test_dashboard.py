"""The department dashboard: sign-in by role, charts, alerts, downloads; in Chromium and without it.

The browser test drives Debian's chromium through Playwright against uvicorn on the session's report
province (with its injected outbreak).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from mpi.keys import Role, create_key
from mpi.reports import build_report
from mpi.store import session_scope
from tests.support import TEST_SECRET, ReportStore
from tests.web.browser import CHROMIUM_ARGS, chromium, serve


def _key(engine: object, role: Role, facility: str | None = None) -> str:
    with session_scope(engine) as session:  # type: ignore[arg-type]
        _, plaintext = create_key(session=session, role=role, facility_code=facility, secret=TEST_SECRET)
    return plaintext


@pytest.fixture
def client(report_store: ReportStore) -> Iterator[TestClient]:
    app = create_app(report_store.settings())
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.mark.slow  # the 400-person report province (tests/reports/conftest.py)
def test_only_analysts_and_admins_sign_in(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    page = client.get("/web/reports")
    assert 'name="api_key"' in page.text and "Đăng nhập" in page.text
    for role, facility in ((Role.CLINICIAN, "33001"), (Role.SUBMITTER, "33001"), (Role.STEWARD, None)):
        response = client.post("/web/reports/login", data={"api_key": _key(engine, role, facility)})
        assert response.status_code == 403, role
    assert client.post("/web/reports/login", data={"api_key": "mpi_nope"}).status_code == 401
    assert client.get("/web/reports/download/months.csv", follow_redirects=False).status_code == 303
    response = client.post("/web/reports/login", data={"api_key": _key(engine, Role.ANALYST)}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/web/reports")
    assert page.status_code == 200
    assert page.text.count("<svg") == 3
    assert "Cảnh báo" in page.text and "Sốt xuất huyết Dengue" in page.text
    assert "34100 (chưa đăng ký)" in page.text  # a facility that submitted unregistered
    english = client.get("/web/reports?lang=en")
    assert "Health department reports" in english.text and "34100 (unregistered)" in english.text


@pytest.mark.slow  # the 400-person report province (tests/reports/conftest.py)
def test_dashboard_never_shows_a_patient(client: TestClient, report_store: ReportStore) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    client.post("/web/reports/login", data={"api_key": _key(engine, Role.ADMIN)})
    text = client.get("/web/reports").text
    for facility in report_store.registry:  # a station named after a person (Xã Nguyễn Văn Linh) is no patient
        text = text.replace(facility["name"], "")
    with (report_store.out / "persons.csv").open(encoding="utf-8") as fh:
        persons = list(csv.DictReader(fh))
    for p in persons:
        assert p["full_name"] not in text
        assert not p["cccd"] or p["cccd"] not in text


@pytest.fixture
def site(report_store: ReportStore) -> Iterator[str]:
    with serve(create_app(report_store.settings())) as base:
        yield base


@pytest.mark.browser
def test_dashboard_in_chromium(site: str, report_store: ReportStore) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    key = _key(report_store.engine, Role.ANALYST)
    expected_months = build_report(engine=report_store.engine, name="months").rows
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )  # fmt: skip
        try:
            context = browser.new_context()
            page = context.new_page()
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(f"{site}/web/reports")
            page.fill("input[name=api_key]", key)
            page.click("#login")
            page.wait_for_selector("#chart-months")
            # charts are drawn: one bar per month and series, the surveillance lines, the outbreak circled
            assert page.locator("#chart-months rect.bar").count() == 2 * len(expected_months)
            assert page.locator("#chart-surveillance polyline.line").count() >= 1
            assert page.locator("#chart-surveillance circle.alert-mark").count() >= 1
            assert page.locator("#chart-months").bounding_box()["width"] > 200  # type: ignore[index]
            assert page.locator("#alerts tr.alert").count() >= 1
            assert page.locator("#totals .tile").count() == 4
            # nothing fetched from anywhere but the hub
            assert all(u.startswith(site) for u in requested), requested
            # a download, fetched with the browser's own session (headless chromium cancels file saves)
            link = page.locator("a.download[href^='/web/reports/download/months.csv']")
            assert link.get_attribute("download") is not None
            response = context.request.get(f"{site}{link.get_attribute('href')}")
            assert response.status == 200
            assert response.headers["content-disposition"] == 'attachment; filename="months.csv"'
            rows = list(csv.DictReader(io.StringIO(response.text())))
            assert [r["month"] for r in rows] == [r["month"] for r in expected_months]
            assert [int(r["records"]) for r in rows] == [r["records"] for r in expected_months]
            xlsx = context.request.get(f"{site}/web/reports/download/quality.xlsx")
            assert (xlsx.status, xlsx.body()[:2]) == (200, b"PK")
            # a period narrows the charts
            page.fill("input[name=from]", "2025-09")
            page.fill("input[name=to]", "2025-10")
            page.click("#show")
            page.wait_for_selector("#chart-months")
            assert page.locator("#chart-months rect.bar").count() == 4
            # English
            page.click("a[hreflang=en]")
            page.wait_for_selector("#chart-months")
            assert page.locator("h1").inner_text() == "Health department reports"
        finally:
            browser.close()
