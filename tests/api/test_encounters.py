"""``GET /api/v1/encounters/{facility_code}/{ma_lk}/person`` on both back ends: roles, 404, merges."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mpi.keys import Role
from tests.api.conftest import KeyFactory
from tests.evaluation.stores import small_store

URL = "/api/v1/encounters/{}/{}/person"


def test_clinicians_and_stewards_read_the_person_after_merges(
    app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    persons = small_store(app.state.engine)
    for headers in (auth(Role.CLINICIAN, "74002"), auth(Role.STEWARD, None)):
        response = client.get(URL.format("74001", "C1"), headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "facility_code": "74001", "ma_lk": "C1", "version": 1, "person_id": persons["mother"],
            "link_state": "auto", "match_probability": None, "model_id": None,
        }  # fmt: skip
    body = client.get(URL.format("74001", "A1"), headers=auth(Role.CLINICIAN, "74001")).json()
    assert (body["version"], body["person_id"]) == (2, persons["mother"])
    review = client.get(URL.format("74001", "K1"), headers=auth(Role.STEWARD, None)).json()
    assert (review["link_state"], review["person_id"]) == ("review", persons["child"])


def test_unknown_encounter_is_404(app: FastAPI, client: TestClient, auth: KeyFactory) -> None:
    response = client.get(URL.format("74001", "NOPE"), headers=auth(Role.CLINICIAN, "74001"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_without_a_key_401_and_other_roles_403(client: TestClient, auth: KeyFactory) -> None:
    assert client.get(URL.format("74001", "A1")).status_code == 401
    for role, facility in ((Role.SUBMITTER, "74001"), (Role.ANALYST, None), (Role.ADMIN, None)):
        response = client.get(URL.format("74001", "A1"), headers=auth(role, facility))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "role_forbidden"
