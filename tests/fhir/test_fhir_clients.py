"""Two FHIR clients written by others — ``fhirpy`` and SMART's ``fhirclient`` — used as they come against
the app, served by uvicorn on a loopback port that the test starts. The only set-up is the
authorization: the API key and the purpose of use (fhirpy's ``authorization`` and ``extra_headers``,
fhirclient's session headers). Searches page through ``next`` links, references resolve (inside a Bundle
by ``fullUrl``, else by a read), and fhirclient parses every resource with its own strict R4 models.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI

from mpi.fhir import identifiers as sid
from mpi.keys import Role
from tests.fhir.conformance import check
from tests.plugins.province import Store
from tests.support import KeyFactory

if TYPE_CHECKING:  # the clients are imported by the tests that use them: every worker collects this module
    from fhirclient import client as smart
    from fhirpy import SyncFHIRClient


@pytest.fixture
def base(app: FastAPI, free_tcp_port: int) -> Iterator[str]:
    """The app on http://127.0.0.1:<port>/fhir, served by uvicorn in a thread for the test's duration."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_tcp_port, log_level="warning",
                                           access_log=False, lifespan="off"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{free_tcp_port}/fhir"
    server.should_exit = True
    thread.join(timeout=30)


def _headers(auth: KeyFactory, facility: str) -> dict[str, str]:
    return auth(Role.CLINICIAN, facility, purpose="TREAT")


def _fhirpy(base: str, headers: dict[str, str]) -> SyncFHIRClient:
    from fhirpy import SyncFHIRClient

    extra = {k: v for k, v in headers.items() if k != "Authorization"}
    return SyncFHIRClient(base, authorization=headers["Authorization"], extra_headers=extra)


def _smart(base: str, headers: dict[str, str]) -> smart.FHIRClient:
    from fhirclient import client as smart

    client = smart.FHIRClient(settings={"app_id": "mpi-interop-test", "api_base": base})
    client.server.session.headers.update(headers)
    return client


def test_fhirpy_searches_pages_resolves_references_and_runs_the_operations(
    store: Store, base: str, auth: KeyFactory
) -> None:
    s = store.province.scenario
    client = _fhirpy(base, _headers(auth, s.facility_b))

    (patient,) = client.resources("Patient").search(identifier=f"{sid.CCCD}|{s.cccd}").fetch()
    check(patient.serialize())
    person = patient["id"]
    assert client.reference("Patient", person).to_resource()["id"] == person

    # paging: one per page, all of them through next links
    cccds = ",".join(f"{sid.CCCD}|{c}" for c in store.province.cccds[:4])
    everyone = client.resources("Patient").search(identifier=cccds).fetch()
    paged = client.resources("Patient").search(identifier=cccds).limit(1).fetch_all()
    assert [p["id"] for p in paged] == [p["id"] for p in everyone] and len(everyone) >= 3
    assert client.resources("Patient").search(identifier=cccds).count() == len(everyone)

    # PDQm ITI-78 by demographics, modifiers as fhirpy writes them (family__exact -> family:exact)
    family, given = s.name.split()[0], s.name.split()[-1]
    by_name = client.resources("Patient").search(family=family, birthdate=s.birth_date, telecom=f"phone|{s.phone}")
    assert person in [p["id"] for p in by_name.fetch_all()]
    exact = client.resources("Patient").search(family__exact=patient["name"][0]["family"], given=given,
                                               birthdate=s.birth_date[:4])  # fmt: skip
    assert person in [p["id"] for p in exact.fetch_all()]

    # $everything, then every reference read back through the client
    bundle = client.execute(f"Patient/{person}/$everything", method="get", params={"_count": 200})
    check(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    assert all(e["fullUrl"] == f"{base}/{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"])
    references = sorted({r["encounter"]["reference"] for r in resources if "encounter" in r})
    assert references
    for ref in references:
        kind, rid = ref.split("/")
        resolved = client.reference(kind, rid).to_resource()
        assert resolved["resourceType"] == kind and resolved["id"] == rid
        check(resolved.serialize())
    organization = client.reference("Organization", s.facility_a).to_resource()
    assert organization["id"] == s.facility_a

    # $match with a Parameters body and with a bare Patient; $ihe-pix as GET and as POST Parameters
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient", "name": [{"text": s.name}],
                                          "birthDate": s.birth_date}},
        {"name": "count", "valueInteger": 3},
    ]}  # fmt: skip
    matched = client.execute("Patient/$match", data=parameters)
    assert check(matched)["entry"][0]["resource"]["id"] == person
    bare = client.execute("Patient/$match", data={"resourceType": "Patient",
                                                  "identifier": [{"system": sid.CCCD, "value": s.cccd}]})  # fmt: skip
    assert [e["resource"]["id"] for e in bare["entry"]] == [person]
    pix_get = client.execute("Patient/$ihe-pix", method="get", params={"sourceIdentifier": f"{sid.CCCD}|{s.cccd}"})
    pix_post = client.execute("Patient/$ihe-pix", data={"resourceType": "Parameters", "parameter": [
        {"name": "sourceIdentifier", "valueIdentifier": {"system": sid.CCCD, "value": s.cccd}}]})  # fmt: skip
    assert check(pix_get) == pix_post
    assert {"name": "targetId", "valueReference": {"reference": f"Patient/{person}"}} in pix_post["parameter"]


def test_fhirclient_parses_every_resource_pages_and_resolves_inside_bundles(
    store: Store, base: str, auth: KeyFactory
) -> None:
    from fhirclient.models.bundle import Bundle as SmartBundle
    from fhirclient.models.condition import Condition as SmartCondition
    from fhirclient.models.encounter import Encounter as SmartEncounter
    from fhirclient.models.organization import Organization as SmartOrganization
    from fhirclient.models.parameters import Parameters as SmartParameters
    from fhirclient.models.patient import Patient as SmartPatient

    s = store.province.scenario
    client = _smart(base, _headers(auth, s.facility_b))
    server = client.server
    server.get_capability()
    assert server.capabilityStatement.fhirVersion == "4.0.1"

    (patient,) = SmartPatient.where(struct={"identifier": f"{sid.CCCD}|{s.cccd}"}).perform_resources_iter(server)
    person = patient.id
    read = SmartPatient.read(person, server)
    assert read.id == person and [n.use for n in read.name].count("official") == 1

    family = s.name.split()[0]
    by_name = SmartPatient.where(struct={"family": family, "birthdate": s.birth_date, "gender": read.gender})
    assert person in [p.id for p in by_name.perform_resources_iter(server)]

    cccds = ",".join(f"{sid.CCCD}|{c}" for c in store.province.cccds[:4])
    paged = list(SmartPatient.where(struct={"identifier": cccds, "_count": "1"}).perform_resources_iter(server))
    whole = list(SmartPatient.where(struct={"identifier": cccds}).perform_resources_iter(server))
    assert [p.id for p in paged] == [p.id for p in whole] and len(whole) >= 3

    # $everything: references resolve within the page's Bundle by fullUrl, the rest by a read
    bundle = SmartBundle.read_from(f"Patient/{person}/$everything?_count=200", server)
    assert bundle.type == "searchset" and bundle.link[0].relation == "self"
    resolved = 0
    for entry in bundle.entry:
        resource: Any = entry.resource
        if isinstance(resource, SmartCondition):
            encounter = resource.encounter.resolved(SmartEncounter)
            assert isinstance(encounter, SmartEncounter)
            assert any(e.resource is encounter for e in bundle.entry)  # found in the Bundle, not fetched
            resolved += 1
        if isinstance(resource, SmartEncounter):
            provider = resource.serviceProvider.resolved(SmartOrganization)
            assert isinstance(provider, SmartOrganization) and provider.id == resource.serviceProvider.reference[13:]
    assert resolved > 0
    first_page = SmartBundle.read_from(f"Patient/{person}/$everything?_count=2", server)
    condition = next(e.resource for e in bundle.entry if isinstance(e.resource, SmartCondition))
    encounter_id = condition.encounter.reference.split("/")[1]
    assert SmartEncounter.read(encounter_id, server).id == encounter_id  # a read outside any Bundle
    assert len([e for e in first_page.entry if e.search.mode == "match"]) == 2
    assert any(link.relation == "next" for link in first_page.link)

    # the operations through the client's own POST
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "sourceIdentifier", "valueIdentifier": {"system": sid.CCCD, "value": s.cccd}}]}  # fmt: skip
    pix = SmartParameters(server.post_json("Patient/$ihe-pix", parameters).json())
    assert f"Patient/{person}" in [p.valueReference.reference for p in pix.parameter if p.name == "targetId"]
    match = SmartBundle(server.post_json("Patient/$match", {
        "resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": {"resourceType": "Patient", "name": [{"text": s.name}],
                                              "birthDate": s.birth_date}},
            {"name": "onlyCertainMatches", "valueBoolean": True}]}).json())  # fmt: skip
    assert all(e.search.extension[0].valueCode == "certain" for e in match.entry or [])
