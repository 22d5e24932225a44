"""Ingest: store a parsed GIAMDINHHS file, one transaction per encounter, idempotently.

Guarantees (the ingest issue, §5):
- Each encounter is stored in its own transaction with all its tables, issues and identity link: after a
  crash an encounter is either fully stored or absent, and the raw file is always stored first.
- The same file again stores nothing and answers the original receipt. The same encounter content
  again (in another file) is a ``duplicate``; other content for the same (MA_CSKCB, MA_LK) is a new
  version, and earlier versions stay readable.
- A submitter bound to facility X cannot store encounters of another facility.
- The identity step plugs in through :class:`EncounterLinker`, inside the encounter's transaction.

Never logs values from the file: only counts, codes and ids.
"""

from __future__ import annotations

import functools
import gc
import gzip
import logging
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from mpi.facilities.certificates import active_certificates
from mpi.receipts import EncounterReceipt, EncounterStatus, Outcome, Receipt
from mpi.settings import get_settings
from mpi.store import ahead, deferred
from mpi.store.bulk import BulkInsert, Prepared
from mpi.store.content import content_tables
from mpi.store.db import read_only, sqlite_dialect
from mpi.store.locks import named_lock
from mpi.store.models import Encounter, Facility, Submission, ValidationIssue, utcnow
from mpi.xml130 import Issue, Limits, ParsedEncounter, ParsedSubmission, PartialDateTime, parse_submission
from mpi.xml130.fields import Kind, field_table
from mpi.xml130.issues import Severity, issue
from mpi.xml130.rows import ParsedRow
from mpi.xml130.signature import REASONS, SignatureCheck, check_signature

log = logging.getLogger(__name__)

_encounters = Encounter.__table__  # type: ignore[attr-defined]
_submissions = Submission.__table__  # type: ignore[attr-defined]
_issues = ValidationIssue.__table__  # type: ignore[attr-defined]
_facilities = Facility.__table__  # type: ignore[attr-defined]

# Statements compiled once and run at driver level (mpi.store.bulk): the per-encounter path runs a dozen.
_SELECT_CURRENT = Prepared(
    select(_encounters.c.id, _encounters.c.version, _encounters.c.content_sha256).where(
        _encounters.c.facility_code == bindparam("f"),
        _encounters.c.ma_lk == bindparam("m"),
        _encounters.c.is_current.is_(True),
    )
)
_RETIRE = Prepared(update(_encounters).where(_encounters.c.id == bindparam("eid")).values(is_current=False))
_INSERT_ENCOUNTER = BulkInsert(_encounters, returning=_encounters.c.id)
_SELECT_SUBMISSION = Prepared(
    select(_submissions.c.id, _submissions.c.outcome, _submissions.c.receipt, _submissions.c.received_at).where(
        _submissions.c.sha256 == bindparam("sha")
    )
)
_INSERT_SUBMISSION = BulkInsert(_submissions, returning=_submissions.c.id)
# What a group of files finds already stored (_Found), read in one statement each for the whole group.
_SELECT_SUBMISSIONS = select(
    _submissions.c.id,
    _submissions.c.outcome,
    _submissions.c.receipt,
    _submissions.c.received_at,
    _submissions.c.sha256,
).where(_submissions.c.sha256.in_(bindparam("shas", expanding=True)))
_SELECT_CURRENT_MANY = select(
    _encounters.c.id,
    _encounters.c.version,
    _encounters.c.content_sha256,
    _encounters.c.facility_code,
    _encounters.c.ma_lk,
).where(
    _encounters.c.facility_code.in_(bindparam("f", expanding=True)),
    _encounters.c.ma_lk.in_(bindparam("m", expanding=True)),
    _encounters.c.is_current.is_(True),
)
_FINALISE = Prepared(
    update(_submissions)
    .where(_submissions.c.id == bindparam("sid"))
    .values(outcome=bindparam("outcome"), receipt=bindparam("receipt"))
)
_INSERT_CONTENT = {name: BulkInsert(table) for name, table in content_tables.items()}
_BULK_ISSUES = BulkInsert(_issues)
# Facility codes known to exist, per store: spares an upsert per encounter. Filled only after commit.
_ATTEMPTS = 5
"""Tries to store a file whose encounters other files keep versioning concurrently (each try resumes)."""
_known_facilities: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()


class EncounterLinker(Protocol):
    """The identity step: link a freshly stored encounter version to a person.

    Called inside the encounter's transaction, so the link is stored with the encounter or not at all.
    Returns facts for the receipt (e.g. ``{"person_id": ...}``) or ``None``.
    """

    def __call__(
        self, *, connection: Connection, encounter_id: int, encounter: ParsedEncounter, version: int
    ) -> dict[str, Any] | None: ...


def ingest_file(
    *,
    engine: Engine,
    data: bytes,
    submitter: str,
    allowed_facility: str | None = None,
    linker: EncounterLinker | None = None,
    limits: Limits | None = None,
) -> Receipt:
    """Validate and store one file. ``allowed_facility`` scopes a submitter key to one MA_CSKCB.

    A file of one HOSO (what HIS exports send) is stored in one transaction: raw file, encounter and
    receipt together or not at all, so a crash leaves nothing and the sender, who got no receipt, sends
    again. A file of several HOSO stores the raw file first, then one transaction per encounter, so a
    crash keeps what was stored and sending the file again completes it.
    """
    return ingest_parsed(
        engine=engine,
        data=data,
        parsed=parse_submission(data, limits=limits),
        submitter=submitter,
        allowed_facility=allowed_facility,
        linker=linker,
    )


def ingest_parsed(
    *,
    engine: Engine,
    data: bytes,
    parsed: ParsedSubmission,
    submitter: str,
    allowed_facility: str | None = None,
    linker: EncounterLinker | None = None,
) -> Receipt:
    """Store a file already read by :func:`parse_submission` (e.g. in a worker process)."""
    _scope(parsed, allowed_facility)
    # One connection for the whole file, holding the file's lock: the same file sent again meanwhile (by
    # this or another process) waits here, then finds the finished receipt and answers it as a duplicate.
    with engine.connect() as conn, named_lock(conn, f"submission:{parsed.sha256}"):
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                if len(parsed.encounters) <= 1:
                    return _ingest_at_once(conn, data, parsed, submitter, linker)
                return _ingest_per_encounter(conn, data, parsed, submitter, linker)
            except IntegrityError:
                # Another file stored a version of the same encounter first: what is stored is kept, and
                # the next attempt resumes the file and sees that version.
                if conn.in_transaction():
                    conn.rollback()
                if attempt == _ATTEMPTS:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


def _scope(parsed: ParsedSubmission, allowed_facility: str | None) -> None:
    """A submitter bound to a facility: another facility's encounter gets an error (it is not stored)."""
    if allowed_facility is None:
        return
    for enc in parsed.encounters:
        if enc.facility_code is not None and enc.facility_code != allowed_facility:
            enc.issues.append(
                issue("facility_scope", hoso=enc.hoso, table="XML1", field="MA_CSKCB", allowed=allowed_facility)
            )


GROUP_ENCOUNTERS: Final = 64
"""Encounters per transaction in group commit (:func:`ingest_many`): enough to amortise a commit."""


def ingest_many(
    *,
    engine: Engine,
    files: Iterable[tuple[bytes, ParsedSubmission]],
    submitter: str,
    allowed_facility: str | None = None,
    linker: EncounterLinker | None = None,
    group: int = GROUP_ENCOUNTERS,
) -> Iterator[Receipt]:
    """Store many files with group commit; yields each file's receipt once it is durable, in order.

    For a bulk loader (``mpi ingest``). A one-HOSO file is written as :func:`ingest_parsed` writes it, but
    up to ``group`` of them share one transaction, and a receipt is handed out only after the commit that
    made it durable: raw file, encounter and receipt are whole or absent whatever happens. A crash loses
    only files no receipt was given for; sending them again stores them. A conflict with a concurrent
    writer (the same file or encounter stored meanwhile) rolls the group back, and the group is stored
    again with each file in its own savepoint, so the conflict rolls back and retries that file only (the
    usual case, no conflict, spends no statement on savepoints). A file of several HOSO commits what
    waits, then goes through :func:`ingest_parsed` (its raw file first, then one transaction per
    encounter).
    """
    if group < 1:
        raise ValueError("group must be >= 1")
    waiting: list[tuple[bytes, ParsedSubmission]] = []
    with engine.connect() as conn, fewer_collections():
        for data, parsed in files:
            if len(parsed.encounters) > 1:
                yield from _store_group(conn, waiting, submitter, linker)
                yield ingest_parsed(
                    engine=engine,
                    data=data,
                    parsed=parsed,
                    submitter=submitter,
                    allowed_facility=allowed_facility,
                    linker=linker,
                )
                continue
            _scope(parsed, allowed_facility)
            waiting.append((data, parsed))
            if len(waiting) >= group:
                yield from _store_group(conn, waiting, submitter, linker)
        yield from _store_group(conn, waiting, submitter, linker)
    # an exception, or the caller stopping, leaves the files still waiting unstored and unacknowledged


_YOUNG_OBJECTS: Final = 20_000
"""Allocations between two collections of the youngest generation while :func:`ingest_many` or a server's
intake (``api.intake.store_jobs``) runs (Python's default is 700)."""


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector run less often (the process-wide setting, restored after).

    A bulk loader allocates a few hundred objects per encounter and holds the files read ahead of it (by
    ``mpi ingest``'s parsing workers, or the batch a server's intake process parses before storing): at the
    default threshold the collector ran every few encounters and walked those files again and again, 5–8 %
    of the storing process's CPU (≈ 10 % of the intake process's). Garbage in reference cycles is
    still collected, only less often: a little more memory, held a little longer."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _YOUNG_OBJECTS), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _store_group(
    conn: Connection, waiting: list[tuple[bytes, ParsedSubmission]], submitter: str, linker: EncounterLinker | None
) -> Iterator[Receipt]:
    """One transaction for the waiting one-HOSO files; their receipts once it committed."""
    if not waiting:
        return
    files = [PendingFile(data, parsed, submitter) for data, parsed in waiting]
    waiting.clear()
    yield from store_group(conn, files, linker)


@dataclass(frozen=True, slots=True)
class PendingFile:
    """A parsed file waiting for group commit, with who sent it (:func:`store_group`)."""

    data: bytes
    parsed: ParsedSubmission
    submitter: str
    allowed_facility: str | None = None
    """As in :func:`ingest_file`: a submitter key's facility (``None``: any)."""


def store_group(conn: Connection, files: list[PendingFile], linker: EncounterLinker | None) -> list[Receipt]:
    """Store the files in one transaction on ``conn`` (each file whole: raw file, encounters, receipt);
    their receipts once it committed. For files of a few HOSO each (what a server receiving files from
    many senders at once batches); a conflict with a concurrent writer retries the group with a savepoint
    per file, as :func:`ingest_many` does."""
    for pending in files:
        _scope(pending.parsed, pending.allowed_facility)
    try:
        with conn.begin():
            if conn.dialect.name == "sqlite":  # one executemany per table at commit instead of an insert per row
                ahead.enable(conn)
            found = _Found.read(conn, [f.parsed for f in files])
            receipts = [_store_at_once(conn, f.data, f.parsed, f.submitter, linker, found) for f in files]
    except IntegrityError:
        # a concurrent writer stored one of these files or encounters first: again, a savepoint per file
        with conn.begin():
            receipts = [_in_savepoint(conn, _storing(f, linker)) for f in files]
    for receipt in receipts:
        _remember_facilities(conn.engine, receipt)
    return receipts


def _storing(pending: PendingFile, linker: EncounterLinker | None) -> Callable[[Connection], Receipt]:
    return functools.partial(
        _store_at_once, data=pending.data, parsed=pending.parsed, submitter=pending.submitter, linker=linker
    )


def _in_savepoint(conn: Connection, work: Callable[[Connection], Receipt]) -> Receipt:
    """``work(conn)`` inside a savepoint; a conflict with a concurrent writer rolls it back and retries."""
    for attempt in range(1, _ATTEMPTS + 1):
        savepoint = conn.begin_nested()
        try:
            result = work(conn)
        except IntegrityError:
            savepoint.rollback()
            if attempt == _ATTEMPTS:
                raise
            continue
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def compress_raw(data: bytes) -> bytes:
    """The raw file as the store keeps it (gzip, fast level: files are written once and rarely read)."""
    return gzip.compress(data, compresslevel=1)


_READ_WHEN_STAGED: Final = frozenset({"XML1", "XML9"})
"""Tables whose records the identity step reads from the parsed file (the patient's XML1; a birth
certificate's mother and children, :mod:`mpi.identity.births`): kept when an encounter is staged."""


@functools.cache
def _staging_dialect() -> Dialect:
    return sqlite_dialect()


def stage(parsed: ParsedSubmission, *, prepare: Callable[[ParsedEncounter], None] | None = None) -> None:
    """Prepare what a SQLite store writes for each encounter, in the process that read the file.

    Typing each value for the driver (dates and amounts as text, ``raw`` and lists as JSON) is most of
    the work of writing the content tables; done here, in a parsing worker, the one process that stores
    only adds the encounter id. The typed values are then not sent to it (see
    :attr:`ParsedEncounter.store_rows`). ``prepare`` is run on each encounter first (a later step's own
    preparation, e.g. :func:`mpi.identity.online.prepare`). Encounters that will be rejected are left as
    they are.
    """
    if parsed.rejected:
        return
    dialect = _staging_dialect()
    for enc in parsed.encounters:
        if enc.rejected:
            continue
        if prepare is not None:
            prepare(enc)
        enc.store_rows = {
            name: _content_stager(name, dialect).rows(table.rows) for name, table in enc.tables.items() if table.rows
        }
        for name, table in enc.tables.items():
            table.content = b""
            if name not in _READ_WHEN_STAGED:
                table.rows = []
            for row in table.rows:  # read as text (``raw``); the typed values are in store_rows
                row.values = {}


_Prepare = Callable[[ParsedEncounter], None]


def parse_for_storing(data: bytes, limits: Limits | None = None) -> ParsedSubmission:
    """:func:`parse_submission` plus the compressed raw file: all the CPU work of a file that needs no
    database, for a worker process (the one process that stores then only writes)."""
    parsed = parse_submission(data, limits=limits)
    parsed.raw_gzip = compress_raw(data)
    return parsed


def read_for_storing(
    data: bytes, limits: Limits | None = None, *, store_dialect: str | None = None, prepare: _Prepare | None = None
) -> ParsedSubmission:
    """What a process that reads files does for the one that stores them (``mpi ingest``'s parsing workers,
    a server's intake process): :func:`parse_for_storing`, and for a SQLite store (``store_dialect``) also
    :func:`stage` with ``prepare``."""
    parsed = parse_for_storing(data, limits)
    if store_dialect == "sqlite":
        stage(parsed, prepare=prepare)
    return parsed


def _read_and_parse(job: tuple[Path, Limits, str | None, _Prepare | None]) -> tuple[bytes, ParsedSubmission]:
    path, limits, store_dialect, prepare = job
    data = path.read_bytes()
    return data, read_for_storing(data, limits, store_dialect=store_dialect, prepare=prepare)


def parse_paths(
    paths: Iterable[Path],
    *,
    limits: Limits,
    workers: int = 1,
    store_dialect: str | None = None,
    prepare: _Prepare | None = None,
) -> Iterator[tuple[Path, bytes, ParsedSubmission]]:
    """Read and parse files, in ``workers`` processes when > 1, in order.

    Parsing is CPU-bound and independent per file, while storing is serialised by the database; with
    worker processes the writer stores one file while the next ones are parsed. ``store_dialect``: the
    dialect of the store the files go to; for ``sqlite`` the workers also :func:`stage` them, with
    ``prepare`` (a module-level function: it is sent to the workers).
    """
    paths = list(paths)
    jobs = ((path, limits, store_dialect, prepare) for path in paths)
    if workers <= 1:
        for path, (data, parsed) in zip(paths, map(_read_and_parse, jobs), strict=True):
            yield path, data, parsed
        return
    # Never "fork": a forked worker would inherit the parent's open database connections, and if the
    # parent died mid-transaction the orphan would keep its PostgreSQL socket (and row locks) alive.
    context = multiprocessing.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    if isinstance(context, multiprocessing.context.ForkServerContext):
        # Imported once by the fork server (when this process starts it): each worker then forks ready
        # instead of importing the parser anew, about a second of CPU per worker and per run; likewise the
        # module of ``prepare`` (the identity step's, which imports the linkage engine).
        context.set_forkserver_preload([__name__, *([prepare.__module__] if prepare is not None else [])])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # the paths are not sent back: rebuilding Path objects costs the storing process more than zipping
        for path, (data, parsed) in zip(paths, pool.map(_read_and_parse, jobs, chunksize=8), strict=True):
            yield path, data, parsed


@dataclass(slots=True)
class _Found:
    """What a group's files and encounters find already stored, read for the whole group in two statements
    at the start of its transaction instead of two per file (:func:`store_group`).

    An entry is used once: the file or encounter key it answers is then written by this transaction, so a
    second file or encounter with the same key in the group reads the store again and sees that write. On
    SQLite the transaction holds the write lock from its start, so what it read stays current; elsewhere a
    concurrent writer may store the same file or encounter meanwhile, which the unique constraints turn into
    the conflict :func:`store_group` answers by storing the group again, a savepoint per file and nothing
    read ahead, exactly as it would after reading one file at a time.
    """

    submissions: dict[str, _Earlier | None]
    encounters: dict[tuple[str, str], tuple[Any, ...] | None]
    """(MA_CSKCB, MA_LK) -> the current version's (id, version, content SHA-256), or None: none stored."""
    facilities: set[str] = field(default_factory=set)
    """Facility codes this transaction made sure exist (each once, not once per encounter)."""

    @classmethod
    def read(cls, conn: Connection, files: list[ParsedSubmission]) -> _Found:
        shas = sorted({parsed.sha256 for parsed in files})
        submissions: dict[str, _Earlier | None] = dict.fromkeys(shas)
        for row in conn.execute(_SELECT_SUBMISSIONS, {"shas": shas}):
            submissions[row.sha256] = _Earlier(row.id, row.outcome, row.receipt, row.received_at)
        keys = {
            (enc.facility_code, enc.ma_lk)
            for parsed in files
            for enc in parsed.encounters
            if enc.facility_code is not None and enc.ma_lk is not None
        }
        encounters: dict[tuple[str, str], tuple[Any, ...] | None] = dict.fromkeys(keys)
        if keys:
            # an index search per (facility, MA_LK) combination; the pairs not asked for are dropped below
            wanted = {"f": sorted({f for f, _ in keys}), "m": sorted({m for _, m in keys})}
            for row in conn.execute(_SELECT_CURRENT_MANY, wanted):
                key = (row.facility_code, row.ma_lk)
                if key in encounters:
                    encounters[key] = (row.id, row.version, row.content_sha256)
        return cls(submissions, encounters)

    @classmethod
    def nothing(cls) -> _Found:
        """Nothing read ahead: every question goes to the store (a file or encounter stored on its own)."""
        return cls({}, {})

    def submission(self, conn: Connection, sha256: str) -> _Earlier | None:
        if sha256 in self.submissions:
            return self.submissions.pop(sha256)
        ahead.write_pending(conn)  # the same file earlier in the group
        return _find_submission(conn, sha256)

    def current(self, conn: Connection, facility_code: str, ma_lk: str) -> tuple[Any, ...] | None:
        key = (facility_code, ma_lk)
        if key in self.encounters:
            return self.encounters.pop(key)
        ahead.write_pending(conn)  # a version of the same encounter earlier in the group
        return _SELECT_CURRENT.first(conn, {"f": facility_code, "m": ma_lk})


def _open_submission(
    conn: Connection, data: bytes, parsed: ParsedSubmission, submitter: str, found: _Found | None = None
) -> tuple[Receipt | None, Any, int]:
    """(the original receipt if this file was fully received before, the earlier row, the submission id).

    A file seen before whose ingest did not finish (``processing``: the process died) is resumed under its
    first submission id; a file never seen is stored first.
    """
    existing = (found or _Found.nothing()).submission(conn, parsed.sha256)
    if existing is not None and existing.outcome != "processing" and existing.receipt is not None:
        receipt = Receipt.model_validate(existing.receipt)
        receipt.duplicate = True
        return receipt, existing, int(existing.id)
    _check_signature(conn, data, parsed)
    submission_id = int(existing.id) if existing is not None else _insert_submission(conn, data, parsed, submitter)
    return None, existing, submission_id


_UNSIGNED: Final = SignatureCheck("unsigned")


def _check_signature(conn: Connection, data: bytes, parsed: ParsedSubmission) -> None:
    """Check CHUKYDONVI against the facility's registered certificates (once per parsed file); an invalid
    signature adds a file-level warning, or under ``MPI_SIGNATURE_POLICY=reject`` an error: nothing stored."""
    if parsed.signature_check is not None:
        return
    if parsed.signature is None:  # the common case costs nothing
        parsed.signature_check = _UNSIGNED
        return
    check = check_signature(data, parsed.signature, active_certificates(conn, parsed.facility_code), at=utcnow())
    parsed.signature_check = check
    if check.status == "invalid" and check.reason is not None:
        vi, en = REASONS[check.reason]
        code = "signature_rejected" if get_settings().signature_policy == "reject" else "signature_invalid"
        parsed.issues.append(issue(code, field="CHUKYDONVI", ly_do=vi, why=en))


def _ingest_at_once(
    conn: Connection, data: bytes, parsed: ParsedSubmission, submitter: str, linker: EncounterLinker | None
) -> Receipt:
    with conn.begin():
        receipt = _store_at_once(conn, data, parsed, submitter, linker)
    _remember_facilities(conn.engine, receipt)
    return receipt


def _store_at_once(
    conn: Connection,
    data: bytes,
    parsed: ParsedSubmission,
    submitter: str,
    linker: EncounterLinker | None,
    found: _Found | None = None,
) -> Receipt:
    """A one-HOSO file in the caller's transaction: raw file, encounter and receipt together. ``found``:
    what its group read ahead (:class:`_Found`)."""
    known = _known_facilities.setdefault(conn.engine, set())
    replayed, existing, submission_id = _open_submission(conn, data, parsed, submitter, found)
    if replayed is not None:
        return replayed
    receipts = [
        _refused(enc) if parsed.rejected else _write_encounter(conn, submission_id, enc, linker, known, found)
        for enc in parsed.encounters
    ]
    return _finalise(conn, submission_id, parsed, receipts, existing)


def _remember_facilities(engine: Engine, receipt: Receipt) -> None:
    """Facility codes known to exist once committed: later encounters skip their upsert."""
    known = _known_facilities.setdefault(engine, set())
    known.update(
        r.facility_code for r in receipt.encounters if r.status is EncounterStatus.ACCEPTED and r.facility_code
    )


def _ingest_per_encounter(
    conn: Connection, data: bytes, parsed: ParsedSubmission, submitter: str, linker: EncounterLinker | None
) -> Receipt:
    known = _known_facilities.setdefault(conn.engine, set())
    with conn.begin():
        replayed, existing, submission_id = _open_submission(conn, data, parsed, submitter)
    if replayed is not None:
        return replayed
    receipts = []
    for enc in parsed.encounters:
        if parsed.rejected:
            receipts.append(_refused(enc))
            continue
        with conn.begin():
            receipts.append(_write_encounter(conn, submission_id, enc, linker, known))
        if receipts[-1].status is EncounterStatus.ACCEPTED and enc.facility_code:
            known.add(enc.facility_code)
    with conn.begin():
        return _finalise(conn, submission_id, parsed, receipts, existing)


def _finalise(
    conn: Connection, submission_id: int, parsed: ParsedSubmission, receipts: list[EncounterReceipt], existing: Any
) -> Receipt:
    stored = sum(1 for r in receipts if r.status is not EncounterStatus.REJECTED)
    if parsed.rejected or stored == 0:
        outcome = Outcome.REJECTED
    elif stored < len(receipts):
        outcome = Outcome.PARTIAL
    else:
        outcome = Outcome.ACCEPTED
    received_at = existing.received_at if existing is not None else utcnow()
    receipt = Receipt(
        submission_id=submission_id,
        sha256=parsed.sha256,
        received_at=received_at.isoformat(timespec="seconds"),
        outcome=outcome,
        facility_code=parsed.facility_code,
        declared_count=parsed.declared_count,
        hoso_count=len(parsed.encounters),
        signature_present=parsed.signature_present,
        issues=[i.as_dict() for i in parsed.issues],
        encounters=receipts,
        signature=parsed.signature_check.as_dict() if parsed.signature_check is not None else None,
    )
    if parsed.issues:
        _later_rows(conn).add(_BULK_ISSUES, [_issue_row(i, submission_id, None, None) for i in parsed.issues])
    finished = {"outcome": outcome, "receipt": receipt.model_dump(mode="json")}
    held = ahead.pending(conn)
    waiting = held.waiting(_submissions, submission_id) if held is not None else None
    if waiting is not None:  # written once, whole, at commit
        waiting.update(finished)
    else:
        _FINALISE.rows(conn, {"sid": submission_id, **finished})
    log.info("submission %s: outcome=%s encounters=%d stored=%d", submission_id, outcome, len(receipts), stored)
    return receipt


def get_receipt(*, engine: Engine, submission_id: int) -> Receipt | None:
    with read_only(engine).connect() as conn:
        row = conn.execute(select(_submissions.c.receipt).where(_submissions.c.id == submission_id)).first()
    if row is None or row.receipt is None:
        return None
    return Receipt.model_validate(row.receipt)


@dataclass(frozen=True, slots=True)
class _Earlier:
    """A submission row found by its SHA-256."""

    id: int
    outcome: str
    receipt: dict[str, Any] | None
    received_at: Any


def _find_submission(conn: Connection, sha256: str) -> _Earlier | None:
    found = _SELECT_SUBMISSION.first(conn, {"sha": sha256})
    return _Earlier(*found) if found is not None else None


def _insert_submission(conn: Connection, data: bytes, parsed: ParsedSubmission, submitter: str) -> int:
    """Keep the raw file whatever its outcome: nothing that was sent is lost."""
    check = parsed.signature_check
    return ahead.insert(
        conn,
        _submissions,
        {
            "sha256": parsed.sha256,
            "received_at": utcnow(),
            "submitter": submitter,
            "facility_code": (parsed.facility_code or "")[:20] or None,
            "created_on": (parsed.created_on or "")[:20] or None,
            "declared_count": parsed.declared_count,
            "hoso_count": len(parsed.encounters),
            "signature_present": parsed.signature_present,
            "signature": parsed.signature,
            "signature_status": check.status if check else None,
            "signature_reason": check.reason if check else None,
            "signature_certificate": check.certificate if check else None,
            "size": len(data),
            "raw_gzip": parsed.raw_gzip if parsed.raw_gzip is not None else compress_raw(data),
            "outcome": "processing",
        },
        now=_INSERT_SUBMISSION,
    )


def _issue_row(i: Issue, submission_id: int, encounter_id: int | None, ma_lk: str | None) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "encounter_id": encounter_id,
        "hoso": i.hoso,
        "ma_lk": (ma_lk or "")[:100] or None,
        "path": i.path[:200],
        "table_name": i.table,
        "row": i.row,
        "field_name": (i.field or "")[:64] or None,
        "code": i.code,
        "severity": i.severity.value,
        "message_vi": i.message_vi,
        "message_en": i.message_en,
    }


def _refused(enc: ParsedEncounter) -> EncounterReceipt:
    """An encounter of a file refused as a whole (a file-level error): not stored."""
    errors = sum(1 for i in enc.issues if i.severity is Severity.ERROR)
    return EncounterReceipt(
        hoso=enc.hoso,
        facility_code=enc.facility_code,
        ma_lk=enc.ma_lk,
        status=EncounterStatus.REJECTED,
        warnings=len(enc.issues) - errors,
        errors=errors,
        issues=[i.as_dict() for i in enc.issues],
    )


def _write_encounter(
    conn: Connection,
    submission_id: int,
    enc: ParsedEncounter,
    linker: EncounterLinker | None,
    known_facilities: set[str],
    found: _Found | None = None,
) -> EncounterReceipt:
    errors = sum(1 for i in enc.issues if i.severity is Severity.ERROR)
    receipt = EncounterReceipt(
        hoso=enc.hoso,
        facility_code=enc.facility_code,
        ma_lk=enc.ma_lk,
        status=EncounterStatus.REJECTED if errors else EncounterStatus.ACCEPTED,
        warnings=len(enc.issues) - errors,
        errors=errors,
        issues=[i.as_dict() for i in enc.issues],
    )
    if errors:
        _later_rows(conn).add(_BULK_ISSUES, [_issue_row(i, submission_id, None, enc.ma_lk) for i in enc.issues])
        return receipt
    assert enc.facility_code is not None and enc.ma_lk is not None
    found = found or _Found.nothing()
    current = found.current(conn, enc.facility_code, enc.ma_lk)
    if current is not None and current[2] == enc.content_sha256:
        receipt.status, receipt.version = EncounterStatus.DUPLICATE, int(current[1])
        receipt.encounter_id = int(current[0])
        return receipt
    if enc.facility_code not in known_facilities and enc.facility_code not in found.facilities:
        _ensure_facility(conn, enc.facility_code)
        found.facilities.add(enc.facility_code)
    version = 1 if current is None else int(current[1]) + 1
    if current is not None:
        _RETIRE.rows(conn, {"eid": current[0]})
    encounter_id = ahead.insert(
        conn,
        _encounters,
        {
            "facility_code": enc.facility_code,
            "ma_lk": enc.ma_lk,
            "version": version,
            "is_current": True,
            "submission_id": submission_id,
            "hoso": enc.hoso,
            "content_sha256": enc.content_sha256,
            "status": "accepted_with_warnings" if enc.issues else "accepted",
            "legacy_format": any(t.legacy for t in enc.tables.values()),
            "tables": sorted(enc.tables, key=lambda t: int(t[3:])),
            "received_at": utcnow(),
        },
        now=_INSERT_ENCOUNTER,
    )
    later = _later_rows(conn)
    if enc.store_rows is not None:
        if conn.dialect.name != "sqlite":
            raise ValueError("encounter staged for SQLite (mpi.ingest.stage) stored elsewhere")
        for name, staged in enc.store_rows.items():
            insert = _INSERT_CONTENT[name]
            later.add(insert, insert.complete_staged(conn.dialect, staged, later="encounter_id", value=encounter_id))
    elif conn.dialect.paramstyle == "qmark":  # SQLite: the driver's rows built from the values present
        for name, table in enc.tables.items():
            if table.rows:
                insert = _INSERT_CONTENT[name]
                staged = _content_stager(name, conn.dialect).rows(table.rows)
                complete = insert.complete_staged(conn.dialect, staged, later="encounter_id", value=encounter_id)
                later.add(insert, complete)
    else:
        for name, table in enc.tables.items():
            if table.rows:
                later.add(_INSERT_CONTENT[name], list(_content_rows(encounter_id, table.rows)))
    if enc.issues:
        later.add(_BULK_ISSUES, [_issue_row(i, submission_id, encounter_id, enc.ma_lk) for i in enc.issues])
    receipt.version, receipt.new_version, receipt.encounter_id = version, version > 1, encounter_id
    if linker is not None:
        receipt.identity = linker(connection=conn, encounter_id=encounter_id, encounter=enc, version=version)
    return receipt


_LATER_ROWS: Final = "mpi.ingest.later_rows"


class _LaterRows:
    """The content and validation-issue rows of this transaction's encounters, written as it commits
    (:mod:`mpi.store.deferred`: a rolled-back savepoint takes its rows back). Nothing reads them before the
    commit, and one ``executemany`` per table and transaction replaces a few statements per encounter;
    each table's rows keep their order, so they get the ids they would get one encounter at a time."""

    def __init__(self) -> None:
        self.batches: list[tuple[BulkInsert, list[Any], bool]] = []
        """(table's insert, rows, whether the rows are in the driver's form (:meth:`BulkInsert.complete_staged`))."""

    def add(self, insert: BulkInsert, rows: list[Any]) -> None:
        if rows:
            self.batches.append((insert, rows, isinstance(rows[0], tuple)))

    def mark(self) -> int:
        return len(self.batches)

    def restore(self, mark: int) -> None:
        del self.batches[mark:]

    def flush(self, conn: Connection) -> None:
        merged: dict[tuple[int, bool], tuple[BulkInsert, list[Any]]] = {}
        for insert, rows, complete in self.batches:
            merged.setdefault((id(insert), complete), (insert, []))[1].extend(rows)
        self.batches = []
        for (_, complete), (insert, rows) in merged.items():
            if complete:
                insert.execute_complete(conn, rows)
            else:
                insert.execute(conn, rows)

    def discard(self, conn: Connection) -> None:
        self.batches = []


def _later_rows(conn: Connection) -> _LaterRows:
    return deferred.buffer(conn, _LATER_ROWS, _LaterRows)


def _content_rows(encounter_id: int, rows: Iterable[ParsedRow]) -> Iterable[dict[str, Any]]:
    for row in rows:
        out: dict[str, Any] = {"encounter_id": encounter_id, "row_no": row.index, "raw": row.raw}
        for tag, value in row.values.items():
            column = tag.lower()
            if isinstance(value, PartialDateTime):
                out[column], out[f"{column}_precision"] = value.value, value.precision.value
            else:
                out[column] = value
        yield out


_Processor = Callable[[Any], Any] | None


_STAGED_MEMO_SIZE: Final = 4096
"""Driver values remembered per content field at most (:class:`_ContentStager`)."""
_Memo = dict[int, tuple[Any, Any, Any]]


@dataclass(frozen=True, slots=True)
class _ContentStager:
    """A content table's records in its driver's form (positional parameters, ``encounter_id`` left out),
    exactly as :meth:`BulkInsert.stage` makes them from :func:`_content_rows` (a test checks), but built
    from the values a record has rather than from a dict of every column: a record fills a few of its
    table's 13–76 columns.

    The reader hands out one object per distinct date or amount of a field (:mod:`mpi.xml130.rows`
    remembers them: they repeat across a file's rows), so each field remembers the driver's text of the
    dates and amounts it converted, by the object's identity (the memo holds the object, so its ``id`` is
    not reused meanwhile): the same object again costs a look-up instead of formatting it anew."""

    template: tuple[Any, ...]
    """Every parameter's value when the record has none (the bind's default: NULL)."""
    row_no: int
    raw: tuple[int, _Processor]
    fields: dict[str, tuple[int, _Processor, int, _Processor, _Memo | None]]
    """Tag -> (position, bind processor, the date's ``_precision`` position or -1, its processor, the memo
    of a date or amount field whose value the processor converts)."""

    @classmethod
    def build(cls, name: str, dialect: Dialect) -> _ContentStager:
        insert = _INSERT_CONTENT[name]
        if insert.defaults:  # pragma: no cover - content columns have no Python-side default
            raise ValueError(f"content table {name} has column defaults")
        binds = [b for b in insert.prepared.binds(dialect) if b[0] != "encounter_id"]
        at = {bind: (n, process) for n, (bind, process, _) in enumerate(binds)}
        fields: dict[str, tuple[int, _Processor, int, _Processor, _Memo | None]] = {}
        for fdef in field_table()[name]:
            position, process = at[fdef.column]
            precision, precise = at.get(f"{fdef.column}_precision", (-1, None))
            remembered = process is not None and fdef.kind in (Kind.DATETIME, Kind.DECIMAL)
            fields[fdef.name] = (position, process, precision, precise, {} if remembered else None)
        return cls(tuple(default for _, _, default in binds), at["row_no"][0], at["raw"], fields)

    def rows(self, rows: Iterable[ParsedRow]) -> list[tuple[Any, ...]]:
        out = []
        fields = self.fields
        raw_at, raw_process = self.raw
        for row in rows:
            values = list(self.template)
            values[self.row_no] = row.index
            values[raw_at] = raw_process(row.raw) if raw_process is not None else row.raw
            for tag, value in row.values.items():
                found = fields.get(tag)
                if found is None:  # pragma: no cover - typed values are of the table's fields
                    continue
                position, process, precision, precise, memo = found
                if memo is not None:
                    hit = memo.get(id(value))
                    if hit is not None and hit[0] is value:
                        values[position] = hit[1]
                        if precision >= 0:
                            values[precision] = hit[2]
                        continue
                typed, level = value, None
                if isinstance(value, PartialDateTime):
                    if precision >= 0:
                        level = value.precision.value
                        level = values[precision] = precise(level) if precise is not None else level
                    value = value.value
                converted = values[position] = process(value) if process is not None and value is not None else value
                if memo is not None and type(typed) in _IMMUTABLE_TYPED:
                    if len(memo) >= _STAGED_MEMO_SIZE:
                        memo.clear()
                    memo[id(typed)] = (typed, converted, level)
            out.append(tuple(values))
        return out


_IMMUTABLE_TYPED: Final = frozenset({PartialDateTime, Decimal})
"""The typed values a field's memo keeps (immutable: their driver text cannot change)."""


_STAGERS: dict[tuple[str, int], _ContentStager] = {}


def _content_stager(name: str, dialect: Dialect) -> _ContentStager:
    """The stager of content table ``name`` for ``dialect`` (one per compiled statement)."""
    key = (name, id(_INSERT_CONTENT[name].prepared.binds(dialect)))
    found = _STAGERS.get(key)
    if found is None:
        found = _STAGERS[key] = _ContentStager.build(name, dialect)
    return found


_UPSERT_FACILITY: Final = {
    name: Prepared(
        dialect_insert(_facilities)
        .values(code=bindparam("code"), first_seen_at=bindparam("at"), active=True)
        .on_conflict_do_nothing()
    )
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def _ensure_facility(conn: Connection, code: str) -> None:
    _UPSERT_FACILITY[conn.dialect.name].rows(conn, {"code": code, "at": utcnow()})
