"""Deferred identity writes (`links.defer_events`, term frequencies): written at commit, numbered without
gaps, and given back by a rolled-back savepoint or transaction — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from mpi.identity import links as L
from mpi.identity.tf import TermFrequencies
from mpi.store.db import read_only
from tests.support import event_seqs, ingest_encounters, new_linked_record


def test_deferred_events_are_written_at_commit_gap_free_and_replay(engine: Engine) -> None:
    e1, e2, e3, e4 = ingest_encounters(engine, 4)
    with engine.connect() as conn:
        before = L.last_seq(conn)
        conn.rollback()
    with engine.connect() as conn, conn.begin():
        L.defer_events(conn)
        new_linked_record(conn, e1)
        assert L.last_seq(conn) == before + 2  # numbered as emitted (person_created, linked) ...
        with read_only(engine).connect() as other:  # ... but not yet written
            assert other.execute(select(func.count()).select_from(L.events)).scalar_one() == before
        with pytest.raises(RuntimeError, match="defers its events"):
            L.read_feed(conn, after=0)
        savepoint = conn.begin_nested()
        new_linked_record(conn, e2)
        savepoint.rollback()  # its numbers come back
        savepoint = conn.begin_nested()
        new_linked_record(conn, e3)
        savepoint.commit()
    with engine.connect() as conn:
        assert event_seqs(conn) == list(range(1, before + 5))  # 2 records x 2 events, no gap where e2 was
        assert L.last_seq(conn) == before + 4
        assert L.replay_assignments(conn) == {r: p for r, (p, _) in L.current_state(conn).assignments.items()}
        assert {e for (e,) in conn.execute(select(L.sources.c.encounter_id))} == {e1, e3}
        conn.rollback()
    # a rolled-back transaction writes nothing and keeps the head where it was
    with engine.connect() as conn:
        conn.begin()
        L.defer_events(conn)
        new_linked_record(conn, e4)
        conn.rollback()
    with engine.connect() as conn:
        assert L.last_seq(conn) == before + 4 and event_seqs(conn)[-1] == before + 4
        # and the next writer, deferred or not, continues the numbering
        L.emit(conn, "note", actor="test")
        conn.commit()
        assert event_seqs(conn)[-1] == before + 5


def test_term_frequencies_of_a_rolled_back_savepoint_are_not_counted(engine: Engine) -> None:
    tf = TermFrequencies(["given_key"], min_population=1)
    with engine.connect() as conn, conn.begin():
        tf.add(conn, {"given_key": "ANH"})
        savepoint = conn.begin_nested()
        tf.add(conn, {"given_key": "BINH"})
        savepoint.rollback()
        savepoint = conn.begin_nested()
        tf.add(conn, {"given_key": "ANH"})
        savepoint.commit()
    assert tf.frequency("given_key", "ANH") == 1.0 and tf.frequency("given_key", "BINH") is None
    fresh = TermFrequencies(["given_key"], min_population=1)
    fresh.ensure_fresh(engine)
    assert fresh.frequency("given_key", "ANH") == 1.0 and fresh.frequency("given_key", "BINH") is None
