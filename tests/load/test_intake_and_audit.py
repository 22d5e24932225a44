"""What keeps reads quick under submissions: reads never take SQLite's write lock (their audit events go to
the process's audit writer), and received files are parsed and stored by the intake (group commit), in an
intake process beside the server."""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text

from api.app import create_app
from api.intake import Failed, Job, _carried, store_jobs
from api.ratelimit import RateLimited
from mpi.audit.models import AuditEvent
from mpi.audit.writer import AuditUnavailable, AuditWriter
from mpi.ingest import GROUP_ENCOUNTERS
from mpi.keys import Role
from mpi.settings import Settings
from mpi.store import Encounter, Submission, open_store
from mpi.xml130 import Limits
from tests.builders import envelope, outpatient
from tests.support import TEST_SECRET, key_factory

events = AuditEvent.__table__  # type: ignore[attr-defined]
READER = {"actor": "key:1", "role": "clinician", "facility_code": "74001", "purpose": "TREAT", "action": "summary",
          "resource": "GET /api/v1/persons/{person_id}", "person_id": None, "record_ids": [], "outcome": "ok",
          "details": None}  # fmt: skip


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(events)) or 0)


@pytest.fixture
def sqlite_file(migrated_sqlite: Callable[[str], str]) -> Iterator[tuple[str, Engine]]:
    url = migrated_sqlite("hub")
    engine = open_store(url)
    yield url, engine
    engine.dispose()


def test_write_behind_events_are_batched_and_visible_after_flush(sqlite_file: tuple[str, Engine]) -> None:
    _, engine = sqlite_file
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    writer = AuditWriter(engine, durable=False, linger=0.05)
    writer.extend([READER] * 30)  # returns before anything is written
    assert writer.flush(timeout=30)
    assert _count(engine) == 30
    assert len(commits) == 1  # one transaction for the events of the same few milliseconds
    writer.append(READER)
    writer.close()  # a server's shutdown writes what waits
    assert _count(engine) == 31 and writer.pending == 0
    writer.append(READER)  # and a later event starts the writer again
    assert writer.flush(timeout=30) and _count(engine) == 32


def test_a_durable_writer_returns_once_the_event_is_committed(sqlite_file: tuple[str, Engine]) -> None:
    _, engine = sqlite_file
    writer = AuditWriter(engine, durable=True, linger=0)
    writer.append(READER)
    assert _count(engine) == 1


def test_a_durable_read_is_refused_503_when_its_event_cannot_be_committed(sqlite_file: tuple[str, Engine]) -> None:
    _, engine = sqlite_file
    writer = AuditWriter(engine, durable=True, linger=0, durable_wait=0.5)
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the database accepts no write meanwhile
    try:
        with pytest.raises(AuditUnavailable) as refused:
            writer.append(READER)
        assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "5"}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert writer.flush(timeout=60) and _count(engine) == 1  # written once the database accepts it


def test_an_event_the_database_refuses_does_not_block_the_others(sqlite_file: tuple[str, Engine]) -> None:
    _, engine = sqlite_file
    writer = AuditWriter(engine, durable=True, linger=0.05)
    bad = {**READER, "person_id": 987654}  # no such person: the foreign key refuses it
    writer.extend([READER, bad, READER])
    assert _count(engine) == 2 and writer.pending == 0


@pytest.fixture
def behind_app(sqlite_file: tuple[str, Engine]) -> Iterator[FastAPI]:
    url, _ = sqlite_file
    app = create_app(
        Settings(env="test", secret_key=TEST_SECRET, database_url=url, audit_write_behind=True, intake_processes=0)
    )
    yield app
    app.state.engine.dispose()


def test_a_read_is_answered_while_another_process_holds_the_write_lock(behind_app: FastAPI) -> None:
    auth = key_factory(behind_app)
    clinician = auth(Role.CLINICIAN, "74001", purpose="TREAT")
    admin = auth(Role.ADMIN, None, purpose="PATRQT")
    with TestClient(behind_app) as client:
        submitted = client.post(
            "/api/v1/submissions", content=envelope([outpatient("LK1")]),
            headers={**auth(Role.SUBMITTER, "74001"), "Content-Type": "application/xml"},
        )  # fmt: skip
        assert submitted.status_code == 201, submitted.text
        with behind_app.state.engine.connect() as conn:
            person = int(conn.execute(text("SELECT min(id) FROM person")).scalar_one())
        holder = sqlite3.connect(str(behind_app.state.engine.url.database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # what a long submission does to every other writer
        try:
            # the first read also records the key's last use: beside the request, like the audit events
            for path in (f"/api/v1/persons/{person}", f"/api/v1/persons/{person}/timeline", f"/fhir/Patient/{person}",
                         f"/fhir/Patient?_id={person}"):  # fmt: skip
                assert client.get(path, headers=clinician).status_code == 200, path
            assert behind_app.state.audit.pending >= 4  # written once the lock is free
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # the audit search and the patient access report see this process's events at once
        found = client.get("/api/v1/audit", params={"person_id": person}, headers=admin).json()
        assert {"summary", "timeline", "fhir.read"} <= {e["action"] for e in found["entries"]}
        report = client.get("/fhir/AuditEvent", params={"patient": f"Patient/{person}"}, headers=admin)
        assert report.status_code == 200 and report.json()["total"] >= 4


def _job(*ma_lks: str, facility: str = "74001") -> Job:
    data = envelope([outpatient(m, facility=facility) for m in ma_lks], facility=facility)
    return Job(data, "key:1", "74001", Limits())  # a submitter key of 74001


def test_a_batch_is_stored_in_one_transaction_per_group(sqlite_file: tuple[str, Engine]) -> None:
    _, engine = sqlite_file
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    jobs = [_job("A1"), _job("B1", "B2"), _job("A1"), _job("C1", facility="74002")]
    outcomes = store_jobs(engine, None, jobs)
    assert len(commits) == 1
    statuses = [[e.status for e in r.encounters] if not isinstance(r, Exception) else r for r in outcomes]
    # the same file twice in one batch is a duplicate; another facility's file is refused for this key
    assert statuses == [["accepted"], ["accepted", "accepted"], ["accepted"], ["rejected"]]
    assert [getattr(r, "duplicate", None) for r in outcomes] == [False, False, True, False]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Encounter)) == 3
        assert conn.scalar(select(func.count()).select_from(Submission)) == 3


def test_a_large_file_is_stored_alone_and_a_failing_file_fails_alone(
    sqlite_file: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine = sqlite_file
    large = _job(*(f"L{i}" for i in range(GROUP_ENCOUNTERS + 1)))
    import mpi.ingest

    real = mpi.ingest._store_at_once

    def store_at_once(conn, data, parsed, submitter, linker, *found):  # type: ignore[no-untyped-def]
        if any(e.ma_lk == "BAD" for e in parsed.encounters):
            raise KeyError("a bug")
        return real(conn, data, parsed, submitter, linker, *found)

    monkeypatch.setattr(mpi.ingest, "_store_at_once", store_at_once)
    other = _job("X1", facility="74002")  # refused for this key: its scope issue once, also when stored again
    outcomes = store_jobs(engine, None, [_job("A1"), other, _job("BAD"), large, _job("A2")])
    assert isinstance(outcomes[2], Failed) and str(outcomes[2]) == "KeyError"  # the type only: no file value
    refused = outcomes[1]
    assert not isinstance(refused, Exception)
    assert [i.code for i in refused.encounters[0].issues].count("facility_scope") == 1
    assert [len(r.encounters) for r in outcomes if not isinstance(r, Exception)] == [1, 1, GROUP_ENCOUNTERS + 1, 1]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Encounter)) == GROUP_ENCOUNTERS + 3


def test_files_go_through_the_intake_process(sqlite_file: tuple[str, Engine]) -> None:
    url, engine = sqlite_file
    app = create_app(Settings(env="test", secret_key=TEST_SECRET, database_url=url, intake_processes=1))
    headers = {**key_factory(app)(Role.SUBMITTER, "74001"), "Content-Type": "application/xml"}
    answers = []
    with TestClient(app) as client:
        threads = [
            threading.Thread(
                target=lambda n=n: answers.append(
                    client.post("/api/v1/submissions", content=envelope([outpatient(f"P{n}")]), headers=headers)
                )
            )
            for n in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        again = client.post("/api/v1/submissions", content=envelope([outpatient("P0")]), headers=headers)
    app.state.engine.dispose()
    assert sorted(a.status_code for a in answers) == [201] * 8
    assert again.status_code == 200 and again.json()["duplicate"]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Encounter)) == 8
        linked = conn.execute(text("SELECT count(*) FROM source_record WHERE encounter_id IS NOT NULL")).scalar()
        assert linked == 8  # the intake process linked them


def test_an_error_for_the_caller_crosses_back_from_the_intake_process_intact() -> None:
    carried = pickle.loads(pickle.dumps(_carried(RateLimited("too many", retry_after=3))))
    assert (carried.status, carried.code, carried.message, carried.headers) == (
        429, "rate_limited", "too many", {"Retry-After": "3"}
    )  # fmt: skip
    unexpected = pickle.loads(pickle.dumps(_carried(ValueError("a value from the file"))))
    assert isinstance(unexpected, Failed) and str(unexpected) == "ValueError"
