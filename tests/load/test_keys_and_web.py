"""Key lifecycle (expiry, rotation, last use, admin list/revoke), per-key read limits with an audit
alert, and the web page's hardening (Origin check, server-side sign-out, security headers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.web import session as web_session
from mpi.audit.models import AuditEvent
from mpi.keys import Role, create_key, rotate_key
from mpi.settings import Settings
from mpi.store import ApiKey, session_scope
from mpi.store.models import utcnow
from tests.support import TEST_SECRET

PURPOSE = {"X-Purpose-Of-Use": "TREAT"}


def _key(app: FastAPI, role: Role, facility: str | None = None, **kwargs: object) -> tuple[int, str]:
    with session_scope(app.state.engine) as session:
        key, plaintext = create_key(session=session, role=role, facility_code=facility, secret=TEST_SECRET, **kwargs)  # type: ignore[arg-type]
        assert key.id is not None
        return key.id, plaintext


def _bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


def test_an_expired_key_is_401(app: FastAPI, client: TestClient) -> None:
    key_id, plaintext = _key(app, Role.CLINICIAN, "74001", expires_at=utcnow() + timedelta(seconds=60))
    assert client.get("/api/v1/persons/1", headers={**_bearer(plaintext), **PURPOSE}).status_code == 404
    with session_scope(app.state.engine) as session:
        key = session.get(ApiKey, key_id)
        assert key is not None and key.last_used_at is not None  # last use recorded
        key.expires_at = utcnow() - timedelta(seconds=1)
    response = client.get("/api/v1/persons/1", headers={**_bearer(plaintext), **PURPOSE})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "key_expired"


def test_rotation_gives_a_new_key_and_ends_the_old_one_after_the_grace(app: FastAPI, client: TestClient) -> None:
    key_id, old = _key(app, Role.SUBMITTER, "74001")
    with session_scope(app.state.engine) as session:
        new_key, new = rotate_key(session=session, key_id=key_id, grace=timedelta(hours=1), secret=TEST_SECRET)
        assert new_key.role == "submitter" and new_key.facility_code == "74001"
    assert client.get("/api/v1/submissions/1", headers=_bearer(old)).status_code == 404  # still valid in the grace
    assert client.get("/api/v1/submissions/1", headers=_bearer(new)).status_code == 404
    with session_scope(app.state.engine) as session:
        rotate_key(session=session, key_id=new_key.id, grace=timedelta(0), secret=TEST_SECRET)  # type: ignore[arg-type]
    assert client.get("/api/v1/submissions/1", headers=_bearer(new)).json()["error"]["code"] == "key_expired"


def test_admins_list_and_revoke_keys_others_cannot(app: FastAPI, client: TestClient) -> None:
    _, admin = _key(app, Role.ADMIN)
    victim_id, victim = _key(app, Role.CLINICIAN, "74001")
    listed = client.get("/api/v1/keys", headers=_bearer(admin))
    assert listed.status_code == 200
    row = next(k for k in listed.json() if k["id"] == victim_id)
    assert set(row) >= {"prefix", "role", "expires_at", "last_used_at", "revoked_at"}
    assert "key_hash" not in row
    assert client.get("/api/v1/keys", headers=_bearer(victim)).status_code == 403
    assert client.post(f"/api/v1/keys/{victim_id}/revoke", headers=_bearer(admin)).status_code == 200
    assert client.get("/api/v1/persons/1", headers={**_bearer(victim), **PURPOSE}).status_code == 401


@pytest.fixture
def limited_app(migrated_sqlite: Callable[[str], str]) -> Iterator[FastAPI]:
    settings = Settings(
        env="test", secret_key=TEST_SECRET, database_url=migrated_sqlite("limited"),
        read_rate_per_minute=1, read_burst=3, read_alert_per_hour=2,
    )  # fmt: skip
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


def test_a_harvesting_client_gets_429_with_retry_after_and_an_audit_alert(limited_app: FastAPI) -> None:
    _, plaintext = _key(limited_app, Role.CLINICIAN, "74001")
    headers = {**_bearer(plaintext), **PURPOSE}
    with TestClient(limited_app) as client:
        statuses = [client.get(f"/api/v1/persons/{i}", headers=headers).status_code for i in range(1, 4)]
        assert statuses == [404, 404, 404]
        refused = client.get("/api/v1/persons/4", headers=headers)
        fhir = client.get("/fhir/Patient/4", headers=headers)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limited"
    assert fhir.status_code == 429 and fhir.json()["resourceType"] == "OperationOutcome"
    assert "Retry-After" in fhir.headers
    with limited_app.state.engine.connect() as conn:
        alerts = conn.execute(select(AuditEvent).where(AuditEvent.action == "alert.read_volume")).all()  # type: ignore[arg-type]
    assert len(alerts) == 1  # once an hour, not once per read


@pytest.fixture
def web(app: FastAPI, client: TestClient) -> str:
    return _key(app, Role.CLINICIAN, "74001")[1]


def test_sign_out_ends_the_session_server_side(client: TestClient, web: str) -> None:
    login = client.post("/web/clinician/login", data={"api_key": web}, follow_redirects=False)
    assert login.status_code == 303
    cookie = login.cookies[web_session.COOKIE]
    assert "search" in client.get("/web/clinician", cookies={web_session.COOKIE: cookie}).text.lower()
    client.post("/web/clinician/logout", cookies={web_session.COOKIE: cookie})
    client.cookies.clear()
    page = client.get("/web/clinician", cookies={web_session.COOKIE: cookie})  # the copied cookie
    assert 'name="api_key"' in page.text  # back at the sign-in form


def test_a_form_posted_from_another_origin_is_refused(client: TestClient, web: str) -> None:
    response = client.post(
        "/web/clinician/login", data={"api_key": web}, headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 403
    same = client.post(
        "/web/clinician/login", data={"api_key": web}, headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )  # fmt: skip
    assert same.status_code == 303


def test_patient_data_answers_carry_no_store_and_the_pages_a_csp(client: TestClient) -> None:
    page = client.get("/web/clinician")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    api = client.get("/api/v1/persons/1")
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-frame-options"] == "DENY"
