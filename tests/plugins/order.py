"""Longest test files first: pytest-xdist hands whole files to its workers (``--dist loadfile``) in the order
collected, so a long file that starts last keeps one worker busy after the other has finished.

The run records how many seconds each file's tests took (setup, call and teardown) in pytest's cache, per
marker expression (``-m``: the quick lane's files are timed apart from the whole suite's); the next run
with that expression collects the files in that order, longest first (files the cache does not know keep their
place after the known ones). ``-p no:cacheprovider`` or ``--cache-clear`` leaves the order as collected.
Every worker reads the same cache, so their collections agree, as pytest-xdist requires."""

from __future__ import annotations

from collections import defaultdict

import pytest


def _cache_key(config: pytest.Config) -> str:
    return "mpi/file-seconds/" + (config.option.markexpr or "all").replace("/", "_")


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cache = getattr(config, "cache", None)
    seconds: dict[str, float] = cache.get(_cache_key(config), {}) if cache is not None else {}
    if not seconds:
        return
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(_file(item.nodeid), index)

    def key(item: pytest.Item) -> tuple[bool, float, int]:
        file = _file(item.nodeid)
        known = file in seconds
        return (not known, -seconds.get(file, 0.0), first_seen[file])

    items.sort(key=key)  # stable: a file's tests keep their order


class _Timer:
    """Adds up each file's test seconds from the reports (under pytest-xdist: in the controller, which
    receives every worker's reports) and stores them when the session ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[_file(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(session.config, "cache", None)
        if cache is None or not self.seconds or hasattr(session.config, "workerinput"):
            return  # a worker's share is also the controller's
        key = _cache_key(session.config)
        known: dict[str, float] = cache.get(key, {})
        known.update({file: round(s, 2) for file, s in self.seconds.items()})
        cache.set(key, dict(sorted(known.items())))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Timer(), "mpi-file-seconds")
