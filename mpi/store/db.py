"""Engines and sessions. SQLite gets WAL, a busy timeout and enforced foreign keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Dialect, make_url
from sqlmodel import Session

from mpi.store.bulk import execute_driver_sql

MMAP_SIZE = 2**31
"""Bytes of an SQLite store read through a memory map (``PRAGMA mmap_size``; SQLite caps it at its build's
limit)."""
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_HELD = threading.local()


def json_dumps(value: Any) -> str:
    """JSON columns' text: orjson (several times faster than the standard library on the ingest path's
    ``raw`` and receipt columns), the standard library for what orjson refuses (integers beyond 64 bits).
    Like ``json.dumps`` for every JSON value, but compact and UTF-8 rather than ``\\u`` escapes; a
    non-finite float, which is not JSON, becomes ``null``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses but the standard library reads (NaN, huge integers)
        return json.loads(text)


_JSON: Any = {"json_serializer": json_dumps, "json_deserializer": json_loads}


def sqlite_dialect() -> Dialect:
    """A SQLite dialect configured as :func:`create_db_engine` configures its engines' (e.g. for a process
    that prepares rows for a store it has no connection to, :mod:`mpi.ingest`'s parsing workers)."""
    return pysqlite.dialect(**_JSON)


def create_db_engine(url: str, *, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """An engine on ``url``. ``pool_size`` is the most connections this process opens (no overflow): a
    server sizes it to its request threads, so a request never waits for another request's connection."""
    parsed = make_url(url)
    kwargs = {**_JSON, **kwargs}
    if pool_size is not None:
        kwargs.update(pool_size=pool_size, max_overflow=0, pool_timeout=60)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, hide_parameters=True, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        event.listen(engine, "commit", _sqlite_end)
        event.listen(engine, "rollback", _sqlite_end)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    # hide_parameters: a driver error must never carry patient values into a log or a traceback.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a committed transaction survives a process crash (it is in the WAL); only
    # an OS crash or power loss can lose the last commits, never corrupt the database.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: index updates stay in memory as the store grows
    cursor.execute("PRAGMA wal_autocheckpoint=10000")  # checkpoint (and fsync) every ~40 MiB, not every 4 MiB
    # Read the database file through a memory map (up to the library's limit, 2 GiB in the usual builds)
    # instead of a read() copy per page: the candidate search reads a table page per candidate record, most
    # of them not in the page cache above, and on the online path at 1M persons that copy was ~25% of the
    # search's time. Writes still go through the WAL; the mapped pages are the OS's file cache, shared
    # between connections and processes (they count in a process's RSS as shared pages).
    cursor.execute(f"PRAGMA mmap_size={MMAP_SIZE}")
    cursor.close()
    # The driver's own transaction handling is switched off: ``_sqlite_begin_immediate`` opens each one.
    dbapi_connection.isolation_level = None


def _sqlite_begin_immediate(conn: Any) -> None:
    """Every transaction takes SQLite's write lock up front (``BEGIN IMMEDIATE``), waiting up to the busy
    timeout for it. A deferred transaction that reads, then writes after another connection committed
    fails at once with "database is locked" (its WAL snapshot is stale) instead of waiting; nearly every
    request here writes (an ingest, or the audit event of a read), so they queue for the lock instead.
    A connection that only reads opts out with ``execution_options(read_only=True)`` (see ``read_only``)."""
    if conn.get_execution_options().get("read_only") or getattr(_HELD, "lock", None) is not None:
        # A read-only transaction, or one nested in this thread's write transaction (only reads can
        # work there: the outer transaction holds SQLite's write lock until it ends).
        execute_driver_sql(conn, "BEGIN")
        return
    # Threads of this process queue on a lock instead of all polling SQLite's busy handler, which is
    # unfair (a waiter can starve past the busy timeout while newcomers win); other processes still
    # meet at SQLite's own lock. The lock is given up after a minute, leaving SQLite to arbitrate.
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.setdefault(str(conn.engine.url.database), threading.Lock())
    acquired = lock.acquire(timeout=60)
    try:
        execute_driver_sql(conn, "BEGIN IMMEDIATE")
    except BaseException:
        if acquired:
            lock.release()
        raise
    if acquired:
        conn.info["mpi_write_lock"] = lock
        _HELD.lock = lock


def _sqlite_end(conn: Any) -> None:
    lock = conn.info.pop("mpi_write_lock", None)
    if lock is not None:
        _HELD.lock = None
        lock.release()


def read_only(engine: Engine) -> Engine:
    """``engine`` for transactions that never write: on SQLite they do not queue for the write lock. One view
    per engine, kept on it (every request reads through it; building one, with its own event dispatch, costs
    more than the key check it serves)."""
    found: Engine | None = getattr(engine, "_mpi_read_only", None)
    if found is None:
        found = engine.execution_options(read_only=True)
        engine._mpi_read_only = found  # type: ignore[attr-defined]
    return found


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def open_store(url: str) -> Engine:
    """An engine on ``url`` with the schema migrated to the current head."""
    from mpi.store.migrate import upgrade

    engine = create_db_engine(url)
    upgrade(engine)
    return engine
