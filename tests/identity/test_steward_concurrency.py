"""Concurrent writers on SQLite and PostgreSQL: two stewards deciding the same item (one wins, the other is
told who did), and a change-feed consumer that sees every event of concurrent ingest and decisions exactly
once, in commit order."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from mpi.identity import links as L
from mpi.identity.online import OnlineLinker
from mpi.identity.review import ReviewClosed, Verdict, resolve_review
from mpi.ingest import ingest_file
from mpi.settings import Settings
from tests.builders import envelope, outpatient
from tests.support import TEST_SECRET, event_seqs, ingest_encounters, linked_record


def _reviews(engine: Engine, n: int) -> list[int]:
    encounters = ingest_encounters(engine, 2 * n)
    with engine.begin() as conn:
        ids = []
        for i in range(n):
            p1, p2 = L.create_person(conn, actor="test"), L.create_person(conn, actor="test")
            linked_record(conn, encounters[2 * i], p1)
            r2 = linked_record(conn, encounters[2 * i + 1], p2)
            ids.append(
                L.open_review(conn, source_record_id=r2, candidate_person_id=p1, reason="model_band", actor="system")
            )
    return ids


def _run(workers: list[Callable[[], None]]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return errors


def test_two_stewards_deciding_the_same_item_one_wins_the_other_gets_409(engine: Engine) -> None:
    (review,) = _reviews(engine, 1)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def steward(actor: str, verdict: Verdict) -> Callable[[], None]:
        def work() -> None:
            barrier.wait()
            try:
                with engine.begin() as conn:
                    resolve_review(conn=conn, review_id=review, verdict=verdict, actor=actor)
                outcomes[actor] = "won"
            except ReviewClosed as exc:
                assert exc.status == 409
                outcomes[actor] = exc.message

        return work

    assert _run([steward("key:1", Verdict.SAME_PERSON), steward("key:2", Verdict.DIFFERENT_PERSON)]) == []
    winners = [a for a, o in outcomes.items() if o == "won"]
    assert len(winners) == 1 and len(outcomes) == 2
    (loser,) = set(outcomes) - set(winners)
    assert f"by {winners[0]}" in outcomes[loser]
    with engine.connect() as conn:
        state = L.current_state(conn)
        assert L.replay_state(conn) == state
        assert len(state.constraints) == 1  # nothing of the loser's decision was applied
        decided = conn.execute(select(func.count()).select_from(L.events).where(L.events.c.kind == "review_resolved"))
        assert decided.scalar_one() == 1


def test_the_feed_delivers_every_change_once_in_commit_order_under_concurrent_writers(engine: Engine) -> None:
    reviews = _reviews(engine, 8)
    linkers = [OnlineLinker.from_settings(Settings(env="test", secret_key=TEST_SECRET)) for _ in range(2)]
    for linker in linkers:
        linker.warm(engine)
    done = threading.Event()
    seen: list[int] = []

    def ingest(worker: int) -> Callable[[], None]:
        def work() -> None:
            for i in range(10):
                name = ["NGUYỄN VĂN AN", "NGUYỄN VĂN ANH", "TRẦN THỊ BÌNH"][i % 3]
                data = envelope([outpatient(f"W{worker}-{i}", HO_TEN=name, MA_BN=f"BN{worker}{i % 4}")])
                ingest_file(engine=engine, data=data, submitter="test", linker=linkers[worker])

        return work

    def steward(actor: str, verdict: Verdict) -> Callable[[], None]:
        def work() -> None:
            for review in reviews:
                try:
                    with engine.begin() as conn:
                        resolve_review(conn=conn, review_id=review, verdict=verdict, actor=actor)
                except ReviewClosed:
                    pass

        return work

    def consumer() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with engine.connect() as conn:
                page = L.read_feed(conn, after=cursor, limit=7)
            seen.extend(e.id for e in page)
            cursor = page[-1].id if page else cursor
            if finished and not page:
                return

    consumer_thread = threading.Thread(target=consumer)
    consumer_thread.start()
    errors = _run(
        [ingest(0), ingest(1), steward("key:1", Verdict.SAME_PERSON), steward("key:2", Verdict.DIFFERENT_PERSON)]
    )
    done.set()
    consumer_thread.join(timeout=300)
    assert errors == []
    with engine.connect() as conn:
        stored = event_seqs(conn)
        assert L.last_seq(conn) == len(stored)
        assert L.replay_state(conn) == L.current_state(conn)
        resolved = conn.execute(select(func.count()).select_from(L.events).where(L.events.c.kind == "review_resolved"))
        assert resolved.scalar_one() == len(reviews)
    assert stored == list(range(1, len(stored) + 1))  # gap-free
    assert seen == stored  # every change once, in order: none committed behind the consumer's cursor
