"""Stewards' review API: queue, item, decision; purpose of use and audit; roles."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from mpi.audit.models import AuditEvent
from mpi.audit.writer import writer_for
from mpi.identity import links as L
from mpi.keys import Role
from tests.support import KeyFactory, ingest_encounters, key_factory, linked_record

HOPERAT = {"X-Purpose-Of-Use": "HOPERAT"}
events = AuditEvent.__table__  # type: ignore[attr-defined]


def _audit(app: FastAPI) -> list[tuple[str, str, str, str | None]]:
    """(action, outcome, resource, purpose) of every audit event, oldest first."""
    writer_for(app.state.engine).flush()
    with app.state.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.action, events.c.outcome, events.c.resource, events.c.purpose).order_by(events.c.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


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
    queue_read = ("review_queue", "ok", "GET /api/v1/reviews", "HOPERAT")
    decision = "POST /api/v1/reviews/{review_id}/decision"
    assert _audit(app) == [
        queue_read,
        ("review_read", "ok", "GET /api/v1/reviews/{review_id}", "HOPERAT"),
        ("review_decision", "ok", decision, "HOPERAT"),
        ("review_decision", "conflict", decision, "HOPERAT"),  # the refused second decision is audited too
        queue_read,
    ]


def test_reviews_need_a_steward_and_a_purpose(app: FastAPI, client: TestClient, auth: KeyFactory) -> None:
    _open_review(app)
    for role, facility in (
        (Role.CLINICIAN, "74001"),
        (Role.SUBMITTER, "74001"),
        (Role.ANALYST, None),
        (Role.ADMIN, None),
    ):  # fmt: skip - an admin manages keys, not identities: the review queue is for stewards only
        response = client.get("/api/v1/reviews", headers=auth(role, facility) | HOPERAT)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "role_forbidden")
    steward = auth(Role.STEWARD, None)
    missing = client.get("/api/v1/reviews", headers=steward)
    assert (missing.status_code, missing.json()["error"]["code"]) == (403, "purpose_required")
    wrong = client.get("/api/v1/reviews", headers=steward | {"X-Purpose-Of-Use": "TREAT"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "purpose_invalid")
    assert client.get("/api/v1/reviews/999", headers=steward | HOPERAT).status_code == 404
    queue = ("review_queue", "denied", "GET /api/v1/reviews")
    assert [r[:3] for r in _audit(app)] == [queue] * 6 + [
        ("review_read", "not_found", "GET /api/v1/reviews/{review_id}")
    ]
    assert [r[3] for r in _audit(app)] == ["HOPERAT"] * 4 + [None, "TREAT", "HOPERAT"]


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


def _web_sign_in(client: TestClient, app: FastAPI, role: Role) -> None:
    headers = key_factory(app)(role, "74001" if role is Role.CLINICIAN else None)
    plaintext = headers["Authorization"].removeprefix("Bearer ")
    page = "/web/steward" if role is Role.STEWARD else "/web/clinician"
    assert client.post(f"{page}/login", data={"api_key": plaintext}, follow_redirects=False).status_code == 303


def test_steward_pages_and_actions_are_audited_reads_of_their_route(app: FastAPI, client: TestClient) -> None:
    review, p1, p2 = _open_review(app)
    _web_sign_in(client, app, Role.STEWARD)
    assert client.get(f"/web/steward/items/{review}").status_code == 200
    assert client.get(f"/web/steward/persons/{p1}").status_code == 200
    assert client.get("/web/steward/persons/999999").status_code == 404
    merged = client.post(f"/web/steward/persons/{p2}/merge", data={"into": p1}, follow_redirects=False)
    assert merged.status_code == 303
    assert _audit(app) == [
        ("steward_item_page", "ok", "GET /web/steward/items/{review_id}", "HOPERAT"),
        ("steward_person_page", "ok", "GET /web/steward/persons/{person_id}", "HOPERAT"),
        ("steward_person_page", "not_found", "GET /web/steward/persons/{person_id}", "HOPERAT"),
        ("steward_merge", "ok", "POST /web/steward/persons/{person_id}/merge", "HOPERAT"),
    ]
    with app.state.engine.connect() as conn:
        item, person = conn.execute(
            select(events.c.person_id, events.c.record_ids, events.c.details).order_by(events.c.id).limit(2)
        ).all()
    assert (item.person_id, item.details) == (p1, {"review_id": review})
    assert len(item.record_ids) == 2  # the record under review and the candidate's record
    assert person.person_id == p1


def test_a_steward_page_refused_to_another_role_is_audited_as_denied(app: FastAPI, client: TestClient) -> None:
    review, _, _ = _open_review(app)
    _web_sign_in(client, app, Role.CLINICIAN)
    page = client.get(f"/web/steward/items/{review}")
    assert page.status_code == 401 and 'name="api_key"' in page.text  # the steward sign-in form, nothing else
    assert (
        client.post(f"/web/steward/items/{review}/decide", data={"verdict": "same_person", "seen_seq": 0}).status_code
        == 401
    )
    assert _audit(app) == [
        ("steward_item_page", "denied", "GET /web/steward/items/{review_id}", "HOPERAT"),
        ("steward_decision", "denied", "POST /web/steward/items/{review_id}/decide", "HOPERAT"),
    ]
    with app.state.engine.connect() as conn:
        assert conn.execute(select(L.reviews.c.status)).scalar_one() == "open"


def test_steward_api_reads_name_their_route_and_refusals_are_audited(
    app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    _, _, p2 = _open_review(app)
    steward = auth(Role.STEWARD, None) | HOPERAT
    assert client.get(f"/api/v1/steward/persons/{p2}", headers=steward).status_code == 200
    clinician = auth(Role.CLINICIAN, "74001") | {"X-Purpose-Of-Use": "TREAT"}
    assert client.get(f"/api/v1/steward/persons/{p2}", headers=clinician).status_code == 403
    assert client.get("/api/v1/steward/metrics", headers=auth(Role.STEWARD, None)).status_code == 403
    subscriber = auth(Role.SUBSCRIBER, None)
    assert client.get("/api/v1/events", headers=subscriber).status_code == 200
    person = "GET /api/v1/steward/persons/{person_id}"
    assert _audit(app) == [
        ("steward_person", "ok", person, "HOPERAT"),
        ("steward_person", "denied", person, "TREAT"),
        ("steward_metrics", "denied", "GET /api/v1/steward/metrics", None),
        ("event_feed", "ok", "GET /api/v1/events", None),  # ids only: no purpose of use
    ]
