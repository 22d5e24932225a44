"""Statements for the ingest hot path: compiled once per dialect, run on the driver's cursor.

SQLAlchemy's ``conn.execute(stmt, params)`` costs tens of microseconds per call in its generic machinery
(cache key, execution context, parameter processing, result set-up), more than SQLite itself for the
small statements an ingest runs per encounter. A :class:`Prepared` statement looks up once what that
machinery would do for its dialect — the SQL text, the parameter order, each bind parameter's processor
(JSON, exact decimals, datetimes) and each result column's processor — and then hands rows to the DBAPI
cursor of the connection's current transaction directly (beginning one if none is open, as
``conn.execute`` does). Driver errors are raised as SQLAlchemy's
exceptions (``IntegrityError``...), exactly as ``conn.execute`` raises them, so callers handle both alike.
Parameters are never put into an error message (the engine's ``hide_parameters``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, exc, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

__all__ = ["BulkInsert", "Prepared"]

_Processor = Callable[[Any], Any] | None
_Params = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    binds: tuple[tuple[str, _Processor, Any], ...]
    """(parameter name, bind processor, default value) in parameter order."""
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(position, result processor) of the result columns that have one."""
    params: _Params
    """A row (by bind name) as the driver's parameters: :func:`_params_function`."""


def _params_function(binds: tuple[tuple[str, _Processor, Any], ...], positional: bool) -> _Params:
    """A function making the driver's parameters of a row given by bind name: each bind's value (its
    default when the row lacks it) through its bind processor unless None; a tuple in parameter order or a
    dict by name. Generated once per statement, straight-line code (no loop over the binds): on the
    storing path of a bulk loader it runs for every row of every table."""
    env: dict[str, Any] = {}
    lines = ["def params(row):", "    get = row.get"]
    for at, (name, process, default) in enumerate(binds):
        env[f"d{at}"] = default
        lines.append(f"    v{at} = get({name!r}, d{at})")
        if process is not None:
            env[f"p{at}"] = process
            lines.append(f"    if v{at} is not None: v{at} = p{at}(v{at})")
    values = ", ".join(f"v{at}" for at in range(len(binds)))
    if positional:
        lines.append(f"    return ({values}{',' if len(binds) == 1 else ''})")
    else:
        lines.append("    return {" + ", ".join(f"{name!r}: v{at}" for at, (name, _, _) in enumerate(binds)) + "}")
    exec(compile("\n".join(lines), "<bulk params>", "exec"), env)  # noqa: S102 - names are bind names, quoted
    function: _Params = env["params"]
    return function


class Prepared:
    """A Core statement (select, insert, update) run at driver level; see the module docstring.

    Parameters are given by bind name; a bind parameter with a value in the statement (a LIMIT, a
    constant) keeps it unless given. Rows come back as tuples in the statement's column order, with the
    columns' result processors applied.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._last: tuple[Dialect, _Compiled] | None = None
        """The dialect asked for last and its statement (a process stores to one store: no key to build)."""

    def _for(self, dialect: Dialect) -> _Compiled:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        key = f"{dialect.name}:{dialect.paramstyle}"
        compiled = self._compiled.get(key)
        if compiled is None:
            sql: Any = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            if sql.positional:
                params = [(name, sql.binds[name]) for name in sql.positiontup]
            else:  # by rendered name, once each
                params = list({name: bp for bp, name in sql.bind_names.items()}.items())
            binds = tuple(
                (name, bp.type.dialect_impl(dialect).bind_processor(dialect), bp.effective_value) for name, bp in params
            )
            columns = self.statement.exported_columns  # type: ignore[attr-defined]
            results = (c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
            processed = tuple((at, p) for at, p in enumerate(results) if p is not None)
            positional = bool(sql.positional)
            compiled = self._compiled[key] = _Compiled(
                sql.string, positional, binds, processed, _params_function(binds, positional)
            )
        self._last = (dialect, compiled)
        return compiled

    def binds(self, dialect: Dialect) -> tuple[tuple[str, _Processor, Any], ...]:
        """(parameter name, bind processor, default value) in ``dialect``'s parameter order: how a row becomes
        the driver's parameters, for a caller that builds them itself (``mpi.ingest``'s content rows)."""
        return self._for(dialect).binds

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Execute once; the result rows (none for a statement without result columns)."""
        compiled = self._for(conn.dialect)
        cursor = _cursor(conn)
        try:
            _run(conn, cursor, compiled.sql, compiled.params(params or {}))
            if cursor.description is None:
                return []
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        processed = compiled.processed
        if not processed:
            return [tuple(r) for r in fetched]
        out = []
        for r in fetched:
            row = list(r)
            for at, process in processed:
                row[at] = process(row[at])
            out.append(tuple(row))
        return out

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the one row the statement answers (e.g. an ``INSERT … RETURNING id``)."""
        found = self.rows(conn, params)
        if len(found) != 1:
            raise exc.NoResultFound("expected exactly one row") if not found else exc.MultipleResultsFound()
        return found[0][0]

    def execute_many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> int:
        """Execute once per parameter set (one ``executemany``); returns the driver's row count."""
        if not params:
            return 0
        compiled = self._for(conn.dialect)
        cursor = _cursor(conn)
        try:
            _run(conn, cursor, compiled.sql, list(map(compiled.params, params)), many=True)
            return int(cursor.rowcount)
        finally:
            cursor.close()


def _cursor(conn: Connection) -> Any:
    if not conn.in_transaction():
        conn.begin()  # as ``conn.execute`` would (autobegin): the caller commits or rolls back
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _run(conn: Connection, cursor: Any, sql: str, params: Any, *, many: bool = False) -> None:
    dbapi = conn.dialect.loaded_dbapi
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except dbapi.Error as error:
        raise exc.DBAPIError.instance(
            sql, None, error, dbapi.Error, hide_parameters=True, dialect=conn.dialect
        ) from error


class BulkInsert:
    """Insert rows of one table, many in one ``executemany``. A missing key takes the column's Python-side
    default (``default=`` / ``default_factory``, as a Core insert would), else NULL."""

    def __init__(self, table: Table, *, returning: Any = None, generated_key: bool = True) -> None:
        """``generated_key``: the table's autoincrement key is generated by the database (not a column here)."""
        self.table = table
        generated = table.autoincrement_column if generated_key else None
        self.columns = [c for c in table.columns if c is not generated]
        self.defaults = {
            c.name: c.default
            for c in self.columns
            if c.default is not None and (c.default.is_scalar or c.default.is_callable)
        }
        self.returning = returning
        stmt = insert(table).values({c.name: bindparam(c.name) for c in self.columns})
        if returning is not None:
            stmt = stmt.returning(returning)
        self.prepared = Prepared(stmt)

    def _complete(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        missing = [name for name in self.defaults if name not in row]
        if not missing:
            return row
        out = dict(row)
        for name in missing:
            default: Any = self.defaults[name]
            out[name] = default.arg(None) if default.is_callable else default.arg
        return out

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        self.prepared.execute_many(conn, [self._complete(r) for r in rows] if self.defaults else rows)

    def stage(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]], *, later: str) -> list[tuple[Any, ...]]:
        """The rows as ``dialect``'s driver takes them (bind processors applied), without column ``later``,
        whose value :meth:`execute_staged` adds: work a process without a connection can do for the one
        that writes (e.g. the new encounter's id is known only there). Positional dialects only (SQLite)."""
        compiled = self.prepared._for(dialect)
        if not compiled.positional:
            raise ValueError(f"staged rows need a positional paramstyle, not {dialect.paramstyle}")
        at = self._position(compiled, later)
        out = []
        for row in rows:
            values = compiled.params(self._complete(row) if self.defaults else row)
            out.append(values[:at] + values[at + 1 :])
        return out

    def execute_staged(self, conn: Connection, rows: Sequence[tuple[Any, ...]], *, later: str, value: Any) -> None:
        """Insert rows made by :meth:`stage` for this connection's dialect, with ``later`` = ``value``."""
        self.execute_complete(conn, self.complete_staged(conn.dialect, rows, later=later, value=value))

    def complete_staged(
        self, dialect: Dialect, rows: Sequence[tuple[Any, ...]], *, later: str, value: Any
    ) -> list[tuple[Any, ...]]:
        """Rows made by :meth:`stage` with ``later`` = ``value``: what :meth:`execute_complete` inserts."""
        at = self._position(self.prepared._for(dialect), later)
        head = (value,)
        return [head + r for r in rows] if at == 0 else [r[:at] + head + r[at:] for r in rows]

    def execute_complete(self, conn: Connection, params: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows already in the driver's form for this connection's dialect (:meth:`complete_staged`),
        many in one ``executemany``."""
        if not params:
            return
        compiled = self.prepared._for(conn.dialect)
        cursor = _cursor(conn)
        try:
            _run(conn, cursor, compiled.sql, params, many=True)
        finally:
            cursor.close()

    @staticmethod
    def _position(compiled: _Compiled, name: str) -> int:
        for at, (bind, _, _) in enumerate(compiled.binds):
            if bind == name:
                return at
        raise KeyError(name)

    def insert(self, conn: Connection, row: Mapping[str, Any]) -> Any:
        """Insert one row; with ``returning``, that column's value (e.g. the new id)."""
        row = self._complete(row)
        if self.returning is None:
            self.prepared.rows(conn, row)
            return None
        return self.prepared.scalar(conn, row)
