"""Submissions of one server process: parsed and stored beside the server, with group commit.

The server process only receives files and answers receipts; the CPU work of a file happens elsewhere, so
the readers of the same process never wait for it (neither for the interpreter lock nor, on SQLite, for
the write lock):

- a **dispatcher** thread takes every file waiting (up to ``BATCH_BYTES``, at least one) and hands them
  as one batch to
- the **intake process** (``MPI_INTAKE_PROCESSES=1``; ``0`` runs the same work in the dispatcher thread),
  which parses them (:func:`mpi.ingest.read_for_storing`) and stores them in one transaction per group of
  up to ``GROUP_ENCOUNTERS`` encounters (:func:`mpi.ingest.store_group`: each file whole, raw file,
  encounters, identity links and receipt, or nothing). It runs at a lower CPU priority than the server:
  under a burst of files reads stay quick and files take the CPU that is left.

A receipt is answered only after the commit that made it durable. While one batch is stored the next one
gathers, so under load one commit (and on PostgreSQL one hold of the identity feed's lock) serves many
files; alone, a file is stored at once. A file with more HOSO than a group is stored alone by
:func:`mpi.ingest.ingest_parsed` (raw file first, then one transaction per encounter). A group that fails
for another reason than a conflict (which :func:`mpi.ingest.store_group` retries itself) is stored again
file by file, so only the file at fault answers an error.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Final

from sqlalchemy import Engine

from api.heap import freeze_start_up
from mpi.errors import MPIError
from mpi.identity.online import prepare as prepare_identity
from mpi.ingest import (
    GROUP_ENCOUNTERS,
    EncounterLinker,
    PendingFile,
    fewer_collections,
    ingest_parsed,
    read_for_storing,
    store_group,
)
from mpi.receipts import Receipt
from mpi.xml130 import Limits

log = logging.getLogger(__name__)

BATCH_BYTES: Final = 8 * 1024 * 1024
"""Raw bytes of the files the dispatcher hands over at once (at least one file)."""
INTAKE_NICENESS: Final = 10
_PRELOAD: Final = ["mpi.ingest", "mpi.identity.online"]
"""Imported once by the fork server, so an intake process starts without importing the hub again."""


@dataclass(frozen=True, slots=True)
class Job:
    """One received file and who sent it."""

    data: bytes
    submitter: str
    allowed_facility: str | None
    limits: Limits


class Failed(Exception):
    """A file's unexpected error, carried back from the intake process by its type name only (an exception's
    message may quote file values, and not every exception can be pickled)."""


def store_jobs(engine: Engine, linker: EncounterLinker | None, jobs: list[Job]) -> list[Receipt | Exception]:
    """Parse and store a batch of files; per file its receipt, or the error to answer. Files are read as
    ``mpi ingest``'s parsing workers read them (:func:`mpi.ingest.read_for_storing`: staged for a SQLite
    store, the identity step's preparation done ahead when linking). The garbage collector runs less often
    meanwhile (:func:`mpi.ingest.fewer_collections`): the parsed files of a group stay alive until stored."""
    with fewer_collections():
        return _store_jobs(engine, linker, jobs)


def _store_jobs(engine: Engine, linker: EncounterLinker | None, jobs: list[Job]) -> list[Receipt | Exception]:
    prepare = prepare_identity if linker is not None else None
    results: list[Receipt | Exception | None] = [None] * len(jobs)
    group: list[tuple[int, PendingFile]] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if group:
            outcomes = _store(engine, linker, [f for _, f in group])
            for (index, _), outcome in zip(group, outcomes, strict=True):
                results[index] = outcome
            group.clear()
        size = 0

    for index, job in enumerate(jobs):
        try:
            parsed = read_for_storing(job.data, job.limits, store_dialect=engine.dialect.name, prepare=prepare)
        except Exception as exc:  # a parser bug: this file's answer
            results[index] = _carried(exc)
            continue
        pending = PendingFile(job.data, parsed, job.submitter, job.allowed_facility)
        encounters = max(1, len(parsed.encounters))
        if encounters > GROUP_ENCOUNTERS:
            flush()
            results[index] = _alone(engine, linker, pending)
            continue
        if size + encounters > GROUP_ENCOUNTERS:
            flush()
        group.append((index, pending))
        size += encounters
    flush()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _store(engine: Engine, linker: EncounterLinker | None, files: list[PendingFile]) -> list[Receipt | Exception]:
    try:
        with engine.connect() as conn:  # from the pool; a connection that failed is not reused
            return list(store_group(conn, files, linker))
    except Exception as exc:
        if len(files) == 1:
            return [_carried(exc)]
        log.warning("a group of %d files failed (%s): storing each alone", len(files), type(exc).__name__)
        # each file was scoped to its key's facility by the first try (its issues are in ``parsed``): not again
        return [outcome for f in files for outcome in _store(engine, linker, [replace(f, allowed_facility=None)])]


def _alone(engine: Engine, linker: EncounterLinker | None, pending: PendingFile) -> Receipt | Exception:
    try:
        return ingest_parsed(
            engine=engine, data=pending.data, parsed=pending.parsed, submitter=pending.submitter,
            allowed_facility=pending.allowed_facility, linker=linker,
        )  # fmt: skip
    except Exception as exc:
        return _carried(exc)


def _carried(exc: Exception) -> Exception:
    """What crosses back to the server: an :class:`MPIError`'s answer (its message is written for the
    caller), anything else as its type name (logged there as an unhandled error)."""
    if isinstance(exc, MPIError):
        # its status, code and message as a plain MPIError: a subclass's constructor may need more arguments
        # than unpickling gives it
        carried = MPIError(exc.message, code=exc.code)
        carried.status, carried.headers = exc.status, exc.headers
        return carried
    log.error("storing a file failed: %s", type(exc).__name__)
    return Failed(type(exc).__name__)


# --- the intake process ------------------------------------------------------------------------------------

_process_state: tuple[Engine, EncounterLinker] | None = None


def _start_intake_process(url: str) -> None:
    """Initialiser of the intake process: lower priority, its own engine and linker."""
    global _process_state
    os.nice(INTAKE_NICENESS)
    from mpi.identity.online import OnlineLinker
    from mpi.settings import get_settings
    from mpi.store.db import create_db_engine

    engine = create_db_engine(url, pool_size=2)
    linker = OnlineLinker.from_settings(get_settings())
    linker.warm(engine)
    _process_state = (engine, linker)
    freeze_start_up()  # the linker's tables and the imported hub stay out of every later full collection


def _store_in_process(jobs: list[Job]) -> list[Receipt | Exception]:
    assert _process_state is not None, "the intake process was not initialised"
    engine, linker = _process_state
    return store_jobs(engine, linker, jobs)


# --- the server side ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Waiting:
    job: Job
    done: Future[Receipt]


class Intake:
    """Dispatcher thread and intake process of one server process (both started on first use)."""

    def __init__(self, engine: Engine, linker: EncounterLinker | None, *, processes: int = 1) -> None:
        self.engine = engine
        self.linker = linker
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: list[_Waiting] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.batches = 0
        """Batches handed over so far."""

    async def receive(self, data: bytes, *, submitter: str, allowed_facility: str | None, limits: Limits) -> Receipt:
        """Parse and store one file; its receipt once stored (or its original receipt when sent before)."""
        return await asyncio.wrap_future(self._enqueue(Job(data, submitter, allowed_facility, limits)))

    def warm(self) -> None:
        """Start the intake process now rather than on the first file."""
        if self.processes > 0:
            self._intake().submit(int)

    def close(self) -> None:
        """Store what waits, stop the dispatcher and the intake process (a server's shutdown)."""
        with self._cond:
            self._closing = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(60)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _intake(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Never "fork": a forked process would inherit this process's database connections and threads.
            if sys.platform.startswith("linux"):
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)
            else:
                context = multiprocessing.get_context("spawn")
            url = self.engine.url.render_as_string(hide_password=False)
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=context, initializer=_start_intake_process, initargs=(url,)
            )
        return self._pool

    def _enqueue(self, job: Job) -> Future[Receipt]:
        waiting = _Waiting(job, Future())
        with self._cond:
            self._closing = False
            self._waiting.append(waiting)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="submission-dispatcher", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return waiting.done

    def _take(self) -> list[_Waiting] | None:
        """The next batch: files in arrival order up to ``BATCH_BYTES`` (at least one)."""
        with self._cond:
            while not self._waiting:
                if self._closing:
                    self._thread = None
                    return None
                self._cond.wait()
            taken: list[_Waiting] = []
            size = 0
            while self._waiting and (not taken or size + len(self._waiting[0].job.data) <= BATCH_BYTES):
                item = self._waiting.pop(0)
                taken.append(item)
                size += len(item.job.data)
            return taken

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            jobs = [w.job for w in taken]
            try:
                if self.processes > 0:
                    outcomes = self._intake().submit(_store_in_process, jobs).result()
                else:
                    outcomes = store_jobs(self.engine, self.linker, jobs)
            except Exception as exc:  # the intake process died: these files are not acknowledged
                log.error("the intake process failed (%s): %d files not stored", type(exc).__name__, len(jobs))
                self._pool = None
                outcomes = [Failed(type(exc).__name__) for _ in jobs]
            self.batches += 1
            for one, outcome in zip(taken, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    one.done.set_exception(outcome)
                else:
                    one.done.set_result(outcome)
