"""Shared fixtures: a store per test on SQLite and, for tests marked to run on both, on PostgreSQL."""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from mpi.settings import Settings, get_settings
from mpi.store import create_db_engine, open_store
from tests import postgres

TEST_SECRET = "test-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def _test_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MPI_ENV", "test")
    monkeypatch.setenv("MPI_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    try:
        server = postgres.start()
    except (FileNotFoundError, OSError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI: {exc}")
        pytest.skip(f"PostgreSQL tests skipped on this machine: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session (Splink's UDF jar on its class path) for the whole test run."""
    import shutil

    if shutil.which("java") is None or importlib.util.find_spec("pyspark") is None:
        message = "Spark tests need java (e.g. openjdk-17-jre-headless) and pyspark"
        if os.environ.get("CI"):
            pytest.fail(f"{message} under CI")
        pytest.skip(message)
    from linkage.spark import local_session

    session = local_session(cores=2, memory="2g", app_name="mpi-tests")
    yield session
    session.stop()


def _pg_database(server: postgres.PostgresServer) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.url(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """A fresh, empty database URL on each back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.sqlite3"
    return _pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_store(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: object) -> Iterator[Engine]:
    """For tests whose subject does not depend on the back end."""
    engine = open_store(f"sqlite:///{tmp_path}/store.sqlite3")
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(env="test", secret_key=TEST_SECRET, database_url=db_url)
