"""Longest test files first: pytest-xdist hands whole files to its workers (``--dist loadfile``) in the order
collected, so a long file that starts last keeps one worker busy after the other has finished.

The run records how many seconds each file's tests took (setup, call and teardown) in pytest's cache, per
marker expression (``-m``: the quick lane's files are timed apart from the whole suite's); the next run
with that expression collects the files in that order, longest first (files it does not know keep their
place after the known ones). A fresh clone has no cache (CI): the whole suite's seconds committed in
``file_seconds.json`` beside this file stand in for it, file by file (``make test-timings`` runs the suite
and writes them again: ``--file-seconds-update``). ``-p no:cacheprovider`` or ``--cache-clear`` leaves the
order as collected. Every worker reads the same cache and table, so their collections agree, as
pytest-xdist requires."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

TABLE = Path(__file__).with_name("file_seconds.json")
"""The whole suite's seconds per test file, committed: the order of a run without a cache."""


def _cache_key(config: pytest.Config) -> str:
    return "mpi/file-seconds/" + (config.option.markexpr or "all").replace("/", "_")


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def committed() -> dict[str, float]:
    try:
        table: dict[str, float] = json.loads(TABLE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return table


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--file-seconds-update",
        action="store_true",
        help=f"write this run's seconds per test file into {TABLE.name} (the order of runs without a cache)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cache = getattr(config, "cache", None)
    if cache is None:
        return
    seconds = {**committed(), **cache.get(_cache_key(config), {})}
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
        config = session.config
        if not self.seconds or hasattr(config, "workerinput"):
            return  # a worker's share is also the controller's
        measured = {file: round(s, 2) for file, s in self.seconds.items()}
        if getattr(config.option, "file_seconds_update", False):
            table = {f: s for f, s in committed().items() if Path(config.rootpath, f).exists()}
            table.update(measured)
            TABLE.write_text(json.dumps(dict(sorted(table.items())), indent=0) + "\n", encoding="utf-8")
        cache = getattr(config, "cache", None)
        if cache is None:
            return
        key = _cache_key(config)
        known: dict[str, float] = cache.get(key, {})
        known.update(measured)
        cache.set(key, dict(sorted(known.items())))


def pytest_configure(config: pytest.Config) -> None:
    if config.option.file_seconds_update and config.option.markexpr:
        raise pytest.UsageError("--file-seconds-update times the whole suite: run it without -m")
    config.pluginmanager.register(_Timer(), "mpi-file-seconds")
