"""Term frequencies stay current as the store grows (policy in mpi/identity/tf.py), on both back ends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from mpi.identity.tf import TermFrequencies


def _add(engine: Engine, tf: TermFrequencies, rows: list[dict[str, str]]) -> None:
    with engine.begin() as conn:
        for row in rows:
            tf.add(conn, row)


def test_counts_are_durable_current_in_the_writer_and_reloaded_by_other_processes(engine: Engine) -> None:
    writer = TermFrequencies(["given_key", "dob_date"], min_population=1)
    _add(engine, writer, [{"given_key": "ANH", "dob_date": "1990-01-01"}, {"given_key": "ANH"}, {"given_key": "BINH"}])
    # The writer sees its own records at once.
    assert writer.frequency("given_key", "ANH") == 2 / 3
    assert writer.frequency("dob_date", "1990-01-01") == 1.0
    # Another process (a fresh object) reads the durable counts; a stale one reloads after its interval.
    other = TermFrequencies(["given_key", "dob_date"], min_population=1, reload_seconds=0.0)
    other.ensure_fresh(engine)
    assert other.frequency("given_key", "ANH") == 2 / 3
    _add(engine, writer, [{"given_key": "BINH"}, {"given_key": "BINH"}, {"given_key": "CHI"}])
    other.ensure_fresh(engine)
    assert other.frequency("given_key", "BINH") == 3 / 6
    assert other.frequency("given_key", "CHI") == 1 / 6
    assert other.frequency("given_key", "DUNG") is None


def test_no_adjustment_while_a_column_has_too_few_values(engine: Engine) -> None:
    tf = TermFrequencies(["given_key"], min_population=3)
    _add(engine, tf, [{"given_key": "ANH"}, {"given_key": "ANH"}])
    assert tf.tables_for([{"given_key": "ANH"}]) == {"given_key": {}}
    _add(engine, tf, [{"given_key": "BINH"}])
    assert tf.tables_for([{"given_key": "ANH"}, {"given_key": "BINH"}, {"given_key": None}]) == {
        "given_key": {"ANH": 2 / 3, "BINH": 1 / 3}
    }


def test_counts_reach_memory_only_when_the_transaction_commits(engine: Engine) -> None:
    tf = TermFrequencies(["given_key"], min_population=1)
    with engine.connect() as conn:
        tf.add(conn, {"given_key": "ANH"})
        # Inside the transaction: counted in the store, not yet in memory.
        assert tf.frequency("given_key", "ANH") is None
        conn.rollback()
    assert tf.frequency("given_key", "ANH") is None  # a rolled-back record is never counted
    with engine.connect() as conn:
        tf.add(conn, {"given_key": "ANH"})
        tf.add(conn, {"given_key": "BINH"})
        conn.commit()
    assert tf.frequency("given_key", "ANH") == 1 / 2
    # The store agrees with memory: the rolled-back count is gone there too.
    fresh = TermFrequencies(["given_key"], min_population=1)
    fresh.ensure_fresh(engine)
    assert fresh.frequency("given_key", "ANH") == 1 / 2


def test_a_failed_ingest_retried_is_counted_once(engine: Engine) -> None:
    tf = TermFrequencies(["given_key"], min_population=1)
    try:
        with engine.begin() as conn:
            tf.add(conn, {"given_key": "ANH"})
            raise RuntimeError("the ingest fails after linking")
    except RuntimeError:
        pass
    _add(engine, tf, [{"given_key": "ANH"}, {"given_key": "BINH"}])
    assert tf.frequency("given_key", "ANH") == 1 / 2


def test_readers_on_other_threads_never_see_half_a_record_or_half_a_reload(engine: Engine) -> None:
    import threading

    tf = TermFrequencies(["given_key", "dob_date"], min_population=1, reload_seconds=0.0)
    _add(engine, tf, [{"given_key": "ANH", "dob_date": "1990-01-01"}])
    stop = threading.Event()
    seen: list[tuple[float | None, float | None]] = []

    def read() -> None:
        while not stop.is_set():
            tables = tf.tables_for([{"given_key": "ANH", "dob_date": "1990-01-01"}])
            seen.append((tables["given_key"].get("ANH"), tables["dob_date"].get("1990-01-01")))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(30):
            _add(engine, tf, [{"given_key": "ANH", "dob_date": "1990-01-01"}])
            tf.ensure_fresh(engine)
    finally:
        stop.set()
        reader.join()
    # Every record carries both values, so both columns always have the same frequency (1.0).
    assert seen and all(g == d == 1.0 for g, d in seen)


def test_frequencies_read_as_asked_equal_the_tables_built_for_the_rows(engine: Engine) -> None:
    tf = TermFrequencies(["given_key", "dob_date"], min_population=3)
    _add(engine, tf, [{"given_key": "ANH", "dob_date": "1990-01-01"}, {"given_key": "ANH"}, {"given_key": "BINH"}])
    rows: list[Mapping[str, Any]] = [{"given_key": "ANH", "dob_date": "1990-01-01"}, {"given_key": "CHI"}, {}]
    tables = tf.tables_for(rows)
    with tf.frequencies() as views:
        assert views.keys() == tables.keys()
        for column, table in tables.items():
            for row in rows:
                assert views[column].get(row.get(column)) == table.get(row.get(column))
        assert views["given_key"]["ANH"] == 2 / 3 and "CHI" not in views["given_key"]
        assert dict(views["given_key"]) == {"ANH": 2 / 3, "BINH": 1 / 3}
        assert views["dob_date"] == {}  # one value counted: below the population, as in tables_for
