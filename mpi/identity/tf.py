"""Term frequencies of the model's TF columns, kept current as source records arrive.

Two copies: the durable one is the ``term_frequency`` table, which every new source record raises in its
own transaction (so a rollback takes its counts back with it); the in-memory one is this process's copy
that scorers read. A transaction's counts are kept aside (:mod:`mpi.store.deferred`) and, as it commits,
written to the table in one statement and added to the copy; a rollback, or a rolled-back savepoint of
group commit, discards them, so a rolled-back or retried ingest never double-counts. Each process also
reloads the copy from the table when it is older than ``reload_seconds`` (other processes' records): the
reload builds a new counts object and swaps it in one assignment. Every read and update of the copy holds
one lock, so API threads and the ingest see whole counts, never a half-applied record or a half-swapped
reload.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from mpi.identity.models import TermFrequency
from mpi.store import deferred
from mpi.store.bulk import Prepared

_table = TermFrequency.__table__  # type: ignore[attr-defined]
MIN_POPULATION = 2000
"""Below this many values in a column its term frequencies are not used (too few to be frequencies)."""


@dataclass(slots=True)
class _Counts:
    """Counts per column and value and each column's total, as one object (swapped whole on reload)."""

    counts: dict[str, Counter[str]]
    totals: dict[str, int]
    loaded_at: float

    def frequency(self, column: str, value: Any) -> float | None:
        """One value's relative frequency in ``column`` (whatever the column's population)."""
        total, counts = self.totals.get(column, 0), self.counts.get(column)
        return _Frequencies(counts, total).get(value) if counts is not None and total else None

    def views(self, min_population: int) -> dict[str, Mapping[Any, float]]:
        """Every column's relative frequencies; empty for a column of fewer than ``min_population`` values."""
        views: dict[str, Mapping[Any, float]] = {}
        for column, counts in self.counts.items():
            total = self.totals.get(column, 0)
            views[column] = _Frequencies(counts, total) if total >= max(min_population, 1) else {}
        return views


class TermFrequencies:
    def __init__(
        self, columns: list[str], *, reload_seconds: float = 300.0, min_population: int = MIN_POPULATION
    ) -> None:
        self.columns = columns
        self.reload_seconds = reload_seconds
        self.min_population = min_population
        self._state = _Counts({c: Counter() for c in columns}, dict.fromkeys(columns, 0), float("-inf"))
        self._lock = threading.Lock()
        self._buffer_key = f"mpi.identity.tf:{id(self)}"

    def load(self, conn: Connection) -> None:
        counts: dict[str, Counter[str]] = {c: Counter() for c in self.columns}
        for column, value, count in conn.execute(select(_table.c.column_name, _table.c.value, _table.c.count)):
            if column in counts:
                counts[column][value] = int(count)
        fresh = _Counts(counts, {c: sum(v.values()) for c, v in counts.items()}, time.monotonic())
        with self._lock:
            self._state = fresh

    def ensure_fresh(self, engine_or_conn: Engine | Connection) -> None:
        if time.monotonic() - self._state.loaded_at < self.reload_seconds:
            return
        if isinstance(engine_or_conn, Engine):
            with engine_or_conn.connect() as conn:
                self.load(conn)
        else:
            self.load(engine_or_conn)

    def frequency(self, column: str, value: Any) -> float | None:
        with self._lock:
            return self._state.frequency(column, value)

    def tables_for(self, rows: list[Mapping[str, Any]]) -> dict[str, dict[Any, float]]:
        """The TF lookups a scorer needs for these rows only (the record and its candidates)."""
        out: dict[str, dict[Any, float]] = {}
        with self._lock:  # one consistent state for the whole record
            views = self._state.views(self.min_population)
            for column in self.columns:
                view = views.get(column, {})
                values = {row.get(column) for row in rows}  # each distinct value once (candidates share many)
                values.discard(None)
                out[column] = {value: freq for value in values if (freq := view.get(value)) is not None}
        return out

    @contextmanager
    def frequencies(self) -> Iterator[dict[str, Mapping[Any, float]]]:
        """Every column's relative frequencies, read from the counts as a scorer asks for them (each value
        once): for scoring one record against many candidates, where :meth:`tables_for` would look up every
        distinct value of every candidate and the scorer needs the few whose comparison level carries a
        term-frequency adjustment. The same floats as :meth:`tables_for` for the values of its rows; the
        lock is held until the block ends, so the whole record is scored on one consistent state, as there."""
        with self._lock:
            views = self._state.views(self.min_population)
            yield {column: views.get(column, {}) for column in self.columns}

    def add(self, conn: Connection, row: Mapping[str, Any]) -> None:
        """Count one new record's values: in the store and in memory when this transaction commits."""
        values = [(column, _key(row[column])) for column in self.columns if row.get(column) is not None]
        if values:
            deferred.buffer(conn, self._buffer_key, lambda: _PendingCounts(self)).values.extend(values)

    def _apply(self, added: Mapping[tuple[str, str], int]) -> None:
        with self._lock:
            state = self._state
            counts, totals = state.counts, state.totals
            for (column, value), count in added.items():
                column_counts = counts.get(column)
                if column_counts is None:
                    column_counts = counts[column] = Counter()
                column_counts[value] += count
                totals[column] = totals.get(column, 0) + count


class _Frequencies(Mapping[Any, float]):
    """One column's relative frequencies (count / total, values counted at least once), computed on first
    use of each value (:meth:`TermFrequencies.frequencies`)."""

    __slots__ = ("_counts", "_memo", "_total")

    def __init__(self, counts: Counter[str], total: int) -> None:
        self._counts = counts
        self._total = total
        self._memo: dict[Any, float | None] = {}

    def get(self, value: Any, default: Any = None) -> Any:
        memo = self._memo
        if value in memo:
            found = memo[value]
        else:
            count = self._counts.get(_key(value), 0) if value is not None else 0
            found = memo[value] = count / self._total if count else None
        return default if found is None else found

    def __getitem__(self, value: Any) -> float:
        found: float | None = self.get(value)
        if found is None:
            raise KeyError(value)
        return found

    def __iter__(self) -> Iterator[str]:
        return (value for value, count in self._counts.items() if count)

    def __len__(self) -> int:
        return sum(1 for count in self._counts.values() if count)


class _PendingCounts:
    """One transaction's counts (a :class:`mpi.store.deferred.Buffer`)."""

    def __init__(self, owner: TermFrequencies) -> None:
        self.owner = owner
        self.values: list[tuple[str, str]] = []

    def mark(self) -> int:
        return len(self.values)

    def restore(self, mark: int) -> None:
        del self.values[mark:]

    def flush(self, conn: Connection) -> None:
        values, self.values = self.values, []
        if not values:
            return
        added: dict[tuple[str, str], int] = {}
        for key in values:
            added[key] = added.get(key, 0) + 1
        rows = [{"c": c, "v": v, "n": n} for (c, v), n in sorted(added.items())]  # one lock order for all writers
        _upsert(conn.dialect.name).execute_many(conn, rows)
        self.owner._apply(added)

    def discard(self, conn: Connection) -> None:
        self.values = []


def _key(value: Any) -> str:
    if type(value) is str and len(value) <= 128:
        return value
    return str(value)[:128]


_UPSERTS: dict[str, Prepared] = {}


def _upsert(dialect: str) -> Prepared:
    """``INSERT … ON CONFLICT DO UPDATE count = count + n``, built once per dialect."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        base = insert(_table).values(column_name=bindparam("c"), value=bindparam("v"), count=bindparam("n"))
        stmt = _UPSERTS[dialect] = Prepared(
            base.on_conflict_do_update(
                index_elements=["column_name", "value"], set_={"count": _table.c.count + base.excluded.count}
            )
        )
    return stmt
