"""Stewards' review API: queue, item, decision; purpose of use and audit; roles."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from mpi.audit.models import AuditEvent
from mpi.identity import links as L
from mpi.keys import Role
from tests.support import KeyFactory, ingest_encounters, linked_record

HOPERAT = {"X-Purpose-Of-Use": "HOPERAT"}


def _open_review(app: FastAPI) -> tuple[int, int, int]:
    engine = app.state.engine
    e1, e2 = ingest_encounters(engine, 2)
    with engine.begin() as conn:
        p1, p2 = L.create_person(conn, actor="test"), L.create_person(conn, actor="test")
        linked_record(conn, e1, p1)
        r2 = linked_record(conn, e2, p2)
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
    assert decided.json()["review"]["status"] == "same_person"
    assert decided.json()["next_review_id"] is None
    again = client.post(f"/api/v1/reviews/{review}/decision", headers=steward, json={"verdict": "different_person"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "review_closed")
    assert client.get("/api/v1/reviews", headers=steward).json()["total"] == 0
    with app.state.engine.connect() as conn:
        actions = conn.execute(select(AuditEvent.__table__.c.action).order_by(AuditEvent.__table__.c.id)).scalars()
        assert list(actions) == ["review_queue", "review_read", "review_decision", "review_queue"]


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


def test_decide_undo_and_follow_the_feed(app: FastAPI, client: TestClient, auth: KeyFactory) -> None:
    review, p1, p2 = _open_review(app)
    steward = auth(Role.STEWARD, None) | HOPERAT
    subscriber = auth(Role.SUBSCRIBER, None)
    with app.state.engine.connect() as conn:
        before = L.current_state(conn)
    start = client.get("/api/v1/events", headers=subscriber, params={"after": 0, "limit": 5000}).json()
    cursor = start["next_after"]
    assert [e["id"] for e in start["events"]] == list(range(1, cursor + 1))

    item = client.get(f"/api/v1/reviews/{review}", headers=steward).json()
    decided = client.post(
        f"/api/v1/reviews/{review}/decision",
        headers=steward,
        json={"verdict": "same_person", "seen_seq": item["seen_seq"]},
    ).json()
    feed = client.get("/api/v1/events", headers=subscriber, params={"after": cursor}).json()
    kinds = [e["kind"] for e in feed["events"]]
    assert kinds == ["review_resolved", "linked", "merged", "linked", "constraint_added"]
    assert {e["action_id"] for e in feed["events"]} == {decided["action_id"]}
    merged = feed["events"][2]
    assert (merged["person_id"], merged["other_person_id"]) == (p1, p2)
    assert feed["events"][1]["facility_code"] == "74001" and feed["events"][1]["ma_lk"].startswith("LK")

    undone = client.post(f"/api/v1/steward/actions/{decided['action_id']}/undo", headers=steward)
    assert undone.status_code == 200 and undone.json()["undoes_id"] == decided["action_id"]
    with app.state.engine.connect() as conn:
        assert L.current_state(conn) == before == L.replay_state(conn)
    again = client.post(f"/api/v1/steward/actions/{decided['action_id']}/undo", headers=steward)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_undone")
    tail = client.get("/api/v1/events", headers=subscriber, params={"after": feed["next_after"]}).json()
    assert [e["kind"] for e in tail["events"]] == [
        "constraint_removed", "linked", "unmerged", "linked", "review_reopened"
    ]  # fmt: skip
    assert client.get("/api/v1/events", headers=subscriber, params={"after": tail["next_after"]}).json() == {
        "events": [],
        "next_after": tail["next_after"],
    }
    # a stale page: the item changed after it was opened
    stale = client.post(
        f"/api/v1/reviews/{review}/decision",
        headers=steward,
        json={"verdict": "different_person", "seen_seq": item["seen_seq"]},
    )
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "changed_since")
    assert client.get("/api/v1/events", headers=auth(Role.CLINICIAN, "74001")).status_code == 403


def test_person_tools_merge_move_metrics(app: FastAPI, client: TestClient, auth: KeyFactory) -> None:
    review, p1, p2 = _open_review(app)
    steward = auth(Role.STEWARD, None) | HOPERAT
    preview = client.get(f"/api/v1/steward/persons/{p2}/merge-preview", headers=steward, params={"into": p1}).json()
    assert preview == {"survivor": p1, "merged_away": p2, "records_moving": 1, "conflicts": []}
    merged = client.post(f"/api/v1/steward/persons/{p2}/merge", headers=steward, json={"into_person_id": p1}).json()
    person = client.get(f"/api/v1/steward/persons/{p2}", headers=steward).json()
    assert (person["survivor"], person["replaced_by"], len(person["records"])) == (p1, p1, 2)
    assert person["history"][0]["kind"] == "merged" and person["history"][0]["action_id"] == merged["action_id"]
    record = person["records"][1]["source_record_id"]
    moved = client.post(f"/api/v1/steward/records/{record}/move", headers=steward, json={}).json()
    assert moved["person_id"] not in (p1, p2)
    blocked = client.post(f"/api/v1/steward/actions/{merged['action_id']}/undo", headers=steward)
    assert (blocked.status_code, blocked.json()["error"]["code"]) == (409, "changed_since")
    assert client.post(f"/api/v1/steward/actions/{moved['action_id']}/undo", headers=steward).status_code == 200
    assert client.post(f"/api/v1/steward/actions/{merged['action_id']}/undo", headers=steward).status_code == 200
    skipped = client.post(f"/api/v1/reviews/{review}/skip", headers=steward).json()
    assert skipped["review"]["skipped_at"] is not None
    metrics = client.get("/api/v1/steward/metrics", headers=steward).json()
    assert metrics["backlog"] == {"model_band": {"<1d": 1, "1-7d": 0, "7-30d": 0, ">30d": 0}}
    assert (metrics["actions"], metrics["undone"], metrics["undo_rate"]) == (2, 2, 1.0)
    bulk = client.get("/api/v1/steward/bulk/cccd_birth_year_one_side", headers=steward).json()
    assert (bulk["review_ids"], bulk["examined"]) == ([], 0)
    assert client.get("/api/v1/steward/bulk/nope", headers=steward).status_code == 404
