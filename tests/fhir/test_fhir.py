"""FHIR R4 over the synthetic province: every resource produced parses back with ``fhir.resources``.

The scenario patient (referred from facility A to B, CCCD known, A's encounter with drugs and lab results)
is looked up by each identifier system, matched by demographics, read whole with ``$everything`` and
cross-referenced with PIXm; errors come back as OperationOutcome and each read is one audit event.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from sqlalchemy import select

from mpi.fhir import identifiers as sid
from mpi.identity import links as L
from mpi.keys import Role
from tests.records.conftest import KeyFactory, Store, key_actor

FHIR_JSON = "application/fhir+json"
GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"


def _json(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    return body


def _bundle(response: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Bundle (parsed whole, then each entry's resource again by its own class) and its resources."""
    body = _json(response)
    Bundle.model_validate(body)
    resources = [e["resource"] for e in body.get("entry", [])]
    for r in resources:
        get_fhir_model_class(r["resourceType"]).model_validate(r)
    return body, resources


def _outcome(response: Any, status: int) -> str:
    """The OperationOutcome's error code (ours, in details.coding)."""
    outcome = OperationOutcome.model_validate(_json(response, status))
    (issue,) = outcome.issue
    assert issue.severity == "error"
    assert issue.details is not None and issue.details.coding is not None
    code = issue.details.coding[0].code
    assert code is not None
    return str(code)


def _person(client: TestClient, headers: dict[str, str], store: Store) -> int:
    cccd = store.province.scenario.cccd
    _, (patient,) = _bundle(client.get("/fhir/Patient", params={"identifier": f"{sid.CCCD}|{cccd}"}, headers=headers))
    return int(patient["id"])


def _identifiers(patient: dict[str, Any], system: str) -> list[str]:
    return [i["value"] for i in patient["identifier"] if i["system"] == system]


def test_metadata_is_a_capability_statement_without_a_key(client: TestClient) -> None:
    body = _json(client.get("/fhir/metadata"))
    CapabilityStatement.model_validate(body)
    assert body["fhirVersion"] == "4.0.1"
    (rest,) = body["rest"]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert [o["name"] for o in patient["operation"]] == ["match", "everything", "ihe-pix"]
    assert sid.CCCD in patient["searchParam"][0]["documentation"]
    assert {r["type"] for r in rest["resource"]} == {
        "Patient", "Encounter", "Condition", "MedicationRequest", "Procedure", "Observation", "ServiceRequest",
        "Appointment", "Organization",
    }  # fmt: skip


def test_patient_read_carries_every_identifier_and_demographics_as_recorded(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b)
    person = _person(client, headers, store)
    body = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
    patient = Patient.model_validate(body)
    assert patient.id == str(person)
    assert _identifiers(body, sid.PERSON) == [str(person)]
    assert _identifiers(body, sid.CCCD) == [s.cccd]
    assert _identifiers(body, sid.BHXH) == [s.bhxh]
    assert len(_identifiers(body, sid.facility_patient_system(s.facility_a))) == 1
    summary = client.get(f"/api/v1/persons/{person}", headers=headers).json()
    recorded = summary["demographics"]  # newest facility first, as each facility sent them
    assert [n["text"] for n in body["name"]] == list(dict.fromkeys(d["name"] for d in recorded if d["name"]))
    for name in body["name"]:
        assert " ".join([name["family"], *name["given"]]) == " ".join(name["text"].split())
    assert body["birthDate"] == next(d["birth_date"] for d in recorded if d["birth_date"])
    assert body["birthDate"] == s.birth_date
    phones = [t["value"] for t in body.get("telecom", [])]
    assert phones == list(dict.fromkeys(d["phone"] for d in recorded if d["phone"]))
    assert body["gender"] == {1: "male", 2: "female", 3: "unknown"}[recorded[0]["sex"]]
    assert all(a["country"] == "VN" for a in body["address"])


def test_identifier_search_by_cccd_bhxh_and_facility_patient_id_with_and_without_system(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b)
    person = _person(client, headers, store)
    patient = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
    (ma_bn,) = _identifiers(patient, sid.facility_patient_system(s.facility_a))

    def ids(identifier: str) -> list[str]:
        bundle, resources = _bundle(client.get("/fhir/Patient", params={"identifier": identifier}, headers=headers))
        assert bundle["type"] == "searchset"
        assert bundle["total"] == len(resources)
        return [r["id"] for r in resources]

    assert ids(f"{sid.CCCD}|{s.cccd}") == [str(person)]
    assert ids(s.cccd) == [str(person)]
    assert ids(f"{sid.BHXH}|{s.bhxh}") == [str(person)]
    assert ids(s.bhxh) == [str(person)]
    assert str(person) in ids(f"{sid.facility_patient_system(s.facility_a)}|{ma_bn}")
    assert str(person) in ids(ma_bn)
    assert ids(f"{sid.PERSON}|{person}") == [str(person)]
    assert ids(f"{sid.BHXH}|{s.cccd}") == []  # a CCCD is not a BHXH number
    assert ids(f"https://example.org/sid/other|{s.cccd}") == []
    assert ids("001099000000") == []
    posted = client.post("/fhir/Patient/_search", data={"identifier": f"{sid.CCCD}|{s.cccd}"}, headers=headers)
    assert [r["id"] for r in _bundle(posted)[1]] == [str(person)]


def test_demographic_search_by_family_given_birthdate(store: Store, client: TestClient, auth: KeyFactory) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b)
    person = _person(client, headers, store)
    family, given = s.name.split(" ", 1)
    params = {"family": family, "given": given, "birthdate": s.birth_date}
    _, resources = _bundle(client.get("/fhir/Patient", params=params, headers=headers))
    assert resources[0]["id"] == str(person)
    assert _outcome(client.get("/fhir/Patient", params={"family": family}, headers=headers), 422) == "query_invalid"


def test_match_returns_graded_scored_candidates(store: Store, client: TestClient, auth: KeyFactory) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b)
    person = _person(client, headers, store)

    def parameters(patient: dict[str, Any], **extra: Any) -> dict[str, Any]:
        body = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resource", "resource": {"resourceType": "Patient", **patient}},
                *({"name": k, **v} for k, v in extra.items()),
            ],
        }
        Parameters.model_validate(body)
        return body

    by_name = parameters({"name": [{"text": s.name}], "birthDate": s.birth_date}, count={"valueInteger": 5})
    bundle, resources = _bundle(client.post("/fhir/Patient/$match", json=by_name, headers=headers))
    assert 1 <= len(resources) <= 5
    assert resources[0]["id"] == str(person)
    searches = [e["search"] for e in bundle["entry"]]
    assert {x["mode"] for x in searches} == {"match"}
    assert all(0.0 < x["score"] <= 1.0 for x in searches)
    assert all([ext["url"] for ext in x["extension"]] == [GRADE] for x in searches)
    grades = [x["extension"][0]["valueCode"] for x in searches]
    assert grades[0] in ("certain", "probable")
    order = {"certain": 0, "probable": 1, "possible": 2}
    ranked = [(order[g], -x["score"]) for g, x in zip(grades, searches, strict=True)]
    assert ranked == sorted(ranked)

    by_id = parameters({"identifier": [{"system": sid.CCCD, "value": s.cccd}]})
    bundle, resources = _bundle(client.post("/fhir/Patient/$match", json=by_id, headers=headers))
    assert [r["id"] for r in resources] == [str(person)]
    assert bundle["entry"][0]["search"] == {
        "extension": [{"url": GRADE, "valueCode": "certain"}], "mode": "match", "score": 1.0
    }  # fmt: skip

    only = parameters(
        {"name": [{"text": s.name}], "birthDate": s.birth_date},
        count={"valueInteger": 5},
        onlyCertainMatches={"valueBoolean": True},
    )
    _, certain = _bundle(client.post("/fhir/Patient/$match", json=only, headers=headers))
    by_name_ids = [r["id"] for r in _bundle(client.post("/fhir/Patient/$match", json=by_name, headers=headers))[1]]
    assert [r["id"] for r in certain] == [i for i, g in zip(by_name_ids, grades, strict=True) if g == "certain"]

    bare = parameters({"gender": "male"})
    assert _outcome(client.post("/fhir/Patient/$match", json=bare, headers=headers), 422) == "query_invalid"
    assert _outcome(client.post("/fhir/Patient/$match", json={"resourceType": "Patient"}, headers=headers), 422) == (
        "query_invalid"
    )


def test_everything_has_the_record_as_fhir_and_filters(store: Store, client: TestClient, auth: KeyFactory) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b)
    person = _person(client, headers, store)
    url = f"/fhir/Patient/{person}/$everything"
    bundle, resources = _bundle(client.get(url, headers=headers))
    assert bundle["type"] == "collection"
    types = {r["resourceType"] for r in resources}
    assert types >= {
        "Patient", "Encounter", "Condition", "MedicationRequest", "Observation", "ServiceRequest", "Organization"
    }  # fmt: skip
    assert resources[0]["resourceType"] == "Patient"
    timeline = client.get(f"/api/v1/persons/{person}/timeline", headers=headers).json()
    encounters = [r for r in resources if r["resourceType"] == "Encounter"]
    assert [int(e["id"]) for e in encounters] == [e["encounter_id"] for e in timeline["entries"]]

    (at_a,) = [e for e in timeline["entries"] if e["facility_code"] == s.facility_a and e["ma_lk"] == s.ma_lk_a]
    mine = [r for r in resources if r.get("encounter", {}).get("reference") == f"Encounter/{at_a['encounter_id']}"]
    drugs = [r for r in mine if r["resourceType"] == "MedicationRequest"]
    assert len(drugs) >= 1
    assert all(d["dosageInstruction"][0]["text"] and d["dosageInstruction"][0]["route"]["coding"][0]["code"]
               for d in drugs)  # fmt: skip
    labs = [r for r in mine if r["resourceType"] == "Observation"]
    assert len(labs) >= 1
    numeric = [o for o in labs if "valueQuantity" in o]
    assert all(isinstance(o["valueQuantity"]["value"], int | float) for o in numeric)
    assert all("valueQuantity" in o or "valueString" in o or "note" in o for o in labs)
    (referral,) = [r for r in mine if r["resourceType"] == "ServiceRequest"]
    assert referral["performer"] == [{"reference": f"Organization/{s.facility_b}"}]
    assert referral["requester"] == {"reference": f"Organization/{s.facility_a}"}
    (enc_a,) = [e for e in encounters if e["id"] == str(at_a["encounter_id"])]
    assert enc_a["serviceProvider"] == {"reference": f"Organization/{s.facility_a}"}
    assert enc_a["class"]["system"] == sid.ACT_CODE
    assert enc_a["identifier"] == [{"system": sid.facility_encounter_system(s.facility_a), "value": s.ma_lk_a}]
    conditions = [r for r in mine if r["resourceType"] == "Condition"]
    assert conditions[0]["code"]["coding"][0] == {"system": sid.ICD10, "code": at_a["main_diagnosis"]}
    organizations = {r["id"] for r in resources if r["resourceType"] == "Organization"}
    assert {s.facility_a, s.facility_b} <= organizations

    # _type
    _, only = _bundle(client.get(url, params={"_type": "Encounter,Condition"}, headers=headers))
    assert {r["resourceType"] for r in only} == {"Encounter", "Condition"}
    assert len(only) == sum(1 for r in resources if r["resourceType"] in ("Encounter", "Condition"))
    assert _outcome(client.get(url, params={"_type": "Claim"}, headers=headers), 422) == "query_invalid"

    # start / end: one day, a whole year, the future
    day = at_a["start"][:10]
    _, same_day = _bundle(client.get(url, params={"start": day, "end": day, "_type": "Encounter"}, headers=headers))
    assert len(same_day) == sum(1 for e in timeline["entries"] if e["start"][:10] == day)
    year = day[:4]
    _, in_year = _bundle(client.get(url, params={"start": year, "end": year, "_type": "Encounter"}, headers=headers))
    assert len(in_year) == sum(1 for e in timeline["entries"] if e["start"][:4] == year)
    _, future = _bundle(client.get(url, params={"start": "2100"}, headers=headers))
    assert [r["resourceType"] for r in future] == ["Patient"]
    assert _outcome(client.get(url, params={"start": "05/03/2024"}, headers=headers), 422) == "query_invalid"

    # _since: everything was received before now, nothing after
    _, since_past = _bundle(client.get(url, params={"_since": "2000-01-01T00:00:00Z"}, headers=headers))
    assert len(since_past) == len(resources)
    _, since_future = _bundle(client.get(url, params={"_since": "2100-01-01T00:00:00+07:00"}, headers=headers))
    assert [r["resourceType"] for r in since_future] == ["Patient"]


def test_ihe_pix_cross_references_facility_ids_cccd_and_person_id(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b)
    person = _person(client, headers, store)
    patient = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
    system_a = sid.facility_patient_system(s.facility_a)
    (ma_bn,) = _identifiers(patient, system_a)

    def pix(source: str, *targets: str) -> dict[str, Any]:
        params: dict[str, Any] = {"sourceIdentifier": source}
        if targets:
            params["targetSystem"] = list(targets)
        body = _json(client.get("/fhir/Patient/$ihe-pix", params=params, headers=headers))
        Parameters.model_validate(body)
        return body

    def values(body: dict[str, Any], name: str, key: str) -> list[Any]:
        return [p[key] for p in body["parameter"] if p["name"] == name]

    from_ma_bn = pix(f"{system_a}|{ma_bn}")
    assert values(from_ma_bn, "targetId", "valueReference") == [{"reference": f"Patient/{person}"}]
    identifiers = values(from_ma_bn, "targetIdentifier", "valueIdentifier")
    assert {"system": sid.CCCD, "value": s.cccd} in identifiers
    assert {"system": sid.PERSON, "value": str(person)} in identifiers
    assert {"system": system_a, "value": ma_bn} not in identifiers  # the source itself is not echoed

    from_cccd = pix(f"{sid.CCCD}|{s.cccd}", system_a)
    assert values(from_cccd, "targetIdentifier", "valueIdentifier") == [{"system": system_a, "value": ma_bn}]
    posted = client.post(
        "/fhir/Patient/$ihe-pix", data={"sourceIdentifier": f"{sid.CCCD}|{s.cccd}", "targetSystem": system_a},
        headers=headers,
    )  # fmt: skip
    assert _json(posted) == from_cccd
    from_person = pix(f"{sid.PERSON}|{person}", sid.CCCD)
    assert values(from_person, "targetIdentifier", "valueIdentifier") == [{"system": sid.CCCD, "value": s.cccd}]

    def error(source: str, *targets: str) -> Any:
        params: dict[str, Any] = {"sourceIdentifier": source, "targetSystem": list(targets)}
        return client.get("/fhir/Patient/$ihe-pix", params=params, headers=headers)

    assert _outcome(error(f"https://example.org/sid/x|{s.cccd}"), 400) == "unknown_system"
    assert _outcome(error(s.cccd), 400) == "unknown_system"
    assert _outcome(error(f"{sid.CCCD}|001099000000"), 404) == "source_identifier_not_found"
    assert _outcome(error(f"{sid.CCCD}|{s.cccd}", "https://example.org/sid/x"), 403) == "target_system_unknown"


def test_errors_are_operation_outcomes_and_api_v1_errors_keep_their_shape(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    clinician = auth(Role.CLINICIAN, "33001")
    no_purpose = auth(Role.CLINICIAN, "33001", purpose=None)
    steward = auth(Role.STEWARD, None)
    unauthenticated = client.get("/fhir/Patient/1")
    assert _outcome(unauthenticated, 401) == "key_missing"
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    assert _outcome(client.get("/fhir/Patient/1", headers={"Authorization": "Bearer nope"}), 401) != ""
    assert _outcome(client.get("/fhir/Patient/1", headers=no_purpose), 403) == "purpose_required"
    assert _outcome(client.get("/fhir/Patient/1/$everything", headers=no_purpose), 403) == "purpose_required"
    assert _outcome(client.get("/fhir/Patient", params={"identifier": "1"}, headers=no_purpose), 403) == (
        "purpose_required"
    )
    assert _outcome(client.get("/fhir/Patient/1", headers=steward), 403) == "role_forbidden"
    assert _outcome(client.get("/fhir/Patient/99999999", headers=clinician), 404) == "person_not_found"
    assert _outcome(client.get("/fhir/Patient/abc", headers=clinician), 404) == "person_not_found"
    assert _outcome(client.get("/fhir/Patient/99999999/$everything", headers=clinician), 404) == "person_not_found"
    assert _outcome(client.get("/fhir/Patient/$ihe-pix", headers=clinician), 422) == "request_invalid"
    assert _outcome(client.get("/fhir/Observation", headers=clinician), 404) == "not_supported"
    assert _outcome(client.delete("/fhir/Patient/1", headers=clinician), 404) == "not_supported"
    v1 = client.get("/api/v1/persons/99999999", headers=clinician)
    assert v1.status_code == 404
    assert v1.json() == {"error": {"code": "person_not_found", "message": "no person 99999999"}}
    assert client.get("/api/v1/persons/1").json()["error"]["code"] == "key_missing"


def test_each_fhir_read_writes_one_audit_event_and_logs_no_identifying_value(
    store: Store, app: FastAPI, client: TestClient, auth: KeyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = store.province.scenario
    clinician = auth(Role.CLINICIAN, s.facility_b, purpose="COC")
    actor = key_actor(clinician, app)
    # the POST forms: identifiers travel in the body, never in a URL (GET search URLs reach access logs)
    search = client.post("/fhir/Patient/_search", data={"identifier": f"{sid.CCCD}|{s.cccd}"}, headers=clinician)
    person = int(_bundle(search)[1][0]["id"])
    client.get(f"/fhir/Patient/{person}", headers=clinician)
    match = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": {"resourceType": "Patient", "name": [{"text": s.name}],
                                                        "birthDate": s.birth_date}}],
    }  # fmt: skip
    client.post("/fhir/Patient/$match", json=match, headers=clinician)
    client.get(f"/fhir/Patient/{person}/$everything", headers=clinician)
    pix = client.post("/fhir/Patient/$ihe-pix", data={"sourceIdentifier": f"{sid.CCCD}|{s.cccd}"}, headers=clinician)
    assert pix.status_code == 200
    client.get("/fhir/metadata")  # not a read of patient data
    client.get("/fhir/Patient/1", headers=auth(Role.CLINICIAN, s.facility_b, purpose=None))  # refused: no event

    admin = auth(Role.ADMIN, None, purpose=None)
    audit = client.get("/api/v1/audit", params={"actor": actor}, headers=admin).json()
    events = list(reversed(audit["entries"]))
    assert [e["action"] for e in events] == ["fhir.search", "fhir.read", "fhir.match", "fhir.everything", "fhir.pix"]
    assert {(e["facility_code"], e["purpose"], e["role"]) for e in events} == {(s.facility_b, "COC", "clinician")}
    assert [e["person_id"] for e in events if e["action"] != "fhir.match"] == [person] * 4
    timeline = client.get(f"/api/v1/persons/{person}/timeline", headers=clinician).json()
    assert events[3]["record_ids"] == sorted(e["encounter_id"] for e in timeline["entries"])
    assert [e["resource"] for e in events] == [
        "POST /fhir/Patient/_search", "GET /fhir/Patient/{id}", "POST /fhir/Patient/$match",
        "GET /fhir/Patient/{id}/$everything", "POST /fhir/Patient/$ihe-pix",
    ]  # fmt: skip
    for e in events:
        assert s.cccd not in str(e) and s.name not in str(e)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in (s.cccd, s.name, s.name.upper(), s.phone, s.bhxh):
        assert value not in logged


def test_every_person_of_the_province_reads_and_everything_parses(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    """A sweep: newborns (birth to the minute), day-only appointments, imaging results... all valid FHIR."""
    headers = auth(Role.CLINICIAN, "33001")
    with store.engine.connect() as conn:
        persons = sorted(int(p) for p in conn.execute(select(L.persons.c.id)).scalars())
    read = 0
    for person in range(1, persons[-1] + 2):
        response = client.get(f"/fhir/Patient/{person}/$everything", headers=headers)
        if response.status_code == 404:
            continue
        _, resources = _bundle(response)
        patient = resources[0]
        assert len(patient.get("birthDate", "0000")) in (4, 7, 10)
        birth_time = patient.get("_birthDate", {}).get("extension", [{}])[0].get("valueDateTime")
        assert birth_time is None or birth_time.startswith(patient["birthDate"])
        read += 1
    assert read == len(persons)


@pytest.mark.parametrize("value", ["2024-03-05T08:30", "2024-03-05", "2024"])
def test_times_become_fhir_datetimes(value: str) -> None:
    from mpi.fhir.everything import fhir_datetime

    expected = {"2024-03-05T08:30": "2024-03-05T08:30:00+07:00"}.get(value, value)
    assert fhir_datetime(value) == expected
