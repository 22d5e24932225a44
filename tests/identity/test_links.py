"""Identity invariants on SQLite and PostgreSQL: one person per record, replayable history, merges undoable."""

from __future__ import annotations

from sqlalchemy import Engine, select

from mpi.identity import links as L
from tests.support import ingest_encounters, linked_record, person_of_records


def test_history_replays_to_the_current_state_through_merges_and_unmerges(engine: Engine) -> None:
    e1, e2, e3 = ingest_encounters(engine, 3)
    with engine.begin() as conn:
        p1, p2 = L.create_person(conn, actor="test"), L.create_person(conn, actor="test")
        r1, r2, r3 = linked_record(conn, e1, p1), linked_record(conn, e2, p2), linked_record(conn, e3, p2)
        assert L.replay_assignments(conn) == person_of_records(conn) == {r1: p1, r2: p2, r3: p2}

        assert sorted(L.merge(conn, from_person_id=p2, into_person_id=p1, actor="steward:1")) == [r2, r3]
        assert L.current_person(conn, p2) == p1
        assert L.replay_assignments(conn) == person_of_records(conn) == {r1: p1, r2: p1, r3: p1}

        assert sorted(L.unmerge(conn, person_id=p2, actor="steward:1")) == [r2, r3]
        assert L.current_person(conn, p2) == p2
        assert L.replay_assignments(conn) == person_of_records(conn) == {r1: p1, r2: p2, r3: p2}

        kinds = [row.kind for row in conn.execute(select(L.events.c.kind).order_by(L.events.c.seq))]
    assert kinds == ["person_created"] * 2 + ["linked"] * 3 + [
        "linked",
        "linked",
        "merged",
        "linked",
        "linked",
        "unmerged",
    ]


def test_persons_are_never_renumbered_and_a_merge_leaves_a_redirect(engine: Engine) -> None:
    (e1,) = ingest_encounters(engine, 1)
    with engine.begin() as conn:
        p1, p2, p3 = (L.create_person(conn, actor="test") for _ in range(3))
        linked_record(conn, e1, p3)
        L.merge(conn, from_person_id=p3, into_person_id=p2, actor="test")
        L.merge(conn, from_person_id=p2, into_person_id=p1, actor="test")
        assert L.current_person(conn, p3) == p1
        ids = sorted(int(i) for i in conn.execute(select(L.persons.c.id)).scalars())
    assert ids == sorted([p1, p2, p3])


def test_a_steward_different_person_constraint_blocks_the_person_and_what_was_merged_into_it(engine: Engine) -> None:
    e1, e2 = ingest_encounters(engine, 2)
    with engine.begin() as conn:
        p1, p2, p3 = (L.create_person(conn, actor="test") for _ in range(3))
        r1 = linked_record(conn, e1, p1)
        linked_record(conn, e2, p2)
        conn.execute(
            L.constraints.insert(),
            {"kind": "different_person", "source_record_id": r1, "person_id": p2, "actor": "steward:1"},
        )
        assert L.is_blocked(conn, source_record_id=r1, person_id=p2) is True
        assert L.is_blocked(conn, source_record_id=r1, person_id=p3) is False
        L.merge(conn, from_person_id=p2, into_person_id=p3, actor="test")
        assert L.is_blocked(conn, source_record_id=r1, person_id=p3) is True


def test_pair_constraints_see_a_different_person_decision_from_either_side_through_merges(engine: Engine) -> None:
    e1, e2, e3 = ingest_encounters(engine, 3)
    with engine.begin() as conn:
        p1, p2, p3 = (L.create_person(conn, actor="test") for _ in range(3))
        r1, r2 = linked_record(conn, e1, p1), linked_record(conn, e2, p2)
        linked_record(conn, e3, p3)
        assert L.pair_constraints(conn, p1, p2) == L.PairConstraints(kept_apart=False, pinned=frozenset())
        conn.execute(
            L.constraints.insert(),
            [
                {"kind": "different_person", "source_record_id": r1, "person_id": p2, "actor": "steward:1"},
                {"kind": "manual_link", "source_record_id": r2, "person_id": p2, "actor": "steward:1"},
            ],
        )
        assert L.pair_constraints(conn, p1, p2) == L.PairConstraints(kept_apart=True, pinned=frozenset({p2}))
        assert L.pair_constraints(conn, p2, p1).kept_apart is True  # the decision counts from either side
        assert L.pair_constraints(conn, p1, p3).kept_apart is False
        L.merge(conn, from_person_id=p2, into_person_id=p3, actor="test")  # r2 moves to p3
        assert L.pair_constraints(conn, p3, p1) == L.PairConstraints(kept_apart=True, pinned=frozenset({p3}))


def _four_persons_merged(engine: Engine, *merges: tuple[int, int]) -> list[int]:
    """Four persons, each holding one encounter's record, then ``merges`` as (from, into) positions in order."""
    encounters = ingest_encounters(engine, 4)
    with engine.begin() as conn:
        persons = [L.create_person(conn, actor="test") for _ in encounters]
        for encounter, person in zip(encounters, persons, strict=True):
            linked_record(conn, encounter, person)
        for source, target in merges:
            L.merge(conn, from_person_id=persons[source], into_person_id=persons[target], actor="test")
    return persons


def test_a_person_resolves_to_its_survivor_with_every_person_merged_into_it(engine: Engine) -> None:
    p1, p2, p3, p4 = _four_persons_merged(engine, (2, 1), (1, 0))  # p3 -> p2 -> p1
    with engine.connect() as conn:
        for asked in (p1, p2, p3):
            resolved = L.resolve_person(conn=conn, person_id=asked)
            assert (resolved.person_id, resolved.requested_id) == (p1, asked)
            assert resolved.cluster == (p1, p2, p3)
        assert L.resolve_person(conn=conn, person_id=p4).cluster == (p4,)
        assert L.absorbed(conn, p2) == [p3] and L.absorbed(conn, p4) == []


def test_a_review_is_opened_once_per_record_and_candidate(engine: Engine) -> None:
    (e1,) = ingest_encounters(engine, 1)
    with engine.begin() as conn:
        p1, p2 = L.create_person(conn, actor="test"), L.create_person(conn, actor="test")
        r1 = linked_record(conn, e1, p1)
        first = L.open_review(conn, source_record_id=r1, candidate_person_id=p2, reason="model_band", actor="system")
        again = L.open_review(conn, source_record_id=r1, candidate_person_id=p2, reason="model_band", actor="system")
        assert first == again
        assert len(conn.execute(select(L.reviews.c.id)).all()) == 1


def test_a_review_row_is_written_as_a_core_insert_writes_it(engine: Engine) -> None:
    """``open_review`` inserts through the driver (``mpi.store.bulk``): each column as SQLAlchemy's own insert
    writes it, the missing evidence as JSON ``null`` (what the ORM writes for None) and a dict as its JSON."""
    from sqlalchemy import cast, insert
    from sqlalchemy.types import Text

    from mpi.store.models import utcnow

    (e1,) = ingest_encounters(engine, 1)
    with engine.begin() as conn:
        p1, p2, p3 = (L.create_person(conn, actor="test") for _ in range(3))
        r1 = linked_record(conn, e1, p1)
        fields = {"reason": "model_band", "match_weight": 2.5, "match_probability": 0.75, "model_id": "m1"}
        for candidate, evidence in ((p2, None), (p3, {"other_source_record_id": r1, "levels": [1, "x"]})):
            ours = L.open_review(
                conn, source_record_id=r1, candidate_person_id=candidate, actor="system", evidence=evidence, **fields
            )
            row = {"source_record_id": r1, "candidate_person_id": candidate, "evidence": evidence, "status": "open"}
            theirs = conn.execute(insert(L.reviews).values(**row, **fields, created_at=utcnow())).inserted_primary_key
            columns = [c for c in L.reviews.c if c.name not in ("id", "created_at")]
            shown = [cast(c, Text) if c.name == "evidence" else c for c in columns]  # the stored text itself
            stored = {
                int(found[0]): tuple(found[1:])
                for found in conn.execute(select(L.reviews.c.id, *shown).where(L.reviews.c.id.in_([ours, theirs[0]])))
            }
            assert stored[ours] == stored[int(theirs[0])]
            assert (stored[ours][columns.index(L.reviews.c.evidence)] == "null") == (evidence is None)


def test_one_resolver_follows_a_chain_of_merges_for_one_id_many_ids_and_the_export(engine: Engine) -> None:
    p1, p2, p3, p4 = _four_persons_merged(engine, (0, 1), (1, 2))  # p1 -> p2 -> p3
    expected = {p1: p3, p2: p3, p3: p3, p4: p4}
    with engine.connect() as conn:
        assert L.survivors(conn, [p1, p2, p3, p4, p1]) == expected
        assert {p: L.current_person(conn, p) for p in expected} == expected
        resolve = L.person_resolver(conn)
        assert {p: resolve(p) for p in expected} == expected
        assert resolve(None) is None
    assert L.follow_redirects({1: 2, 2: 3}, 1) == 3 and L.follow_redirects({}, 7) == 7
