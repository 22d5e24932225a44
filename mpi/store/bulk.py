"""Bulk inserts for the ingest hot path: the statement compiled once per table and dialect.

SQLAlchemy's ``conn.execute(insert(t), rows)`` rebuilds parameters through its generic machinery on
each call, which cost more than the database itself for the many small ``executemany`` calls of an
ingest. Here each column's bind processor (the same one SQLAlchemy would apply: JSON, exact decimals,
datetimes) is looked up once, and rows go to the driver directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.engine import Dialect

_Compiled = tuple[str, bool, list[tuple[str, Callable[[Any], Any] | None]]]
"""SQL text, whether parameters are positional, and (column, bind processor) in parameter order."""


class BulkInsert:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.columns = [c for c in table.columns if not c.primary_key]
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}:{dialect.paramstyle}"
        compiled = self._compiled.get(key)
        if compiled is None:
            stmt = insert(self.table).values({c.name: bindparam(c.name) for c in self.columns})
            sql = stmt.compile(dialect=dialect)
            names = list(sql.positiontup) if sql.positional and sql.positiontup else [c.name for c in self.columns]
            by_name = {c.name: c for c in self.columns}
            processors: list[tuple[str, Callable[[Any], Any] | None]] = [
                (name, by_name[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
            ]
            compiled = self._compiled[key] = (sql.string, bool(sql.positional), processors)
        return compiled

    def execute(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts keyed by column name; a missing key is NULL) in one executemany."""
        if not rows:
            return
        sql, positional, processors = self._for(conn.dialect)
        params: list[Any] = []
        for row in rows:
            values = []
            for name, process in processors:
                value = row.get(name)
                if value is not None and process is not None:
                    value = process(value)
                values.append(value)
            params.append(tuple(values) if positional else dict(zip((n for n, _ in processors), values, strict=True)))
        conn.exec_driver_sql(sql, params if len(params) > 1 else params[0])
