"""An application per test on a store chosen by ``app_settings``, its client and API keys minted into it.

By default the store is a fresh migrated database on each back end (``settings``); a directory whose
tests read a prepared store overrides ``app`` and ``client`` (tests/records and tests/fhir: one app per
module on the province, tests/plugins/province.py).

Building an app's route table costs more than most API tests, so tests whose requests leave nothing in the
store another test could see (refused requests, error paths) share one app per module instead:
``module_app``, ``module_client``, ``module_auth``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.plugins.stores import migrate
from tests.support import BACKENDS, TEST_SECRET, KeyFactory, Templates, drop_pg_database, key_factory, pg_server_for

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from mpi.settings import Settings


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture(scope="session")
def _routes(tmp_path_factory: pytest.TempPathFactory, templates: Templates) -> FastAPI:
    """One application per process whose routes every ``app`` reuses: FastAPI builds a route table on an
    app's first requests, which costs more than most API tests."""
    from api.app import create_app
    from mpi.settings import Settings

    url = templates.copy("migrated", migrate, tmp_path_factory.mktemp("routes") / "store.sqlite3")
    app = create_app(Settings(env="test", secret_key=TEST_SECRET, database_url=url))
    app.state.engine.dispose()
    return app


@pytest.fixture
def app(app_settings: Settings, _routes: FastAPI) -> Iterator[FastAPI]:
    """The application on the store of ``app_settings``: the process's routes, with everything else (state,
    engine, linker, limits, intake) new for this test, as ``create_app`` would make it."""
    from starlette.datastructures import State

    from api.app import attach_store

    _routes.state = State()  # nothing a previous test set on the state remains
    attach_store(_routes, app_settings)
    yield _routes
    _routes.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    yield from _running(app)


def _running(app: FastAPI) -> Iterator[TestClient]:
    """A client of ``app`` with its lifespan started (until the generator is closed)."""
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        yield client


@pytest.fixture
def auth(app: FastAPI) -> KeyFactory:
    """``auth(Role.CLINICIAN, "74001", purpose="TREAT")`` -> the headers of a fresh key (see KeyFactory)."""
    return key_factory(app)


@pytest.fixture
def submitter(auth: KeyFactory) -> dict[str, str]:
    """A submitter key of facility 74001."""
    return _submitter(auth)


def _submitter(auth: KeyFactory) -> dict[str, str]:
    from mpi.keys import Role

    return auth(Role.SUBMITTER, "74001")


@pytest.fixture(scope="module", params=BACKENDS)
def module_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, templates: Templates
) -> Iterator[FastAPI]:
    """One application per module on a fresh migrated store of its own, on each back end: for tests whose
    requests write nothing another test of the module could see."""
    from api.app import create_app
    from mpi.settings import Settings

    server = pg_server_for(request)
    url = templates.copy("migrated", migrate, tmp_path_factory.mktemp("store") / "store.sqlite3", server=server)
    app = create_app(Settings(env="test", secret_key=TEST_SECRET, database_url=url))
    yield app
    app.state.engine.dispose()
    if server is not None:
        drop_pg_database(server, url)


@pytest.fixture(scope="module")
def module_client(module_app: FastAPI) -> Iterator[TestClient]:
    yield from _running(module_app)


@pytest.fixture
def module_auth(module_app: FastAPI) -> KeyFactory:
    """Fresh keys of ``module_app`` (see KeyFactory)."""
    return key_factory(module_app)


@pytest.fixture
def module_submitter(module_auth: KeyFactory) -> dict[str, str]:
    """A submitter key of facility 74001 in ``module_app``."""
    return _submitter(module_auth)
