"""No 500 on any input, bounded bodies before parsing, one connection per request, identical concurrent
submissions answered 201 once and 200 ``duplicate`` otherwise: on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from api.app import create_app
from mpi.keys import Role
from mpi.settings import Settings
from mpi.store import Encounter, Submission
from tests.builders import envelope, outpatient
from tests.support import KeyFactory

TOO_BIG = str(2**31)
PURPOSE = {"X-Purpose-Of-Use": "TREAT"}


@pytest.fixture
def clinician(auth: KeyFactory) -> dict[str, str]:
    return {**auth(Role.CLINICIAN, "74001"), **PURPOSE}


@pytest.fixture
def module_clinician(module_auth: KeyFactory) -> dict[str, str]:
    """A clinician of the module's shared app (tests/plugins/apps.py), for the requests refused or answered 404."""
    return {**module_auth(Role.CLINICIAN, "74001"), **PURPOSE}


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/persons/{TOO_BIG}",
        f"/api/v1/persons/1/encounters/{TOO_BIG}",
        f"/api/v1/persons/1/timeline?offset={TOO_BIG}",
        "/api/v1/persons/١",
        "/api/v1/persons/²",
        f"/api/v1/referrals?offset={TOO_BIG}",
        f"/api/v1/appointments?offset={TOO_BIG}",
    ],
)
def test_out_of_range_and_non_ascii_numbers_are_422_not_500(
    module_client: TestClient, module_clinician: dict[str, str], path: str
) -> None:
    response = module_client.get(path, headers=module_clinician)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "request_invalid"


@pytest.mark.parametrize("patient_id", ["١", "²", TOO_BIG, str(2**63), "99999999999999999999999", "0"])
def test_fhir_patient_ids_that_are_not_ours_are_404_operation_outcomes(
    module_client: TestClient, module_clinician: dict[str, str], patient_id: str
) -> None:
    response = module_client.get(f"/fhir/Patient/{patient_id}", headers=module_clinician)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_body_over_the_limit_is_refused_before_authentication_and_parsing(module_client: TestClient) -> None:
    big = b'{"name": "' + b"A" * (1024 * 1024 + 10) + b'"}'
    response = module_client.post("/api/v1/persons/search", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413  # not 401: the body was refused before the key was looked at
    assert response.json()["error"]["code"] == "body_too_large"
    fhir = module_client.post("/fhir/Patient/$match", content=big, headers={"Content-Type": "application/fhir+json"})
    assert fhir.status_code == 413
    assert fhir.json()["resourceType"] == "OperationOutcome"


def test_a_streamed_body_without_length_is_bounded_too(module_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    response = module_client.post(
        "/api/v1/persons/search", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_a_malformed_content_length_is_400(module_client: TestClient) -> None:
    response = module_client.post("/api/v1/persons/search", content=b"{}", headers={"Content-Length": "²".encode()})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_length_invalid"


def test_nul_characters_are_refused_before_any_store_sees_them(
    module_client: TestClient, module_clinician: dict[str, str]
) -> None:
    assert module_client.get("/api/v1/encounters/74001/LK%00/person", headers=module_clinician).status_code == 400
    body = module_client.post("/api/v1/persons/search", json={"national_id": "0741\u00009"}, headers=module_clinician)
    assert body.status_code == 400
    assert body.json()["error"]["code"] == "nul_in_body"


def test_an_unexpected_error_is_a_clean_500_in_the_routes_error_shape(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("value 074190001234 must not be logged")

    @app.get("/fhir/boom")
    def fhir_boom() -> None:
        raise RuntimeError("value 074190001234 must not be logged")

    app.router.routes.insert(0, app.router.routes.pop())  # before the FHIR catch-all
    with TestClient(app) as client:
        rest = client.get("/api/v1/boom")
        fhir = client.get("/fhir/boom")
        assert client.get("/healthz").status_code == 200  # the client and the app carry on
    assert rest.status_code == 500 and rest.json() == {"error": {"code": "internal", "message": "internal error"}}
    assert fhir.status_code == 500 and fhir.json()["resourceType"] == "OperationOutcome"
    assert "RuntimeError" in caplog.text
    assert "074190001234" not in caplog.text
    app.state.engine.dispose()


def test_the_access_log_shows_route_templates_never_identifiers(
    module_client: TestClient, module_clinician: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="api.access")
    module_client.get("/fhir/Patient/074190001234", headers=module_clinician)
    module_client.get("/fhir/Patient/074190001234/$everything", headers=module_clinician)
    module_client.get("/no/such/074190001234", headers=module_clinician)
    assert "074190001234" not in caplog.text
    assert "GET /fhir/Patient/{patient_id} 404" in caplog.text


def _max_connections_in_use(app: FastAPI, action: callable) -> int:  # type: ignore[valid-type]
    in_use, peak, lock = 0, 0, threading.Lock()
    pool = app.state.engine.pool

    def checkout(*_: object) -> None:
        nonlocal in_use, peak
        with lock:
            in_use += 1
            peak = max(peak, in_use)

    def checkin(*_: object) -> None:
        nonlocal in_use
        with lock:
            in_use -= 1

    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        action()
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)
    return peak


def test_a_request_never_holds_two_connections(
    app: FastAPI, client: TestClient, clinician: dict[str, str], submitter: dict[str, str]
) -> None:
    data = envelope([outpatient("LK1"), outpatient("LK2")])
    headers = {**submitter, "Content-Type": "application/xml"}
    assert _max_connections_in_use(app, lambda: client.post("/api/v1/submissions", content=data, headers=headers)) == 1
    reads = [
        lambda: client.get("/api/v1/persons/1", headers=clinician),
        lambda: client.get("/api/v1/persons/1/timeline", headers=clinician),
        lambda: client.get("/fhir/Patient/1", headers=clinician),
    ]
    for read in reads:
        assert _max_connections_in_use(app, read) == 1


@pytest.mark.parametrize("hosos", [1, 12], ids=["one-hoso", "twelve-hoso"])
def test_identical_concurrent_submissions_201_once_then_200_duplicate(
    app: FastAPI, client: TestClient, submitter: dict[str, str], hosos: int
) -> None:
    data = envelope([outpatient(f"LK{i}") for i in range(hosos)])
    headers = {**submitter, "Content-Type": "application/xml"}
    barrier = threading.Barrier(6)
    answers: list[httpx.Response] = []

    def send() -> None:
        barrier.wait()
        answers.append(client.post("/api/v1/submissions", content=data, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 5 + [201], [a.text[:200] for a in answers if a.status_code >= 500]
    receipts = [a.json() for a in answers]
    assert len({r["submission_id"] for r in receipts}) == 1
    assert sum(1 for r in receipts if r["duplicate"]) == 5
    with app.state.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Submission)) == 1
        assert conn.scalar(select(func.count()).select_from(Encounter)) == hosos
