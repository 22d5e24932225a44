"""An application per test on each back end, and API keys minted straight into its store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from mpi.keys import Role, create_key
from mpi.settings import Settings
from mpi.store import session_scope

KeyFactory = Callable[..., dict[str, str]]


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def auth(app: FastAPI) -> KeyFactory:
    """``auth(Role.SUBMITTER, "74001")`` -> the Authorization header of a fresh key of that role."""

    def make(role: Role = Role.SUBMITTER, facility: str | None = "74001") -> dict[str, str]:
        with session_scope(app.state.engine) as session:
            _, plaintext = create_key(
                session=session, role=role, facility_code=facility, secret=app.state.settings.secret_key
            )
        return {"Authorization": f"Bearer {plaintext}"}

    return make


@pytest.fixture
def submitter(auth: KeyFactory) -> dict[str, str]:
    """A submitter key of facility 74001."""
    return auth(Role.SUBMITTER, "74001")
