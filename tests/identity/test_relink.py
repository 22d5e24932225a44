"""Batch relinking on SQLite and PostgreSQL: merges what belongs together, keeps ids, respects stewards.

The province scenario ingests a synthetic province with a linker that puts every encounter on a new
person (the online path "missed" everything), then relinks and measures the result against the
generator's ground truth. The small scenarios write hand-made records through `mpi.identity.links`.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterator
from functools import partial
from itertools import combinations
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from sqlalchemy import Connection, Engine, func, select
from typer.testing import CliRunner

from linkage import TrainedModel, load_model, model_row, normalise_record, predict_links
from linkage.model import BATCH_BLOCKING_RULES, within_province
from mpi.identity import commands
from mpi.identity import links as L
from mpi.identity.online import canonical_from_encounter, source_values
from mpi.identity.policy import Thresholds
from mpi.identity.relink import RelinkReport, read_source_records, relink
from mpi.ingest import ingest_file
from mpi.settings import get_settings
from mpi.store import open_store
from mpi.store.models import Encounter
from mpi.xml130 import ParsedEncounter
from synth import generate_province
from tests.builders import envelope, outpatient
from tests.support import BACKENDS, Templates, drop_pg_database, pg_server_for

THRESHOLDS = Thresholds(auto=0.99, review=0.30)  # mpi.settings defaults
PERSONS, SEED = 300, 11
_encounters = Encounter.__table__


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return load_model()


class Predictions:
    """``linkage.predict_links``, each distinct call computed once and its pairs handed out again.

    The prediction is a pure function of its arguments (Arrow in, Arrow out) and Splink's set-up is most of
    a small relink's time; the hand-made scenarios below score the same few records again and again (a
    second run of a test, tests that differ only in steward facts, which the prediction does not read).
    The key is the whole input: every column and row of the records, the model and every option."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[bytes, str, str], pa.Table] = {}

    def __call__(self, records: pa.Table, model: dict[str, Any], **options: Any) -> pa.Table:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, records.schema) as writer:
            writer.write_table(records)
        key = (sink.getvalue().to_pybytes(), json.dumps(model, sort_keys=True), repr(sorted(options.items())))
        if key not in self._pairs:
            self._pairs[key] = predict_links(records, model, **options)
        return self._pairs[key]


@pytest.fixture(scope="module", name="predictions")
def _predictions() -> Predictions:
    return Predictions()


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    generate_province(persons=PERSONS, seed=SEED, out=out)
    return out


def _ingest_unlinked(province: Path, url: str) -> None:
    engine = open_store(url)
    for path in sorted((province / "xml").rglob("*.xml")):
        ingest_file(engine=engine, data=path.read_bytes(), submitter="test", linker=NewPersonEach())
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def unlinked(
    request: pytest.FixtureRequest, tmp_path: Path, templates: Templates, province: Path
) -> Iterator[Engine]:
    """A store holding the province with nothing linked (each encounter its own person): a copy of a template
    built once per back end."""
    build = partial(_ingest_unlinked, province)
    server = pg_server_for(request)
    url = templates.copy("unlinked_province", build, tmp_path / "store.sqlite3", server=server)
    engine = open_store(url)
    yield engine
    engine.dispose()
    if server is not None:
        drop_pg_database(server, url)


class NewPersonEach:
    """An identity step that links nothing: every encounter starts its own person."""

    def __call__(
        self, *, connection: Connection, encounter_id: int, encounter: ParsedEncounter, version: int
    ) -> dict[str, Any]:
        values = source_values(
            canonical_from_encounter(encounter),
            encounter_id=encounter_id,
            facility_code=str(encounter.facility_code),
            ma_lk=str(encounter.ma_lk),
            version=int(version),
        )
        person_id = L.create_person(connection, actor="test")
        source_id = L.add_source_record(connection, values=values, person_id=person_id, state="auto")
        L.link(connection, source_record_id=source_id, person_id=person_id, state="auto", rule="new_person", actor="t")
        return {"person_id": person_id}


def _state(conn: Connection) -> dict[int, int]:
    return {int(r.id): int(r.person_id) for r in conn.execute(select(L.sources.c.id, L.sources.c.person_id))}


def _pairwise(assigned: dict[int, int], truth: dict[int, str]) -> tuple[float, float]:
    def pairs(groups: dict[Any, list[int]]) -> set[tuple[int, int]]:
        return {(a, b) for members in groups.values() for a, b in combinations(sorted(members), 2)}

    by_person: dict[Any, list[int]] = defaultdict(list)
    by_truth: dict[Any, list[int]] = defaultdict(list)
    for record, person in assigned.items():
        by_person[person].append(record)
        by_truth[truth[record]].append(record)
    predicted, actual = pairs(by_person), pairs(by_truth)
    tp = len(predicted & actual)
    return tp / len(predicted), tp / len(actual)


@pytest.mark.slow  # a whole synthetic province, relinked
def test_relink_merges_what_belongs_together_keeps_ids_and_a_second_run_is_a_no_op(
    unlinked: Engine, province: Path, model: TrainedModel
) -> None:
    engine = unlinked
    truth_table = pq.read_table(province / "truth.parquet", columns=["facility_code", "ma_lk", "person_id"])
    person_of_key = {
        (f, m): p
        for f, m, p in zip(*(truth_table.column(c).to_pylist() for c in truth_table.column_names), strict=True)
    }
    with engine.connect() as conn:
        before = _state(conn)
        persons_before = set(conn.execute(select(L.persons.c.id)).scalars())
        keys = conn.execute(select(L.sources.c.id, L.sources.c.facility_code, L.sources.c.ma_lk)).all()
    truth = {int(r.id): person_of_key[(r.facility_code, r.ma_lk)] for r in keys}
    assert len(set(before.values())) == len(before) == truth_table.num_rows  # nothing linked yet

    report = relink(engine=engine, model=model, thresholds=THRESHOLDS)

    assert report.records == len(before)
    assert report.merges > 0 and report.records_moved >= report.merges
    with engine.connect() as conn:
        after = _state(conn)
        assert L.replay_assignments(conn) == after
        persons_after = {int(r.id): r.merged_into_id for r in conn.execute(select(L.persons))}
        relink_links = conn.execute(
            select(L.links.c.model_id, L.links.c.match_probability).where(L.links.c.rule == "relink")
        ).all()
        run_events = conn.execute(select(L.events.c.details).where(L.events.c.kind == "relink_run")).scalars().all()
        reviews = conn.execute(
            select(func.count()).select_from(L.reviews).where(L.reviews.c.reason == "relink")
        ).scalar()
    precision, recall = _pairwise(after, truth)
    assert precision >= 0.99, precision
    assert recall >= 0.97, recall
    # Ids: no person created, none renumbered; every record's person existed before and is not redirected;
    # every person that lost its records redirects (directly or in a chain) to a surviving person.
    assert set(persons_after) == persons_before
    assert set(after.values()) <= persons_before
    assert all(persons_after[p] is None for p in after.values())
    emptied = persons_before - set(after.values())
    assert len(emptied) == report.merges
    assert all(persons_after[p] is not None for p in emptied)
    assert len(relink_links) == report.records_moved
    assert {m for m, _ in relink_links} == {model.model_id}
    assert all(p >= THRESHOLDS.auto for _, p in relink_links)
    assert len(run_events) == 1 and run_events[0]["merges"] == report.merges
    assert reviews == report.reviews_opened

    again = relink(engine=engine, model=model, thresholds=THRESHOLDS)
    assert (again.merges, again.reviews_opened, again.records_moved) == (0, 0, 0)
    assert again.skipped_reviewed == report.reviews_opened
    with engine.connect() as conn:
        assert _state(conn) == after


# ---- hand-made records ----------------------------------------------------------------------------
PERSON_A = {
    "HO_TEN": "Nguyễn Thị Minh Thư", "NGAY_SINH": "199005150000", "GIOI_TINH": "2", "SO_CCCD": "074190001234",
    "DIEN_THOAI": "0912000111", "MATINH_CU_TRU": "74", "MAXA_CU_TRU": "25741",
}  # fmt: skip
PERSON_B = {
    "HO_TEN": "Trần Văn Hùng", "NGAY_SINH": "197801020000", "GIOI_TINH": "1", "SO_CCCD": "079078004321",
    "DIEN_THOAI": "0988777666", "MATINH_CU_TRU": "79", "MAXA_CU_TRU": "26734",
}  # fmt: skip


def _records(engine: Engine, raws: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """One encounter, person and source record per raw XML1 demographics: (record ids, person ids)."""
    receipt = ingest_file(
        engine=engine, data=envelope([outpatient(f"LK{i}") for i in range(len(raws))]), submitter="test"
    )
    encounter_ids = [int(e.encounter_id) for e in receipt.encounters if e.encounter_id is not None]
    records, persons = [], []
    with engine.begin() as conn:
        for encounter_id, raw in zip(encounter_ids, raws, strict=True):
            person_id = L.create_person(conn, actor="test")
            values = {
                "encounter_id": encounter_id,
                "facility_code": "74001",
                "ma_lk": f"LK{encounter_id}",
                "version": 1,
                "features": model_row(normalise_record(raw).to_row()),
            }
            record = L.add_source_record(conn, values=values, person_id=person_id, state="auto")
            L.link(conn, source_record_id=record, person_id=person_id, state="auto", rule="new_person", actor="t")
            records.append(record)
            persons.append(person_id)
    return records, persons


def _constraint(engine: Engine, kind: str, record: int, person: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            L.constraints.insert(), {"kind": kind, "source_record_id": record, "person_id": person, "actor": "steward"}
        )


def test_same_person_on_two_persons_is_merged_into_the_older_with_a_redirect(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    (r1, r2, r3), (p1, p2, p3) = _records(engine, [PERSON_A, PERSON_B, PERSON_A])
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.records_moved, report.reviews_opened) == (1, 1, 0)
    with engine.connect() as conn:
        assert _state(conn) == {r1: p1, r2: p2, r3: p1}
        assert L.current_person(conn, p3) == p1
        assert L.replay_assignments(conn) == _state(conn)


def test_a_steward_different_person_constraint_prevents_the_merge_and_asks_nothing(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    (r1, r2), (p1, p2) = _records(engine, [PERSON_A, PERSON_A])
    _constraint(engine, "different_person", r2, p1)
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.reviews_opened, report.skipped_different_person) == (0, 0, 1)
    with engine.connect() as conn:
        assert _state(conn) == {r1: p1, r2: p2}


def test_a_pinned_record_is_never_moved(engine: Engine, model: TrainedModel, predictions: Predictions) -> None:
    (r1, r2), (p1, p2) = _records(engine, [PERSON_A, PERSON_A])
    _constraint(engine, "manual_link", r2, p2)  # the newer person holds the pinned record: merge goes the other way
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.records_moved) == (1, 1)
    with engine.connect() as conn:
        assert _state(conn) == {r1: p2, r2: p2}
        assert L.current_person(conn, p1) == p2


def test_when_both_persons_hold_pinned_records_a_review_is_opened_instead(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    (r1, r2), (p1, p2) = _records(engine, [PERSON_A, PERSON_A])
    _constraint(engine, "manual_link", r1, p1)
    _constraint(engine, "manual_link", r2, p2)
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.reviews_opened, report.pinned_to_review) == (0, 1, 1)
    with engine.connect() as conn:
        assert _state(conn) == {r1: p1, r2: p2}
        review = conn.execute(select(L.reviews)).one()
    assert (review.source_record_id, review.candidate_person_id, review.reason) == (r2, p1, "relink")
    assert (review.evidence["rule"], review.evidence["other_source_record_id"]) == ("both_pinned", r1)
    assert relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS).reviews_opened == 0


def test_review_band_opens_one_review_per_pair_of_persons_once(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    # Without the CCCD (an equal consistent CCCD links whatever the model says, as online)
    no_id = {**PERSON_A, "SO_CCCD": ""}
    (_r1, r2, r3), (p1, p2, _p3) = _records(engine, [no_id, no_id, no_id])
    band = Thresholds(auto=1.0, review=0.30)  # no pair reaches 1.0: everything is in the review band
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=band)
    assert (report.merges, report.reviews_opened, report.proposals) == (0, 3, 3)
    with engine.connect() as conn:
        pairs = {(int(r.source_record_id), int(r.candidate_person_id)) for r in conn.execute(select(L.reviews))}
    assert pairs == {(r2, p1), (r3, p1), (r3, p2)}
    again = relink(engine=engine, model=model, predictor=predictions, thresholds=band)
    assert (again.reviews_opened, again.skipped_reviewed) == (0, 3)


def test_an_open_review_from_the_online_path_is_left_to_the_steward(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    (_r1, r2), (p1, _p2) = _records(engine, [PERSON_A, PERSON_A])
    with engine.begin() as conn:
        L.open_review(conn, source_record_id=r2, candidate_person_id=p1, reason="model_band", actor="system")
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.reviews_opened, report.skipped_reviewed) == (0, 0, 1)


def test_same_cccd_with_conflicting_demographics_goes_to_review_not_merge(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    # Same name, CCCD, phone and commune push the model far above the auto threshold, but the birth years
    # differ by more than a typo and neither is a child's: the online policy reviews such a pair, and so
    # does relink.
    other = {**PERSON_A, "NGAY_SINH": "198105150000"}
    (r1, r2), (p1, _) = _records(engine, [PERSON_A, other])
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.reviews_opened, report.conflicts_to_review) == (0, 1, 1)
    with engine.connect() as conn:
        review = conn.execute(select(L.reviews)).one()
    assert (review.source_record_id, review.candidate_person_id) == (r2, p1)
    assert (review.evidence["rule"], review.evidence["other_source_record_id"]) == ("national_id_conflict", r1)
    assert {c["comparison"] for c in review.evidence["comparisons"]} >= {"given", "dob", "national_id"}


def test_a_childs_record_under_the_parents_cccd_is_never_merged(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    child = {**PERSON_A, "NGAY_SINH": "201805150000"}  # the father's name and number on a son's record
    (_, r2), (p1, _) = _records(engine, [PERSON_A, child])
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.reviews_opened) == (0, 1)
    with engine.connect() as conn:
        review = conn.execute(select(L.reviews)).one()
    assert (review.source_record_id, review.evidence["rule"]) == (r2, "model_contradicted")
    assert review.evidence["guardian_person_ids"] == [p1]


def test_one_strong_pair_is_not_enough_when_a_record_of_the_cluster_is_unsupported(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    # Person 1 holds PERSON_A's record and a weaker one (same name, another birth date, no phone or
    # commune); person 2 holds PERSON_A's record without the CCCD. The two PERSON_A records are one
    # person beyond doubt (p ~ 1), but nothing on person 2 supports person 1's other record on its own
    # (p ~ 0.14: neither a contradiction nor the review band): merging would rest on one pair, so a steward
    # decides instead.
    weaker = {**PERSON_A, "SO_CCCD": "", "NGAY_SINH": "199012150000", "DIEN_THOAI": "", "MAXA_CU_TRU": ""}
    (r1, r2, r3), (p1, p2, p3) = _records(engine, [PERSON_A, {**PERSON_A, "SO_CCCD": ""}, weaker])
    with engine.begin() as conn:
        L.merge(conn, from_person_id=p3, into_person_id=p1, actor="test", rule="test")
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.reviews_opened, report.cluster_unsupported) == (0, 1, 1)
    with engine.connect() as conn:
        assert _state(conn) == {r1: p1, r2: p2, r3: p1}
        review = conn.execute(select(L.reviews)).one()
    assert (review.source_record_id, review.candidate_person_id) == (r2, p1)
    assert (review.evidence["rule"], review.evidence["unsupported"]) == ("cluster_unsupported", [r3])


def test_a_strong_pair_merges_when_every_record_of_both_clusters_is_supported(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    typo = {**PERSON_A, "SO_CCCD": "", "NGAY_SINH": "199005160000", "HO_TEN": "Nguyễn Thị Minh Thu"}
    (r1, r2, r3), (p1, _p2, p3) = _records(engine, [PERSON_A, {**PERSON_A, "SO_CCCD": ""}, typo])
    with engine.begin() as conn:
        L.merge(conn, from_person_id=p3, into_person_id=p1, actor="test", rule="test")
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.cluster_unsupported) == (1, 0)
    with engine.connect() as conn:
        assert _state(conn) == {r1: p1, r2: p1, r3: p1}


# Other people of the commune, so that the term frequencies computed from the store are not those of one
# household's name alone.
_NEIGHBOURS = [
    {
        "HO_TEN": f"{family} Văn {given}",
        "NGAY_SINH": f"19{50 + k:02d}0{1 + k % 9}1{k % 10}0000",
        "GIOI_TINH": "1",
        "DIEN_THOAI": f"09130{k:05d}",
        "MATINH_CU_TRU": "79",
        "MAXA_CU_TRU": "26734",
    }
    for k, (family, given) in enumerate(
        (f, g)
        for f in ("Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi")
        for g in ("An", "Bình", "Cường", "Dũng", "Giang")
    )
]


SON = {
    "HO_TEN": "Nguyễn Văn Hùng", "NGAY_SINH": "197404170000", "GIOI_TINH": "1", "SO_CCCD": "079074001122",
    "DIEN_THOAI": "0912000333", "MATINH_CU_TRU": "79", "MAXA_CU_TRU": "26734",
}  # fmt: skip
FATHER = {**SON, "NGAY_SINH": "194300000000", "SO_CCCD": "079043005566"}


def _father_and_son(engine: Engine, son: dict[str, str], father: dict[str, str]) -> tuple[list[int], list[int]]:
    """Person 1: the son's record and his record without a CCCD; person 3: the father's two, alike; then the
    neighbours, one person each. Returns (record ids, person ids) as :func:`_records`."""
    records, persons = _records(engine, [son, {**son, "SO_CCCD": ""}, father, {**father, "SO_CCCD": ""}, *_NEIGHBOURS])
    with engine.begin() as conn:
        L.merge(conn, from_person_id=persons[1], into_person_id=persons[0], actor="test", rule="test")
        L.merge(conn, from_person_id=persons[3], into_person_id=persons[2], actor="test", rule="test")
    return records, persons


def test_a_father_and_son_of_one_name_and_household_are_not_merged(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    # Person 1: the son (born 1974-04-17, his own CCCD) and his record without the number; person 2: the
    # father (born 1943, year only, his own CCCD) and his record without it. Name, sex, phone and commune
    # agree, so the records without a number score in the auto band against the other person's (the
    # birth years weigh less than the household), and each record is supported by one on the other side;
    # but the two CCCDs are two holders' own: a steward decides, nothing is merged.
    (r1, r2, r3, r4, *others), (p1, _, p3, _, *_) = _father_and_son(engine, SON, FATHER)
    with engine.connect() as conn:
        before = _state(conn)
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS)
    assert (report.merges, report.reviews_opened) == (0, 1)
    assert report.cluster_contradicted + report.conflicts_to_review <= 1
    with engine.connect() as conn:
        assert _state(conn) == before
        assert {before[r] for r in (r1, r2, r3, r4)} == {p1, p3} and len(others) == len(_NEIGHBOURS)
        review = conn.execute(select(L.reviews)).one()
    assert review.candidate_person_id == p1
    assert review.evidence["rule"] in ("cluster_contradicted", "model_contradicted")


# Every pair below the auto threshold: what the model links (p >= 0.99) is in the review band here.
BAND_ONLY = Thresholds(auto=1.0, review=0.30)


def test_a_review_band_pair_between_persons_a_cccd_tells_apart_opens_no_review(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    # The father and the son of one household again, but the records without a number are only in the
    # review band: the model alone is unsure, and the two holders' own CCCDs say they are two people. That
    # is no question for a steward: no review item, counted as band_contradicted, the same on a second run.
    _father_and_son(engine, SON, FATHER)
    with engine.connect() as conn:
        before = _state(conn)
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=BAND_ONLY)
    assert (report.merges, report.reviews_opened, report.band_contradicted) == (0, 0, 1)
    again = relink(engine=engine, model=model, predictor=predictions, thresholds=BAND_ONLY)
    assert (again.merges, again.reviews_opened, again.band_contradicted) == (0, 0, 1)
    with engine.connect() as conn:
        assert _state(conn) == before
        assert conn.execute(select(func.count()).select_from(L.reviews)).scalar() == 0


def test_the_same_review_band_pair_without_the_cccds_is_reviewed(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    # Nothing tells the two persons apart but the model's doubt: a steward is asked, once.
    (r1, r2, r3, r4, *_), (p1, *_) = _father_and_son(engine, {**SON, "SO_CCCD": ""}, {**FATHER, "SO_CCCD": ""})
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=BAND_ONLY)
    assert (report.merges, report.reviews_opened, report.band_contradicted) == (0, 1, 0)
    with engine.connect() as conn:
        review = conn.execute(select(L.reviews)).one()
    assert (review.candidate_person_id, review.evidence["rule"]) == (p1, "model_band")
    assert review.source_record_id in (r3, r4) and review.evidence["other_source_record_id"] in (r1, r2)


def test_a_childs_record_under_the_parents_cccd_in_the_review_band_opens_no_review(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    # The guardian's number on the child's record: in the auto band a steward looks at it (above); in the
    # review band the model's doubt is all there is for the pair, and the number says the child is not its
    # holder: no review.
    child = {**PERSON_A, "NGAY_SINH": "201805150000"}
    _records(engine, [PERSON_A, child])
    report = relink(engine=engine, model=model, predictor=predictions, thresholds=BAND_ONLY)
    assert (report.merges, report.reviews_opened, report.band_contradicted) == (0, 0, 1)


def test_dry_run_reports_exact_counts_and_changes_nothing(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    (r1, r2, r3), (p1, p2, p3) = _records(engine, [PERSON_A, PERSON_B, PERSON_A])
    with engine.connect() as conn:
        events_before = conn.execute(select(func.count()).select_from(L.events)).scalar()
    dry = relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS, dry_run=True)
    assert (dry.dry_run, dry.merges, dry.records_moved) == (True, 1, 1)
    with engine.connect() as conn:
        assert _state(conn) == {r1: p1, r2: p2, r3: p3}
        assert conn.execute(select(func.count()).select_from(L.events)).scalar() == events_before
    assert relink(engine=engine, model=model, predictor=predictions, thresholds=THRESHOLDS).merges == 1


def test_relink_blocks_with_the_rules_it_is_given(
    engine: Engine, model: TrainedModel, predictions: Predictions
) -> None:
    """The batch rules by default, the caller's (e.g. within a province) otherwise: both reach the predict."""
    _records(engine, [PERSON_A, PERSON_B, PERSON_A])
    seen: list[Any] = []

    def predictor(records: pa.Table, model: dict[str, Any], **options: Any) -> pa.Table:
        seen.append(options["blocking_rules"])
        return predictions(records, model, **options)

    relink(engine=engine, model=model, predictor=predictor, thresholds=THRESHOLDS, dry_run=True)
    scoped = within_province(BATCH_BLOCKING_RULES)
    report = relink(engine=engine, model=model, predictor=predictor, thresholds=THRESHOLDS, blocking_rules=scoped)
    assert seen == [BATCH_BLOCKING_RULES, scoped]
    assert report.merges == 1  # the same CCCD meets across any rules


def test_read_source_records_gives_the_model_rows_of_current_versions(engine: Engine) -> None:
    (r1, r2), (p1, p2) = _records(engine, [PERSON_A, PERSON_B])
    table = read_source_records(engine, batch_size=1)
    assert table.column("unique_id").to_pylist() == [r1, r2]
    assert table.column("person_id").to_pylist() == [p1, p2]
    row = table.to_pylist()[0]
    expected = model_row(normalise_record(PERSON_A).to_row())
    assert {k: row[k] for k in expected if k != "unique_id"} == {k: v for k, v in expected.items() if k != "unique_id"}


# ---- command line ----------------------------------------------------------------------------------
@pytest.mark.slow  # trains with Splink
def test_mpi_train_on_too_few_pairs_says_so_and_writes_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EM underflowing on a store's records is reported as what, why and what to do (exit 2), not as
    Splink's traceback; nothing is written."""
    from tests.linkage.synthetic import synthetic_records

    monkeypatch.setenv("MPI_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    get_settings.cache_clear()
    monkeypatch.setattr(commands, "MIN_TRAINING_RECORDS", 50)
    records = synthetic_records(100, seed=3)  # 100 persons
    monkeypatch.setattr(commands, "read_source_records", lambda store: records)
    app = typer.Typer()
    commands.register(app)
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "models"), "--max-pairs", "1e5"])
    assert result.exit_code == 2, result.output
    assert f"cannot train on the store's {records.num_rows} source records" in " ".join(result.output.split())
    assert "Train on more records" in " ".join(result.output.split())
    assert not (tmp_path / "models").exists()


@pytest.mark.slow  # a whole synthetic province, relinked
def test_mpi_train_then_relink_from_the_command_line(
    tmp_path: Path, province: Path, templates: Templates, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = templates.copy("unlinked_province", partial(_ingest_unlinked, province), tmp_path / "cli.sqlite3")
    monkeypatch.setenv("MPI_DATABASE_URL", url)
    get_settings.cache_clear()
    app = typer.Typer()
    commands.register(app)
    runner = CliRunner()

    refused = runner.invoke(app, ["train", "--out", str(tmp_path / "models")])
    assert refused.exit_code == 2
    monkeypatch.setattr(commands, "MIN_TRAINING_RECORDS", 100)
    trained = runner.invoke(app, ["train", "--out", str(tmp_path / "models"), "--max-pairs", "1e5", "--seed", "3"])
    assert trained.exit_code == 0, trained.output
    (model_path,) = (p for p in (tmp_path / "models").glob("model-*.json") if not p.name.endswith(".provenance.json"))
    model_id = load_model(model_path).model_id
    assert model_path.name == f"model-{model_id}.json"
    assert f"model {model_id}" in trained.output and f"MPI_MODEL_PATH={model_path}" in trained.output

    monkeypatch.setenv("MPI_MODEL_PATH", str(model_path))
    get_settings.cache_clear()
    dry = runner.invoke(app, ["relink", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"Relink with model {model_id} (dry run" in dry.output
    done = runner.invoke(app, ["relink"])
    assert done.exit_code == 0, done.output
    merges = [line for line in done.output.splitlines() if line.strip("│ ").startswith("merges")]
    assert merges and int(merges[0].split("│")[-2].strip().replace(",", "")) > 0
    with open_store(url).connect() as conn:
        models = set(conn.execute(select(L.links.c.model_id).where(L.links.c.rule == "relink")).scalars())
    assert models == {model_id}


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize("scoped", [False, True], ids=["national", "within province"])
def test_mpi_relink_within_province_option_reaches_the_predict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, scoped: bool
) -> None:
    monkeypatch.setenv("MPI_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    get_settings.cache_clear()
    calls: list[dict[str, Any]] = []

    def fake_relink(**kwargs: Any) -> RelinkReport:
        calls.append(kwargs)
        return RelinkReport(model_id="m", dry_run=True, thresholds={"auto": 0.99, "review": 0.3})

    @contextlib.contextmanager
    def no_spark(master: str) -> Iterator[str]:
        yield "session"

    monkeypatch.setattr(commands, "relink", fake_relink)
    monkeypatch.setattr(commands, "_spark", no_spark)
    app = typer.Typer()
    commands.register(app)
    args = ["relink", "--dry-run", "--engine", engine] + (["--within-province"] if scoped else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert call["blocking_rules"] == (within_province(BATCH_BLOCKING_RULES) if scoped else BATCH_BLOCKING_RULES)
    if engine == "spark":
        assert call["predictor"].func.__name__ == "predict_links_spark"
        assert call["predictor"].keywords == {"spark": "session"}
    else:
        assert "predictor" not in call
