"""The steward's workbench in a real browser: Debian's chromium driven by Playwright against uvicorn.

A steward signs in, opens the queue, resolves items by keyboard (one key each, the next item opens), the
API shows the link changed and the events in the feed; undo restores the exact prior state (compared with
the state before and with a replay of the event log). Then merges two persons from the person page and
undoes it. Runs on a temp SQLite store holding the small synthetic province of the record tests, with
review items opened between records of different persons.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, select

from api.app import create_app
from mpi.identity import links as L
from mpi.keys import Role, create_key
from mpi.settings import Settings
from mpi.store import open_store, session_scope
from tests.plugins.province import ProvinceTemplates
from tests.support import TEST_SECRET
from tests.web.browser import CHROMIUM_ARGS, chromium, serve

pytestmark = pytest.mark.browser
HOPERAT = {"X-Purpose-Of-Use": "HOPERAT"}


def _open_reviews(engine: Engine, n: int) -> list[tuple[int, int, int]]:
    """(review id, record's person, candidate person) for ``n`` pairs of records of different persons."""
    out = []
    with engine.begin() as conn:
        rows = conn.execute(select(L.sources.c.id, L.sources.c.person_id).order_by(L.sources.c.id)).all()
        persons: dict[int, int] = {}
        for row in rows:
            persons.setdefault(int(row.person_id), int(row.id))
        people = list(persons.items())
        for (p_record, record), (p_candidate, _) in zip(people[0 : 2 * n : 2], people[1 : 2 * n : 2], strict=True):
            review = L.open_review(
                conn, source_record_id=record, candidate_person_id=p_candidate, reason="model_band",
                actor="system", match_probability=0.5,
            )  # fmt: skip
            out.append((review, p_record, p_candidate))
    return out


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, province_templates: ProvinceTemplates
) -> Iterator[tuple[str, Settings]]:
    url = province_templates.copy(tmp_path_factory.mktemp("web") / "store.sqlite3")
    settings = Settings(env="test", secret_key=TEST_SECRET, database_url=url)
    with serve(create_app(settings)) as base:
        yield base, settings


def test_steward_decides_by_keyboard_undoes_and_merges_from_the_person_page(site: tuple[str, Settings]) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    base, settings = site
    engine = open_store(settings.database_url)
    reviews = _open_reviews(engine, 3)
    with session_scope(engine) as session:
        _, key = create_key(session=session, role=Role.STEWARD, secret=TEST_SECRET)
        _, subscriber = create_key(session=session, role=Role.SUBSCRIBER, secret=TEST_SECRET)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}", **HOPERAT})
    feed = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {subscriber}"})
    with engine.connect() as conn:
        before = L.current_state(conn)
    cursor = feed.get("/api/v1/events", params={"after": 0, "limit": 5000}).json()["next_after"]
    while (page := feed.get("/api/v1/events", params={"after": cursor, "limit": 5000}).json())["events"]:
        cursor = page["next_after"]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/web/steward")
            page.fill("input[name=api_key]", key)
            page.click("#login")
            page.wait_for_selector("#items")
            assert page.locator("html").get_attribute("lang") == "vi"
            assert page.locator("#total").inner_text() == str(api.get("/api/v1/reviews").json()["total"])
            first = int(page.locator("a.item-link").first.inner_text().lstrip("#"))

            page.keyboard.press("Enter")  # open the head of the queue
            page.wait_for_selector("#waterfall")
            assert int(page.locator("#item").get_attribute("data-review-id") or 0) == first
            weights = [float(w or 0) for w in page.locator("#waterfall tr.bar-row").evaluate_all(
                "rows => rows.map(r => r.dataset.weight)")]  # fmt: skip
            assert sum(weights[:-1]) == pytest.approx(weights[-1], abs=1e-6)  # prior + levels + TF = total
            assert page.locator("#as-sent tr").count() == 11

            page.keyboard.press("1")  # same person: one keystroke, the next item opens
            page.wait_for_selector("#done")
            assert int(page.locator("#item").get_attribute("data-review-id") or 0) != first

            decided = api.get(f"/api/v1/reviews/{first}").json()
            assert decided["status"] == "same_person"
            record, candidate = decided["source_record_id"], decided["candidate_person_id"]
            now_with = api.get(f"/api/v1/steward/persons/{candidate}").json()
            assert record in [r["source_record_id"] for r in now_with["records"]]
            assert [r["link_state"] for r in now_with["records"] if r["source_record_id"] == record] == ["manual"]
            events = feed.get("/api/v1/events", params={"after": cursor}).json()["events"]
            linked = [e for e in events if e["kind"] == "linked" and e["source_record_id"] == record]
            assert linked and linked[-1]["person_id"] == candidate
            assert "review_resolved" in [e["kind"] for e in events]

            page.keyboard.press("u")  # undo, back on the item
            page.wait_for_selector("#undone")
            assert int(page.locator("#item").get_attribute("data-review-id") or 0) == first
            assert api.get(f"/api/v1/reviews/{first}").json()["status"] == "open"
            with engine.connect() as conn:
                assert L.current_state(conn) == before == L.replay_state(conn)

            # merge two persons from the person page, with a preview, then undo
            (_, p_record, p_candidate) = reviews[1]
            page.goto(f"{base}/web/steward/persons/{p_record}")
            page.fill("#into", str(p_candidate))
            page.click("#preview")
            page.wait_for_selector("#merge-preview")
            page.click("#confirm-merge")
            page.wait_for_selector("#undo")
            assert page.locator("#person").get_attribute("data-person-id") == str(p_candidate)
            merged = api.get(f"/api/v1/steward/persons/{p_record}").json()
            assert (merged["replaced_by"], merged["survivor"]) == (p_candidate, p_candidate)
            page.click("#undo")
            page.wait_for_selector("#undone")
            assert api.get(f"/api/v1/steward/persons/{p_record}").json()["replaced_by"] is None
            with engine.connect() as conn:
                assert L.current_state(conn) == before == L.replay_state(conn)

            # a sample of the queue by keyboard: one key per item, the next one opens each time
            total = api.get("/api/v1/reviews").json()["total"]
            page.goto(f"{base}/web/steward")
            page.keyboard.press("Enter")
            page.wait_for_selector("#decide-form")
            for key in ("2", "3", "d", "1"):
                current = page.locator("#item").get_attribute("data-review-id")
                page.keyboard.press(key)
                # a selector, not a page function: the page's CSP forbids evaluating script strings
                page.wait_for_selector(f"#item:not([data-review-id='{current}'])")
            assert api.get("/api/v1/reviews").json()["total"] == total - 3  # "not sure" keeps its item open
            with engine.connect() as conn:
                assert L.current_state(conn) == L.replay_state(conn)

            page.goto(f"{base}/web/steward/metrics?lang=en")
            assert page.locator("html").get_attribute("lang") == "en"
            assert "Undo rate: 40.0%" in page.locator("#undo-rate").inner_text()  # 2 of 5 actions undone
        finally:
            browser.close()
            engine.dispose()
