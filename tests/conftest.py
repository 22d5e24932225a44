"""Test settings for every test; the shared fixtures are plugins (tests/plugins), helpers in tests/support.py.

Every process of a run imports this file and the plugins, pytest-xdist's controller too, which runs no
test: they import the application and the store where a fixture needs them, not at the top."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import TEST_SECRET

# Every app of the run (session-scoped ones included) writes a read's audit event before answering: tests
# read the audit rows right after the read. tests/load covers the write-behind default.
os.environ["MPI_AUDIT_WRITE_BEHIND"] = "false"
# Apps store received files in a thread of their own process (an intake process per short-lived test app
# would cost a process start each); tests/load covers the intake process.
os.environ["MPI_INTAKE_PROCESSES"] = "0"

pytest_plugins = ["tests.plugins.stores", "tests.plugins.apps", "tests.plugins.province", "tests.plugins.order"]


@pytest.fixture(autouse=True)
def _test_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from mpi.settings import get_settings

    monkeypatch.setenv("MPI_ENV", "test")
    monkeypatch.setenv("MPI_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
