"""The order of test files (tests/plugins/order.py): longest last time first, unknown files after them."""

from __future__ import annotations

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
