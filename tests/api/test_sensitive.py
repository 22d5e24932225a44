"""Sensitive data in REST: an HIV encounter is withheld from other facilities, the record says it exists,
break-glass (ETREAT + typed reason) reveals it and is audited as such, the producing facility sees it."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from mpi.audit.models import AuditEvent
from mpi.keys import Role
from mpi.records.sensitivity import SensitivityPolicy
from tests import builders as b
from tests.support import KeyFactory

events = AuditEvent.__table__  # type: ignore[attr-defined]
REASON = "Cấp cứu: hôn mê, cần biết thuốc đang dùng"


def _store(client: TestClient, auth: KeyFactory) -> tuple[int, int, int]:
    """A person with an ordinary visit at 74001 and an HIV visit at 74002 (same CCCD)."""
    for facility, hoso in (("74001", b.outpatient("LKA", "74001")), ("74002", b.hiv_visit("LKH"))):
        response = client.post(
            "/api/v1/submissions", content=b.envelope([hoso], facility=facility),
            headers=auth(Role.SUBMITTER, facility) | {"Content-Type": "application/xml"},
        )  # fmt: skip
        assert response.status_code == 201, response.text
    admin = auth(Role.CLINICIAN, "74002") | {"X-Purpose-Of-Use": "TREAT"}
    found = client.post("/api/v1/persons/search", json={"national_id": "074190001234"}, headers=admin).json()
    (candidate,) = found["candidates"]
    person = candidate["person_id"]
    timeline = client.get(f"/api/v1/persons/{person}/timeline", headers=admin).json()
    by_facility = {e["facility_code"]: e["encounter_id"] for e in timeline["entries"]}
    return person, by_facility["74001"], by_facility["74002"]


def test_hiv_encounter_withheld_marked_and_revealed_by_break_glass(
    app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    person, ordinary, hiv = _store(client, auth)
    other = auth(Role.CLINICIAN, "74001") | {"X-Purpose-Of-Use": "TREAT"}

    summary = client.get(f"/api/v1/persons/{person}", headers=other).json()
    assert summary["withheld_encounters"] == 1
    assert [f["facility_code"] for f in summary["facilities"]] == ["74001"]
    assert "B24" not in {d["code"] for d in summary["recurring_diagnoses"]}
    timeline = client.get(f"/api/v1/persons/{person}/timeline", headers=other).json()
    assert ([e["encounter_id"] for e in timeline["entries"]], timeline["total"]) == ([ordinary], 1)
    assert timeline["withheld_encounters"] == 1
    refused = client.get(f"/api/v1/persons/{person}/encounters/{hiv}", headers=other)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "sensitive_withheld")

    # a reason with TREAT is not enough; ETREAT without a reason neither
    glass = {"X-Break-Glass-Reason": quote(REASON)}
    assert client.get(f"/api/v1/persons/{person}/timeline", headers=other | glass).json()["withheld_encounters"] == 1
    emergency = other | {"X-Purpose-Of-Use": "ETREAT"}
    assert client.get(f"/api/v1/persons/{person}/timeline", headers=emergency).json()["withheld_encounters"] == 1
    short = client.get(f"/api/v1/persons/{person}", headers=emergency | {"X-Break-Glass-Reason": "xem"})
    assert (short.status_code, short.json()["error"]["code"]) == (422, "break_glass_invalid")

    opened = client.get(f"/api/v1/persons/{person}/encounters/{hiv}", headers=emergency | glass)
    assert opened.status_code == 200
    assert (opened.json()["sensitivity"], opened.json()["disclosure"]) == (["hiv"], "revealed")
    revealed = client.get(f"/api/v1/persons/{person}/timeline", headers=emergency | glass).json()
    assert (revealed["total"], revealed["withheld_encounters"], revealed["revealed_encounters"]) == (2, 0, [hiv])

    with app.state.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.action, events.c.outcome, events.c.purpose, events.c.record_ids, events.c.details)
            .where(events.c.person_id == person, events.c.action.in_(["break_glass", "encounter"]))
            .order_by(events.c.id)
        ).all()  # fmt: skip
        denied = conn.execute(
            select(events.c.action, events.c.details).where(events.c.outcome == "denied").order_by(events.c.id)
        ).all()
    assert [(r.action, r.outcome, r.purpose, r.record_ids) for r in rows] == [
        ("break_glass", "ok", "ETREAT", [hiv]), ("encounter", "ok", "ETREAT", [hiv]),
        ("break_glass", "ok", "ETREAT", [hiv]),
    ]  # fmt: skip
    assert rows[0].details == {"reason": REASON, "categories": ["hiv"], "read": "encounter"}
    assert [(a, d["code"]) for a, d in denied] == [("encounter", "sensitive_withheld")]


def test_the_producing_facility_always_sees_its_own_data(client: TestClient, auth: KeyFactory) -> None:
    person, _, hiv = _store(client, auth)
    own = auth(Role.CLINICIAN, "74002") | {"X-Purpose-Of-Use": "TREAT"}
    assert client.get(f"/api/v1/persons/{person}", headers=own).json()["withheld_encounters"] == 0
    detail = client.get(f"/api/v1/persons/{person}/encounters/{hiv}", headers=own).json()
    assert (detail["sensitivity"], detail["disclosure"]) == (["hiv"], "own_facility")


def _sign_in(client: TestClient, headers: dict[str, str]) -> None:
    key = headers["Authorization"].removeprefix("Bearer ")
    assert client.post("/web/clinician/login", data={"api_key": key}, follow_redirects=False).status_code == 303


def test_pages_withhold_mark_and_break_the_glass(app: FastAPI, client: TestClient, auth: KeyFactory) -> None:
    person, ordinary, hiv = _store(client, auth)
    _sign_in(client, auth(Role.CLINICIAN, "74001"))
    page = client.get(f"/web/clinician/persons/{person}", params={"purpose": "TREAT"})
    assert page.status_code == 200
    html = page.text
    assert 'id="withheld"' in html and "Có 1 lượt khám chứa dữ liệu nhạy cảm đã được ẩn." in html
    assert "TRẦN THỊ MINH THƯ" in html and "Nữ" in html  # banner: name, sex by its label
    assert f"/encounters/{hiv}" not in html and "B24" not in html
    assert "Nhiễm trùng đường hô hấp trên cấp, không đặc hiệu" in html  # ICD-10 J06.9 by its name
    refused = client.get(f"/web/clinician/persons/{person}/encounters/{hiv}", params={"purpose": "TREAT"})
    assert refused.status_code == 403

    not_enough = client.post(f"/web/clinician/persons/{person}", data={"purpose": "TREAT", "reason": REASON})
    assert 'id="not-allowed"' in not_enough.text and f"/encounters/{hiv}" not in not_enough.text
    opened = client.post(f"/web/clinician/persons/{person}", data={"purpose": "ETREAT", "reason": REASON})
    assert opened.status_code == 200
    assert 'id="revealed"' in opened.text and f"/encounters/{hiv}" in opened.text and 'id="withheld"' not in opened.text
    detail = client.post(
        f"/web/clinician/persons/{person}/encounters/{hiv}", data={"purpose": "ETREAT", "reason": REASON}
    )
    assert detail.status_code == 200 and "HIV/AIDS" in detail.text
    for path, title in (("referrals", "Người bệnh được chuyển đến cơ sở"), ("appointments", "Lịch hẹn khám lại")):
        worklist = client.get(f"/web/clinician/{path}")
        assert worklist.status_code == 200 and title in worklist.text
    english = client.get(f"/web/clinician/persons/{person}", params={"purpose": "TREAT", "lang": "en"})
    assert "1 encounters with sensitive data are withheld." in english.text
    with app.state.engine.connect() as conn:
        glass = conn.execute(
            select(events.c.resource, events.c.record_ids, events.c.details).where(events.c.action == "break_glass")
        ).all()
    assert [(r.resource, r.record_ids, r.details["reason"]) for r in glass] == [
        ("POST /web/clinician/persons/{person_id}", [hiv], REASON),
        ("POST /web/clinician/persons/{person_id}/encounters/{encounter_id}", [hiv], REASON),
    ]
    del ordinary


def test_the_patient_access_report_as_fhir_audit_events(client: TestClient, auth: KeyFactory) -> None:
    person, _, hiv = _store(client, auth)
    emergency = auth(Role.CLINICIAN, "74001") | {"X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": quote(REASON)}
    assert client.get(f"/api/v1/persons/{person}/encounters/{hiv}", headers=emergency).status_code == 200
    admin = auth(Role.ADMIN, None)
    assert client.get("/fhir/AuditEvent", params={"patient": f"Patient/{person}"}, headers=admin).status_code == 403
    bundle = client.get(
        "/fhir/AuditEvent", params={"patient": f"Patient/{person}"}, headers=admin | {"X-Purpose-Of-Use": "PATRQT"}
    ).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    events_ = [e["resource"] for e in bundle["entry"]]
    assert {e["resourceType"] for e in events_} == {"AuditEvent"}
    newest = events_[0]  # newest first: the encounter read, and just before it its break-glass event
    assert newest["agent"][0]["who"]["identifier"]["value"] == "74001"
    assert newest["entity"][0]["what"]["reference"] == f"Patient/{person}"
    codes = [[c["code"] for p in e["agent"][0].get("purposeOfUse", []) for c in p["coding"]] for e in events_]
    assert ["ETREAT", "BTG"] in codes
    assert all("Bearer" not in str(e) and "key:" not in str(e) for e in events_)  # no staff identity
    clinician = auth(Role.CLINICIAN, "74001") | {"X-Purpose-Of-Use": "TREAT"}
    forbidden = client.get("/fhir/AuditEvent", params={"patient": str(person)}, headers=clinician)
    assert forbidden.status_code == 403


def test_the_department_lists_break_glass_access(client: TestClient, auth: KeyFactory) -> None:
    person, _, hiv = _store(client, auth)
    emergency = auth(Role.CLINICIAN, "74001") | {"X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": quote(REASON)}
    assert client.get(f"/api/v1/persons/{person}/timeline", headers=emergency).status_code == 200
    admin = auth(Role.ADMIN, None)
    report = client.get("/api/v1/audit/sensitive-access", headers=admin).json()
    assert report["total"] == 1
    (entry,) = report["entries"]
    assert (entry["facility_code"], entry["purpose"], entry["person_id"], entry["record_ids"]) == (
        "74001", "ETREAT", person, [hiv],
    )  # fmt: skip
    assert entry["details"]["reason"] == REASON and entry["details"]["categories"] == ["hiv"]
    assert (
        client.get("/api/v1/audit/sensitive-access", params={"facility": "74009"}, headers=admin).json()["total"] == 0
    )
    assert client.get("/api/v1/audit/sensitive-access", headers=emergency).status_code == 403


def test_a_granted_facility_reveals_its_category_with_a_reason(
    app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    person, _, hiv = _store(client, auth)
    app.state.sensitivity = SensitivityPolicy.from_settings("hiv,tb", "ETREAT", "74001:hiv")
    clinic = auth(Role.CLINICIAN, "74001") | {"X-Purpose-Of-Use": "TREAT"}
    assert client.get(f"/api/v1/persons/{person}", headers=clinic).json()["withheld_encounters"] == 1
    opened = client.get(f"/api/v1/persons/{person}", headers=clinic | {"X-Break-Glass-Reason": quote(REASON)})
    assert (opened.json()["withheld_encounters"], opened.json()["revealed_encounters"]) == (0, [hiv])
    app.state.sensitivity = SensitivityPolicy.from_settings("hiv,tb", "ETREAT", "74001:tb")
    still = client.get(f"/api/v1/persons/{person}", headers=clinic | {"X-Break-Glass-Reason": quote(REASON)})
    assert still.json()["withheld_encounters"] == 1


def _key(app: FastAPI, facility: str, grants: str | None) -> dict[str, str]:
    from mpi.keys import create_key
    from mpi.store import session_scope

    with session_scope(app.state.engine) as session:
        _, plaintext = create_key(
            session=session, role=Role.CLINICIAN, facility_code=facility, grants=grants,
            secret=app.state.settings.secret_key,
        )  # fmt: skip
    return {"Authorization": f"Bearer {plaintext}", "X-Purpose-Of-Use": "TREAT"}


def test_a_key_granted_a_category_reveals_it_with_a_reason_and_is_audited(
    app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    person, _, hiv = _store(client, auth)
    glass = {"X-Break-Glass-Reason": quote(REASON)}
    hiv_clinic, tb_clinic, plain = _key(app, "74001", "hiv"), _key(app, "74001", "tb"), _key(app, "74001", None)
    # without a typed reason a grant reveals nothing
    assert client.get(f"/api/v1/persons/{person}", headers=hiv_clinic).json()["withheld_encounters"] == 1
    opened = client.get(f"/api/v1/persons/{person}/encounters/{hiv}", headers=hiv_clinic | glass)
    assert (opened.status_code, opened.json()["disclosure"]) == (200, "revealed")
    for key in (tb_clinic, plain):  # another category's grant, or none: TREAT + reason is not a break-glass
        refused = client.get(f"/api/v1/persons/{person}/encounters/{hiv}", headers=key | glass)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "sensitive_withheld")
    # FHIR reads the same grant
    everything = client.get(f"/fhir/Patient/{person}/$everything", headers=hiv_clinic | glass).json()
    assert str(hiv) in {
        e["resource"]["id"] for e in everything["entry"] if e["resource"]["resourceType"] == "Encounter"
    }
    with app.state.engine.connect() as conn:
        reveals = conn.execute(
            select(events.c.purpose, events.c.record_ids, events.c.details).where(events.c.action == "break_glass")
        ).all()
    assert [(r.purpose, r.record_ids, r.details["reason"]) for r in reveals] == [("TREAT", [hiv], REASON)] * 2


def test_grants_are_for_clinician_keys_and_known_categories(app: FastAPI) -> None:
    import pytest

    from mpi.errors import MPIError
    from mpi.keys import create_key, grant_key, key_grants
    from mpi.store import session_scope

    with session_scope(app.state.engine) as session:
        with pytest.raises(MPIError, match="only clinician keys"):
            create_key(session=session, role=Role.STEWARD, grants="hiv", secret="x" * 16)
        with pytest.raises(MPIError, match="unknown sensitive categories"):
            create_key(
                session=session, role=Role.CLINICIAN, facility_code="74001", grants="hiv,cancer", secret="x" * 16
            )
        key, _ = create_key(
            session=session, role=Role.CLINICIAN, facility_code="74001", grants="TB, hiv", secret="x" * 16
        )
        assert key.sensitive_grants == "hiv,tb"
        assert key_grants(grant_key(session=session, key_id=key.id or 0, categories="")) == frozenset()
