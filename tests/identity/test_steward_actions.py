"""Steward actions on SQLite and PostgreSQL: every decision, merge, move and bulk decision is undone to the
exact prior state, the event log replays to the current state after each step, and the change feed is
numbered without gaps."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine

from mpi.identity import links as L
from mpi.identity.review import ReviewClosed, Verdict, action_of_review, get_review, resolve_review, skip_review
from mpi.identity.review import queue as review_queue
from mpi.identity.stewardship import apply_bulk, merge_persons, move_record, person_history, preview_bulk, preview_merge
from tests.support import event_seqs, ingest_encounters, linked_record


def _assert_replays(conn: Connection) -> L.IdentityState:
    state = L.current_state(conn)
    assert L.replay_state(conn) == state
    return state


def _setup(conn: Connection, encounters: list[int]) -> tuple[list[int], list[int], int]:
    """p1 with r1; p2 with r2 and r3 (pending review of r2 against p1); p3 with r4."""
    p = [L.create_person(conn, actor="test") for _ in range(3)]
    r = [
        linked_record(conn, encounters[0], p[0]),
        linked_record(conn, encounters[1], p[1]),
        linked_record(conn, encounters[2], p[1]),
        linked_record(conn, encounters[3], p[2]),
    ]
    review = L.open_review(
        conn,
        source_record_id=r[1],
        candidate_person_id=p[0],
        reason="model_band",
        actor="system",
        match_probability=0.6,
    )
    return p, r, review


@pytest.mark.parametrize("verdict", list(Verdict))
def test_a_decision_is_undone_to_the_exact_prior_state(engine: Engine, verdict: Verdict) -> None:
    encounters = ingest_encounters(engine, 4)
    with engine.begin() as conn:
        p, r, review = _setup(conn, encounters)
        before = _assert_replays(conn)
        resolve_review(conn=conn, review_id=review, verdict=verdict, actor="key:9")
        after = _assert_replays(conn)
        assert after != before
        if verdict is Verdict.SAME_PERSON:
            assert after.assignments[r[1]] == (p[0], "manual") and after.assignments[r[2]][0] == p[0]
            assert after.merged_into == {p[1]: p[0]}
        action = action_of_review(conn, review)
        assert action is not None
        L.undo_action(conn, action_id=action, actor="key:9")
        assert _assert_replays(conn) == before
        assert get_review(conn=conn, review_id=review).status == "open"
        with pytest.raises(L.Conflict) as twice:
            L.undo_action(conn, action_id=action, actor="key:9")
        assert twice.value.code == "already_undone"
        assert event_seqs(conn) == list(range(1, len(event_seqs(conn)) + 1))  # gap-free


def test_merge_and_move_are_undone_and_history_shows_them(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 4)
    with engine.begin() as conn:
        p, r, _ = _setup(conn, encounters)
        before = _assert_replays(conn)
        preview = preview_merge(conn, from_person_id=p[2], into_person_id=p[0])
        assert (preview.survivor, preview.merged_away, preview.records_moving, preview.conflicts) == (p[0], p[2], 1, [])
        merge = merge_persons(conn, from_person_id=p[2], into_person_id=p[0], actor="key:9")
        assert L.current_person(conn, p[2]) == p[0]
        assert L.person_links(conn, p[2]) == L.PersonLinks(p[2], replaced_by=p[0], survivor=p[0], replaces=())
        assert L.person_links(conn, p[0]).replaces == (p[2],)
        middle = _assert_replays(conn)

        move, new_person = move_record(conn, source_record_id=r[2], to_person_id=None, actor="key:9")
        assert L.current_state(conn).assignments[r[2]] == (new_person, "manual")
        assert L.is_pinned(conn, source_record_id=r[2])
        _assert_replays(conn)
        # the merge cannot be undone over the move? It can: the move touched p2's record, not the merge's.
        history = person_history(conn, person_id=p[0])
        assert {"merged", "linked"} <= {h.kind for h in history}
        assert all(h.action_id == merge for h in history if h.kind == "merged")

        L.undo_action(conn, action_id=move, actor="key:9")
        assert _assert_replays(conn) == middle
        L.undo_action(conn, action_id=merge, actor="key:9")
        assert _assert_replays(conn) == before
        assert L.person_links(conn, p[2]).replaced_by is None


def test_an_undo_is_refused_when_a_later_change_touched_the_same_persons(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 4)
    with engine.begin() as conn:
        p, r, _ = _setup(conn, encounters)
        merge = merge_persons(conn, from_person_id=p[2], into_person_id=p[0], actor="key:9")
        move_record(conn, source_record_id=r[3], to_person_id=p[1], actor="key:8")  # r4 came with the merge
        with pytest.raises(L.Conflict) as refused:
            L.undo_action(conn, action_id=merge, actor="key:9")
        assert refused.value.code == "changed_since"
        assert "key:8" in refused.value.message


def test_a_merge_across_a_different_person_decision_is_refused(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 4)
    with engine.begin() as conn:
        p, r, review = _setup(conn, encounters)
        resolve_review(conn=conn, review_id=review, verdict=Verdict.DIFFERENT_PERSON, actor="key:9")
        preview = preview_merge(conn, from_person_id=p[1], into_person_id=p[0])
        assert len(preview.conflicts) == 1
        with pytest.raises(L.Conflict):
            merge_persons(conn, from_person_id=p[1], into_person_id=p[0], actor="key:9")
        with pytest.raises(L.Conflict):
            move_record(conn, source_record_id=r[1], to_person_id=p[0], actor="key:9")


def test_skip_sends_an_item_to_the_back_and_a_decided_item_is_closed(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 4)
    with engine.begin() as conn:
        p, r, first = _setup(conn, encounters)
        second = L.open_review(
            conn, source_record_id=r[3], candidate_person_id=p[0], reason="model_band", actor="system"
        )
        assert [e.id for e in review_queue(conn=conn).entries] == [first, second]
        skip_review(conn=conn, review_id=first)
        assert [e.id for e in review_queue(conn=conn).entries] == [second, first]
        resolve_review(conn=conn, review_id=second, verdict=Verdict.DIFFERENT_PERSON, actor="key:9")
        with pytest.raises(ReviewClosed) as closed:
            resolve_review(conn=conn, review_id=second, verdict=Verdict.SAME_PERSON, actor="key:8")
        assert "key:9" in closed.value.message


def test_a_decision_on_stale_evidence_is_refused(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 4)
    with engine.begin() as conn:
        p, _, review = _setup(conn, encounters)
        seen = L.last_seq(conn)
        L.merge(conn, from_person_id=p[2], into_person_id=p[0], actor="relink")  # a relink after the page opened
        with pytest.raises(L.Conflict) as stale:
            resolve_review(conn=conn, review_id=review, verdict=Verdict.SAME_PERSON, actor="key:9", seen_seq=seen)
        assert stale.value.code == "changed_since" and "relink" in stale.value.message


def _cccd(year: int) -> str:
    """A CCCD of Hà Nội (001) for a man born in ``year`` (20th century)."""
    return f"0010{year % 100:02d}012345"


def test_bulk_decides_uniform_cccd_conflicts_as_one_undoable_action(engine: Engine) -> None:
    encounters = ingest_encounters(engine, 4)
    with engine.begin() as conn:
        p = [L.create_person(conn, actor="test") for _ in range(4)]
        father = {"national_id": _cccd(1960), "national_id_kind": "CCCD", "dob_year": 1960, "sex": 1}
        son = {**father, "dob_year": 1990}
        rows = []
        for encounter, person, features in zip(encounters, p, (father, son, father, father), strict=True):
            source = L.add_source_record(
                conn,
                values={
                    "encounter_id": encounter,
                    "facility_code": "74001",
                    "ma_lk": f"B{encounter}",
                    "version": 1,
                    "features": features,
                },
                person_id=person,
                state="auto",
            )
            L.link(conn, source_record_id=source, person_id=person, state="auto", rule="new_person", actor="test")
            rows.append(source)
        uniform = L.open_review(
            conn, source_record_id=rows[1], candidate_person_id=p[0], reason="national_id_conflict", actor="system"
        )
        # both sides carry the father's birth year: not uniform evidence, stays for a steward
        L.open_review(
            conn, source_record_id=rows[3], candidate_person_id=p[2], reason="national_id_conflict", actor="system"
        )
        before = _assert_replays(conn)
        preview = preview_bulk(conn, rule="cccd_birth_year_one_side")
        assert (preview.review_ids, preview.examined, preview.verdict) == ([uniform], 2, Verdict.DIFFERENT_PERSON)
        with pytest.raises(L.Conflict):
            apply_bulk(conn, rule="cccd_birth_year_one_side", actor="key:9", expected=[])
        action = apply_bulk(conn, rule="cccd_birth_year_one_side", actor="key:9", expected=[uniform])
        assert get_review(conn=conn, review_id=uniform).status == "different_person"
        assert L.is_blocked(conn, source_record_id=rows[1], person_id=p[0])
        L.undo_action(conn, action_id=action, actor="key:9")
        assert _assert_replays(conn) == before
