"""The statements a clinician's hot reads run are pinned, per route, by an upper bound that does not depend on
the person: a read that starts querying per encounter, per identifier or per person (N+1), or resolves the
person or reads their encounters twice again, fails here. ``bench/bench_reads.py`` measures the same counts
and the CPU they cost.

Counted with an SQLAlchemy listener on the application's engine: the statements of the request (its key
check included, and on SQLite each ``BEGIN``); the audit writer's inserts, in the writer's own thread, are
not the request's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from mpi.identity import links as L
from mpi.keys import Role
from mpi.store.content import content_tables
from tests.plugins.province import Store
from tests.support import KeyFactory

MOST_STATEMENTS = {
    "/api/v1/persons/{person}": 7,  # key; resolve; encounters; HIV-named tests; TB records (when there are)
    "/api/v1/persons/{person}/timeline": 9,  # ... withheld count (when some are); page with its total
    "/fhir/Patient/{person}": 9,  # ... open reviews, mothers' names
    "/fhir/Patient?_id={person}": 11,  # the search's lookup, then the Patient
}
"""Route -> the most statements one request may run (on SQLite, with its ``BEGIN``s; PostgreSQL runs fewer)."""


@contextmanager
def _counting(app: FastAPI) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name != "audit-writer":
            seen.append(statement)

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _persons(store: Store) -> list[int]:
    """The persons with the most current encounters, and persons with HIV or TB care (more queries)."""
    s = L.sources
    with store.engine.connect() as conn:
        busiest = conn.execute(
            select(s.c.person_id).group_by(s.c.person_id).order_by(func.count().desc(), s.c.person_id).limit(4)
        ).scalars()
        cared = [
            conn.execute(
                select(s.c.person_id).join(content_tables[t], content_tables[t].c.encounter_id == s.c.encounter_id)
            ).scalar()
            for t in ("XML6", "XML15")
        ]
        return sorted({L.current_person(conn, int(p)) for p in [*busiest, *cared] if p is not None})


def test_hot_reads_run_a_bounded_number_of_statements(
    store: Store, app: FastAPI, client: TestClient, auth: KeyFactory
) -> None:
    persons = _persons(store)
    with store.engine.connect() as conn:
        most = max(
            conn.execute(
                select(func.count()).select_from(L.sources).where(L.sources.c.person_id.in_(persons))
                .group_by(L.sources.c.person_id)
            ).scalars()
        )  # fmt: skip
    assert most >= 5, "the busiest persons should have several encounters (an N+1 would show)"
    scenario = store.province.scenario
    for facility in (scenario.facility_a, scenario.facility_b):  # some encounters withheld from one of them
        headers = auth(Role.CLINICIAN, facility, purpose="TREAT")
        client.get(f"/api/v1/persons/{persons[0]}", headers=headers)  # the key's first use is recorded once
        for template, bound in MOST_STATEMENTS.items():
            for person in persons:
                path = template.format(person=person)
                with _counting(app) as seen:
                    response = client.get(path, headers=headers)
                assert response.status_code == 200, (path, response.text)
                assert len(seen) <= bound, f"{path}: {len(seen)} statements (at most {bound}):\n" + "\n".join(
                    " ".join(s.split())[:160] for s in seen
                )
