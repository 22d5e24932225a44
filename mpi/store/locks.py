"""Named locks that hold across transactions and processes, and vanish with their holder.

On PostgreSQL a session-level advisory lock on the caller's connection; on a SQLite file an ``flock`` on
a lock file beside the database (one of 256 buckets); on an in-memory SQLite database (one process by
definition) a thread lock. Either way a crashed holder's lock is released by the operating system or
the server, so a killed process never leaves a name locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text

_MEMORY_LOCKS: dict[str, threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()


def _digest(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


@contextmanager
def named_lock(conn: Connection, name: str) -> Iterator[None]:
    """Hold ``name`` exclusively while the block runs; blocks while another connection or process holds it.

    On PostgreSQL the lock belongs to ``conn``'s session: run the block's transactions on ``conn``.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        key = int.from_bytes(_digest(name)[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()  # the lock is the session's; do not keep the implicit transaction open
        try:
            yield
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
        return
    database = conn.engine.url.database
    if dialect == "sqlite" and database and database != ":memory:" and not database.startswith("file::memory"):
        directory = Path(f"{database}-locks")
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / f"{_digest(name)[0]:02x}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # separate open() calls conflict even between threads
            yield
        finally:
            os.close(fd)  # closing releases the flock
        return
    with _MEMORY_GUARD:
        lock = _MEMORY_LOCKS.setdefault(name, threading.Lock())
    with lock:
        yield
