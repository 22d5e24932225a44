"""32 threads against the ASGI app at once, on SQLite and PostgreSQL: submitters, clinicians and the
readiness probe interleaved; not one 5xx, and every acknowledged encounter stored exactly once."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mpi.keys import Role
from mpi.store import Encounter
from tests.builders import envelope, outpatient
from tests.support import KeyFactory

THREADS = 32
ROUNDS = 6


@pytest.mark.slow  # 192 requests from 32 threads: seconds of CPU
def test_32_concurrent_clients_get_no_server_error(app: FastAPI, client: TestClient, auth: KeyFactory) -> None:
    submitter = {**auth(Role.SUBMITTER, "74001"), "Content-Type": "application/xml"}
    clinician = {**auth(Role.CLINICIAN, "74001"), "X-Purpose-Of-Use": "TREAT"}
    statuses: Counter[int] = Counter()
    acknowledged: set[str] = set()
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        rng = random.Random(n)
        barrier.wait()
        for r in range(ROUNDS):
            if n % 2 == 0:  # a submitter: its own files, and now and then a file another thread also sends
                ma_lk = f"LK{n:02d}{r:02d}" if rng.random() < 0.7 else f"LKSHARED{r:02d}"
                response = client.post("/api/v1/submissions", content=envelope([outpatient(ma_lk)]), headers=submitter)
                if response.status_code in (200, 201):
                    with lock:
                        acknowledged.add(ma_lk)
            else:
                path = rng.choice(
                    ["/api/v1/persons/1", "/api/v1/persons/1/timeline", "/fhir/Patient/1", "/readyz", "/healthz"]
                )
                response = client.get(path, headers=clinician)
            with lock:
                statuses[response.status_code] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [s for s in statuses if s >= 500], statuses
    assert sum(statuses.values()) == THREADS * ROUNDS
    with app.state.engine.connect() as conn:
        rows = conn.execute(select(Encounter.ma_lk, func.count()).group_by(Encounter.ma_lk)).all()  # type: ignore[arg-type]
    stored = dict(rows)
    assert set(stored) == acknowledged
    assert set(stored.values()) == {1}  # the same content sent again is a duplicate, not a second version
