"""One ingested province per back end and test module; apps and keys per test on top of it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from mpi.identity.online import OnlineLinker
from mpi.keys import Role, create_key
from mpi.settings import Settings
from mpi.store import open_store, session_scope
from tests.conftest import TEST_SECRET, _pg_database
from tests.records.province import Capture, Province, ingest_province, province


@dataclass
class Store:
    url: str
    engine: Engine
    province: Province
    linker: OnlineLinker
    ingest_log: list[str]

    def settings(self) -> Settings:
        return Settings(env="test", secret_key=TEST_SECRET, database_url=self.url)


@pytest.fixture(scope="session")
def province_data(tmp_path_factory: pytest.TempPathFactory) -> Province:
    return province(tmp_path_factory.mktemp("province"))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, province_data: Province
) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store')}/store.sqlite3"
    else:
        url = _pg_database(request.getfixturevalue("pg_server"))
    engine = open_store(url)
    settings = Settings(env="test", secret_key=TEST_SECRET, database_url=url)
    capture, root = Capture(), logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        linker = ingest_province(engine, province_data, settings)
    finally:
        root.removeHandler(capture)
        root.setLevel(level)
    yield Store(url=url, engine=engine, province=province_data, linker=linker, ingest_log=capture.lines)
    engine.dispose()


@pytest.fixture
def app(store: Store) -> Iterator[FastAPI]:
    app = create_app(store.settings())
    app.state.linker = store.linker  # the linker that ingested: same term frequencies
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


KeyFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(app: FastAPI) -> KeyFactory:
    """``auth(Role.CLINICIAN, "33001", purpose="TREAT")`` -> headers of a fresh key (and a purpose)."""

    def make(role: Role = Role.CLINICIAN, facility: str | None = None, purpose: str | None = "TREAT") -> dict[str, str]:
        with session_scope(app.state.engine) as session:
            _, plaintext = create_key(session=session, role=role, facility_code=facility)
        headers = {"Authorization": f"Bearer {plaintext}"}
        if purpose is not None:
            headers["X-Purpose-Of-Use"] = purpose
        return headers

    return make


def key_actor(headers: dict[str, str], app: FastAPI) -> str:
    from mpi.keys import verify_key

    with session_scope(app.state.engine) as session:
        key = verify_key(session=session, plaintext=headers["Authorization"].removeprefix("Bearer "))
    return f"key:{key.id}"
