"""Submissions of one server process: parsed beside the event loop, stored by one writer with group commit.

A received file goes through two stages:

1. **parse** (:func:`mpi.ingest.parse_for_storing`: XML, validation, the compressed raw file) in a worker
   process (``MPI_PARSE_WORKERS``; 0 parses in a request thread). Nothing of it needs the database, so it
   never holds a connection or the write lock, and the server process stays free for readers;
2. **store**: one writer thread per server process takes every parsed file waiting and stores them in one
   transaction (:func:`mpi.ingest.store_group`: each file whole, raw file, encounters, links and receipt,
   or nothing), up to about ``GROUP_ENCOUNTERS`` encounters per transaction. A receipt is answered only
   after the commit that made it durable. While one group commits the next one gathers, so under load a
   commit (and on PostgreSQL the identity feed's lock) serves many files; alone, a file is stored at once.

A file with more HOSO than a group is stored on its own by :func:`mpi.ingest.ingest_parsed` (raw file
first, then one transaction per encounter), in its request's thread. If a group fails for another reason
than a conflict, each of its files is stored again alone, so only the file at fault answers an error.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from mpi.ingest import (
    GROUP_ENCOUNTERS,
    EncounterLinker,
    PendingFile,
    Receipt,
    ingest_parsed,
    parse_for_storing,
    store_group,
)
from mpi.xml130 import Limits, ParsedSubmission

log = logging.getLogger(__name__)

_PRELOAD: Final = ["mpi.ingest"]
"""Imported once by the fork server, so a parse worker starts without importing the hub again."""


@dataclass(slots=True)
class _Waiting:
    file: PendingFile
    done: Future[Receipt]

    @property
    def size(self) -> int:
        return max(1, len(self.file.parsed.encounters))


class Intake:
    """Parse pool and group-commit writer of one server process (started on first use)."""

    def __init__(self, engine: Engine, linker: EncounterLinker | None, *, parse_workers: int = 1,
                 group: int = GROUP_ENCOUNTERS) -> None:  # fmt: skip
        self.engine = engine
        self.linker = linker
        self.parse_workers = parse_workers
        self.group = group
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: list[_Waiting] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.groups = 0
        """Transactions committed by the writer (for tests and the log)."""

    async def receive(self, data: bytes, *, submitter: str, allowed_facility: str | None, limits: Limits) -> Receipt:
        """Parse and store one file; its receipt once stored (or its original receipt when sent before)."""
        parsed = await self._parse(data, limits)
        pending = PendingFile(data, parsed, submitter, allowed_facility)
        if len(parsed.encounters) > self.group:
            return await run_in_threadpool(
                ingest_parsed, engine=self.engine, data=data, parsed=parsed, submitter=submitter,
                allowed_facility=allowed_facility, linker=self.linker,
            )  # fmt: skip
        return await asyncio.wrap_future(self._enqueue(pending))

    def warm(self) -> None:
        """Start the parse workers now rather than on the first file."""
        if self.parse_workers > 0:
            self._parser().submit(int)

    def close(self) -> None:
        """Store what waits, stop the writer and the parse workers (a server's shutdown)."""
        with self._cond:
            self._closing = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(120)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def _parse(self, data: bytes, limits: Limits) -> ParsedSubmission:
        if self.parse_workers <= 0:
            return await run_in_threadpool(parse_for_storing, data, limits)
        return await asyncio.wrap_future(self._parser().submit(parse_for_storing, data, limits))

    def _parser(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Never "fork": a forked worker would inherit this process's database connections and threads.
            if sys.platform.startswith("linux"):
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)
            else:
                context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.parse_workers, mp_context=context)
        return self._pool

    def _enqueue(self, pending: PendingFile) -> Future[Receipt]:
        waiting = _Waiting(pending, Future())
        with self._cond:
            self._closing = False
            self._waiting.append(waiting)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="submission-writer", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return waiting.done

    def _take(self) -> list[_Waiting] | None:
        """The next group: files in arrival order up to ``group`` encounters (at least one file)."""
        with self._cond:
            while not self._waiting:
                if self._closing:
                    self._thread = None
                    return None
                self._cond.wait()
            taken: list[_Waiting] = []
            size = 0
            while self._waiting and (not taken or size + self._waiting[0].size <= self.group):
                item = self._waiting.pop(0)
                taken.append(item)
                size += item.size
            return taken

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            try:
                receipts = self._store([w.file for w in taken])
            except Exception as exc:  # answered per file below
                if len(taken) == 1:
                    taken[0].done.set_exception(exc)
                    continue
                log.warning("a group of %d files failed (%s): storing each alone", len(taken), type(exc).__name__)
                for one in taken:
                    try:
                        (receipt,) = self._store([one.file])
                    except Exception as alone:  # the request answers it
                        one.done.set_exception(alone)
                    else:
                        one.done.set_result(receipt)
                continue
            for one, receipt in zip(taken, receipts, strict=True):
                one.done.set_result(receipt)

    def _store(self, files: list[PendingFile]) -> list[Receipt]:
        with self.engine.connect() as conn:  # from the pool; a connection that failed is not reused
            receipts = store_group(conn, files, self.linker)
        self.groups += 1
        return receipts
