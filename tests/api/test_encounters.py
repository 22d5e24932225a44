"""``GET /api/v1/encounters/{facility_code}/{ma_lk}/person`` on both back ends: roles, 404, merges."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from mpi.audit.models import AuditEvent
from mpi.keys import Role
from tests.evaluation.stores import small_store
from tests.support import KeyFactory

URL = "/api/v1/encounters/{}/{}/person"
events = AuditEvent.__table__  # type: ignore[attr-defined]
TREAT = {"X-Purpose-Of-Use": "TREAT"}
HOPERAT = {"X-Purpose-Of-Use": "HOPERAT"}


def test_clinicians_and_stewards_read_the_person_after_merges(
    app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    persons = small_store(app.state.engine)
    for headers in (auth(Role.CLINICIAN, "74002") | TREAT, auth(Role.STEWARD, None) | HOPERAT):
        response = client.get(URL.format("74001", "C1"), headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "facility_code": "74001", "ma_lk": "C1", "version": 1, "person_id": persons["mother"],
            "link_state": "auto", "match_probability": None, "model_id": None,
        }  # fmt: skip
    body = client.get(URL.format("74001", "A1"), headers=auth(Role.CLINICIAN, "74001") | TREAT).json()
    assert (body["version"], body["person_id"]) == (2, persons["mother"])
    review = client.get(URL.format("74001", "K1"), headers=auth(Role.STEWARD, None) | HOPERAT).json()
    assert (review["link_state"], review["person_id"]) == ("review", persons["child"])


def test_unknown_encounter_is_404(app: FastAPI, client: TestClient, auth: KeyFactory) -> None:
    response = client.get(URL.format("74001", "NOPE"), headers=auth(Role.CLINICIAN, "74001") | TREAT)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_without_a_key_401_and_other_roles_403(client: TestClient, auth: KeyFactory) -> None:
    assert client.get(URL.format("74001", "A1")).status_code == 401
    for role, facility in ((Role.SUBMITTER, "74001"), (Role.ANALYST, None), (Role.ADMIN, None)):
        response = client.get(URL.format("74001", "A1"), headers=auth(role, facility) | HOPERAT)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "role_forbidden"


def test_every_read_needs_its_purpose_and_refusals_are_audited(
    app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    small_store(app.state.engine)
    clinician, steward = auth(Role.CLINICIAN, "74002"), auth(Role.STEWARD, None)
    for headers, code in (
        (clinician, "purpose_required"),
        (clinician | HOPERAT, "purpose_invalid"),  # a steward's purpose is not a clinician's
        (steward | TREAT, "purpose_invalid"),
    ):
        response = client.get(URL.format("74001", "C1"), headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (403, code)
    with app.state.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.action, events.c.outcome, events.c.resource, events.c.person_id).order_by(events.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("encounter_person", "denied", "GET /api/v1/encounters/{facility_code}/{ma_lk}/person", None)
    ] * 3
