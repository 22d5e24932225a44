"""``mpi serve --workers 3`` on an empty PostgreSQL database: one migration, every worker up, ready and
logging its requests; a served application's start-up objects are frozen out of the garbage collector."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from mpi.settings import Settings
from mpi.store import create_db_engine
from tests import postgres
from tests.support import TEST_SECRET, pg_database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_start_cleanly_on_an_empty_postgresql(pg_server: postgres.PostgresServer, tmp_path: Path) -> None:
    url = pg_database(pg_server)
    port = _free_port()
    env = {**os.environ, "MPI_DATABASE_URL": url, "MPI_ENV": "test", "MPI_SECRET_KEY": TEST_SECRET}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mpi", "serve", "--workers", "3", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            ready = 0
            while time.monotonic() < deadline and ready < 10:
                assert server.poll() is None, log.read_text()
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                    ready = ready + 1 if response.status_code == 200 else 0
                except httpx.TransportError:
                    time.sleep(0.5)
            assert ready >= 10, log.read_text()
            # every worker finishes starting (a worker that never does fails the count below)
            while time.monotonic() < deadline and log.read_text().count("Application startup complete") < 3:
                assert server.poll() is None, log.read_text()
                time.sleep(0.1)
        finally:
            server.terminate()
            server.wait(timeout=60)
    output = log.read_text()
    assert "Traceback" not in output, output
    assert output.count("Application startup complete") == 3, output
    assert "died" not in output.lower(), output
    # each worker's own loggers reach the output (a worker is a new interpreter: uvicorn configures it)
    assert "api.access: GET /readyz 200" in output, output
    engine = create_db_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_a_served_app_freezes_its_start_up_objects(tmp_path: Path) -> None:
    settings = Settings(
        env="test", secret_key=TEST_SECRET, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", intake_processes=0
    )
    gc.unfreeze()
    try:
        with TestClient(create_app(settings)) as client:
            assert client.get("/readyz").status_code == 200
            assert gc.get_freeze_count() == 0  # the tests' apps come and go: their objects are collected
        with TestClient(create_app(settings, freeze=True)) as client:
            assert client.get("/readyz").status_code == 200
            assert gc.get_freeze_count() > 10_000  # modules, models, pools: out of every full collection
    finally:
        gc.unfreeze()
