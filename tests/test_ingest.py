"""Ingest semantics on SQLite and PostgreSQL: atomic, idempotent, versioned, facility-scoped, lossless."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select

from mpi.ingest import get_receipt, ingest_file
from mpi.receipts import EncounterStatus, Outcome, Receipt
from mpi.store import Encounter, Submission, ValidationIssue, content_tables
from mpi.xml130 import ParsedEncounter
from tests.builders import envelope, inner_document, outpatient, summary


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _counts(engine: Engine) -> dict[str, int]:
    tables = {"encounter": Encounter.__table__, "submission": Submission.__table__, "issue": ValidationIssue.__table__}
    tables |= {name: content_tables[name] for name in ("XML1", "XML2", "XML3", "XML4")}
    return {name: _count(engine, table) for name, table in tables.items()}


def test_a_file_is_stored_whole_and_each_table_in_its_rows(engine: Engine) -> None:
    data = envelope([outpatient("LK1"), outpatient("LK2")])
    receipt = ingest_file(engine=engine, data=data, submitter="test")
    assert receipt.outcome == "accepted"
    assert [(e.ma_lk, e.status, e.version) for e in receipt.encounters] == [
        ("LK1", "accepted", 1),
        ("LK2", "accepted", 1),
    ]
    assert _counts(engine) == {"encounter": 2, "submission": 1, "issue": 0, "XML1": 2, "XML2": 4, "XML3": 4, "XML4": 2}
    with engine.connect() as conn:
        raw = conn.execute(select(Submission.__table__.c.raw_gzip)).scalar_one()
    assert gzip.decompress(raw) == data


def test_the_same_file_again_stores_nothing_and_answers_the_original_receipt(engine: Engine) -> None:
    data = envelope([outpatient("LK1")])
    first = ingest_file(engine=engine, data=data, submitter="test")
    before = _counts(engine)
    again = ingest_file(engine=engine, data=data, submitter="test")
    assert _counts(engine) == before
    assert again.duplicate is True
    assert first.duplicate is False
    assert again.submission_id == first.submission_id
    assert again.encounters == first.encounters


def test_the_same_encounter_in_another_file_is_a_duplicate(engine: Engine) -> None:
    ingest_file(engine=engine, data=envelope([outpatient("LK1")], ngaylap="20260301"), submitter="test")
    receipt = ingest_file(engine=engine, data=envelope([outpatient("LK1")], ngaylap="20260302"), submitter="test")
    assert [(e.status, e.version, e.new_version) for e in receipt.encounters] == [("duplicate", 1, False)]
    assert _count(engine, Encounter.__table__) == 1
    assert _count(engine, Submission.__table__) == 2


def test_a_corrected_resubmission_is_a_new_version_and_the_old_one_stays_readable(engine: Engine) -> None:
    ingest_file(engine=engine, data=envelope([outpatient("LK1", MA_BENH_CHINH="J06.9")]), submitter="test")
    receipt = ingest_file(engine=engine, data=envelope([outpatient("LK1", MA_BENH_CHINH="J20.9")]), submitter="test")
    assert [(e.status, e.version, e.new_version) for e in receipt.encounters] == [("accepted", 2, True)]
    enc, xml1 = Encounter.__table__, content_tables["XML1"]
    with engine.connect() as conn:
        rows = conn.execute(
            select(enc.c.version, enc.c.is_current, xml1.c.ma_benh_chinh)
            .join(xml1, xml1.c.encounter_id == enc.c.id)
            .order_by(enc.c.version)
        ).all()
    assert [tuple(r) for r in rows] == [(1, False, "J06.9"), (2, True, "J20.9")]
    # Going back to the first content (in a new file) is a correction too: version 3, not a duplicate.
    back = envelope([outpatient("LK1", MA_BENH_CHINH="J06.9")], ngaylap="20260305")
    third = ingest_file(engine=engine, data=back, submitter="test")
    assert [(e.status, e.version) for e in third.encounters] == [("accepted", 3)]


def test_a_submitter_bound_to_a_facility_cannot_store_another_facilitys_encounters(engine: Engine) -> None:
    data = envelope([outpatient("LK1", facility="74001"), outpatient("LK2", facility="74002")], facility="74001")
    receipt = ingest_file(engine=engine, data=data, submitter="test", allowed_facility="74001")
    assert receipt.outcome == "partial"
    assert [(e.ma_lk, e.status) for e in receipt.encounters] == [("LK1", "accepted"), ("LK2", "rejected")]
    codes = [i.code for i in receipt.encounters[1].issues]
    assert codes == ["macskcb_mismatch", "facility_scope"]
    assert _count(engine, Encounter.__table__) == 1


def test_a_bad_hoso_does_not_reject_the_good_ones_and_its_issues_are_kept(engine: Engine) -> None:
    no_costs = {f: "0.00" for f in ("T_THUOC", "T_TONGCHI_BV", "T_TONGCHI_BH", "T_BNCCT", "T_BHTT")}
    broken = {"XML1": inner_document("XML1", [summary("LK2", NGAY_VAO="2026-03-01", **no_costs)])}
    data = envelope([outpatient("LK1"), broken, outpatient("LK3")])
    receipt = ingest_file(engine=engine, data=data, submitter="test")
    assert [(e.ma_lk, e.status) for e in receipt.encounters] == [
        ("LK1", "accepted"),
        ("LK2", "rejected"),
        ("LK3", "accepted"),
    ]
    with engine.connect() as conn:
        kept = conn.execute(
            select(
                ValidationIssue.__table__.c.code,
                ValidationIssue.__table__.c.encounter_id,
                ValidationIssue.__table__.c.path,
            )
        ).all()
    assert [tuple(k) for k in kept] == [("date_mandatory", None, "HOSO[2]/XML1[1]/NGAY_VAO")]


def test_a_file_rejected_whole_is_still_kept(engine: Engine) -> None:
    receipt = ingest_file(engine=engine, data=b"<GIAMDINHHS><THONGTINHOSO>", submitter="test")
    assert receipt.outcome == "rejected"
    assert [i.code for i in receipt.issues] == ["xml_syntax"]
    assert _count(engine, Submission.__table__) == 1


class _FailingLinker:
    def __call__(
        self, *, connection: Connection, encounter_id: int, encounter: ParsedEncounter, version: int
    ) -> dict[str, Any]:
        raise RuntimeError("identity store unavailable")


def test_an_encounter_is_stored_with_its_link_or_not_at_all(engine: Engine) -> None:
    with pytest.raises(RuntimeError):
        ingest_file(engine=engine, data=envelope([outpatient("LK1")]), submitter="test", linker=_FailingLinker())
    counts = _counts(engine)
    assert counts["encounter"] == counts["XML1"] == counts["XML2"] == 0
    # The raw file was stored first and the submission can be completed by sending it again.
    seen: list[int] = []

    def linker(
        *, connection: Connection, encounter_id: int, encounter: ParsedEncounter, version: int
    ) -> dict[str, Any]:
        seen.append(encounter_id)
        return {"person_id": 7}

    receipt = ingest_file(engine=engine, data=envelope([outpatient("LK1")]), submitter="test", linker=linker)
    assert [(e.status, e.identity) for e in receipt.encounters] == [("accepted", {"person_id": 7})]
    assert seen == [receipt.encounters[0].encounter_id]
    assert _count(engine, Submission.__table__) == 1


def test_a_receipt_stored_before_the_receipt_model_reads_back_unchanged(engine: Engine) -> None:
    """Receipts stored as plain JSON (with the identity facts, without the signature check) still read."""
    receipt = ingest_file(engine=engine, data=envelope([outpatient("A1")]), submitter="t")
    stored = receipt.model_dump(mode="json")
    assert set(stored) == {
        "submission_id", "sha256", "received_at", "outcome", "facility_code", "declared_count", "hoso_count",
        "signature_present", "signature", "duplicate", "issues", "encounters",
    }  # fmt: skip
    assert "identity" not in stored["encounters"][0]  # never answered, so not stored either
    older = {**stored, "encounters": [{**e, "identity": {"person_id": 3}} for e in stored["encounters"]]}
    del older["signature"]
    with engine.begin() as conn:
        conn.execute(Submission.__table__.update().values(receipt=older))  # type: ignore[attr-defined]
    again = get_receipt(engine=engine, submission_id=receipt.submission_id)
    assert again is not None
    assert again.model_dump(mode="json") == {**stored, "signature": None}
    assert (again.outcome, again.encounters[0].status) == (Outcome.ACCEPTED, EncounterStatus.ACCEPTED)
    with pytest.raises(ValueError, match="outcome"):
        Receipt.model_validate({**stored, "outcome": "maybe"})
