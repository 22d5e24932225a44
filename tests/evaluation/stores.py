"""A small store built through the online path: known persons, a corrected resubmission, a review, a merge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from mpi.identity import links as L
from mpi.identity.online import OnlineLinker
from mpi.ingest import ingest_file
from mpi.settings import Settings
from tests.builders import envelope, outpatient
from tests.support import TEST_SECRET

MOTHER = {"HO_TEN": "TRẦN THỊ MINH THƯ", "SO_CCCD": "074190001234", "NGAY_SINH": "199005150000", "GIOI_TINH": "2"}
OTHER = {"HO_TEN": "NGUYỄN VĂN AN", "SO_CCCD": "074085004321", "NGAY_SINH": "198503020000", "GIOI_TINH": "1"}
# A child recorded under the mother's CCCD: opens a review against her (tests/identity/test_online.py).
CHILD = {**MOTHER, "HO_TEN": "LÊ VĂN NAM", "NGAY_SINH": "202401100000", "GIOI_TINH": "1", "MA_BN": "BN-CHILD"}


def ingest(engine: Engine, linker: OnlineLinker, ma_lk: str, facility: str = "74001", **fields: str) -> dict[str, Any]:
    data = envelope([outpatient(ma_lk, facility, **fields)], facility=facility)
    (enc,) = ingest_file(engine=engine, data=data, submitter="test", linker=linker).encounters
    assert enc.status == "accepted", enc.issues
    assert enc.identity is not None
    return enc.identity


def small_store(engine: Engine, *, merge: bool = True) -> dict[str, int]:
    """Encounters 74001/A1 (v1, v2) and 74002/B1 of the mother, 74001/C1 of another man, 74001/K1 of the child
    (in review against the mother); with ``merge`` the man's person is merged into the mother's (a wrong
    merge, on purpose: the export must follow it). Returns the person ids by role."""
    linker = OnlineLinker.from_settings(Settings(env="test", secret_key=TEST_SECRET))
    linker.warm(engine)
    mother = ingest(engine, linker, "A1", **MOTHER, MA_BENH_CHINH="J06.9")["person_id"]
    ingest(engine, linker, "A1", **MOTHER, MA_BENH_CHINH="J20.9")  # corrected resubmission: version 2
    ingest(engine, linker, "B1", "74002", **{**MOTHER, "HO_TEN": "TRAN THI MINH THU"}, MA_BN="99887")
    other = ingest(engine, linker, "C1", **OTHER, MA_BN="BN-OTHER", DIEN_THOAI="0912000111")["person_id"]
    child = ingest(engine, linker, "K1", **CHILD)
    assert child["link_state"] == "review"
    if merge:
        with engine.begin() as conn:
            L.merge(conn, from_person_id=other, into_person_id=mother, actor="test")
    return {"mother": mother, "other": other, "child": child["person_id"]}
