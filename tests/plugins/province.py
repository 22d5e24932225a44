"""The records tests' synthetic province (tests/records/province.py), generated once per run and ingested
once per back end into a template; each test module gets its own copy (tests in a module build on each
other's writes, modules never see each other's)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from mpi.identity.online import OnlineLinker
from mpi.settings import Settings
from mpi.store import open_store
from tests.postgres import PostgresServer
from tests.records.province import Capture, Province, generate, ingest_province, province
from tests.support import BACKENDS, TEST_SECRET, Templates, drop_pg_database, once, pg_server_for, run_root


@dataclass
class Store:
    url: str
    engine: Engine
    province: Province
    linker: OnlineLinker
    ingest_log: list[str]
    """Every log line the ingest of the province wrote (at DEBUG and above)."""

    def settings(self) -> Settings:
        return Settings(env="test", secret_key=TEST_SECRET, database_url=self.url)


@dataclass
class ProvinceTemplates:
    """Builds the province's template store of a back end on first use and copies it."""

    data: Province
    templates: Templates
    ingest_logs: dict[str, list[str]]
    """Back end -> the log lines of the template's ingest (a SQLite template's also in a file beside it:
    another worker of the run may have built it)."""

    def _build(self, url: str) -> None:
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
        self.ingest_logs[make_url(url).get_backend_name()] = capture.lines
        if make_url(url).get_backend_name() == "sqlite":
            _log_file(url).write_text(json.dumps(capture.lines), encoding="utf-8")

    def ingest_log(self, backend: str) -> list[str]:
        if backend not in self.ingest_logs:
            url = self.templates.template("province", self._build)  # SQLite: built by another worker
            self.ingest_logs[backend] = json.loads(_log_file(url).read_text(encoding="utf-8"))
        return self.ingest_logs[backend]

    def copy(self, target: Path, *, server: PostgresServer | None = None) -> str:
        """A new store holding the province: a SQLite file at ``target``, or on ``server``."""
        return self.templates.copy("province", self._build, target, server=server)


def _log_file(url: str) -> Path:
    database = make_url(url).database
    assert database is not None
    return Path(database).with_suffix(".log.json")


@pytest.fixture(scope="session")
def province_data(tmp_path_factory: pytest.TempPathFactory) -> Province:
    return province(once(run_root(tmp_path_factory) / "province", generate))


@pytest.fixture(scope="session")
def province_templates(province_data: Province, templates: Templates) -> ProvinceTemplates:
    return ProvinceTemplates(province_data, templates, {})


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, province_templates: ProvinceTemplates
) -> Iterator[Store]:
    """The province ingested (all but the held-back encounter) into a store of this module's own."""
    server = pg_server_for(request)
    url = province_templates.copy(tmp_path_factory.mktemp("store") / "store.sqlite3", server=server)
    engine = open_store(url)
    linker = OnlineLinker.from_settings(Settings(env="test", secret_key=TEST_SECRET, database_url=url))
    linker.warm(engine)
    yield Store(url, engine, province_templates.data, linker, province_templates.ingest_log(request.param))
    engine.dispose()
    if server is not None:
        drop_pg_database(server, url)


@pytest.fixture
def province_settings(store: Store) -> Settings:
    """Settings of an application on this module's province store (``app_settings`` of tests/records, tests/fhir)."""
    return store.settings()
