"""An application per test on a store chosen by ``app_settings``, its client and API keys minted into it.

By default the store is a fresh migrated database on each back end (``settings``); a directory whose
tests read a prepared store overrides ``app_settings`` (tests/records and tests/fhir: the province)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from mpi.keys import Role
from mpi.settings import Settings
from tests.support import KeyFactory, key_factory


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def app(app_settings: Settings) -> Iterator[FastAPI]:
    app = create_app(app_settings)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def auth(app: FastAPI) -> KeyFactory:
    """``auth(Role.CLINICIAN, "74001", purpose="TREAT")`` -> the headers of a fresh key (see KeyFactory)."""
    return key_factory(app)


@pytest.fixture
def submitter(auth: KeyFactory) -> dict[str, str]:
    """A submitter key of facility 74001."""
    return auth(Role.SUBMITTER, "74001")
