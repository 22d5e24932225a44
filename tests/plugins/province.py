"""The records tests' synthetic province (tests/records/province.py), generated once per run and ingested
once per back end into a template; each test module gets its own copy (tests in a module build on each
other's writes, modules never see each other's)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.plugins.stores import migrate
from tests.support import (
    BACKENDS,
    TEST_SECRET,
    Templates,
    copy_sqlite,
    drop_pg_database,
    once,
    pg_server_for,
    run_root,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy import Engine

    from mpi.identity.online import OnlineLinker
    from mpi.settings import Settings
    from tests.postgres import PostgresServer
    from tests.records.province import Province


@dataclass
class Store:
    url: str
    engine: Engine
    province: Province
    linker: OnlineLinker
    ingest_log: list[str]
    """Every log line the ingest of the province wrote (at DEBUG and above)."""

    def settings(self) -> Settings:
        from mpi.settings import Settings

        return Settings(env="test", secret_key=TEST_SECRET, database_url=self.url)


@dataclass
class ProvinceTemplates:
    """Builds the province's template store of a back end on first use and copies it."""

    data: Province
    templates: Templates
    ingest_logs: dict[str, list[str]]
    """Back end -> the log lines of the template's ingest (also in a file beside the templates: another
    worker of the run may have built it)."""

    def _build(self, url: str, migrated: str | None = None) -> None:
        """``migrated``: the URL of the migrated SQLite template, copied first instead of migrating anew."""
        from sqlalchemy.engine import make_url

        from mpi.settings import Settings
        from mpi.store import open_store
        from tests.records.province import Capture, ingest_province

        if migrated is not None:
            database = make_url(url).database
            assert database is not None
            copy_sqlite(migrated, Path(database))
        engine = open_store(url)
        capture, root = Capture(), logging.getLogger()
        level = root.level
        root.addHandler(capture)
        root.setLevel(logging.DEBUG)
        try:
            ingest_province(engine, self.data, Settings(env="test", secret_key=TEST_SECRET, database_url=url))
        finally:
            root.removeHandler(capture)
            root.setLevel(level)
            engine.dispose()
        backend = make_url(url).get_backend_name()
        self.ingest_logs[backend] = capture.lines
        self._log_file(backend).write_text(json.dumps(capture.lines), encoding="utf-8")

    def _log_file(self, backend: str) -> Path:
        return self.templates.root / f"province.{backend}.log.json"

    def ingest_log(self, backend: str) -> list[str]:
        """The log of the back end's template, which a copy was made of before (maybe by another worker)."""
        if backend not in self.ingest_logs:
            self.ingest_logs[backend] = json.loads(self._log_file(backend).read_text(encoding="utf-8"))
        return self.ingest_logs[backend]

    def copy(self, target: Path, *, server: PostgresServer | None = None) -> str:
        """A new store holding the province: a SQLite file at ``target``, or on ``server``."""
        migrated = self.templates.template("migrated", migrate) if server is None else None
        return self.templates.copy("province", partial(self._build, migrated=migrated), target, server=server)


@pytest.fixture(scope="session")
def province_data(tmp_path_factory: pytest.TempPathFactory) -> Province:
    from tests.records.province import generate, province

    return province(once(run_root(tmp_path_factory) / "province", generate))


@pytest.fixture(scope="session")
def province_templates(province_data: Province, templates: Templates) -> ProvinceTemplates:
    return ProvinceTemplates(province_data, templates, {})


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, province_templates: ProvinceTemplates
) -> Iterator[Store]:
    """The province ingested (all but the held-back encounter) into a store of this module's own."""
    from mpi.identity.online import OnlineLinker
    from mpi.settings import Settings
    from mpi.store import open_store

    server = pg_server_for(request)
    url = province_templates.copy(tmp_path_factory.mktemp("store") / "store.sqlite3", server=server)
    engine = open_store(url)
    linker = OnlineLinker.from_settings(Settings(env="test", secret_key=TEST_SECRET, database_url=url))
    linker.warm(engine)
    yield Store(url, engine, province_templates.data, linker, province_templates.ingest_log(request.param))
    engine.dispose()
    if server is not None:
        drop_pg_database(server, url)


@pytest.fixture(scope="module")
def province_app(store: Store) -> Iterator[FastAPI]:
    """One application per module on its province store (``app`` of tests/records and tests/fhir): building
    an app's route table costs more than most of their tests."""
    from api.app import create_app

    app = create_app(store.settings())
    yield app
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def province_module_client(province_app: FastAPI) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    """The client of ``province_app``, running (lifespan started) for the whole module."""
    with TestClient(province_app) as client:
        yield client


@pytest.fixture
def province_client(province_app: FastAPI, province_module_client: TestClient, store: Store) -> TestClient:
    """The module's client (``client`` of tests/records and tests/fhir), its app's term frequencies read
    again first: tests of a module also write to their store directly, behind the app's back."""
    with store.engine.connect() as conn:
        province_app.state.linker.tf.load(conn)
    return province_module_client
