"""Databases: the throwaway PostgreSQL server, stores migrated to head (copies of one template per back
end), and the local Spark session."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import postgres
from tests.support import (
    BACKENDS,
    TEST_SECRET,
    Templates,
    drop_pg_database,
    pg_server_for,
    run_root,
    shared_pg_server,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mpi.settings import Settings


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[postgres.PostgresServer]:
    """The run's throwaway server, shared by the pytest-xdist workers (see ``shared_pg_server``)."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(shared_pg_server(run_root(tmp_path_factory) / "postgres"))
        except (FileNotFoundError, OSError) as exc:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is required under CI: {exc}")
            pytest.skip(f"PostgreSQL tests skipped on this machine: {exc}")
        yield server


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """Template databases of this test run (see tests/support.py)."""
    return Templates(run_root(tmp_path_factory) / "templates")


def migrate(url: str) -> None:
    """Build step of the ``migrated`` template: the schema at head, through the migrations."""
    from mpi.store import open_store

    open_store(url).dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, templates: Templates) -> Iterator[str]:
    """A fresh database on each back end with the schema migrated to head (a copy of the migrated template)."""
    server = pg_server_for(request)
    url = templates.copy("migrated", migrate, tmp_path / "store.sqlite3", server=server)
    yield url
    if server is not None:
        drop_pg_database(server, url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    from mpi.store import open_store

    engine = open_store(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, templates: Templates) -> Iterator[Engine]:
    """For tests whose subject does not depend on the back end."""
    from mpi.store import open_store

    engine = open_store(templates.copy("migrated", migrate, tmp_path / "store.sqlite3"))
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_sqlite(tmp_path: Path, templates: Templates) -> Callable[[str], str]:
    """``migrated_sqlite("online")`` -> the URL of a fresh SQLite store at head (a copy of the template), for
    tests that need several stores."""
    return lambda name: templates.copy("migrated", migrate, tmp_path / f"{name}.sqlite3")


@pytest.fixture
def settings(db_url: str) -> Settings:
    from mpi.settings import Settings

    return Settings(env="test", secret_key=TEST_SECRET, database_url=db_url)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session (Splink's UDF jar on its class path) for the whole test run."""
    if shutil.which("java") is None or importlib.util.find_spec("pyspark") is None:
        message = "Spark tests need java (e.g. openjdk-17-jre-headless) and pyspark"
        if os.environ.get("CI"):
            pytest.fail(f"{message} under CI")
        pytest.skip(message)
    from linkage.spark import local_session

    # A few small jobs in a JVM that lives minutes: most of its CPU went to the optimising JIT compiler (C2),
    # whose code never paid back; the quick one (C1) alone took a third less CPU and time. Two shuffle
    # partitions: the tests' few hundred records make a task per partition mostly overhead.
    session = local_session(
        cores=2, memory="2g", app_name="mpi-tests", shuffle_partitions=2, java_options="-XX:TieredStopAtLevel=1"
    )
    yield session
    session.stop()
