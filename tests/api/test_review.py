"""Stewards' review API: queue, item, decision; purpose of use and audit; roles."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from mpi.audit.models import AuditEvent
from mpi.identity import links as L
from mpi.keys import Role
from tests.api.conftest import KeyFactory
from tests.identity.test_links import _encounters, _record

HOPERAT = {"X-Purpose-Of-Use": "HOPERAT"}


def _open_review(app: FastAPI) -> tuple[int, int, int]:
    engine = app.state.engine
    e1, e2 = _encounters(engine, 2)
    with engine.begin() as conn:
        p1, p2 = L.create_person(conn, actor="test"), L.create_person(conn, actor="test")
        _record(conn, e1, p1)
        r2 = _record(conn, e2, p2)
        review = L.open_review(
            conn,
            source_record_id=r2,
            candidate_person_id=p1,
            reason="model_band",
            actor="system",
            match_probability=0.7,
        )
    return review, p1, p2


def test_a_steward_reads_the_queue_and_decides_with_an_audited_purpose(
    app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    review, p1, p2 = _open_review(app)
    steward = auth(Role.STEWARD, None) | HOPERAT
    queue = client.get("/api/v1/reviews", headers=steward)
    assert queue.status_code == 200
    assert (queue.json()["total"], [i["id"] for i in queue.json()["items"]]) == (1, [review])
    item = client.get(f"/api/v1/reviews/{review}", headers=steward).json()
    assert (item["record_person_id"], item["candidate_person_id"], item["reason"]) == (p2, p1, "model_band")
    decided = client.post(f"/api/v1/reviews/{review}/decision", headers=steward, json={"verdict": "same_person"})
    assert decided.status_code == 200
    assert decided.json()["status"] == "same_person"
    again = client.post(f"/api/v1/reviews/{review}/decision", headers=steward, json={"verdict": "different_person"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "review_closed")
    assert client.get("/api/v1/reviews", headers=steward).json()["total"] == 0
    events = AuditEvent.__table__  # type: ignore[attr-defined]
    with app.state.engine.connect() as conn:
        actions = conn.execute(select(events.c.action, events.c.outcome).order_by(events.c.id)).all()
    assert [tuple(a) for a in actions] == [
        ("review_queue", "ok"), ("review_read", "ok"), ("review_decision", "ok"),
        ("review_decision", "conflict"),  # the second decision on a closed item, refused and audited
        ("review_queue", "ok"),
    ]  # fmt: skip


def test_reviews_need_a_steward_and_a_purpose(app: FastAPI, client: TestClient, auth: KeyFactory) -> None:
    _open_review(app)
    for role, facility in (
        (Role.CLINICIAN, "74001"), (Role.SUBMITTER, "74001"), (Role.ANALYST, None), (Role.ADMIN, None)
    ):  # fmt: skip - an admin manages keys, not identities: the review queue is for stewards only
        response = client.get("/api/v1/reviews", headers=auth(role, facility) | HOPERAT)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "role_forbidden")
    steward = auth(Role.STEWARD, None)
    missing = client.get("/api/v1/reviews", headers=steward)
    assert (missing.status_code, missing.json()["error"]["code"]) == (403, "purpose_required")
    wrong = client.get("/api/v1/reviews", headers=steward | {"X-Purpose-Of-Use": "TREAT"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "purpose_invalid")
    assert client.get("/api/v1/reviews/999", headers=steward | HOPERAT).status_code == 404
