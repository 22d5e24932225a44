"""Term frequencies of the model's TF columns, kept current as source records arrive.

Refresh policy: every new source record adds its values to ``term_frequency`` in its own transaction
(durable, shared by every process) and to this process's in-memory copy at once; each process also
reloads the table when its copy is older than ``reload_seconds`` (other processes' records). So the
frequencies a scorer uses lag the store by at most that interval, and never in the writing process.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from mpi.identity.models import TermFrequency

_table = TermFrequency.__table__  # type: ignore[attr-defined]


class TermFrequencies:
    def __init__(self, columns: list[str], *, reload_seconds: float = 300.0, min_population: int = 2000) -> None:
        self.columns = columns
        self.reload_seconds = reload_seconds
        self.min_population = min_population
        self._counts: dict[str, Counter[str]] = {c: Counter() for c in columns}
        self._totals: dict[str, int] = dict.fromkeys(columns, 0)
        self._loaded_at = float("-inf")

    def load(self, conn: Connection) -> None:
        counts: dict[str, Counter[str]] = {c: Counter() for c in self.columns}
        for column, value, count in conn.execute(select(_table.c.column_name, _table.c.value, _table.c.count)):
            if column in counts:
                counts[column][value] = int(count)
        self._counts = counts
        self._totals = {c: sum(v.values()) for c, v in counts.items()}
        self._loaded_at = time.monotonic()

    def ensure_fresh(self, engine_or_conn: Engine | Connection) -> None:
        if time.monotonic() - self._loaded_at < self.reload_seconds:
            return
        if isinstance(engine_or_conn, Engine):
            with engine_or_conn.connect() as conn:
                self.load(conn)
        else:
            self.load(engine_or_conn)

    def frequency(self, column: str, value: Any) -> float | None:
        total = self._totals.get(column, 0)
        if not total or value is None:
            return None
        count = self._counts[column].get(_key(value), 0)
        return count / total if count else None

    def tables_for(self, rows: list[Mapping[str, Any]]) -> dict[str, dict[Any, float]]:
        """The TF lookups a scorer needs for these rows only (the record and its candidates)."""
        out: dict[str, dict[Any, float]] = {}
        for column in self.columns:
            table: dict[Any, float] = {}
            if self._totals.get(column, 0) < self.min_population:
                out[column] = table
                continue
            for row in rows:
                value = row.get(column)
                if value is not None and value not in table:
                    freq = self.frequency(column, value)
                    if freq is not None:
                        table[value] = freq
            out[column] = table
        return out

    def add(self, conn: Connection, row: Mapping[str, Any]) -> None:
        """Count one new record's values, durably (this transaction) and in memory."""
        params = [{"c": column, "v": _key(row[column])} for column in self.columns if row.get(column) is not None]
        if not params:
            return
        conn.execute(_upsert(conn.dialect.name), params)
        for p in params:
            self._counts[p["c"]][p["v"]] += 1
            self._totals[p["c"]] += 1


def _key(value: Any) -> str:
    return str(value)[:128]


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE count = count + 1``, built once per dialect."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        base = insert(_table).values(column_name=bindparam("c"), value=bindparam("v"), count=1)
        stmt = _UPSERTS[dialect] = base.on_conflict_do_update(
            index_elements=["column_name", "value"], set_={"count": _table.c.count + 1}
        )
    return stmt
