"""`export_links` on SQLite and PostgreSQL: one row per stored encounter version, persons after merges."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from mpi.errors import NotFound
from mpi.identity.export import EXPORT_COLUMNS, encounter_link, export_links
from mpi.store.models import Encounter
from tests.evaluation.stores import small_store


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_one_row_per_stored_version_with_persons_after_merges(engine: Engine, tmp_path: Path) -> None:
    persons = small_store(engine)
    out = tmp_path / "links.csv"
    assert export_links(engine=engine, out=out) == 5
    with out.open(encoding="utf-8") as handle:
        assert handle.readline().strip().split(",") == list(EXPORT_COLUMNS)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Encounter.__table__)).scalar_one()  # type: ignore[attr-defined]
    rows = _rows(out)
    assert len(rows) == stored == 5
    mother, child = str(persons["mother"]), str(persons["child"])
    got = {(r["facility_code"], r["ma_lk"], r["version"]): r for r in rows}
    assert sorted(got) == [("74001", "A1", "1"), ("74001", "A1", "2"), ("74001", "C1", "1"), ("74001", "K1", "1"),
                           ("74002", "B1", "1")]  # fmt: skip
    # the man was merged into the mother: his encounter reports her id (the redirect is followed)
    assert [got[k]["person_id"] for k in sorted(got)] == [mother, mother, mother, child, mother]
    assert [got[k]["current"] for k in sorted(got)] == ["0", "1", "1", "1", "1"]
    assert got[("74001", "C1", "1")]["rule"] == "merge"
    assert got[("74002", "B1", "1")]["rule"] == "national_id"
    assert got[("74002", "B1", "1")]["model_id"] != ""
    assert 0.0 <= float(got[("74002", "B1", "1")]["match_probability"]) <= 1.0
    review = got[("74001", "K1", "1")]
    # the child on the mother's CCCD: the model scores the shared card, phone and address high, her number
    # contradicts it: review
    assert (review["link_state"], review["review_person_id"]) == ("review", mother)
    assert review["rule"] == "model_contradicted"
    assert [r["review_person_id"] for k, r in sorted(got.items()) if k[1] != "K1"] == ["", "", "", ""]


def test_an_empty_store_exports_the_header_only(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "links.csv"
    assert export_links(engine=engine, out=out) == 0
    assert out.read_text(encoding="utf-8") == ",".join(EXPORT_COLUMNS) + "\n"


def test_encounter_link_answers_the_current_version_after_merges(engine: Engine) -> None:
    persons = small_store(engine)
    with engine.connect() as conn:
        found = encounter_link(conn=conn, facility_code="74001", ma_lk="C1")
        assert (found.version, found.person_id, found.link_state) == (1, persons["mother"], "auto")
        assert encounter_link(conn=conn, facility_code="74001", ma_lk="A1").version == 2
        with pytest.raises(NotFound):
            encounter_link(conn=conn, facility_code="74001", ma_lk="NOPE")
