"""Rows written at the end of a transaction instead of one statement at a time.

Some rows nothing reads before the transaction ends (the identity change feed's events, term-frequency
counts): a bulk loader storing many encounters per transaction (group commit) writes them once per
transaction with one ``executemany`` instead of a few statements per encounter. A :class:`Buffer` holds
them for the connection's current transaction and keeps its guarantees:

- **commit**: every buffer of the transaction is flushed inside it, just before the database commits
  (the connection's ``commit`` event), so the rows are durable exactly when the rest of the transaction is;
- **rollback**: the buffers are dropped with the transaction;
- **savepoints**: rolling a savepoint back drops what was buffered since it began (each savepoint records a
  mark of every buffer; a buffer created inside the savepoint is dropped whole), and releasing it keeps it.

Only SQLAlchemy-managed savepoints (``Connection.begin_nested``) are seen, in LIFO order, which is how
SQLAlchemy nests them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar
from weakref import WeakSet

from sqlalchemy import Connection, Engine, event

__all__ = ["Buffer", "buffer", "current"]

_INFO: Final = "mpi.store.deferred"
_engines: WeakSet[Engine] = WeakSet()


class Buffer(Protocol):
    """Rows kept for the end of one transaction."""

    def mark(self) -> Any:
        """A position to come back to when a savepoint begun now is rolled back."""

    def restore(self, mark: Any) -> None:
        """Forget everything buffered since ``mark``."""

    def flush(self, conn: Connection) -> None:
        """Write the rows, inside the transaction (called once, just before it commits)."""

    def discard(self, conn: Connection) -> None:
        """The transaction (or a savepoint older than the buffer) was rolled back: forget everything."""


B = TypeVar("B", bound=Buffer)


@dataclass(slots=True)
class _State:
    transaction: Any
    buffers: dict[str, tuple[Buffer, int]] = field(default_factory=dict)
    """key -> (buffer, savepoint depth it was created at)."""
    savepoints: list[dict[str, Any]] = field(default_factory=list)
    """One entry per open savepoint (innermost last): the marks of the buffers that existed when it began."""


def _state(conn: Connection, *, create: bool) -> _State | None:
    transaction = conn.get_transaction()
    state: _State | None = conn.info.get(_INFO)
    if state is not None and state.transaction is transaction and transaction is not None:
        return state
    if not create or transaction is None:
        return None
    state = conn.info[_INFO] = _State(transaction)
    return state


def current(conn: Connection, key: str) -> Buffer | None:
    """The buffer ``key`` of the connection's current transaction, if one was created."""
    state = _state(conn, create=False)
    found = state.buffers.get(key) if state is not None else None
    return found[0] if found is not None else None


def buffer(conn: Connection, key: str, factory: Callable[[], B]) -> B:
    """The buffer ``key`` of the connection's current transaction (``factory()`` on first use).

    Begins the connection's transaction if none is open yet (as a statement would).
    """
    _watch(conn.engine)
    if not conn.in_transaction():
        conn.begin()
    state = _state(conn, create=True)
    assert state is not None
    found = state.buffers.get(key)
    if found is None:
        created = factory()
        state.buffers[key] = (created, len(state.savepoints))
        return created
    return found[0]  # type: ignore[return-value]


def _watch(engine: Engine) -> None:
    if engine in _engines:
        return
    _engines.add(engine)
    # After the store's own commit listener (mpi.store.db releases its in-process SQLite queue there, which
    # a failing flush must not skip); SQLite's write lock itself is held until the commit completes.
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _on_rollback)
    event.listen(engine, "savepoint", _on_savepoint)
    event.listen(engine, "rollback_savepoint", _on_rollback_savepoint)
    event.listen(engine, "release_savepoint", _on_release_savepoint)


def _on_commit(conn: Connection) -> None:
    state = _state(conn, create=False)
    conn.info.pop(_INFO, None)
    if state is None:
        return
    for buf, _ in state.buffers.values():
        buf.flush(conn)


def _on_rollback(conn: Connection) -> None:
    state = _state(conn, create=False)
    conn.info.pop(_INFO, None)
    if state is None:
        return
    for buf, _ in state.buffers.values():
        buf.discard(conn)


def _on_savepoint(conn: Connection, _name: str | None) -> None:
    state = _state(conn, create=True)
    if state is not None:
        state.savepoints.append({key: buf.mark() for key, (buf, _) in state.buffers.items()})


def _on_release_savepoint(conn: Connection, _name: str, _context: Any) -> None:
    state = _state(conn, create=False)
    if state is None or not state.savepoints:
        return
    state.savepoints.pop()
    depth = len(state.savepoints)
    # what was buffered inside the released savepoint now belongs to the enclosing level
    state.buffers = {key: (buf, min(level, depth)) for key, (buf, level) in state.buffers.items()}


def _on_rollback_savepoint(conn: Connection, _name: str, _context: Any) -> None:
    state = _state(conn, create=False)
    if state is None:
        return
    if not state.savepoints:
        # a savepoint begun before any buffer was watched: everything buffered is newer than it
        for buf, _ in state.buffers.values():
            buf.discard(conn)
        state.buffers.clear()
        return
    marks = state.savepoints.pop()
    depth = len(state.savepoints)
    for key, (buf, level) in list(state.buffers.items()):
        if level > depth or key not in marks:
            buf.discard(conn)  # created inside the rolled-back savepoint
            del state.buffers[key]
        else:
            buf.restore(marks[key])
