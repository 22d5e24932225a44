"""Steward decisions on SQLite and PostgreSQL: applied, sticky, logged, and never decided twice."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, select

from mpi.identity import links as L
from mpi.identity.review import ReviewClosed, Verdict, get_review, list_reviews, resolve_review
from tests.support import ingest_encounters, linked_record, person_of_records


def _case(conn: Connection, encounters: list[int]) -> tuple[int, int, int, int, int]:
    """Candidate person p1 with record r1; a record r2 started its own person p2, pending review against p1."""
    p1, p2 = L.create_person(conn, actor="test"), L.create_person(conn, actor="test")
    r1, r2 = linked_record(conn, encounters[0], p1), linked_record(conn, encounters[1], p2)
    review = L.open_review(
        conn, source_record_id=r2, candidate_person_id=p1, reason="model_band", actor="system", match_probability=0.6
    )
    return p1, p2, r1, r2, review


def test_same_person_merges_pins_and_is_logged(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 2)
    with engine.begin() as conn:
        p1, p2, r1, r2, review = _case(conn, encounters)
        total, items = list_reviews(conn=conn)
        assert (total, [i.id for i in items]) == (1, [review])
        assert items[0].candidate_records[0]["source_record_id"] == r1
        view = resolve_review(conn=conn, review_id=review, verdict=Verdict.SAME_PERSON, actor="key:9")
        assert view.status == "same_person"
        assert person_of_records(conn) == {r1: p1, r2: p1} == L.replay_assignments(conn)
        assert L.current_person(conn, p2) == p1
        assert L.is_pinned(conn, source_record_id=r2) is True
        assert list_reviews(conn=conn)[0] == 0
        kinds = [k for k in conn.execute(select(L.events.c.kind).order_by(L.events.c.seq)).scalars()]
        assert kinds[-5:] == ["review_resolved", "linked", "merged", "linked", "constraint_added"]


def test_different_person_is_a_sticky_constraint(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 2)
    with engine.begin() as conn:
        p1, p2, r1, r2, review = _case(conn, encounters)
        resolve_review(conn=conn, review_id=review, verdict=Verdict.DIFFERENT_PERSON, actor="key:9")
        assert person_of_records(conn) == {r1: p1, r2: p2}
        assert L.is_blocked(conn, source_record_id=r2, person_id=p1) is True
        assert L.is_pinned(conn, source_record_id=r2) is False


def test_a_decided_review_cannot_be_decided_again(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 2)
    with engine.begin() as conn:
        *_, review = _case(conn, encounters)
        resolve_review(conn=conn, review_id=review, verdict=Verdict.DIFFERENT_PERSON, actor="key:9")
        with pytest.raises(ReviewClosed):
            resolve_review(conn=conn, review_id=review, verdict=Verdict.SAME_PERSON, actor="key:9")
        assert get_review(conn=conn, review_id=review).status == "different_person"
