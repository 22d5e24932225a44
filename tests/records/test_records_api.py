"""The issue's "Done when", end to end through REST on both back ends, and the access rules around it.

A clinician of facility B finds a patient referred from facility A by CCCD and by name + date of birth,
reads A's encounters with drugs and lab results, sees the referral in B's list turn "received" once B's
encounter is ingested, and an admin finds every one of those reads in the audit log.
"""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from api.schemas_records import EncounterDetailOut, PersonSummaryOut, TimelineOut
from mpi.keys import Role
from tests.plugins.province import Store
from tests.records.province import ingest_held_back
from tests.support import KeyFactory, key_actor

SEARCH = "/api/v1/persons/search"


def _referral(client: TestClient, headers: dict[str, str], ma_lk_a: str, store: Store) -> dict[str, object]:
    body = client.get("/api/v1/referrals", headers=headers).json()
    s = store.province.scenario
    mine = [
        r
        for r in body["entries"]
        if r["sender"] == s.facility_a and r["referral_number"] == f"{s.facility_a}/{ma_lk_a}"
    ]
    assert len(mine) == 1
    return mine[0]


def test_clinician_at_b_finds_the_referred_patient_reads_a_history_and_every_read_is_audited(
    store: Store, app: FastAPI, client: TestClient, auth: KeyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = store.province.scenario
    clinician = auth(Role.CLINICIAN, s.facility_b, purpose="COC")
    actor = key_actor(clinician, app)

    # 1. by CCCD: exactly one person, certain
    found = client.post(SEARCH, json={"national_id": s.cccd}, headers=clinician)
    assert found.status_code == 200
    (candidate,) = found.json()["candidates"]
    assert candidate["grade"] == "certain"
    assert candidate["matched_on"] == ["national_id"]
    person_id = candidate["person_id"]

    # 2. by name + date of birth: the same person ranks first, certain, with the model's reason
    by_name = client.post(SEARCH, json={"name": s.name, "birth_date": s.birth_date}, headers=clinician).json()
    first = by_name["candidates"][0]
    assert first["person_id"] == person_id
    assert first["grade"] in ("certain", "probable")
    assert "given: Exact match" in first["reason"]
    assert "dob: Exact match (day precision)" in first["reason"]
    assert len(by_name["candidates"]) <= 10

    # 3. the timeline holds A's encounter (the referral out) ...
    timeline = client.get(f"/api/v1/persons/{person_id}/timeline", headers=clinician).json()
    at_a = [e for e in timeline["entries"] if e["facility_code"] == s.facility_a and e["ma_lk"] == s.ma_lk_a]
    assert len(at_a) == 1
    assert at_a[0]["referred_to"] == s.facility_b
    assert timeline["total"] == len(timeline["entries"])
    assert all(e["facility_code"] != s.facility_b or e["ma_lk"] != s.ma_lk_b for e in timeline["entries"])

    # 4. ... whose detail has drugs with dose and route, and lab results with values and units
    detail = client.get(f"/api/v1/persons/{person_id}/encounters/{at_a[0]['encounter_id']}", headers=clinician)
    assert detail.status_code == 200
    d = detail.json()
    assert d["person_id"] == person_id
    assert len(d["drugs"]) >= 1 and all(x["name"] and x["dose"] and x["route"] for x in d["drugs"])
    xml4 = next(t for t in d["tables"] if t["table"] == "XML4")
    assert len(d["lab_results"]) == len(xml4["rows"])
    measured = [x for x in d["lab_results"] if x["value"] is not None]
    assert len(measured) >= 1 and all(x["name"] and x["unit"] for x in measured)
    assert all(x["value"] or x["conclusion"] or x["description"] for x in d["lab_results"])
    assert {t["table"] for t in d["tables"]} >= {"XML1", "XML2", "XML4", "XML13"}
    referral_table = next(t for t in d["tables"] if t["table"] == "XML13")
    assert referral_table["rows"][0]["fields"]["MA_NOI_DEN"] == s.facility_b

    # 5. the referral is in B's list, pending or overdue, with the person and a summary of prior records
    before = _referral(client, clinician, s.ma_lk_a, store)
    assert before["status"] in ("pending", "overdue")
    assert before["person_id"] == person_id
    assert before["received_encounter_id"] is None
    assert before["prior"]["encounter_count"] == timeline["total"]

    # 6. B's encounter arrives: the referral is received, pointing at it
    ingest_held_back(store.engine, store.province, store.linker)
    after = _referral(client, clinician, s.ma_lk_a, store)
    assert after["status"] == "received"
    assert after["person_id"] == person_id
    timeline_after = client.get(f"/api/v1/persons/{person_id}/timeline", headers=clinician).json()
    (at_b,) = [e for e in timeline_after["entries"] if e["facility_code"] == s.facility_b and e["ma_lk"] == s.ma_lk_b]
    assert after["received_encounter_id"] == at_b["encounter_id"]
    assert at_b["referred_from"] == s.facility_a

    # 7. the audit log shows each of those seven reads, by this key at B, for coordination of care
    admin = auth(Role.ADMIN, None, purpose=None)
    audit = client.get("/api/v1/audit", params={"actor": actor}, headers=admin).json()
    assert audit["total"] == 7
    events = list(reversed(audit["entries"]))
    assert [e["action"] for e in events] == [
        "search", "search", "timeline", "encounter", "referrals", "referrals", "timeline",
    ]  # fmt: skip
    assert {(e["facility_code"], e["purpose"], e["role"]) for e in events} == {(s.facility_b, "COC", "clinician")}
    assert events[0]["person_id"] == person_id
    assert events[3]["record_ids"] == [at_a[0]["encounter_id"]]
    assert person_id in events[4]["details"]["person_ids"]
    by_person = client.get("/api/v1/audit", params={"person_id": person_id, "actor": actor}, headers=admin).json()
    name_search = ["search"] if len(by_name["candidates"]) == 1 else []  # a list of several names no one person
    assert [e["action"] for e in reversed(by_person["entries"])] == [
        "search", *name_search, "timeline", "encounter", "timeline",
    ]  # fmt: skip

    # 8. nothing identifying reached a log, during ingest or during the reads
    logged = "\n".join([*store.ingest_log, *(r.getMessage() for r in caplog.records)])
    for value in (s.cccd, s.name, s.name.upper(), s.phone, s.bhxh):
        assert value not in logged


def test_no_name_cccd_or_phone_of_the_province_in_the_ingest_log(store: Store) -> None:
    logged = "\n".join(store.ingest_log)
    p = store.province
    leaked = [v for v in (*p.names, *p.cccds, *p.phones) if v in logged]
    assert leaked == []


def test_reads_without_a_purpose_of_use_are_refused_with_a_clear_message(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    no_purpose = auth(Role.CLINICIAN, "33001", purpose=None)
    response = client.post(SEARCH, json={"national_id": store.province.scenario.cccd}, headers=no_purpose)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "purpose_required"
    assert "X-Purpose-Of-Use" in response.json()["error"]["message"]
    for path in ("/api/v1/persons/1", "/api/v1/persons/1/timeline", "/api/v1/referrals", "/api/v1/appointments"):
        assert client.get(path, headers=no_purpose).json()["error"]["code"] == "purpose_required"
    bad = auth(Role.CLINICIAN, "33001", purpose="HRESCH")
    assert client.get("/api/v1/persons/1", headers=bad).json()["error"]["code"] == "purpose_invalid"


@pytest.mark.parametrize("role", [Role.SUBMITTER, Role.ANALYST, Role.STEWARD, Role.ADMIN])
def test_only_clinicians_read_records(store: Store, client: TestClient, auth: KeyFactory, role: Role) -> None:
    headers = auth(role, "33001" if role is Role.SUBMITTER else None, purpose="TREAT")
    for response in (
        client.post(SEARCH, json={"national_id": store.province.scenario.cccd}, headers=headers),
        client.get("/api/v1/persons/1/timeline", headers=headers),
        client.get("/api/v1/persons/1/encounters/1", headers=headers),
        client.get("/api/v1/referrals", headers=headers),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "role_forbidden"


def test_audit_is_for_admins_and_filters_by_person_user_facility_and_time(
    store: Store, app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    a = auth(Role.CLINICIAN, "33001", purpose="TREAT")
    b = auth(Role.CLINICIAN, "34001", purpose="ETREAT")
    client.get("/api/v1/persons/1/timeline", headers=a)
    client.get("/api/v1/persons/2", headers=a)
    client.get("/api/v1/persons/2", headers=b)
    admin = auth(Role.ADMIN, None, purpose=None)
    assert client.get("/api/v1/audit", headers=a).json()["error"]["code"] == "role_forbidden"

    def total(**params: object) -> int:
        response = client.get("/api/v1/audit", params=params, headers=admin)
        assert response.status_code == 200
        return int(response.json()["total"])

    actor_a, actor_b = key_actor(a, app), key_actor(b, app)
    assert total(actor=actor_a) == 2
    assert total(actor=actor_b) == 1
    assert total(person_id=2, actor=actor_a) == 1
    assert total(actor=actor_b, facility="34001") == 1
    assert total(actor=actor_b, facility="33001") == 0
    assert total(actor=actor_a, action="summary") == 1
    assert total(actor=actor_a, since="2000-01-01T00:00:00") == 2
    assert total(actor=actor_a, until="2000-01-01T00:00:00") == 0
    (event,) = client.get("/api/v1/audit", params={"actor": actor_b}, headers=admin).json()["entries"]
    assert (event["purpose"], event["facility_code"], event["person_id"]) == ("ETREAT", "34001", 2)


def test_timeline_filters_and_pagination(store: Store, client: TestClient, auth: KeyFactory) -> None:
    headers = auth(Role.CLINICIAN, "33001", purpose="TREAT")
    s = store.province.scenario
    (c,) = client.post(SEARCH, json={"national_id": s.cccd}, headers=headers).json()["candidates"]
    url = f"/api/v1/persons/{c['person_id']}/timeline"
    full = client.get(url, headers=headers).json()
    n = full["total"]
    assert n >= 3
    starts = [e["start"] for e in full["entries"]]
    assert starts == sorted(starts, reverse=True)
    pages = [client.get(url, params={"limit": 2, "offset": o}, headers=headers).json() for o in range(0, n, 2)]
    assert [e["encounter_id"] for p in pages for e in p["entries"]] == [e["encounter_id"] for e in full["entries"]]
    assert {p["total"] for p in pages} == {n}
    at_a = client.get(url, params={"facility": s.facility_a}, headers=headers).json()
    assert at_a["total"] == sum(1 for e in full["entries"] if e["facility_code"] == s.facility_a)
    kind = full["entries"][0]["encounter_type"]
    typed = client.get(url, params={"type": kind}, headers=headers).json()
    assert typed["total"] == sum(1 for e in full["entries"] if e["encounter_type"] == kind)
    day = full["entries"][-1]["start"][:10]
    same_day = client.get(url, params={"date_from": day, "date_to": day}, headers=headers).json()
    assert same_day["total"] == sum(1 for e in full["entries"] if e["start"][:10] == day)
    assert client.get(url, params={"date_from": "2100-01-01"}, headers=headers).json()["total"] == 0


def test_lookup_by_insurance_and_facility_patient_code_and_errors(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    headers = auth(Role.CLINICIAN, "33001", purpose="TREAT")
    s = store.province.scenario
    (by_cccd,) = client.post(SEARCH, json={"national_id": s.cccd}, headers=headers).json()["candidates"]
    by_bhxh = client.post(SEARCH, json={"bhxh_number": s.bhxh}, headers=headers).json()["candidates"]
    assert [c["person_id"] for c in by_bhxh] == [by_cccd["person_id"]]
    summary = client.get(f"/api/v1/persons/{by_cccd['person_id']}", headers=headers).json()
    code = summary["patient_codes"][0]
    by_code = client.post(SEARCH, json=code, headers=headers).json()["candidates"]
    assert by_cccd["person_id"] in [c["person_id"] for c in by_code]
    assert s.cccd in summary["national_ids"]
    assert client.post(SEARCH, json={"name": "NGUYỄN"}, headers=headers).status_code == 422
    assert client.post(SEARCH, json={"national_id": s.cccd, "name": "X"}, headers=headers).status_code == 422
    nobody = client.post(SEARCH, json={"national_id": "001099000000"}, headers=headers).json()
    assert nobody["candidates"] == []
    assert client.get("/api/v1/persons/99999999", headers=headers).status_code == 404
    other = by_cccd["person_id"] + 1
    enc = summary["demographics"][0]["encounter_id"]
    assert client.get(f"/api/v1/persons/{other}/encounters/{enc}", headers=headers).status_code == 404


def test_record_answers_are_their_response_models_json(store: Store, client: TestClient, auth: KeyFactory) -> None:
    """Summary, timeline and encounter build their JSON in the route (no second validation by FastAPI): the
    bytes are what FastAPI writes for the declared response model, and the OpenAPI still declares it."""
    headers = auth(Role.CLINICIAN, "33001", purpose="TREAT")
    s = store.province.scenario
    (c,) = client.post(SEARCH, json={"national_id": s.cccd}, headers=headers).json()["candidates"]
    person = c["person_id"]
    timeline = client.get(f"/api/v1/persons/{person}/timeline", headers=headers)
    encounter = timeline.json()["entries"][0]["encounter_id"]
    paths = {"/api/v1/persons/{person_id}": (f"/api/v1/persons/{person}", PersonSummaryOut),
             "/api/v1/persons/{person_id}/timeline": (f"/api/v1/persons/{person}/timeline", TimelineOut),
             "/api/v1/persons/{person_id}/encounters/{encounter_id}": (
                 f"/api/v1/persons/{person}/encounters/{encounter}", EncounterDetailOut)}  # fmt: skip
    schema = client.get("/openapi.json").json()
    for template, (path, model) in paths.items():
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json", answer.text
        adapter = TypeAdapter(model)
        assert adapter.dump_json(adapter.validate_json(answer.content), by_alias=True) == answer.content
        declared = schema["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert declared == {"$ref": f"#/components/schemas/{model.__name__}"}
