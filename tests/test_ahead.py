"""Ids handed out ahead (`mpi.store.ahead`): the ids SQLite would give, rows written parents first at commit
or when asked, savepoints taking back what they handed out."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from mpi.identity import links as L
from mpi.identity.models import LinkState
from mpi.store import ahead
from mpi.store.models import utcnow


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    """A new SQLite store (ids handed out ahead are SQLite's): a copy of the migrated template."""
    return sqlite_engine


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _record(encounter_id: int) -> dict[str, object]:
    return {
        "encounter_id": encounter_id,
        "facility_code": "79001",
        "ma_lk": f"LK{encounter_id}",
        "version": 1,
        "given_key": "an",
        "features": {"given_key": "an"},
    }


def test_the_ids_are_the_ones_sqlite_gives_and_rows_wait_for_the_commit(store: Engine) -> None:
    with store.begin() as conn:
        first = L.create_person(conn, actor="test")  # given by SQLite
    with store.begin() as conn:
        ahead.enable(conn)
        ids = [ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON) for _ in range(3)]
        assert ids == [first + 1, first + 2, first + 3]
        assert conn.execute(select(func.count()).select_from(L.persons)).scalar_one() == 1  # not written yet
    assert _count(store, L.persons) == 4
    with store.begin() as conn:  # what SQLite gives next follows on
        assert L.create_person(conn, actor="test") == first + 4


def test_rows_are_written_parents_first_and_when_asked(store: Engine, tmp_path: Path) -> None:
    from mpi.ingest import ingest_file
    from tests.builders import envelope, outpatient

    receipt = ingest_file(engine=store, data=envelope([outpatient("LK-AHEAD")]), submitter="test")
    encounter_id = receipt.encounters[0].encounter_id
    assert encounter_id is not None
    with store.begin() as conn:
        held = ahead.enable(conn)
        # the record is handed its id before the person it refers to: written after it all the same
        person = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        record = {**_record(encounter_id), "person_id": person, "link_state": LinkState.AUTO, "created_at": utcnow()}
        source = ahead.insert(conn, L.sources, record, now=L._INSERT_SOURCE, keys={("given", "an")})
        assert held.may_find({("given", "an"), ("other",)}) and not held.may_find({("given", "binh")})
        held.flush(conn, only=L.sources)  # for a search: the record alone, its person checked at commit
        assert conn.execute(select(L.sources.c.person_id).where(L.sources.c.id == source)).scalar_one() == person
        assert not held.may_find({("given", "an")})  # written: a search reads it from the store
        assert held.waiting(L.sources, source) is None and held.waiting(L.persons, person) is not None
        ahead.write_pending(conn)
        assert held.waiting(L.persons, person) is None
    assert _count(store, L.sources) == 1


def test_foreign_keys_are_deferred_only_for_a_table_written_before_held_rows_it_refers_to(store: Engine) -> None:
    """``PRAGMA defer_foreign_keys`` makes SQLite prepare every statement of the connection again: run only
    when a table is written ahead of the held rows it refers to, never by ``enable`` itself."""
    from mpi.ingest import ingest_file
    from tests.builders import envelope, outpatient

    receipt = ingest_file(engine=store, data=envelope([outpatient("LK-PRAGMA")]), submitter="test")
    encounter_id = receipt.encounters[0].encounter_id
    assert encounter_id is not None
    statements: list[str] = []
    with store.begin() as conn:
        driver = conn.connection.dbapi_connection
        assert driver is not None
        driver.set_trace_callback(statements.append)
        held = ahead.enable(conn)
        person = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        ahead.write_pending(conn)  # the person written: the record refers to written rows only
        record = {**_record(encounter_id), "person_id": person, "link_state": LinkState.AUTO, "created_at": utcnow()}
        ahead.insert(conn, L.sources, record, now=L._INSERT_SOURCE)
        held.flush(conn, only=L.sources)
        driver.set_trace_callback(None)
    assert statements and not any("defer_foreign_keys" in s.lower() for s in statements)
    assert _count(store, L.sources) == 1
    with store.begin() as conn:  # the record's person held: its checks wait for the commit
        held = ahead.enable(conn)
        person = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        record = {**_record(encounter_id), "person_id": person, "link_state": LinkState.AUTO, "created_at": utcnow()}
        conn.execute(L.sources.delete())
        ahead.insert(conn, L.sources, record, now=L._INSERT_SOURCE)
        driver = conn.connection.dbapi_connection
        assert driver is not None
        driver.set_trace_callback(statements.append)
        held.flush(conn, only=L.sources)
        held.flush(conn, only=L.sources)  # once a transaction
        driver.set_trace_callback(None)
    assert sum("defer_foreign_keys" in s.lower() for s in statements) == 1
    assert _count(store, L.sources) == 1


def test_a_row_referring_to_nothing_is_refused(store: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), store.begin() as conn:
        held = ahead.enable(conn)
        record = {**_record(999), "person_id": 999, "link_state": LinkState.AUTO, "created_at": utcnow()}
        ahead.insert(conn, L.sources, record, now=L._INSERT_SOURCE)
        held.flush(conn, only=L.sources)  # no encounter 999, no person 999: refused
    assert _count(store, L.sources) == 0


def test_a_rolled_back_savepoint_takes_back_its_ids_and_rows_even_written_ones(store: Engine) -> None:
    with store.begin() as conn:
        held = ahead.enable(conn)
        kept = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        savepoint = conn.begin_nested()
        ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        ahead.write_pending(conn)  # both written inside the savepoint
        savepoint.rollback()
        assert held.waiting(L.persons, kept) is not None  # written, then rolled back: waiting again
        assert ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON) == kept + 1
    with store.connect() as conn:
        assert conn.execute(select(L.persons.c.id).order_by(L.persons.c.id)).scalars().all() == [kept, kept + 1]


def test_without_enable_rows_are_inserted_at_once(store: Engine) -> None:
    with store.begin() as conn:
        person = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        assert conn.execute(select(L.persons.c.id)).scalar_one() == person
        ahead.write_pending(conn)  # nothing held: nothing to do
        ahead.enable(conn)
        with pytest.raises(RuntimeError):
            ahead.enable(conn)


def test_reserved_tables_hand_out_the_ids_sqlite_gives_read_in_one_statement(store: Engine) -> None:
    with store.begin() as conn:
        first_person = L.create_person(conn, actor="test")
    with store.begin() as conn:
        held = ahead.enable(conn)
        statements: list[str] = []
        driver = conn.connection.dbapi_connection
        assert driver is not None
        driver.set_trace_callback(statements.append)  # every statement the driver runs
        held.reserve(conn, [L.persons, L.sources, L.persons])
        held.reserve(conn, [L.sources])  # already known: nothing read
        person = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        source = ahead.insert(conn, L.sources, {}, now=L._INSERT_SOURCE)
        driver.set_trace_callback(None)
        savepoint = conn.begin_nested()
        taken_back = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        savepoint.rollback()
        again = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
        held.tables.pop(L.sources)  # the source record is not written (it would need an encounter)
    assert len(statements) == 1  # the largest ids of both tables in one statement
    assert statements[0].lower().count("max(") == 2
    assert (person, taken_back, again) == (first_person + 1, first_person + 2, first_person + 2)
    assert source == 1  # the table is empty: SQLite would give 1
    assert _count(store, L.persons) == 3
    with store.begin() as conn:
        assert L.create_person(conn, actor="test") == first_person + 3


def test_the_tables_a_connection_handed_out_before_are_read_with_the_first_one(store: Engine) -> None:
    """The largest ids of every table the connection handed out ids for in earlier transactions are read in
    the transaction's first statement of the kind: no further statement when the same tables come again."""
    with store.begin() as conn:
        first_person = L.create_person(conn, actor="test")  # given by SQLite
    with store.connect() as conn:
        with conn.begin():
            held = ahead.enable(conn)
            assert ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON) == first_person + 1
            held.reserve(conn, [L.links])  # a second table, read by a statement of its own
        statements: list[str] = []
        with conn.begin():
            held = ahead.enable(conn)
            driver = conn.connection.dbapi_connection
            assert driver is not None
            driver.set_trace_callback(statements.append)
            person = ahead.insert(conn, L.persons, {"created_at": utcnow()}, now=L._INSERT_PERSON)
            held.reserve(conn, [L.persons, L.links])  # both known already: nothing read
            driver.set_trace_callback(None)
        # the links table was read but nothing was handed out in it: nothing written there
    assert [s.lower().count("max(") for s in statements if "max(" in s.lower()] == [2]
    assert person == first_person + 2
    assert _count(store, L.persons) == 3 and _count(store, L.links) == 0
    with store.begin() as conn:
        assert L.create_person(conn, actor="test") == first_person + 3
