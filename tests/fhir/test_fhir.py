"""FHIR R4 over the synthetic province: every resource produced conforms to the official R4 JSON schema,
``fhir.resources`` and the checked invariants (``tests/fhir/conformance.py``).

The scenario patient (referred from facility A to B, CCCD known, A's encounter with drugs and lab results)
is looked up by each identifier system, matched by demographics, read whole with ``$everything`` (paged)
and cross-referenced with PIXm; every reference resolves with a read; errors come back as
OperationOutcome with the status FHIR, PIXm and PDQm ask for; each read is one audit event.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import event, func, select
from sqlmodel import Session

from api.app import create_app
from mpi.facilities import LEVELS, RegistryRow, upsert_facility
from mpi.fhir import identifiers as sid
from mpi.identity import links as L
from mpi.keys import Role
from mpi.store.content import content_tables
from tests.fhir.conformance import check
from tests.plugins.province import Store
from tests.support import KeyFactory, key_actor

FHIR_JSON = "application/fhir+json"
GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
BASE = "http://testserver/fhir"


def _json(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    return check(body)


def _bundle(response: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The searchset (checked whole) and its match/include resources (not the outcome entry)."""
    body = _json(response)
    assert body["type"] == "searchset"
    entries = body.get("entry", [])
    for e in entries:
        if e["search"]["mode"] != "outcome":
            r = e["resource"]
            assert e["fullUrl"] == f"{BASE}/{r['resourceType']}/{r['id']}"
    return body, [e["resource"] for e in entries if e["search"]["mode"] != "outcome"]


def _matches(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in body.get("entry", []) if e["search"]["mode"] == "match"]


def _link(body: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in body.get("link", []) if x["relation"] == relation), None)


def _warnings(body: dict[str, Any]) -> list[str]:
    outcomes = [e["resource"] for e in body.get("entry", []) if e["search"]["mode"] == "outcome"]
    return [i["diagnostics"] for o in outcomes for i in o["issue"] if i["severity"] == "warning"]


def _outcome(response: Any, status: int, issue_type: str | None = None) -> str:
    """The OperationOutcome's error code (ours, in details.coding), after checking status and issue type."""
    outcome = OperationOutcome.model_validate(_json(response, status))
    (issue,) = outcome.issue
    assert issue.severity == "error"
    if issue_type is not None:
        assert issue.code == issue_type
    assert issue.details is not None and issue.details.coding is not None
    assert issue.details.coding[0].system == sid.ERROR_CODES
    code = issue.details.coding[0].code
    assert code is not None
    return str(code)


def _person(client: TestClient, headers: dict[str, str], store: Store) -> int:
    cccd = store.province.scenario.cccd
    body, _ = _bundle(client.get("/fhir/Patient", params={"identifier": f"{sid.CCCD}|{cccd}"}, headers=headers))
    (patient,) = _matches(body)
    return int(patient["id"])


def _identifiers(patient: dict[str, Any], system: str) -> list[str]:
    return [i["value"] for i in patient["identifier"] if i["system"] == system]


def _relative(url: str) -> str:
    assert url.startswith(BASE), url
    return "/fhir" + url.removeprefix(BASE)


def _all_pages(client: TestClient, headers: dict[str, str], url: str, **params: Any) -> list[dict[str, Any]]:
    """Follow ``next`` links to the end; each page checked; the match and include entries of all pages."""
    body, resources = _bundle(client.get(url, params=params, headers=headers))
    out = list(resources)
    while (following := _link(body, "next")) is not None:
        body, resources = _bundle(client.get(_relative(following), headers=headers))
        out += resources
    return out


# --- CapabilityStatement ------------------------------------------------------------------------------


def test_metadata_declares_what_is_supported_and_instantiates_the_ihe_actors(client: TestClient) -> None:
    body = _json(client.get("/fhir/metadata"))
    assert body["fhirVersion"] == "4.0.1"
    assert body["implementation"]["url"] == BASE
    assert set(body["instantiates"]) == {
        "https://profiles.ihe.net/ITI/PIXm/CapabilityStatement/IHE.PIXm.Manager",
        "https://profiles.ihe.net/ITI/PDQm/CapabilityStatement/IHE.PDQm.Supplier",
    }
    assert {"application/fhir+json", "application/fhir+xml"} <= set(body["format"])
    (rest,) = body["rest"]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert set(by_type) == {
        "Patient", "Encounter", "Condition", "MedicationRequest", "Procedure", "Observation", "ServiceRequest",
        "Appointment", "Organization", "Location",
    }  # fmt: skip
    patient = by_type.pop("Patient")
    assert [i["code"] for i in patient["interaction"]] == ["read", "search-type"]
    assert [o["name"] for o in patient["operation"]] == ["match", "everything", "ihe-pix"]
    params = {p["name"]: p for p in patient["searchParam"]}
    assert set(params) == {
        "_id", "identifier", "family", "given", "birthdate", "gender", "telecom", "address", "address-state",
        "address-country", "mothersMaidenName", "active",
    }  # fmt: skip
    assert params["mothersMaidenName"]["definition"].endswith("/patient-extensions-Patient-mothersMaidenName")
    assert "family + birthdate=YYYY-MM-DD" in patient["documentation"]
    assert all(p["definition"].startswith("http://hl7.org/fhir/SearchParameter/") for p in params.values())
    assert sid.CCCD in params["identifier"]["documentation"]
    assert all([i["code"] for i in r["interaction"]] == ["read"] for r in by_type.values())
    behind_proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hub.example.vn", "X-Forwarded-Prefix": "/mpi"}
    assert client.get("/fhir/metadata", headers=behind_proxy).json()["implementation"]["url"] == (
        "https://hub.example.vn/mpi/fhir"
    )


# --- Patient read and search ----------------------------------------------------------------------------


def test_patient_read_one_official_name_identifiers_told_apart_meta_and_etag(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = _person(client, headers, store)
    response = client.get(f"/fhir/Patient/{person}", headers=headers)
    body = _json(response)
    assert body["id"] == str(person) and body["active"] is True
    assert _identifiers(body, sid.PERSON) == [str(person)]
    assert _identifiers(body, sid.CCCD) == [s.cccd]
    assert _identifiers(body, sid.BHXH) == [s.bhxh]
    (cccd,) = [i for i in body["identifier"] if i["system"] == sid.CCCD]
    assert cccd["assigner"] == {"display": "Bộ Công an"}
    assert cccd["period"]["start"][:4].isdigit()
    (ma_bn,) = [i for i in body["identifier"] if i["system"] == sid.facility_patient_system(s.facility_a)]
    assert ma_bn["assigner"] == {"reference": f"Organization/{s.facility_a}"}
    uses = [n.get("use") for n in body["name"]]
    assert uses.count("official") == 1 and uses[0] == "official"
    assert " ".join(body["name"][0]["text"].casefold().split()) == s.name.casefold()  # with its diacritics
    for name in body["name"]:
        assert " ".join([name["family"], *name["given"]]) == " ".join(name["text"].split())
        assert name["extension"][0]["url"] == f"{sid.BASE}/StructureDefinition/recorded-by"
    assert body["birthDate"] == s.birth_date
    assert body["meta"]["versionId"] and body["meta"]["lastUpdated"]
    etag, modified = response.headers["etag"], response.headers["last-modified"]
    assert etag == f'W/"{body["meta"]["versionId"]}"'
    again = client.get(f"/fhir/Patient/{person}", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(f"/fhir/Patient/{person}", headers={**headers, "If-Modified-Since": modified}).status_code == 304
    assert client.get(f"/fhir/Patient/{person}", headers={**headers, "If-None-Match": 'W/"other"'}).status_code == 200
    # ids are compared as written: 0123 is not 123
    assert _outcome(client.get(f"/fhir/Patient/0{person}", headers=headers), 404, "not-found") == "person_not_found"


def test_patient_read_json_is_exactly_what_the_model_writes(store: Store, client: TestClient, auth: KeyFactory) -> None:
    """The Patient read writes the Patient's FHIR JSON without building the ``fhir.resources`` model (it costs
    more CPU than the read): for persons across the province, as a reader who has some encounters withheld
    and as one who sees their own, the answer is valid for the model and equals the model's own JSON of it."""
    from fhir.resources.R4B.patient import Patient

    with store.engine.connect() as conn:
        persons = conn.execute(select(L.persons.c.id).where(L.persons.c.merged_into_id.is_(None))).scalars().all()
        cared = {  # persons with HIV (XML6) or TB (XML15) care: withheld from the other facilities' readers
            L.current_person(conn, int(p))
            for table in ("XML6", "XML15")
            for p in conn.execute(
                select(L.sources.c.person_id).join(
                    content_tables[table], content_tables[table].c.encounter_id == L.sources.c.encounter_id
                )
            ).scalars()
        }
    sample = sorted(cared)[:10] + persons[:: max(1, len(persons) // 30)][:30]  # within a key's read burst
    s = store.province.scenario
    labels: set[str] = set()
    for facility in (s.facility_a, s.facility_b):
        headers = auth(Role.CLINICIAN, facility, purpose="TREAT")
        for at, person in enumerate(sample):
            response = client.get(f"/fhir/Patient/{person}", headers=headers)
            body = _json(response) if at < 5 else response.json()  # the schema check is slow: the first few
            assert body == Patient.model_validate(body).model_dump(mode="json", exclude_none=True)
            labels |= {label["code"] for label in body["meta"].get("security", [])}
    assert "REDACTED" in labels  # some of these Patients had encounters withheld


def test_name_rules_official_form_variants_and_former_names() -> None:
    from datetime import UTC, datetime

    from mpi.fhir.lookup import RecordedIdentity
    from mpi.fhir.patient import patient_names

    def seen(n: int, name: str, day: str, facility: str = "33001") -> RecordedIdentity:
        return RecordedIdentity(n, facility, day, datetime(2024, 1, 1, tzinfo=UTC), name, None, (), None)

    names = patient_names([
        seen(1, "Con của Trần Thị Lan", "2023-01-02"),
        seen(2, "NGUYEN VAN AN", "2023-06-01", "33002"),
        seen(3, "Nguyễn Văn An", "2023-07-01"),
        seen(4, "Nguyễn Văn An", "2024-01-01", "33003"),
    ])  # fmt: skip
    assert [(n["text"], n.get("use")) for n in names] == [
        ("Nguyễn Văn An", "official"), ("NGUYEN VAN AN", None), ("Con của Trần Thị Lan", "old"),
    ]  # fmt: skip
    assert [e["valueReference"]["reference"] for e in names[0]["extension"]] == [
        "Organization/33003", "Organization/33001"
    ]  # fmt: skip


def test_token_search_semantics_ids_comma_ors_and_errors(store: Store, client: TestClient, auth: KeyFactory) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = _person(client, headers, store)
    patient = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
    (ma_bn,) = _identifiers(patient, sid.facility_patient_system(s.facility_a))

    def ids(**params: str) -> list[str]:
        body, _ = _bundle(client.get("/fhir/Patient", params=params, headers=headers))
        found = [r["id"] for r in _matches(body)]
        assert body["total"] == len(found)
        assert _link(body, "self") is not None
        return found

    me = [str(person)]
    assert ids(identifier=f"{sid.CCCD}|{s.cccd}") == me
    assert ids(identifier=s.cccd) == me  # any system
    assert ids(identifier=f"|{s.cccd}") == []  # identifiers without a system: the hub has none
    assert ids(identifier=f"{sid.BHXH}|{s.bhxh}") == me
    assert str(person) in ids(identifier=f"{sid.facility_patient_system(s.facility_a)}|{ma_bn}")
    assert ids(identifier=f"{sid.PERSON}|{person}") == me
    assert ids(identifier=f"{sid.BHXH}|{s.cccd}") == []
    assert ids(identifier=f"https://example.org/sid/other|{s.cccd}") == []
    assert ids(identifier=f"{sid.CCCD}|001099000000,{sid.CCCD}|{s.cccd}") == me  # comma: OR
    assert ids(_id=str(person)) == me
    assert ids(_id=f"0{person}") == []
    assert ids(_id=str(person), identifier=f"{sid.CCCD}|{s.cccd}") == me  # AND
    assert ids(_id="1", identifier=f"{sid.CCCD}|{s.cccd}") == ([] if person != 1 else me)
    family, given = s.name.split(" ", 1)
    assert str(person) in ids(family=family, given=given, birthdate=f"eq{s.birth_date}")
    posted = client.post("/fhir/Patient/_search", data={"identifier": f"{sid.CCCD}|{s.cccd}"}, headers=headers)
    assert [r["id"] for r in _matches(_bundle(posted)[0])] == me

    def error(status: int, issue: str, **params: str) -> str:
        return _outcome(client.get("/fhir/Patient", params=params, headers=headers), status, issue)

    assert error(400, "too-costly", identifier=f"{sid.CCCD}|") == "search_too_broad"
    assert error(400, "too-costly", family=family) == "search_too_broad"
    assert error(400, "invalid", family=family, given=given, birthdate=f"ap{s.birth_date}") == "parameter_invalid"
    assert error(400, "invalid", family=family, given=given, birthdate="05/03/1990") == "parameter_invalid"
    assert error(400, "invalid", _count="many", identifier=s.cccd) == "parameter_invalid"
    assert error(400, "invalid") == "parameter_invalid"

    # an unknown parameter is ignored and said so; with Prefer: handling=strict it is refused
    body, _ = _bundle(client.get("/fhir/Patient", params={"identifier": s.cccd, "name": "x"}, headers=headers))
    assert _warnings(body) == ["parameter 'name' was ignored: not supported here"]
    assert "name=" not in (_link(body, "self") or "")
    strict = client.get("/fhir/Patient", params={"identifier": s.cccd, "name": "x"},
                        headers={**headers, "Prefer": "handling=strict"})  # fmt: skip
    assert _outcome(strict, 400, "invalid") == "parameter_unsupported"


def test_search_pages_with_signed_cursors_and_summary_count(
    store: Store, app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    query = {"identifier": ",".join(f"{sid.CCCD}|{c}" for c in store.province.cccds[:4])}
    body, _ = _bundle(client.get("/fhir/Patient", params=query, headers=headers))
    everyone = [r["id"] for r in _matches(body)]
    assert len(everyone) >= 3 and body["total"] == len(everyone)
    self_link = urlsplit(_link(body, "self") or "")
    assert parse_qs(self_link.query) == {k: [v] for k, v in query.items()}

    pages: list[list[str]] = []
    page, _ = _bundle(client.get("/fhir/Patient", params={**query, "_count": "1"}, headers=headers))
    assert _link(page, "previous") is None
    while True:
        pages.append([r["id"] for r in _matches(page)])
        following = _link(page, "next")
        if following is None:
            break
        assert not any(c in following for c in store.province.cccds[:4])  # the cursor carries no query values
        previous = page
        page, _ = _bundle(client.get(_relative(following), headers=headers))
        back, _ = _bundle(client.get(_relative(_link(page, "previous") or ""), headers=headers))
        assert [r["id"] for r in _matches(back)] == [r["id"] for r in _matches(previous)]
    assert [i for p in pages for i in p] == everyone and all(len(p) == 1 for p in pages)

    opening, _ = _bundle(client.get("/fhir/Patient", params={**query, "_count": "1"}, headers=headers))
    cursor = parse_qs(urlsplit(_link(opening, "next") or "").query)["_page"][0]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert _outcome(client.get("/fhir/Patient", params={"_page": tampered}, headers=headers), 400) == "cursor_invalid"
    other = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    assert _outcome(client.get("/fhir/Patient", params={"_page": cursor}, headers=other), 400) == "cursor_invalid"

    counted = _json(client.get("/fhir/Patient", params={**query, "_summary": "count"}, headers=headers))
    assert "entry" not in counted and counted["total"] == len(everyone)
    zero = _json(client.get("/fhir/Patient", params={**query, "_count": "0"}, headers=headers))
    assert "entry" not in zero and zero["total"] == len(everyone)


def test_a_search_matching_more_than_it_lists_says_so(
    store: Store, client: TestClient, auth: KeyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.routes import fhir as routes

    monkeypatch.setattr(routes, "SEARCH_LIMIT", 2)
    headers = auth(Role.CLINICIAN, store.province.scenario.facility_b, purpose="TREAT")
    query = {"identifier": ",".join(f"{sid.CCCD}|{c}" for c in store.province.cccds[:4])}
    body, _ = _bundle(client.get("/fhir/Patient", params=query, headers=headers))
    assert len(_matches(body)) == 2 and "total" not in body
    assert _warnings(body) == ["more Patients match than the 2 best listed: narrow the search"]


def test_pdqm_demographic_parameters_and_the_minimal_criteria_rule(
    store: Store, app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    """ITI-78 parameters, each against what the store holds, AND/OR, :exact, date prefixes; a search that
    completes no blocking key of the matcher is refused, naming the combinations that are accepted."""
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = str(_person(client, headers, store))
    patient = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
    family, *given = s.name.split()
    address = next(a for a in patient["address"] if a.get("text") and a.get("state"))
    from linkage.normalise.provinces import PROVINCES_2025, PROVINCES_PRE_2025

    province = PROVINCES_2025.get(address["state"]) or PROVINCES_PRE_2025[address["state"]]
    day = s.birth_date

    def ids(*pairs: tuple[str, str]) -> list[str]:
        body, _ = _bundle(client.get("/fhir/Patient", params=list(pairs), headers=headers))
        return [r["id"] for r in _matches(body)]

    by_family_day = (("family", family), ("birthdate", day))
    assert person in ids(*by_family_day)  # PDQm: birthdate + family
    assert person in ids(("given", given[-1]), ("birthdate", day))
    assert person in ids(("given", " ".join(given)), ("birthdate", day))  # a run of the given names
    assert person in ids(*(("given", g) for g in given), ("birthdate", day))  # each given name (AND)
    assert person in ids(("family", family.upper()), ("given", given[-1]), ("birthdate", day[:4]))  # a year
    assert person in ids(("telecom", s.phone)) and person in ids(("telecom", f"phone|{s.phone}"))
    assert person not in ids(("telecom", f"email|{s.phone}"), *by_family_day)
    gender = patient["gender"]
    other = "female" if gender == "male" else "male"
    assert person in ids(*by_family_day, ("gender", gender))  # PDQm: family + gender (with the birth date)
    assert person not in ids(*by_family_day, ("gender", other))
    assert person in ids(*by_family_day, ("gender", f"{other},{gender}"))  # comma: OR
    # date prefixes and AND of repeats
    assert person in ids(("family", family), ("given", given[-1]), ("birthdate", day[:4]), ("birthdate", f"ge{day}"))
    assert person not in ids(*by_family_day, ("birthdate", f"lt{day}"))
    assert person in ids(*by_family_day, ("birthdate", f"ne{int(day[:4]) + 1}"))
    # address, state (code or name, before or after 2025), country
    words = address["text"].split()
    assert person in ids(*by_family_day, ("address", " ".join(words[-2:])))
    assert person in ids(*by_family_day, ("address-state", province.lower()))
    assert person in ids(*by_family_day, ("address-state", address["state"]))
    assert person not in ids(*by_family_day, ("address-state", "Không Có Tỉnh"))
    assert person in ids(*by_family_day, ("address-country", "Việt Nam"))
    assert person in ids(*by_family_day, ("address-country:exact", "VN"))
    assert person not in ids(*by_family_day, ("address-country", "Lào"))
    # :exact compares as recorded
    recorded_family = patient["name"][0]["family"]
    assert person in ids(("family:exact", recorded_family), ("birthdate", day))
    assert person not in ids(("family:exact", recorded_family.swapcase()), ("birthdate", day))
    assert person in ids(*by_family_day, ("active", "true")) and ids(*by_family_day, ("active", "false")) == []
    # identifier narrowed by demographics
    assert ids(("identifier", s.cccd), ("family", family)) == [person]
    assert ids(("identifier", s.cccd), ("family", f"{family}x")) == []
    # identifier domains to return (PDQm 3.78.4.1.2.3): the Patient must hold one, and shows only those
    body, _ = _bundle(client.get("/fhir/Patient", params=[("identifier", s.cccd), ("identifier", f"{sid.BHXH}|")],
                                 headers=headers))  # fmt: skip
    (shown,) = _matches(body)
    assert [(i["system"], i["value"]) for i in shown["identifier"]] == [(sid.BHXH, s.bhxh)]
    both = [*by_family_day, ("identifier", f"{sid.CCCD}|,{sid.PERSON}|")]
    (mine,) = [r for r in _matches(_bundle(client.get("/fhir/Patient", params=both, headers=headers))[0])
               if r["id"] == person]  # fmt: skip
    assert {i["system"] for i in mine["identifier"]} == {sid.CCCD, sid.PERSON}
    unknown = client.get("/fhir/Patient", params=[*by_family_day, ("identifier", "urn:oid:1.2.3|")], headers=headers)
    outcome = OperationOutcome.model_validate(_json(unknown, 404))
    assert (outcome.issue[0].severity, outcome.issue[0].code, outcome.issue[0].diagnostics) == (
        "warning", "not-found", "targetSystem not found"
    )  # fmt: skip

    def refused(*pairs: tuple[str, str]) -> str:
        response = client.get("/fhir/Patient", params=list(pairs), headers=headers)
        outcome = OperationOutcome.model_validate(_json(response, 400))
        assert outcome.issue[0].code == "too-costly"
        return str(outcome.issue[0].diagnostics)

    message = refused(("given", given[-1]))  # a bare given name would list a province's Ans
    assert "family + birthdate=YYYY-MM-DD" in message and "telecom" in message
    refused(("family", family), ("gender", gender))  # family + gender alone: a large share of the province
    refused(("family", family), ("birthdate", day[:4]))  # a year is not a day
    refused(("address-state", province))
    # what is not supported is ignored and said so
    unsupported = [*by_family_day, ("address-city", "x"), ("address-postalcode", "650000")]
    body, _ = _bundle(client.get("/fhir/Patient", params=unsupported, headers=headers))
    assert person in [r["id"] for r in _matches(body)]
    assert sorted(_warnings(body)) == [
        "parameter 'address-city' was ignored: not supported here",
        "parameter 'address-postalcode' was ignored: not supported here",
    ]
    # each refused search is audited as such (the one audited-read path)
    admin = auth(Role.ADMIN, None, purpose=None)
    events = client.get("/api/v1/audit", params={"actor": key_actor(headers, app), "limit": 500}, headers=admin)
    refusals = sorted((e["action"], e["outcome"]) for e in events.json()["entries"] if e["outcome"] != "ok")
    assert refusals == [("fhir.search", "invalid")] * 4 + [("fhir.search", "not_found")]


def test_mothers_maiden_name_is_shown_and_searchable(store: Store, client: TestClient, auth: KeyFactory) -> None:
    headers = auth(Role.CLINICIAN, "33001", purpose="TREAT")
    x8 = content_tables["XML8"]
    with store.engine.connect() as conn:  # a child whose record summary names the mother
        row = conn.execute(
            select(x8.c.ho_ten_me, L.sources.c.person_id)
            .join(L.sources, L.sources.c.encounter_id == x8.c.encounter_id)
            .where(x8.c.ho_ten_me.is_not(None))
            .limit(1)
        ).one()
        person = L.current_person(conn, int(row.person_id))
    patient = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
    (mother,) = [e["valueString"] for e in patient["extension"] if e["url"].endswith("patient-mothersMaidenName")]
    assert mother == " ".join(row.ho_ten_me.split())
    name = patient["name"][0]
    day = patient["birthDate"]
    assert len(day) == 10

    def ids(**params: str) -> list[str]:
        body, _ = _bundle(client.get("/fhir/Patient", params=params, headers=headers))
        return [r["id"] for r in _matches(body)]

    assert str(person) in ids(family=name["family"], birthdate=day, mothersMaidenName=mother.split()[0])
    assert str(person) in ids(family=name["family"], birthdate=day, mothersMaidenName=mother.upper())
    assert str(person) not in ids(family=name["family"], birthdate=day, mothersMaidenName=f"{mother} Khác")


# --- $match (PDQm ITI-119) ------------------------------------------------------------------------------


def test_match_graded_scored_count_bare_patient_and_only_certain(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = _person(client, headers, store)

    def parameters(patient: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return check({
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resource", "resource": {"resourceType": "Patient", **patient}},
                *({"name": k, **v} for k, v in extra.items()),
            ],
        })  # fmt: skip

    def matched(body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        bundle, _ = _bundle(client.post("/fhir/Patient/$match", json=body, headers=headers))
        return [r["id"] for r in _matches(bundle)], [e["search"] for e in bundle.get("entry", [])]

    by_name = parameters({"name": [{"text": s.name}], "birthDate": s.birth_date}, count={"valueInteger": 5})
    found, searches = matched(by_name)
    assert 1 <= len(found) <= 5 and found[0] == str(person)
    assert {x["mode"] for x in searches} == {"match"}
    assert all(0.0 < x["score"] <= 1.0 for x in searches)
    assert [x["score"] for x in searches] == sorted((x["score"] for x in searches), reverse=True)
    grades = [x["extension"][0]["valueCode"] for x in searches]
    assert grades[0] in ("certain", "probable")

    by_id = parameters({"identifier": [{"system": sid.CCCD, "value": s.cccd}]}, count={"valueInteger": 1})
    assert matched(by_id) == ([str(person)], [{"extension": [{"url": GRADE, "valueCode": "certain"}],
                                               "mode": "match", "score": 1.0}])  # fmt: skip
    bare = {"resourceType": "Patient", "identifier": [{"system": sid.CCCD, "value": s.cccd}]}
    assert matched(bare)[0] == [str(person)]  # a Patient as the whole body (one resource parameter)

    only = parameters({"name": [{"text": s.name}], "birthDate": s.birth_date}, count={"valueInteger": 5},
                      onlyCertainMatches={"valueBoolean": True})  # fmt: skip
    assert matched(only)[0] == [i for i, g in zip(found, grades, strict=True) if g == "certain"]

    def refused(body: Any) -> str:
        return _outcome(client.post("/fhir/Patient/$match", json=body, headers=headers), 400)

    assert refused(parameters({"gender": "male"})) == "match_too_vague"
    assert refused({"resourceType": "Patient"}) == "match_too_vague"
    assert refused({"resourceType": "Parameters", "parameter": [{"name": "count", "valueInteger": 2}]}) == (
        "parameter_invalid"
    )
    assert refused(parameters({"gender": "male"}, count={"valueInteger": 0})) == "parameter_invalid"
    assert refused({"resourceType": "Observation"}) == "body_invalid"
    bad_json = client.post("/fhir/Patient/$match", content=b"{nope", headers={**headers, "Content-Type": FHIR_JSON})
    assert _outcome(bad_json, 400) == "body_invalid"


# --- $everything ---------------------------------------------------------------------------------------


def test_everything_is_a_paged_searchset_whose_references_all_resolve(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = _person(client, headers, store)
    url = f"/fhir/Patient/{person}/$everything"
    first, _ = _bundle(client.get(url, params={"_count": "3"}, headers=headers))
    assert len(_matches(first)) == 3 and _link(first, "next") is not None and "total" not in first
    paged = _all_pages(client, headers, url, _count="3")
    whole = _all_pages(client, headers, url, _count="200")
    key = [(r["resourceType"], r["id"]) for r in paged if r["resourceType"] not in ("Organization", "Location")]
    assert key == [(r["resourceType"], r["id"]) for r in whole if r["resourceType"] not in ("Organization", "Location")]
    assert len(set(key)) == len(key)
    assert key[0] == ("Patient", str(person))
    types = {t for t, _ in key}
    assert types >= {"Patient", "Encounter", "Condition", "MedicationRequest", "Observation", "ServiceRequest"}

    timeline = client.get(f"/api/v1/persons/{person}/timeline", headers=headers).json()
    encounters = [r for r in whole if r["resourceType"] == "Encounter"]
    assert [int(e["id"]) for e in encounters] == [e["encounter_id"] for e in timeline["entries"]]
    assert all(e["meta"]["versionId"] == "1" and e["meta"]["lastUpdated"] for e in encounters)

    # every reference resolves by a read, to the same resource
    present = {(r["resourceType"], r["id"]): r for r in whole}
    references = {ref for r in whole for ref in _references(r)}
    for ref in sorted(references):
        kind, rid = ref.split("/")
        response = client.get(f"/fhir/{ref}", headers=headers)
        read = _json(response)
        assert (read["resourceType"], read["id"]) == (kind, rid)
        if kind != "Patient" and (kind, rid) in present:
            assert read == present[(kind, rid)]
            assert response.headers.get("etag", 'W/"1"').startswith('W/"')

    (at_a,) = [e for e in timeline["entries"] if e["facility_code"] == s.facility_a and e["ma_lk"] == s.ma_lk_a]
    mine = [r for r in whole if r.get("encounter", {}).get("reference") == f"Encounter/{at_a['encounter_id']}"]
    drugs = [r for r in mine if r["resourceType"] == "MedicationRequest"]
    assert drugs and all(d["dosageInstruction"][0]["route"]["coding"][0]["code"] for d in drugs)
    (referral,) = [r for r in mine if r["resourceType"] == "ServiceRequest"]
    assert referral["performer"] == [{"reference": f"Organization/{s.facility_b}"}]
    (enc_a,) = [e for e in encounters if e["id"] == str(at_a["encounter_id"])]
    assert enc_a["serviceProvider"] == {"reference": f"Organization/{s.facility_a}"}
    assert enc_a["location"] == [{"location": {"reference": f"Location/{s.facility_a}"}}]
    assert enc_a["identifier"] == [{"system": sid.facility_encounter_system(s.facility_a), "value": s.ma_lk_a}]


def _kinds(resources: list[dict[str, Any]]) -> list[str]:
    """Resource types of the results (Organizations and Locations are included for reference only)."""
    return [r["resourceType"] for r in resources if r["resourceType"] not in ("Organization", "Location")]


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []


def test_everything_filters_care_overlap_since_types_and_post(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    headers = auth(Role.CLINICIAN, store.province.scenario.facility_b, purpose="TREAT")
    x1 = content_tables["XML1"]
    with store.engine.connect() as conn:  # a stay of several days, and its person
        rows = conn.execute(
            select(x1.c.encounter_id, x1.c.ngay_vao, x1.c.ngay_ra, L.sources.c.person_id)
            .join(L.sources, L.sources.c.encounter_id == x1.c.encounter_id)
            .where(x1.c.ngay_ra.is_not(None), x1.c.ngay_vao.is_not(None))
        ).all()
        stay = next(r for r in rows if (r.ngay_ra.date() - r.ngay_vao.date()).days >= 2)
        person = L.current_person(conn, int(stay.person_id))
    url = f"/fhir/Patient/{person}/$everything"
    middle = stay.ngay_vao.date().toordinal() + 1
    day = date.fromordinal(middle).isoformat()

    def encounters(**params: Any) -> list[str]:
        return [r["id"] for r in _all_pages(client, headers, url, _type="Encounter", **params)
                if r["resourceType"] == "Encounter"]  # fmt: skip

    assert str(stay.encounter_id) in encounters(start=day, end=day)  # admitted before, discharged after
    assert str(stay.encounter_id) not in encounters(end=date.fromordinal(middle - 2).isoformat())
    assert str(stay.encounter_id) not in encounters(start=date.fromordinal(stay.ngay_ra.date().toordinal() + 1)
                                                    .isoformat())  # fmt: skip
    everything = _all_pages(client, headers, url, _count="200")
    assert _kinds(_all_pages(client, headers, url, start="2100")) == ["Patient"]
    assert len(_all_pages(client, headers, url, _since="2000-01-01T00:00:00Z", _count="200")) == len(everything)
    assert _kinds(_all_pages(client, headers, url, _since="2100-01-01T00:00:00+07:00")) == ["Patient"]
    # _type repeated: the union (not the last one)
    both = client.get(url + "?_type=Encounter&_type=Condition&_count=200", headers=headers)
    assert {r["resourceType"] for r in _matches(_bundle(both)[0])} == {"Encounter", "Condition"}
    assert _outcome(client.get(url, params={"_type": "Claim"}, headers=headers), 400) == "parameter_invalid"
    assert _outcome(client.get(url, params={"start": "05/03/2024"}, headers=headers), 400) == "parameter_invalid"
    assert _outcome(client.get(url, params={"_since": "yesterday"}, headers=headers), 400) == "parameter_invalid"
    # POST with a Parameters body: the same answer as GET
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "start", "valueDate": day}, {"name": "end", "valueDate": day},
        {"name": "_type", "valueString": "Encounter"},
    ]}  # fmt: skip
    posted, _ = _bundle(client.post(url, json=body, headers=headers))
    assert [r["id"] for r in _matches(posted)] == encounters(start=day, end=day)
    counted = _json(client.get(url, params={"_summary": "count"}, headers=headers))
    assert counted["total"] == sum(1 for r in everything if r["resourceType"] not in ("Organization", "Location"))


def test_reads_of_unknown_superseded_or_malformed_ids_and_interactions(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = _person(client, headers, store)
    encounter = next(r for r in _all_pages(client, headers, f"/fhir/Patient/{person}/$everything", _count="200")
                     if r["resourceType"] == "Encounter")  # fmt: skip
    with Session(store.engine) as session:  # the facility registry names facility A
        upsert_facility(session=session, row=RegistryRow(facility_code=s.facility_a, name="Bệnh viện Thử nghiệm",
                                                         level="district"))  # fmt: skip
        session.commit()
    organization = _json(client.get(f"/fhir/Organization/{s.facility_a}", headers=headers))
    assert organization["name"] == "Bệnh viện Thử nghiệm"
    assert {"system": sid.FACILITY_LEVEL, "code": "district", "display": LEVELS["district"][0]} in (
        organization["type"][0]["coding"]
    )
    assert _json(client.get(f"/fhir/Location/{s.facility_b}", headers=headers))["managingOrganization"] == {
        "reference": f"Organization/{s.facility_b}"
    }
    for path in (f"Encounter/0{encounter['id']}", "Encounter/99999999", f"Condition/{encounter['id']}-dx-99",
                 "Observation/abc", "Organization/99998"):  # fmt: skip
        assert _outcome(client.get(f"/fhir/{path}", headers=headers), 404, "not-found") == "resource_not_found"
    assert _outcome(client.get("/fhir/Claim/1", headers=headers), 404) == "type_not_supported"
    assert _outcome(client.put(f"/fhir/Patient/{person}", json={}, headers=headers), 405, "not-supported") == (
        "interaction_not_supported"
    )
    assert _outcome(client.delete(f"/fhir/Encounter/{encounter['id']}", headers=headers), 405) == (
        "interaction_not_supported"
    )
    assert _outcome(client.get("/fhir/Encounter", params={"patient": person}, headers=headers), 405) == (
        "interaction_not_supported"
    )
    assert _outcome(client.post("/fhir/Patient/$validate", json={}, headers=headers), 405) == (
        "interaction_not_supported"
    )
    assert _outcome(client.get(f"/fhir/Patient/{person}/$summary", headers=headers), 405) == (
        "interaction_not_supported"
    )


# --- PIXm (ITI-83) ---------------------------------------------------------------------------------------


def test_ihe_pix_get_form_and_parameters_with_pixm_status_and_issue_codes(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = _person(client, headers, store)
    patient = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
    system_a = sid.facility_patient_system(s.facility_a)
    (ma_bn,) = _identifiers(patient, system_a)

    def pix(source: str, *targets: str) -> dict[str, Any]:
        params: dict[str, Any] = {"sourceIdentifier": source}
        if targets:
            params["targetSystem"] = list(targets)
        return _json(client.get("/fhir/Patient/$ihe-pix", params=params, headers=headers))

    def values(body: dict[str, Any], name: str, key: str) -> list[Any]:
        return [p[key] for p in body.get("parameter", []) if p["name"] == name]

    from_ma_bn = pix(f"{system_a}|{ma_bn}")
    assert values(from_ma_bn, "targetId", "valueReference") == [{"reference": f"Patient/{person}"}]
    identifiers = values(from_ma_bn, "targetIdentifier", "valueIdentifier")
    assert {"system": sid.CCCD, "value": s.cccd} in identifiers
    assert {"system": system_a, "value": ma_bn} not in identifiers  # the source itself is not echoed
    from_cccd = pix(f"{sid.CCCD}|{s.cccd}", system_a)
    assert values(from_cccd, "targetIdentifier", "valueIdentifier") == [{"system": system_a, "value": ma_bn}]
    form = client.post("/fhir/Patient/$ihe-pix", data={"sourceIdentifier": f"{sid.CCCD}|{s.cccd}",
                                                       "targetSystem": system_a}, headers=headers)  # fmt: skip
    assert _json(form) == from_cccd
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "sourceIdentifier", "valueIdentifier": {"system": sid.CCCD, "value": s.cccd}},
        {"name": "targetSystem", "valueUri": system_a},
    ]}  # fmt: skip
    assert _json(client.post("/fhir/Patient/$ihe-pix", json=parameters, headers=headers)) == from_cccd

    def error(*pairs: tuple[str, str]) -> Any:
        return client.get("/fhir/Patient/$ihe-pix", params=list(pairs), headers=headers)

    assert _outcome(error(("sourceIdentifier", f"https://example.org/sid/x|{s.cccd}")), 400, "code-invalid") == (
        "unknown_system"
    )
    assert _outcome(error(("sourceIdentifier", s.cccd)), 400, "code-invalid") == "unknown_system"
    assert _outcome(error(("sourceIdentifier", f"{sid.CCCD}|001099000000")), 404, "not-found") == (
        "source_identifier_not_found"
    )
    assert _outcome(error(("sourceIdentifier", f"{sid.CCCD}|{s.cccd}"), ("targetSystem", "https://example.org/x")),
                    403, "code-invalid") == "target_system_unknown"  # fmt: skip
    assert _outcome(error(), 400, "invalid") == "parameter_invalid"

    # a CCCD two persons hold (a guardian's number on a child's records): each person, none of their numbers
    x1 = content_tables["XML1"]
    with store.engine.connect() as conn:
        shared = conn.execute(
            select(x1.c.so_cccd)
            .join(L.sources, L.sources.c.encounter_id == x1.c.encounter_id)
            .where(x1.c.so_cccd.is_not(None))
            .group_by(x1.c.so_cccd)
            .having(func.count(func.distinct(L.sources.c.person_id)) > 1)
            .limit(1)
        ).scalar_one_or_none()
    assert shared is not None, "the province should have a CCCD recorded on two persons' records"
    body = pix(f"{sid.CCCD}|{shared}")
    assert len(values(body, "targetId", "valueReference")) >= 2
    assert values(body, "targetIdentifier", "valueIdentifier") == []


# --- formats, errors, audit ------------------------------------------------------------------------------


def test_xml_through_fhir_resources_and_406_for_other_formats(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    from fhir.resources.R4B.patient import Patient

    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = _person(client, headers, store)
    as_json = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
    for extra, params in (({"Accept": "application/fhir+xml"}, {}), ({}, {"_format": "xml"})):
        response = client.get(f"/fhir/Patient/{person}", params=params, headers={**headers, **extra})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+xml")
        parsed = Patient.model_validate_xml(response.content)
        assert parsed.model_dump(mode="json", exclude_none=True) == Patient.model_validate(as_json).model_dump(
            mode="json", exclude_none=True
        )
    bundle = client.get("/fhir/Patient", params={"identifier": s.cccd, "_format": "xml"}, headers=headers)
    assert Bundle.model_validate_xml(bundle.content).type == "searchset"
    assert (
        client.get("/fhir/metadata", headers={"Accept": "text/html,application/xml;q=0.9,*/*;q=0.8"}).status_code == 200
    )
    assert _outcome(client.get("/fhir/metadata", headers={"Accept": "application/pdf"}), 406) == (
        "format_not_acceptable"
    )
    assert _outcome(client.get("/fhir/metadata", params={"_format": "turtle"}), 406) == "format_not_acceptable"
    not_found = client.get("/fhir/Patient/99999999", headers={**headers, "Accept": "application/fhir+xml"})
    assert not_found.status_code == 404
    assert OperationOutcome.model_validate_xml(not_found.content).issue[0].code == "not-found"


def test_errors_are_operation_outcomes_and_api_v1_errors_keep_their_shape(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    clinician = auth(Role.CLINICIAN, "33001", purpose="TREAT")
    no_purpose = auth(Role.CLINICIAN, "33001", purpose=None)
    steward = auth(Role.STEWARD, None, purpose="TREAT")
    unauthenticated = client.get("/fhir/Patient/1")
    assert _outcome(unauthenticated, 401, "login") == "key_missing"
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    assert _outcome(client.get("/fhir/Patient/1", headers=no_purpose), 403, "forbidden") == "purpose_required"
    assert _outcome(client.get("/fhir/Encounter/1", headers=no_purpose), 403) == "purpose_required"
    assert _outcome(client.get("/fhir/Patient/1", headers=steward), 403) == "role_forbidden"
    assert _outcome(client.get("/fhir/Patient/99999999", headers=clinician), 404) == "person_not_found"
    assert _outcome(client.get("/fhir/Patient/abc", headers=clinician), 404) == "person_not_found"
    v1 = client.get("/api/v1/persons/99999999", headers=clinician)
    assert v1.json() == {"error": {"code": "person_not_found", "message": "no person 99999999"}}


def test_each_fhir_read_writes_one_audit_event_and_logs_no_identifying_value(
    store: Store, app: FastAPI, client: TestClient, auth: KeyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = store.province.scenario
    clinician = auth(Role.CLINICIAN, s.facility_b, purpose="COC")
    actor = key_actor(clinician, app)
    search = client.post("/fhir/Patient/_search", data={"identifier": f"{sid.CCCD}|{s.cccd}"}, headers=clinician)
    person = int(_matches(_bundle(search)[0])[0]["id"])
    client.get(f"/fhir/Patient/{person}", headers=clinician)
    match = {"resourceType": "Patient", "name": [{"text": s.name}], "birthDate": s.birth_date}
    client.post("/fhir/Patient/$match", json=match, headers=clinician)
    everything = _bundle(client.get(f"/fhir/Patient/{person}/$everything", params={"_count": "200"},
                                    headers=clinician))[1]  # fmt: skip
    encounter = next(r for r in everything if r["resourceType"] == "Encounter")
    client.get(f"/fhir/Encounter/{encounter['id']}", headers=clinician)
    pix = client.post("/fhir/Patient/$ihe-pix", data={"sourceIdentifier": f"{sid.CCCD}|{s.cccd}"}, headers=clinician)
    assert pix.status_code == 200
    client.get("/fhir/metadata")  # not a read of patient data
    client.get("/fhir/Patient/1", headers=auth(Role.CLINICIAN, s.facility_b, purpose=None))  # refused: no event

    admin = auth(Role.ADMIN, None, purpose=None)
    events = list(reversed(client.get("/api/v1/audit", params={"actor": actor}, headers=admin).json()["entries"]))
    assert [e["action"] for e in events] == [
        "fhir.search", "fhir.read", "fhir.match", "fhir.everything", "fhir.read", "fhir.pix"
    ]  # fmt: skip
    assert {(e["facility_code"], e["purpose"], e["role"]) for e in events} == {(s.facility_b, "COC", "clinician")}
    assert [e["person_id"] for e in events if e["action"] != "fhir.match"] == [person] * 5
    timeline = client.get(f"/api/v1/persons/{person}/timeline", headers=clinician).json()
    assert events[3]["record_ids"] == sorted(e["encounter_id"] for e in timeline["entries"])
    assert events[4]["record_ids"] == [int(encounter["id"])]
    for e in events:
        assert s.cccd not in str(e) and s.name not in str(e)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in (s.cccd, s.name, s.name.upper(), s.phone, s.bhxh):
        assert value not in logged


@pytest.fixture
def bulk_client(store: Store) -> Iterator[TestClient]:
    """A client of an app whose per-key read limit does not stop a sweep over the whole province."""
    settings = store.settings().model_copy(update={"read_rate_per_minute": 10**6, "read_burst": 10**6})
    app = create_app(settings)
    app.state.linker = store.linker
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.mark.slow  # every person's $everything against the schema and the invariants
def test_every_resource_of_the_province_conforms(store: Store, bulk_client: TestClient, auth: KeyFactory) -> None:
    """A sweep over every person: Patient read and all of $everything (newborns with a birth time,
    day-only and timed appointments, imaging results...) against the schema and the invariants."""
    client = bulk_client
    headers = auth(Role.CLINICIAN, "33001", purpose="TREAT")
    with store.engine.connect() as conn:
        persons = sorted(int(p) for p in conn.execute(
            select(L.persons.c.id).where(L.persons.c.merged_into_id.is_(None))).scalars())  # fmt: skip
    kinds: dict[str, int] = {}
    statuses: set[str] = set()
    categories: set[str] = set()
    for person in persons:
        _json(client.get(f"/fhir/Patient/{person}", headers=headers))
        for r in _all_pages(client, headers, f"/fhir/Patient/{person}/$everything", _count="200"):
            kinds[r["resourceType"]] = kinds.get(r["resourceType"], 0) + 1
            if r["resourceType"] == "Appointment":
                statuses.add(r["status"])
            if r["resourceType"] == "Observation":
                category = r["category"][0]["coding"][0]["code"]
                categories.add(category)
                assert category != "imaging" or (r["valueString"] and "note" not in r)
    assert statuses == {"booked", "proposed"}
    assert categories == {"laboratory", "imaging"}
    assert kinds["Patient"] == len(persons)


def test_merged_person_links_and_open_reviews_as_seealso(store: Store, client: TestClient, auth: KeyFactory) -> None:
    headers = auth(Role.CLINICIAN, "33001", purpose="TREAT")
    with store.engine.connect() as conn:
        pair = conn.execute(
            select(L.sources.c.person_id, L.reviews.c.candidate_person_id)
            .join(L.reviews, L.reviews.c.source_record_id == L.sources.c.id)
            .where(L.reviews.c.status == "open")
            .limit(1)
        ).first()
        assert pair is not None, "the province should leave a review item open"
        holder, candidate = (L.current_person(conn, int(p)) for p in pair)
        alive = [int(p) for p in conn.execute(
            select(L.persons.c.id).where(L.persons.c.merged_into_id.is_(None)).order_by(L.persons.c.id.desc())
            .limit(2)).scalars()]  # fmt: skip
    holder_links = _json(client.get(f"/fhir/Patient/{holder}", headers=headers)).get("link", [])
    links = {(x["type"], x["other"]["reference"]) for x in holder_links}
    assert ("seealso", f"Patient/{candidate}") in links
    back = _json(client.get(f"/fhir/Patient/{candidate}", headers=headers)).get("link", [])
    assert {"other": {"reference": f"Patient/{holder}"}, "type": "seealso"} in back

    source, survivor = alive
    with store.engine.begin() as conn:
        L.merge(conn, from_person_id=source, into_person_id=survivor, actor="test")
    try:
        merged = _json(client.get(f"/fhir/Patient/{source}", headers=headers))
        assert merged["active"] is False
        assert merged["link"] == [{"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}]
        kept = _json(client.get(f"/fhir/Patient/{survivor}", headers=headers))
        assert {"other": {"reference": f"Patient/{source}"}, "type": "replaces"} in kept["link"]
    finally:
        with store.engine.begin() as conn:
            L.unmerge(conn, person_id=source, actor="test")


def test_sensitive_encounters_withheld_labelled_and_revealed_by_break_glass(
    store: Store, client: TestClient, auth: KeyFactory
) -> None:
    with store.engine.connect() as conn:  # an HIV (XML6) or else TB (XML15) care encounter, and its facility
        for table, label in (("XML6", "HIV"), ("XML15", "COMDIS")):
            x6, code = content_tables[table], label
            row = conn.execute(
                select(x6.c.encounter_id, L.sources.c.person_id, L.sources.c.facility_code)
                .join(L.sources, L.sources.c.encounter_id == x6.c.encounter_id)
                .limit(1)
            ).first()
            if row is not None:
                break
        assert row is not None, "the province should hold HIV or TB care encounters"
        person = L.current_person(conn, int(row.person_id))
    sensitivity = ("http://terminology.hl7.org/CodeSystem/v3-ActCode", code)
    other = "33001" if row.facility_code != "33001" else "33002"
    url = f"/fhir/Patient/{person}/$everything"
    hidden = _bundle(client.get(url, params={"_count": "200"}, headers=auth(Role.CLINICIAN, other, purpose="TREAT")))[0]
    assert str(row.encounter_id) not in {r["id"] for r in _matches(hidden) if r["resourceType"] == "Encounter"}
    assert any("withheld" in w for w in _warnings(hidden))
    read = client.get(f"/fhir/Encounter/{row.encounter_id}", headers=auth(Role.CLINICIAN, other, purpose="TREAT"))
    assert _outcome(read, 403) == "sensitive_withheld"

    glass = {**auth(Role.CLINICIAN, other, purpose="ETREAT"), "X-Break-Glass-Reason": "cap%20cuu%20benh%20nhan"}
    shown = _bundle(client.get(url, params={"_count": "200"}, headers=glass))[0]
    (encounter,) = [r for r in _matches(shown) if r["resourceType"] == "Encounter" and r["id"] == str(row.encounter_id)]
    codes = {(c["system"], c["code"]) for c in encounter["meta"]["security"]}
    assert ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R") in codes
    assert sensitivity in codes
    own_headers = auth(Role.CLINICIAN, row.facility_code, purpose="TREAT")
    own = _json(client.get(f"/fhir/Encounter/{row.encounter_id}", headers=own_headers))
    assert {c["code"] for c in own["meta"]["security"]} >= {"R", code}

    # the Patient says the same wherever it appears: read, search, $everything
    def labels(patient: dict[str, Any]) -> set[tuple[str, str]]:
        return {(c["system"], c["code"]) for c in patient.get("meta", {}).get("security", [])}

    def everywhere(headers: dict[str, str]) -> set[tuple[str, str]]:
        read = _json(client.get(f"/fhir/Patient/{person}", headers=headers))
        (searched,) = _matches(_bundle(client.get("/fhir/Patient", params={"_id": str(person)}, headers=headers))[0])
        (first,) = [r for r in _matches(_bundle(client.get(url, params={"_count": "1"}, headers=headers))[0])]
        assert first["resourceType"] == "Patient"
        assert labels(read) == labels(searched) == labels(first)
        assert read["meta"]["versionId"] == searched["meta"]["versionId"] == first["meta"]["versionId"]
        return labels(read)

    redacted = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "REDACTED")
    assert redacted in everywhere(auth(Role.CLINICIAN, other, purpose="TREAT"))
    # nor does a search find the person by what only withheld encounters recorded (the clinic's MA_BN)
    with store.engine.connect() as conn:
        codes_at = conn.execute(
            select(L.sources.c.patient_code, func.count(), func.count(x6.c.encounter_id))
            .outerjoin(x6, x6.c.encounter_id == L.sources.c.encounter_id)
            .where(L.sources.c.facility_code == row.facility_code, L.sources.c.patient_code.is_not(None))
            .group_by(L.sources.c.patient_code)
        ).all()
    only_care = [c for c, records, care in codes_at if records == care]
    assert only_care, "the province should have a patient code recorded only on HIV or TB care visits"
    token = f"{sid.facility_patient_system(row.facility_code)}|{only_care[0]}"
    elsewhere, at_clinic = auth(Role.CLINICIAN, other, purpose="TREAT"), own_headers
    assert _matches(_bundle(client.get("/fhir/Patient", params={"identifier": token}, headers=elsewhere))[0]) == []
    assert len(_matches(_bundle(client.get("/fhir/Patient", params={"identifier": token}, headers=at_clinic))[0])) == 1
    assert {c for _, c in everywhere(auth(Role.CLINICIAN, row.facility_code, purpose="TREAT"))} >= {"R", code}
    revealed = everywhere(glass)
    assert redacted not in revealed and sensitivity in revealed


@pytest.mark.parametrize("value", ["2024-03-05T08:30", "2024-03-05", "2024"])
def test_times_become_fhir_datetimes(value: str) -> None:
    from mpi.fhir.everything import fhir_datetime

    expected = {"2024-03-05T08:30": "2024-03-05T08:30:00+07:00"}.get(value, value)
    assert fhir_datetime(value) == expected


def test_no_fhir_route_reads_the_store_on_the_event_loop(
    app: FastAPI, store: Store, client: TestClient, auth: KeyFactory
) -> None:
    """Searches and operations (async routes: they read their bodies) do their store work in a worker
    thread: on the event loop it would hold up every other request of the server process meanwhile."""
    s = store.province.scenario
    headers = auth(Role.CLINICIAN, s.facility_b, purpose="TREAT")
    person = _person(client, headers, store)
    on_loop: list[str] = []

    def statement(*_: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        on_loop.append(threading.current_thread().name)

    token = f"{sid.CCCD}|{s.cccd}"
    pix = {"resourceType": "Parameters", "parameter": [
        {"name": "sourceIdentifier", "valueIdentifier": {"system": sid.CCCD, "value": s.cccd}}]}  # fmt: skip
    match = {"resourceType": "Patient", "identifier": [{"system": sid.CCCD, "value": s.cccd}]}
    everything = {"resourceType": "Parameters", "parameter": [{"name": "_type", "valueString": "Encounter"}]}
    event.listen(app.state.engine, "before_cursor_execute", statement)
    try:
        answers = [
            client.get("/fhir/Patient", params={"identifier": token}, headers=headers),
            client.post("/fhir/Patient/_search", data={"identifier": token}, headers=headers),
            client.post("/fhir/Patient/$match", json=match, headers=headers),
            client.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": token}, headers=headers),
            client.post("/fhir/Patient/$ihe-pix", json=pix, headers=headers),
            client.get(f"/fhir/Patient/{person}/$everything", headers=headers),
            client.post(f"/fhir/Patient/{person}/$everything", json=everything, headers=headers),
            client.get(f"/fhir/Patient/{person}", headers=headers),
        ]
    finally:
        event.remove(app.state.engine, "before_cursor_execute", statement)
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers if a.status_code != 200]
    assert on_loop == []
