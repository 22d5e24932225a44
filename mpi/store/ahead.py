"""Rows inserted with their ids handed out ahead, written together with ``executemany``.

A transaction of a bulk loader (group commit on SQLite, :func:`mpi.ingest.store_group`) inserts a few rows
per encounter into tables whose ids it needs at once (a submission, an encounter, a person, a source record,
a link: later rows and events refer to them). One ``INSERT … RETURNING id`` each costs a statement apiece;
instead, :func:`enable` lets the transaction hand out each table's ids itself and keep the rows, which are
written per table with one ``executemany`` when the transaction commits, or earlier when something is about
to read them (:func:`write_pending`).

The ids are the ones the database would have given: SQLite gives a new row of a table without
``AUTOINCREMENT`` the largest id plus one, and a SQLite transaction here holds the write lock from its start
(``BEGIN IMMEDIATE``), so nothing else inserts meanwhile, and every insert of these tables in the
transaction goes through :func:`insert` while it is enabled. So it is for SQLite only. The largest ids are
read in one statement, at the transaction's first need of one, for every table whose ids the connection has
handed out in this or an earlier transaction (the same few tables each time: an ingest's submission,
encounter, person, source record, link), so "these tables" are all of those.

Readers are the caller's concern: a statement that may read (or refer to, by a foreign key) a row still
held here must run after :func:`write_pending`, or after its table alone is written
(``RowsAhead.flush(only=...)``; when that table's rows refer to rows still held, the transaction's foreign
keys are checked when it commits from then on). The rows are written parents first (the metadata's
foreign-key order), so the foreign keys hold at every write otherwise. Savepoints are kept
(:mod:`mpi.store.deferred`): a rolled-back savepoint takes back the rows and ids handed out inside it,
including rows written meanwhile (the database rolled those back too).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, MetaData, Table, func, select

from mpi.store import deferred
from mpi.store.bulk import BulkInsert, Prepared, execute_driver_sql

__all__ = ["RowsAhead", "enable", "insert", "pending", "write_pending"]

_KEY: Final = "mpi.store.ahead"
_KNOWN: Final = "mpi.store.ahead.known"
_STATEMENTS: dict[Table, BulkInsert] = {}
_ORDER: dict[MetaData, dict[Table, int]] = {}
_LARGEST: dict[tuple[Table, ...], Prepared] = {}
_PARENTS: dict[Table, frozenset[Table]] = {}


@dataclass(slots=True)
class _Rows:
    first_id: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    """Every row handed an id in this transaction, in id order (row ``i`` has id ``first_id + i``)."""
    written: int = 0
    """``rows[:written]`` are in the database."""
    keys: list[frozenset[Hashable]] = field(default_factory=list)
    """Per row, what a reader may look it up by (:meth:`RowsAhead.may_find`)."""


class RowsAhead:
    """The rows of one transaction (a :class:`mpi.store.deferred.Buffer`)."""

    def __init__(self, known: set[Table] | None = None) -> None:
        self.tables: dict[Table, _Rows] = {}
        self._known = known if known is not None else set()
        """The tables whose ids the connection handed out, in this transaction or earlier ones."""
        self._waiting_keys: set[Hashable] | None = set()
        """The keys of the rows not yet written (None: to be recomputed)."""
        self._checks_deferred = False
        """Whether this transaction's foreign keys are checked at its commit (:meth:`flush` with ``only``)."""

    def add(self, conn: Connection, table: Table, row: Mapping[str, Any], keys: Iterable[Hashable] = ()) -> int:
        held = self.tables.get(table)
        if held is None:
            self.reserve(conn, (table,))
            held = self.tables[table]
        row_id = held.first_id + len(held.rows)
        held.rows.append({**row, "id": row_id})
        own = frozenset(keys)
        held.keys.append(own)
        if own and self._waiting_keys is not None:
            self._waiting_keys |= own
        return row_id

    def reserve(self, conn: Connection, tables: Iterable[Table]) -> None:
        """Read the largest id of each of ``tables`` not handed out here yet, all in one statement (else
        each is read by its own statement at the table's first row): for a caller that knows which tables
        it is about to insert into. The other tables whose ids the connection handed out before are read in
        the same statement (see the module)."""
        new = [table for table in tables if table not in self.tables]
        if not new:
            return
        self._known.update(new)
        wanted = tuple(sorted((t for t in self._known if t not in self.tables), key=_parents_first))
        statement = _LARGEST.get(wanted)
        if statement is None:
            statement = _LARGEST[wanted] = Prepared(
                select(*(select(func.max(table.c.id)).scalar_subquery() for table in wanted))
            )
        found = statement.first(conn)
        assert found is not None  # a select without FROM answers one row
        for table, largest in zip(wanted, found, strict=True):
            self.tables[table] = _Rows(first_id=int(largest or 0) + 1)

    def waiting(self, table: Table, row_id: int) -> dict[str, Any] | None:
        """The row ``row_id`` of ``table`` if it is not written yet, else None. It may still be changed in
        place (a savepoint rolled back does not take such a change back)."""
        held = self.tables.get(table)
        if held is None:
            return None
        at = row_id - held.first_id
        return held.rows[at] if held.written <= at < len(held.rows) else None

    def may_find(self, keys: Iterable[Hashable]) -> bool:
        """Whether a row not yet written was added with one of ``keys``."""
        if self._waiting_keys is None:
            self._waiting_keys = {k for held in self.tables.values() for own in held.keys[held.written :] for k in own}
        return not self._waiting_keys.isdisjoint(keys)

    def mark(self) -> dict[Table, tuple[int, int]]:
        return {table: (len(held.rows), held.written) for table, held in self.tables.items()}

    def restore(self, mark: dict[Table, tuple[int, int]]) -> None:
        for table, held in self.tables.items():
            handed, written = mark.get(table, (0, 0))
            del held.rows[handed:]
            del held.keys[handed:]
            held.written = min(held.written, written)  # what was written since, the database took back
        self._waiting_keys = None

    def flush(self, conn: Connection, only: Table | None = None) -> None:
        """Write the rows not written yet (parents first); ``only``: of that table alone, for a reader of it
        (when they refer to rows still held, the transaction's foreign keys are then checked at its commit)."""
        if only is not None and not self._checks_deferred and self._parents_waiting(only):
            # SQLite resets this at the transaction's end. Set only when needed: setting it makes SQLite
            # prepare every statement of the connection again (the candidate search, each insert).
            execute_driver_sql(conn, "PRAGMA defer_foreign_keys = ON")
            self._checks_deferred = True
        for table in sorted(self.tables, key=_parents_first):
            held = self.tables[table]
            if held.written < len(held.rows) and only in (None, table):
                _insert_for(table).execute(conn, held.rows[held.written :])
                held.written = len(held.rows)
        self._waiting_keys = None if only is not None else set()

    def _parents_waiting(self, table: Table) -> bool:
        """Whether a table ``table`` refers to (another one) has rows held and not written yet."""
        for parent in _parents(table):
            held = self.tables.get(parent)
            if held is not None and held.written < len(held.rows):
                return True
        return False

    def discard(self, conn: Connection) -> None:
        self.tables = {}
        self._waiting_keys = set()


def _parents_first(table: Table) -> int:
    """A table's place in its metadata's foreign-key order (a table before the tables referring to it)."""
    order = _ORDER.get(table.metadata)
    if order is None or table not in order:
        order = _ORDER[table.metadata] = {t: at for at, t in enumerate(table.metadata.sorted_tables)}
    return order[table]


def _parents(table: Table) -> frozenset[Table]:
    """The other tables ``table`` refers to by a foreign key."""
    found = _PARENTS.get(table)
    if found is None:
        found = _PARENTS[table] = frozenset(fk.column.table for fk in table.foreign_keys) - {table}
    return found


def _insert_for(table: Table) -> BulkInsert:
    """The table's insert with the ids given."""
    found = _STATEMENTS.get(table)
    if found is None:
        found = _STATEMENTS[table] = BulkInsert(table, generated_key=False)
    return found


def enable(conn: Connection) -> RowsAhead:
    """Hand out ids ahead for the rest of the connection's transaction (SQLite only; see the module).

    Call it first in the transaction, before anything else is buffered for its commit: the rows held here
    are then written before rows that refer to them (:mod:`mpi.store.deferred` flushes in creation order).
    """
    if conn.dialect.name != "sqlite":
        raise ValueError(f"ids handed out ahead need SQLite's write lock, not {conn.dialect.name}")
    if deferred.current(conn, _KEY) is not None:
        raise RuntimeError("ids are already handed out ahead in this transaction")
    # the tables whose ids the connection handed out before: kept with the driver connection (its pool record)
    known = conn.connection.info.setdefault(_KNOWN, set())
    return deferred.buffer(conn, _KEY, lambda: RowsAhead(known))


def pending(conn: Connection) -> RowsAhead | None:
    """The transaction's rows held for later, if :func:`enable` was called in it."""
    found = deferred.current(conn, _KEY)
    return found if isinstance(found, RowsAhead) else None


def insert(
    conn: Connection, table: Table, row: Mapping[str, Any], *, now: BulkInsert, keys: Iterable[Hashable] = ()
) -> int:
    """Insert one row of ``table`` and return its id: held for later when the transaction hands out ids
    ahead, else at once with ``now`` (an insert returning the id). ``keys``: what a reader may look the
    row up by (:meth:`RowsAhead.may_find`)."""
    held = pending(conn)
    if held is not None:
        return held.add(conn, table, row, keys)
    return int(now.insert(conn, row))


def write_pending(conn: Connection) -> None:
    """Write the rows held for later now (before a statement that may read them or refer to them)."""
    held = pending(conn)
    if held is not None:
        held.flush(conn)
