"""What tests import: the test secret, throwaway databases cloned from templates, API keys, identity helpers.

Fixtures live in the plugins of ``tests/plugins`` (registered by ``pytest_plugins`` in tests/conftest.py);
test modules import helpers from here, never from a conftest.

Databases: building a store is the slow part of many tests (migrations, or ingesting a whole synthetic
province), so each kind is built once per back end into a *template* and every test or module gets a
copy: SQLite through the backup API (a consistent copy even of a WAL database), PostgreSQL through
``CREATE DATABASE … TEMPLATE`` (a file-level copy, no SQL replayed). A SQLite template is built once per
run, by whichever pytest-xdist worker needs it first, in the directory the workers share (``run_root``);
a PostgreSQL one likewise once per run, on the server the workers share (``shared_pg_server``).

The fixture plugins import this module, so every process of a run does, pytest-xdist's controller too,
which runs no test: the application and the store are imported by the helpers that use them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from tests import postgres

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import Connection, Engine

    from mpi.keys import Role
    from mpi.reports import Report
    from mpi.settings import Settings

TEST_SECRET = "test-secret-0123456789abcdef"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""``params`` of a fixture that gives a database on each back end (see ``pg_server_for``)."""


# --- databases -------------------------------------------------------------------------------------------


def pg_server_for(request: pytest.FixtureRequest) -> postgres.PostgresServer | None:
    """The PostgreSQL server of a fixture parametrized by ``BACKENDS``, or None on SQLite."""
    if request.param == "sqlite":
        return None
    server: postgres.PostgresServer = request.getfixturevalue("pg_server")
    return server


def pg_database(server: postgres.PostgresServer, *, template: str | None = None) -> str:
    """The URL of a new database on ``server``: empty, or a copy of the database named ``template``."""
    from sqlalchemy import text

    from mpi.store import create_db_engine

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            source = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{source}'))
    finally:
        admin.dispose()
    return server.url(name)


def drop_pg_database(server: postgres.PostgresServer, url: str) -> None:
    """Drop the database of ``url`` (closing any connection a test left open): keeps the server's data
    directory small, so the run neither fills the disk nor spends its end deleting hundreds of databases."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from mpi.store import create_db_engine

    admin = create_db_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def shared_pg_server(root: Path) -> Iterator[postgres.PostgresServer]:
    """The run's PostgreSQL server: started by the first process of the run that needs it, used by every
    process that needs it (its address in ``root/server.json``, with how many use it), stopped by the last
    one to leave. One server per run, not per xdist worker: its templates are built once for all."""
    state, lock = root / "server.json", root / "server.lock"
    with exclusive(lock):
        known = json.loads(state.read_text(encoding="utf-8")) if state.exists() else None
        if known is None:
            server = postgres.start()
            known = {"bindir": str(server.bindir), "datadir": str(server.datadir), "port": server.port,
                     "as_user": server.as_user, "users": 0}  # fmt: skip
        else:
            server = postgres.PostgresServer(
                bindir=Path(known["bindir"]), datadir=Path(known["datadir"]), port=known["port"],
                as_user=known["as_user"],
            )  # fmt: skip
        known["users"] += 1
        state.write_text(json.dumps(known), encoding="utf-8")
    try:
        yield server
    finally:
        with exclusive(lock):
            known = json.loads(state.read_text(encoding="utf-8"))
            known["users"] -= 1
            if known["users"] == 0:
                server.stop()
                state.unlink()
            else:
                state.write_text(json.dumps(known), encoding="utf-8")


def run_root(factory: pytest.TempPathFactory) -> Path:
    """The temporary directory every process of this test run shares: under pytest-xdist the parent of
    the worker's own base directory (``…/pytest-N/popen-gw0`` -> ``…/pytest-N``), else the base itself."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Held by one process (and one thread) at a time: an advisory lock on the file ``lock``."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def once(directory: Path, build: Callable[[Path], None]) -> Path:
    """``directory``, filled by ``build(directory)`` unless a process of this run already did (the
    workers of one run share it; a build that failed is started again from an empty directory)."""
    done = directory.with_name(directory.name + ".done")
    with exclusive(directory.with_name(directory.name + ".lock")):
        if not done.exists():
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
            build(directory)
            done.touch()
    return directory


def copy_sqlite(source_url: str, target: Path) -> str:
    """A copy of the SQLite database at ``source_url`` in the file ``target``; returns its URL."""
    from sqlalchemy.engine import make_url

    source = make_url(source_url).database
    assert source is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return f"sqlite:///{target}"


class Templates:
    """Databases built once per back end and name, copied on demand (thread-safe, built lazily; once per
    run, shared by the xdist workers: SQLite ones under ``root``, PostgreSQL ones on the run's server).

    ``build(url)`` fills a fresh, empty database and must leave no connection open (a PostgreSQL
    template cannot be copied while anyone is connected to it). A name means one content: whatever
    process builds it must build the same database (the synthetic generator is deterministic)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._urls: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def template(
        self, name: str, build: Callable[[str], None], *, server: postgres.PostgresServer | None = None
    ) -> str:
        backend = "sqlite" if server is None else "postgresql"
        with self._lock:
            url = self._urls.get((name, backend))
            if url is None:
                if server is None:
                    directory = once(self.root / name, lambda d: build(f"sqlite:///{d / 'template.sqlite3'}"))
                    url = f"sqlite:///{directory / 'template.sqlite3'}"
                else:  # once per server, which the processes of the run share
                    directory = self.root / f"{name}.{server.datadir.parent.name}"
                    directory = once(directory, partial(_build_pg, server, build))
                    url = (directory / "url").read_text(encoding="utf-8")
                self._urls[(name, backend)] = url
            return url

    def copy(
        self, name: str, build: Callable[[str], None], target: Path, *, server: postgres.PostgresServer | None = None
    ) -> str:
        """A fresh copy of template ``name`` (built first if need be): a SQLite file at ``target`` or, given
        a ``server``, a new PostgreSQL database."""
        from sqlalchemy.engine import make_url

        url = self.template(name, build, server=server)
        if server is None:
            return copy_sqlite(url, target)
        database = make_url(url).database
        assert database is not None
        return pg_database(server, template=database)


def _build_pg(server: postgres.PostgresServer, build: Callable[[str], None], directory: Path) -> None:
    url = pg_database(server)
    build(url)
    (directory / "url").write_text(url, encoding="utf-8")


# --- API keys --------------------------------------------------------------------------------------------


class KeyFactory(Protocol):
    """``auth(Role.CLINICIAN, "74001", purpose="TREAT")`` -> the headers of a fresh key of that role and
    facility, with the purpose of use if one is given."""

    def __call__(self, role: Role, facility: str | None, purpose: str | None = None) -> dict[str, str]: ...


def key_factory(app: FastAPI) -> KeyFactory:
    """Keys minted straight into ``app``'s store."""
    from mpi.keys import create_key
    from mpi.store import session_scope

    def make(role: Role, facility: str | None, purpose: str | None = None) -> dict[str, str]:
        with session_scope(app.state.engine) as session:
            _, plaintext = create_key(
                session=session, role=role, facility_code=facility, secret=app.state.settings.secret_key
            )
        headers = {"Authorization": f"Bearer {plaintext}"}
        if purpose is not None:
            headers["X-Purpose-Of-Use"] = purpose
        return headers

    return make


def key_actor(headers: dict[str, str], app: FastAPI) -> str:
    """The audit actor of the key in ``headers``."""
    from mpi.keys import verify_key
    from mpi.store import session_scope

    with session_scope(app.state.engine) as session:
        key = verify_key(session=session, plaintext=headers["Authorization"].removeprefix("Bearer "))
    return f"key:{key.id}"


# --- identity records written directly (not through the online linker) ------------------------------------


def ingest_encounters(engine: Engine, n: int) -> list[int]:
    """``n`` outpatient encounters LK0.. of facility 74001, ingested without linking; their ids."""
    from mpi.ingest import ingest_file
    from tests.builders import envelope, outpatient

    receipt = ingest_file(engine=engine, data=envelope([outpatient(f"LK{i}") for i in range(n)]), submitter="test")
    return [int(e.encounter_id) for e in receipt.encounters if e.encounter_id is not None]


def linked_record(conn: Connection, encounter_id: int, person_id: int) -> int:
    """A source record of ``encounter_id`` linked automatically to ``person_id``; its id."""
    from mpi.identity import links as L
    from mpi.identity.models import LinkState
    from mpi.identity.policy import Rule

    source_id = L.add_source_record(
        conn,
        values={
            "encounter_id": encounter_id,
            "facility_code": "74001",
            "ma_lk": f"LK{encounter_id}",
            "version": 1,
            "features": {},
        },
        person_id=person_id,
        state=LinkState.AUTO,
    )
    L.link(
        conn, source_record_id=source_id, person_id=person_id, state=LinkState.AUTO, rule=Rule.NEW_PERSON, actor="test"
    )
    return source_id


def new_linked_record(conn: Connection, encounter_id: int) -> int:
    """A source record of ``encounter_id`` on a new person of its own; its id."""
    from mpi.identity import links as L

    return linked_record(conn, encounter_id, L.create_person(conn, actor="test"))


def event_seqs(conn: Connection) -> list[int]:
    """The sequence numbers of the link events, in order."""
    from sqlalchemy import select

    from mpi.identity import links as L

    return [int(s) for s in conn.execute(select(L.events.c.seq).order_by(L.events.c.seq)).scalars()]


def person_of_records(conn: Connection) -> dict[int, int]:
    """Source record id -> its current person."""
    from sqlalchemy import select

    from mpi.identity import links as L

    return {int(r.id): int(r.person_id) for r in conn.execute(select(L.sources.c.id, L.sources.c.person_id))}


# --- the report province (tests/reports/conftest.py builds it once per session) ---------------------------

REPORT_PERSONS = 400
REPORT_SEED = 5
REPORT_OUTBREAK = "dengue:auto:2026-03-02:6:1"
UNREGISTERED = ("34100", "33101")


@dataclass
class ReportStore:
    url: str
    engine: Engine
    out: Path
    truth: list[dict[str, str]]
    registry: list[dict[str, str]]
    outbreak: dict[str, Any]
    baseline_surveillance: Report

    def settings(self) -> Settings:
        from mpi.settings import Settings

        return Settings(env="test", secret_key=TEST_SECRET, database_url=self.url)
