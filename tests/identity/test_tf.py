"""Term frequencies stay current as the store grows (policy in mpi/identity/tf.py), on both back ends."""

from __future__ import annotations

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
