"""``/web/admin``: the patient access report page and the sensitive access report page (admins only),
Vietnamese first, no staff names unless the policy says so, the page's own read audited."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import html
from sqlalchemy import select

from mpi.audit.models import AuditEvent
from mpi.keys import Role, create_key
from mpi.store import session_scope
from tests.api.test_sensitive import REASON, _store
from tests.support import KeyFactory

events = AuditEvent.__table__  # type: ignore[attr-defined]


def _sign_in(client: TestClient, app: FastAPI, role: Role = Role.ADMIN, label: str | None = None) -> int:
    with session_scope(app.state.engine) as session:
        key, plaintext = create_key(
            session=session, role=role, facility_code="74001" if role is Role.CLINICIAN else None, label=label,
            secret=app.state.settings.secret_key,
        )  # fmt: skip
        key_id = key.id
    response = client.post("/web/admin/login", data={"api_key": plaintext}, follow_redirects=False)
    assert response.status_code == (303 if role is Role.ADMIN else 403)
    assert key_id is not None
    return key_id


def _rows(page: str, css: str) -> list[list[str]]:
    tree = html.fromstring(page)
    tag, cls = css.split(".")
    rows = tree.xpath(f"//{tag}[contains(concat(' ', @class, ' '), ' {cls} ')]")
    return [[" ".join(td.text_content().split()) for td in tr.findall("td")] for tr in rows]


@pytest.fixture
def reads(app: FastAPI, client: TestClient, auth: KeyFactory) -> tuple[int, int]:
    """A person read by 74001 (TREAT), then by 74001 in an emergency with a break-glass reason."""
    person, _, hiv = _store(client, auth)
    with session_scope(app.state.engine) as session:
        _, plaintext = create_key(
            session=session, role=Role.CLINICIAN, facility_code="74001", label="BS. Nguyễn Văn Tổng hợp",
            secret=app.state.settings.secret_key,
        )  # fmt: skip
    reader = {"Authorization": f"Bearer {plaintext}", "X-Purpose-Of-Use": "TREAT"}
    assert client.get(f"/api/v1/persons/{person}", headers=reader).status_code == 200
    glass = reader | {"X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": quote(REASON)}
    assert client.get(f"/api/v1/persons/{person}/encounters/{hiv}", headers=glass).status_code == 200
    return person, hiv


def test_only_admins_sign_in(app: FastAPI, client: TestClient) -> None:
    assert "Khóa API quản trị" in client.get("/web/admin").text
    _sign_in(client, app, Role.CLINICIAN)
    assert client.get("/web/admin/access?person=1").status_code == 401


def test_the_patient_access_report_page(app: FastAPI, client: TestClient, reads: tuple[int, int]) -> None:
    person, _ = reads
    admin_id = _sign_in(client, app)
    page = client.get(f"/web/admin/access?person={person}&purpose=PATRQT")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    rows = _rows(page.text, "tr.access-row")
    # newest first; facility names, roles, purposes and actions in Vietnamese, never a staff name
    assert rows[0][2:6] == ["Bác sĩ", "Cấp cứu ETREAT", "Chi tiết lượt khám", "đã xem"]
    assert rows[1][2:6] == ["Bác sĩ", "Cấp cứu ETREAT", "Mở dữ liệu nhạy cảm", "đã xem"]
    assert rows[1][6] == REASON
    assert any(r[2:5] == ["Bác sĩ", "Điều trị TREAT", "Tóm tắt hồ sơ"] for r in rows)
    assert "74001 (chưa đăng ký)" in rows[0][1]
    assert "Nguyễn Văn Tổng hợp" not in page.text and "Không nêu tên nhân viên" in page.text
    english = client.get(f"/web/admin/access?person={person}&lang=en")
    assert "Who looked at this patient" in english.text and "Emergency treatment" in english.text
    switch = html.fromstring(english.text).get_element_by_id("lang-switch").get("href")
    assert switch == f"?person={person}&lang=vi"  # switching language keeps the person
    with app.state.engine.connect() as conn:
        viewed = conn.execute(select(events).where(events.c.action == "access_report").order_by(events.c.id)).all()
    assert [(e.actor, e.person_id, e.purpose) for e in viewed] == [(f"key:{admin_id}", person, "PATRQT")] * 2


def test_staff_are_named_only_when_the_policy_says_so(
    app: FastAPI, client: TestClient, reads: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    person, _ = reads
    _sign_in(client, app)
    app.state.settings = app.state.settings.model_copy(update={"access_report_staff": True})
    page = client.get(f"/web/admin/access?person={person}").text
    assert "BS. Nguyễn Văn Tổng hợp" in page and "Người xem" in page


def test_a_purpose_is_required_and_an_unknown_person_is_said_so(
    app: FastAPI, client: TestClient, reads: tuple[int, int]
) -> None:
    person, _ = reads
    _sign_in(client, app)
    refused = client.get(f"/web/admin/access?person={person}&purpose=TREAT")
    assert refused.status_code == 403 and "access-table" not in refused.text
    missing = client.get("/web/admin/access?person=999999")
    assert missing.status_code == 404 and "Không có người bệnh số 999999" in missing.text


def test_the_sensitive_access_report_page(app: FastAPI, client: TestClient, reads: tuple[int, int]) -> None:
    person, _ = reads
    _sign_in(client, app)
    page = client.get("/web/admin/sensitive-access")
    assert page.status_code == 200
    (row,) = _rows(page.text, "tr.sensitive-row")
    assert row[1:6] == ["74001 (chưa đăng ký)", "Bác sĩ", "Cấp cứu ETREAT", REASON, str(person)]
    assert row[6] == "1 HIV/AIDS" and row[7] == "Chi tiết lượt khám"
    assert "1 lượt" in page.text
    assert _rows(client.get("/web/admin/sensitive-access?facility=74002").text, "tr.sensitive-row") == []
    assert _rows(client.get("/web/admin/sensitive-access?since=2000-01-01").text, "tr.sensitive-row") == [row]
