"""The routes clinicians read are matched first (api/routing.py) without changing any answer or the OpenAPI."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from api.routing import HubAPI


def _prefix(route: object) -> str | None:
    original = getattr(route, "original_router", None)
    return getattr(original, "prefix", None) or getattr(route, "path", None)


def test_the_application_matches_reads_first_and_documents_routes_as_declared(_routes: FastAPI) -> None:
    matched = [_prefix(r) for r in _routes.router.routes]
    declared = [_prefix(r) for r in _routes.routes]
    assert matched[:3] == ["/api/v1/persons", "/fhir", "/healthz"]
    assert sorted(map(str, matched)) == sorted(map(str, declared))
    # the declared order: the routers as create_app includes them, the probes last
    assert declared.index("/api/v1/submissions") < declared.index("/api/v1/persons") < declared.index("/fhir")
    assert declared[-2:] == ["/healthz", "/readyz"]
    paths = list(_routes.openapi()["paths"])
    assert paths.index("/api/v1/submissions") < paths.index("/api/v1/persons/{person_id}") < paths.index("/healthz")
    assert paths.index("/fhir/Patient/{patient_id}") < paths.index("/healthz")


def _app(*routers: APIRouter) -> HubAPI:
    app = HubAPI()
    for router in routers:
        app.include_router(router)
    return app


def _router(prefix: str, *paths: str) -> APIRouter:
    router = APIRouter(prefix=prefix)
    for path in paths:

        def endpoint(path: str = path) -> dict[str, str]:
            return {"route": f"{prefix}{path}"}

        router.add_api_route(path, endpoint, methods=["GET"], name=f"{prefix}{path}")
    return router


def test_a_route_that_may_match_under_a_hot_prefix_keeps_the_declared_order() -> None:
    catch_all = _router("", "/{anything:path}")
    app = _app(catch_all, _router("/fhir", "/Patient/{pid}"))
    with pytest.raises(ValueError, match="/fhir"):
        app.match_first("/fhir")
    parameter_first = _app(_router("", "/{kind}/Patient/{pid}"), _router("/fhir", "/Patient/{pid}"))
    with pytest.raises(ValueError):
        parameter_first.match_first("/fhir")


def test_moving_disjoint_routers_first_changes_no_answer() -> None:
    routers = (
        _router("/api/v1", "/referrals", "/appointments"),
        _router("/fhirx", "/Patient/{pid}"),  # not under /fhir: a prefix is a whole path segment
        _router("/fhir", "/Patient/{pid}", "/metadata"),
    )
    declared, moved = _app(*routers), _app(*routers)
    moved.match_first("/fhir")
    assert [_prefix(r) for r in moved.router.routes][:1] == ["/fhir"]
    with TestClient(declared) as a, TestClient(moved) as b:
        for path in ("/fhir/Patient/7", "/fhirx/Patient/7", "/fhir/metadata", "/api/v1/referrals", "/fhir", "/nowhere"):
            for method in ("GET", "POST"):
                left, right = a.request(method, path), b.request(method, path)
                assert (left.status_code, left.content, left.headers.get("allow")) == (
                    right.status_code,
                    right.content,
                    right.headers.get("allow"),
                ), (method, path)
    assert declared.openapi() == moved.openapi()
