"""Schemathesis against the application's own OpenAPI: every operation, a few generated requests each,
sent as every role (and without a key); not one server error. Routes added later are covered as soon as
they are in the OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI

from api.app import create_app
from mpi.keys import Role, create_key
from mpi.settings import Settings
from mpi.store import session_scope
from tests.builders import envelope, outpatient
from tests.support import TEST_SECRET

if TYPE_CHECKING:
    import schemathesis

pytestmark = pytest.mark.slow  # every operation and role with generated requests: a long run

EXAMPLES = 4
ROLES: dict[str, tuple[Role, str | None, str | None]] = {
    "submitter": (Role.SUBMITTER, "74001", None),
    "clinician": (Role.CLINICIAN, "74001", "TREAT"),
    "steward": (Role.STEWARD, None, "HOPERAT"),
    "analyst": (Role.ANALYST, None, None),
    "admin": (Role.ADMIN, None, None),
}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, dict[str, str]]]]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(env="test", secret_key=TEST_SECRET, database_url=f"sqlite:///{path}/store.sqlite3"))
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with session_scope(app.state.engine) as session:
        for name, (role, facility, purpose) in ROLES.items():
            _, plaintext = create_key(session=session, role=role, facility_code=facility, secret=TEST_SECRET)
            headers[name] = {"Authorization": f"Bearer {plaintext}"}
            if purpose:
                headers[name]["X-Purpose-Of-Use"] = purpose
    from starlette.testclient import TestClient

    with TestClient(app) as client:  # a person and an encounter for the generated ids to find
        client.post(
            "/api/v1/submissions", content=envelope([outpatient("LK1")]),
            headers={**headers["submitter"], "Content-Type": "application/xml"},
        )  # fmt: skip
    yield app, headers
    app.state.engine.dispose()


def test_no_server_error_for_any_operation_and_role(fuzz_app: tuple[FastAPI, dict[str, dict[str, str]]]) -> None:
    # imported here: schemathesis and hypothesis take seconds to import, and every run collects this module
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    app, headers = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[tuple[str, str, str, int, str]] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def run(case: schemathesis.Case) -> None:
            for role, role_headers in headers.items():
                response = case.call(headers={**(case.headers or {}), **role_headers})
                if response.status_code >= 500:
                    failures.append((role, case.method, case.formatted_path, response.status_code, response.text[:200]))

        run()
    assert operations >= 20  # the OpenAPI lists the application's operations
    assert not failures, failures[:10]


def test_the_openapi_documents_the_bearer_scheme_and_fhir_operation_outcomes(
    fuzz_app: tuple[FastAPI, dict[str, dict[str, str]]],
) -> None:
    document = fuzz_app[0].openapi()
    schemes = document["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    assert document["paths"]["/api/v1/persons/{person_id}"]["get"]["security"]
    fhir = {p: ops for p, ops in document["paths"].items() if p.startswith("/fhir")}
    assert len(fhir) >= 5
    for path, operations in fhir.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "application/fhir+json" in responses["200"]["content"], (method, path)
            for status in ("401", "403", "404", "422"):
                schema = responses[status]["content"]["application/fhir+json"]["schema"]
                assert schema["properties"]["resourceType"]["enum"] == ["OperationOutcome"], (method, path, status)
