"""The order of test files (tests/plugins/order.py): longest last time first, unknown files after them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.plugins import order


class _Cache:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


def _config(cache: _Cache | None, markexpr: str = "") -> Any:
    return SimpleNamespace(cache=cache, option=SimpleNamespace(markexpr=markexpr))


def _items(*nodeids: str) -> list[Any]:
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def _report(nodeid: str, duration: float) -> Any:
    return SimpleNamespace(nodeid=nodeid, duration=duration)


def test_the_files_that_took_longest_go_first_each_keeping_its_own_order() -> None:
    cache = _Cache()
    timer = order._Timer()
    for nodeid, seconds in [("a.py::t1", 1.0), ("b.py::t1", 2.0), ("b.py::t2", 2.5), ("c.py::t1", 3.0)]:
        timer.pytest_runtest_logreport(_report(nodeid, seconds))
    timer.pytest_sessionfinish(SimpleNamespace(config=_config(cache)))
    assert cache.values == {"mpi/file-seconds/all": {"a.py": 1.0, "b.py": 4.5, "c.py": 3.0}}

    items = _items("new.py::t", "a.py::t1", "b.py::t1", "c.py::t1", "b.py::t2", "other.py::t")
    order.pytest_collection_modifyitems(_config(cache), items)
    assert [i.nodeid for i in items] == ["b.py::t1", "b.py::t2", "c.py::t1", "a.py::t1", "new.py::t", "other.py::t"]


@pytest.mark.parametrize("markexpr", ["not slow", ""])
def test_each_marker_expression_has_its_own_timings_and_none_leaves_the_order(markexpr: str) -> None:
    cache = _Cache()
    cache.set("mpi/file-seconds/slow", {"b.py": 9.0})
    items = _items("a.py::t", "b.py::t")
    order.pytest_collection_modifyitems(_config(cache, markexpr), items)
    assert [i.nodeid for i in items] == ["a.py::t", "b.py::t"]
    order.pytest_collection_modifyitems(_config(None, markexpr), items)
    assert [i.nodeid for i in items] == ["a.py::t", "b.py::t"]


def test_a_worker_leaves_the_timings_to_the_controller() -> None:
    cache = _Cache()
    timer = order._Timer()
    timer.pytest_runtest_logreport(_report("a.py::t", 1.0))
    worker = SimpleNamespace(cache=cache, option=SimpleNamespace(markexpr=""), workerinput={})
    timer.pytest_sessionfinish(SimpleNamespace(config=worker))
    assert cache.values == {}


def test_without_a_cache_of_its_own_a_run_takes_the_committed_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tmp_path / "file_seconds.json"
    table.write_text(json.dumps({"a.py": 5.0, "b.py": 1.0, "c.py": 3.0}), encoding="utf-8")
    monkeypatch.setattr(order, "TABLE", table)
    items = _items("b.py::t", "new.py::t", "c.py::t", "a.py::t")
    order.pytest_collection_modifyitems(_config(_Cache()), items)  # a fresh clone: an empty cache
    assert [i.nodeid for i in items] == ["a.py::t", "c.py::t", "b.py::t", "new.py::t"]
    cache = _Cache()
    cache.set("mpi/file-seconds/all", {"b.py": 9.0})  # this machine's last run wins, file by file
    order.pytest_collection_modifyitems(_config(cache), items)
    assert [i.nodeid for i in items] == ["b.py::t", "a.py::t", "c.py::t", "new.py::t"]


def test_the_update_option_writes_the_run_into_the_committed_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.py").touch()
    (tmp_path / "kept.py").touch()
    table = tmp_path / "file_seconds.json"
    table.write_text(json.dumps({"a.py": 5.0, "kept.py": 2.0, "deleted.py": 7.0}), encoding="utf-8")
    monkeypatch.setattr(order, "TABLE", table)
    timer = order._Timer()
    timer.pytest_runtest_logreport(_report("a.py::t", 1.25))
    config = SimpleNamespace(
        cache=_Cache(), rootpath=tmp_path, option=SimpleNamespace(markexpr="", file_seconds_update=True)
    )
    timer.pytest_sessionfinish(SimpleNamespace(config=config))
    assert json.loads(table.read_text(encoding="utf-8")) == {"a.py": 1.25, "kept.py": 2.0}
    assert config.cache.values == {"mpi/file-seconds/all": {"a.py": 1.25}}


def test_the_committed_table_names_files_that_exist() -> None:
    root = Path(order.__file__).resolve().parents[2]
    table = order.committed()
    assert len(table) > 50 and all(seconds >= 0 for seconds in table.values())
    assert [f for f in table if not (root / f).is_file()] == []
