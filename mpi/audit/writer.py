"""The audit writer of a server process: audit events of reads written in short batched transactions.

A read must not queue for the store's write lock (SQLite has one for the whole database, held by every
submission's transaction) just to append its audit event. Readers therefore hand their events to the
process's :class:`AuditWriter`, whose thread inserts everything waiting in one short transaction, at most
``linger`` seconds after the first event arrived, and again at shutdown (:meth:`AuditWriter.close`).

Two modes:

- **write-behind** (``durable=False``, the default of ``MPI_AUDIT_WRITE_BEHIND``): :meth:`append` returns
  at once; the read's answer can leave before its event is committed. Trade-off: a process killed
  (``kill -9``, power loss) loses the events of its last ``linger`` seconds plus one batch in flight; a
  normal stop (SIGTERM, SIGINT) writes them first. A database that refuses the batch keeps the events in
  memory and retries; beyond ``max_pending`` waiting events readers wait for room (never dropped).
- **durable** (``durable=True``, ``MPI_AUDIT_WRITE_BEHIND=false``): :meth:`append` returns once the event
  is committed: no read is answered without its event, at the price of reads waiting for the write lock.

Either way readers of the audit (the audit search, the patient access report) call :meth:`flush` first,
so the events of this process are visible to them; another worker process's events follow within
``linger`` seconds.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, Final
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, insert
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from mpi.audit.models import AuditEvent
from mpi.errors import MPIError
from mpi.store.models import utcnow

log = logging.getLogger(__name__)

_events = AuditEvent.__table__  # type: ignore[attr-defined]
LINGER: Final = 0.005
"""Seconds a batch waits for more events after its first one."""
MAX_BATCH: Final = 2000
MAX_PENDING: Final = 100_000
_RETRY: Final = 0.5
DURABLE_WAIT: Final = 30.0
"""Seconds a durable append waits for its commit before the read is refused (503)."""


class AuditUnavailable(MPIError):
    """A durable writer could not commit an event in time: the read is not answered."""

    code = "audit_unavailable"
    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": "5"}


class AuditWriter:
    """Batches audit rows of one engine into short transactions, in a daemon thread started on first use."""

    def __init__(
        self,
        engine: Engine,
        *,
        durable: bool = False,
        linger: float = LINGER,
        max_batch: int = MAX_BATCH,
        max_pending: int = MAX_PENDING,
        durable_wait: float = DURABLE_WAIT,
    ) -> None:
        self.engine = engine
        self.durable = durable
        self.durable_wait = durable_wait
        self.linger = linger
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._rows: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._queued = 0
        """Events appended so far (a ticket is this count after the append)."""
        self._written = 0
        """Events committed so far, in append order."""
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failing = False

    def append(self, row: dict[str, Any]) -> None:
        """Queue one event (an ``audit_event`` row without id; ``occurred_at`` is set now if missing)."""
        self.extend([row])

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        stamped = [{"occurred_at": utcnow(), **row} for row in rows]
        if not stamped:
            return
        with self._cond:
            while len(self._rows) >= self.max_pending:
                self._cond.wait(1.0)  # the database refuses batches: readers wait, events are never dropped
            self._rows.extend(stamped)
            self._queued += len(stamped)
            ticket = self._queued
            self._start()
            self._cond.notify_all()
        if self.durable and not self._wait(ticket, self.durable_wait):
            raise AuditUnavailable("the audit log does not accept events now; retry shortly")

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every event appended before this call is committed; False on timeout."""
        with self._cond:
            ticket = self._queued
        return self._wait(ticket, timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Write what waits and stop the thread (a server's shutdown); a later event starts it again."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def pending(self) -> int:
        with self._cond:
            return self._queued - self._written

    def _wait(self, ticket: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._written < ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _start(self) -> None:
        """Under the condition's lock: an event is waiting, so a thread must run."""
        self._closed = False
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._rows and not self._closed:
                    self._cond.wait()
                if not self._rows and self._closed:
                    self._thread = None
                    return
            if self.linger > 0 and not self._closed:
                time.sleep(self.linger)  # let the batch fill: one commit for every read of these milliseconds
            with self._cond:
                batch = self._rows[: self.max_batch]
            done, failure = self._insert(batch)
            if done:
                with self._cond:
                    del self._rows[:done]
                    self._written += done
                    self._cond.notify_all()
            if failure is not None:
                if not self._failing:
                    log.error("audit events not written yet (%s): %d waiting, retrying", failure, self.pending)
                self._failing = True
                time.sleep(_RETRY)
            elif self._failing:
                log.warning("audit events written again")
                self._failing = False

    def _insert(self, batch: list[dict[str, Any]]) -> tuple[int, str | None]:
        """Write the batch in one transaction: (events done, the error type if the database is unavailable).

        A batch the database refuses for its content (not for being unavailable) is written row by row, so
        one bad event cannot block every later one: an event refused alone is logged (its error type only)
        and skipped."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(_events), batch)
            return len(batch), None
        except OperationalError as exc:
            return 0, type(exc).__name__
        except SQLAlchemyError:
            pass
        for done, row in enumerate(batch):
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(_events), [row])
            except OperationalError as exc:
                return done, type(exc).__name__
            except SQLAlchemyError as exc:
                log.error("an audit event was refused by the database (%s) and is skipped", type(exc).__name__)
        return len(batch), None


_writers: WeakKeyDictionary[Engine, AuditWriter] = WeakKeyDictionary()
_guard = threading.Lock()


def attach(engine: Engine, *, durable: bool, linger: float = LINGER) -> AuditWriter:
    """The audit writer of ``engine`` from now on (a server attaches one per process at start-up)."""
    writer = AuditWriter(engine, durable=durable, linger=linger)
    with _guard:
        previous = _writers.get(engine)
        _writers[engine] = writer
    if previous is not None:
        previous.close()
    return writer


def writer_for(engine: Engine) -> AuditWriter:
    """The writer attached to ``engine``; a durable one when none was (a script, a test's engine)."""
    with _guard:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = AuditWriter(engine, durable=True, linger=0.0)
        return writer


@atexit.register
def _close_all() -> None:
    for writer in list(_writers.values()):
        try:
            writer.close(timeout=10)
        except Exception:
            log.exception("audit events not written at exit")
