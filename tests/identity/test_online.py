"""The online path on SQLite and PostgreSQL: each ingested encounter is linked by the matching policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from mpi.identity import links as L
from mpi.identity import matching
from mpi.identity.online import OnlineLinker
from mpi.ingest import ingest_file
from mpi.settings import Settings
from tests.builders import envelope, outpatient
from tests.support import TEST_SECRET

MOTHER = {"HO_TEN": "TRẦN THỊ MINH THƯ", "SO_CCCD": "074190001234", "NGAY_SINH": "199005150000", "GIOI_TINH": "2"}


@pytest.fixture
def linker(engine: Engine) -> OnlineLinker:
    linker = OnlineLinker.from_settings(Settings(env="test", secret_key=TEST_SECRET))
    linker.warm(engine)
    return linker


def _ingest(engine: Engine, linker: OnlineLinker, ma_lk: str, facility: str = "74001", **fields: str) -> dict[str, Any]:
    data = envelope([outpatient(ma_lk, facility, **fields)], facility=facility)
    receipt = ingest_file(engine=engine, data=data, submitter="test", linker=linker)
    (enc,) = receipt.encounters
    assert enc.status == "accepted", enc.issues
    assert enc.identity is not None
    return enc.identity


def _evidence(engine: Engine, source_record_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        details = conn.execute(
            select(L.events.c.details)
            .where(L.events.c.source_record_id == source_record_id, L.events.c.kind == "linked")
            .order_by(L.events.c.seq.desc())
        ).first()
    assert details is not None
    evidence: dict[str, Any] | None = details[0].get("evidence")
    return evidence


def test_a_valid_cccd_with_consistent_demographics_links_across_facilities(
    engine: Engine, linker: OnlineLinker
) -> None:
    first = _ingest(engine, linker, "A1", "74001", **MOTHER, MA_BN="BN-A-1")
    second = _ingest(engine, linker, "B1", "74002", **{**MOTHER, "HO_TEN": "TRAN THI MINH THU"}, MA_BN="99887")
    assert first["rule"] == "new_person"
    assert (second["rule"], second["link_state"], second["person_id"]) == ("national_id", "auto", first["person_id"])


def test_a_childs_record_under_the_mothers_cccd_is_never_linked_to_her(engine: Engine, linker: OnlineLinker) -> None:
    mother = _ingest(engine, linker, "A1", **MOTHER)
    # A child recorded with the mother's CCCD: another sex, another birth year, another given name.
    child = _ingest(
        engine,
        linker,
        "A2",
        **{**MOTHER, "HO_TEN": "LÊ VĂN NAM", "NGAY_SINH": "202401100000", "GIOI_TINH": "1"},
        MA_BN="BN-CHILD",
    )
    # The CCCD's digits fit the mother's record and the child was born decades later: the number is the
    # guardian's, never a link; the shared card, phone and address give the model a high score, which the
    # guardian's number contradicts: review. The relation is kept in the link's evidence.
    assert child["person_id"] != mother["person_id"]
    assert (child["link_state"], child["rule"]) == ("review", "model_contradicted")
    assert _evidence(engine, child["source_record_id"]) == {"guardian_person_ids": [mother["person_id"]]}


def test_the_same_facility_patient_code_links(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", SO_CCCD="", MA_BN="BN-77", DIEN_THOAI="")
    second = _ingest(engine, linker, "A2", SO_CCCD="", MA_BN="BN-77", DIEN_THOAI="", MA_THE_BHYT="")
    assert (second["rule"], second["person_id"]) == ("facility_patient_code", first["person_id"])


def test_without_identifiers_the_model_links_strong_demographic_agreement(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", "74001", SO_CCCD="", MA_BN="X1")
    second = _ingest(engine, linker, "B1", "74002", SO_CCCD="", MA_BN="Y9")
    assert second["rule"] in ("model", "national_id")
    assert second["person_id"] == first["person_id"]
    assert second["match_probability"] >= 0.99


def test_namesakes_born_years_apart_are_different_people(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", "74001", SO_CCCD="", MA_THE_BHYT="", DIEN_THOAI="", MA_BN="N1")
    other = _ingest(
        engine, linker, "B1", "74002", SO_CCCD="", MA_THE_BHYT="", DIEN_THOAI="", MA_BN="N2", NGAY_SINH="196201010000"
    )
    assert other["person_id"] != first["person_id"]


def test_a_corrected_resubmission_stays_with_its_person(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", **MOTHER, MA_BENH_CHINH="J06.9")
    again = _ingest(engine, linker, "A1", **MOTHER, MA_BENH_CHINH="J20.9")
    assert again["person_id"] == first["person_id"]
    with engine.connect() as conn:
        versions = conn.execute(select(L.sources.c.version, L.sources.c.person_id).order_by(L.sources.c.version)).all()
        assert L.replay_assignments(conn) == {
            int(r.id): int(r.person_id) for r in conn.execute(select(L.sources.c.id, L.sources.c.person_id))
        }
    assert [tuple(v) for v in versions] == [(1, first["person_id"]), (2, first["person_id"])]


def test_every_link_records_the_model_that_scored_it(engine: Engine, linker: OnlineLinker) -> None:
    _ingest(engine, linker, "A1", "74001", SO_CCCD="", MA_BN="X1")
    _ingest(engine, linker, "B1", "74002", SO_CCCD="", MA_BN="Y9")
    with engine.connect() as conn:
        rows = conn.execute(select(L.links.c.rule, L.links.c.model_id).order_by(L.links.c.id)).all()
    assert [tuple(r) for r in rows] == [("new_person", None), ("model", linker.model_id)]


def test_an_equal_valid_cccd_with_another_birth_year_goes_to_review(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", **MOTHER)
    # Same valid CCCD (consistent with this record's sex and year), but another name and birth date.
    other = _ingest(
        engine,
        linker,
        "B1",
        "74002",
        **{**MOTHER, "HO_TEN": "PHẠM THỊ HOA", "NGAY_SINH": "199001020000"},
        MA_BN="Z1",
        DIEN_THOAI="0987000222",
        MA_THE_BHYT="",
    )
    assert (other["link_state"], other["rule"]) == ("review", "national_id_conflict")
    assert other["person_id"] != first["person_id"]


def test_a_birth_year_typo_the_cccd_corrects_links_and_says_so(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", **MOTHER)
    # The last two digits of the birth year swapped (1990 -> 1909); the CCCD's digits say 1990.
    typo = _ingest(engine, linker, "B1", "74002", **{**MOTHER, "NGAY_SINH": "190905150000"}, MA_BN="Z1")
    assert (typo["rule"], typo["link_state"]) == ("national_id_corroborated", "auto")
    assert typo["person_id"] == first["person_id"]
    evidence = _evidence(engine, typo["source_record_id"])
    assert evidence is not None
    assert (evidence["national_id"], evidence["corrected"], evidence["typo_on"]) == (
        "corroborated",
        ["birth_year"],
        {"birth_year": "incoming"},
    )


def test_a_wrong_birth_year_digit_on_the_earlier_record_is_corrected_by_the_later_ones_cccd(
    engine: Engine, linker: OnlineLinker
) -> None:
    first = _ingest(engine, linker, "A1", **{**MOTHER, "NGAY_SINH": "198005150000"})  # 1990 written 1980
    later = _ingest(engine, linker, "B1", "74002", **MOTHER, MA_BN="Z1")
    assert (later["rule"], later["person_id"]) == ("national_id_corroborated", first["person_id"])
    evidence = _evidence(engine, later["source_record_id"])
    assert evidence is not None and evidence["typo_on"] == {"birth_year": "candidate"}


TWINS = [
    ("T1a", "74001", "NGUYỄN VĂN AN"),
    ("T2a", "74002", "NGUYỄN VĂN BÌNH"),
    ("T1b", "74003", "NGUYEN VAN AN"),
    ("T2b", "74001", "NGUYỄN BÌNH"),
]
TWIN_FIELDS = {"NGAY_SINH": "201503040000", "GIOI_TINH": "1", "SO_CCCD": "", "MA_THE_BHYT": ""}


def test_twins_are_told_apart_whatever_order_their_records_arrive_in(
    linker: OnlineLinker, migrated_sqlite: Callable[[str], str]
) -> None:
    from mpi.store import open_store

    partitions = set()
    for n, order in enumerate([(0, 1, 2, 3), (1, 0, 3, 2), (2, 3, 0, 1), (3, 2, 1, 0), (0, 3, 1, 2)]):
        store = open_store(migrated_sqlite(f"twins{n}"))
        try:
            person_of = {}
            for i in order:
                ma_lk, facility, name = TWINS[i]
                identity = _ingest(store, linker, ma_lk, facility, **TWIN_FIELDS, HO_TEN=name, MA_BN=ma_lk)
                person_of[ma_lk] = identity["person_id"]
            with store.connect() as conn:
                person_of = {k: L.current_person(conn, p) for k, p in person_of.items()}
        finally:
            store.dispose()
        groups = frozenset(frozenset(k for k, p in person_of.items() if p == q) for q in person_of.values())
        assert all(not ({"T1a", "T1b"} & g and {"T2a", "T2b"} & g) for g in groups), groups
        partitions.add(groups)
    assert len(partitions) == 1, partitions  # the same persons whatever the order


NO_IDS = {"SO_CCCD": "", "MA_THE_BHYT": ""}


def test_a_name_written_given_name_first_links(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", "74001", **NO_IDS, MA_BN="X1")
    # Another facility's software writes the given name first; no CCCD or card to help.
    reordered = _ingest(engine, linker, "B1", "74002", **NO_IDS, MA_BN="Y9", HO_TEN="THƯ TRẦN THỊ MINH")
    assert (reordered["rule"], reordered["link_state"]) == ("model", "auto")
    assert reordered["person_id"] == first["person_id"]


def test_a_namesake_with_the_name_in_another_order_is_another_person(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", "74001", **NO_IDS, MA_BN="X1")
    # The same name tokens given name first, but born another day in the same year, another phone.
    namesake = _ingest(
        engine,
        linker,
        "B1",
        "74002",
        **NO_IDS,
        MA_BN="Y9",
        HO_TEN="THƯ TRẦN THỊ MINH",
        NGAY_SINH="199011230000",
        DIEN_THOAI="0987654321",
    )
    assert namesake["person_id"] != first["person_id"]
    assert namesake["link_state"] != "auto" or namesake["rule"] == "new_person"


def test_a_given_name_typo_with_the_same_cccd_links(engine: Engine, linker: OnlineLinker) -> None:
    first = _ingest(engine, linker, "A1", **MOTHER)
    typo = _ingest(engine, linker, "B1", "74002", **{**MOTHER, "HO_TEN": "TRẦN THỊ MINH THU"}, MA_BN="Z1")
    assert (typo["rule"], typo["person_id"]) == ("national_id", first["person_id"])


def test_a_newborn_under_the_mothers_name_links_to_its_own_records_never_to_hers(
    engine: Engine, linker: OnlineLinker
) -> None:
    mother = _ingest(engine, linker, "A1", **MOTHER, MA_THE_BHYT="DN4740123456789", MA_BN="M1")
    # The newborn's first visit: the mother's name and CCCD, the child's birth date and time, sex and
    # temporary card (its own lifelong BHXH number).
    newborn = {**MOTHER, "NGAY_SINH": "202602010830", "GIOI_TINH": "1", "MA_THE_BHYT": "TE1747400012345"}
    first = _ingest(engine, linker, "N1", "74002", **newborn, MA_BN="N1")
    assert first["person_id"] != mother["person_id"]
    assert _evidence(engine, first["source_record_id"]) == {"guardian_person_ids": [mother["person_id"]]}
    # Later under its own name at another facility, without CCCD or phone: no name token in common, so the
    # model alone stays below the auto threshold; the same card, birth date and time and sex link it.
    own = {**newborn, "HO_TEN": "LÊ GIA KHANG", "SO_CCCD": "", "DIEN_THOAI": ""}
    later = _ingest(engine, linker, "N2", "74003", **own, MA_BN="K1")
    assert (later["rule"], later["link_state"], later["person_id"]) == ("bhxh_birth", "auto", first["person_id"])
    assert later["match_probability"] < 0.99


def test_newborn_twins_under_the_mothers_name_are_not_merged(engine: Engine, linker: OnlineLinker) -> None:
    twin = {**MOTHER, "NGAY_SINH": "202602010830", "GIOI_TINH": "1", "MA_THE_BHYT": ""}
    first = _ingest(engine, linker, "T1", "74002", **twin, MA_BN="T1")
    # Born four minutes later: another birth, though name, CCCD, date, sex, phone and address agree.
    second = _ingest(engine, linker, "T2", "74002", **{**twin, "NGAY_SINH": "202602010834"}, MA_BN="T2")
    assert second["person_id"] != first["person_id"]
    assert (second["link_state"], second["rule"]) == ("review", "model_birth_time_differs")


# ---- birth certificates (XML9) ---------------------------------------------------------------------
CHILD_BIRTH = "202602010830"


def _certificate(ma_lk: str, *children: dict[str, str]) -> dict[str, str]:
    """XML9 rows of a delivery: the mother of :data:`MOTHER` and each child's data."""
    mother = {"MA_LK": ma_lk, "HO_TEN_NND": MOTHER["HO_TEN"], "NGAYSINH_NND": MOTHER["NGAY_SINH"][:8]}
    mother |= {"SO_CCCD_NND": MOTHER["SO_CCCD"], "MA_THE_NND": "DN4740123456789", "MA_BHXH_NND": "7401234567"}
    return [{**mother, "SO_CON": str(len(children)), **child} for child in children]  # type: ignore[return-value]


def _delivery(engine: Engine, linker: OnlineLinker, ma_lk: str, *children: dict[str, str]) -> dict[str, Any]:
    from tests.builders import inner_document

    visit = outpatient(ma_lk, "74005", **MOTHER, MA_THE_BHYT="DN4740123456789", MA_BN="M-DELIVERY")
    visit["XML9"] = inner_document("XML9", _certificate(ma_lk, *children))
    receipt = ingest_file(engine=engine, data=envelope([visit], facility="74005"), submitter="test", linker=linker)
    (enc,) = receipt.encounters
    assert enc.status == "accepted", enc.issues
    assert enc.identity is not None
    return enc.identity


BOY = {"HO_TEN_CON": "LÊ GIA KHANG", "GIOI_TINH_CON": "1", "NGAY_SINH_CON": CHILD_BIRTH, "MA_THE_TAM": ""}
UNDER_MOTHER = {**MOTHER, "NGAY_SINH": CHILD_BIRTH, "GIOI_TINH": "1", "SO_CCCD": "", "MA_THE_BHYT": ""}


def test_a_newborn_under_the_mothers_name_is_the_child_of_her_birth_certificate(
    engine: Engine, linker: OnlineLinker
) -> None:
    from mpi.identity.births import Relation, relations

    mother = _delivery(engine, linker, "D1", BOY)
    # The newborn's first visit: the mother's name, phone and address, the child's birth date, time and sex,
    # no card or CCCD. The certificate says it is the child, not the mother.
    first = _ingest(engine, linker, "N1", "74002", **UNDER_MOTHER, MA_BN="N1")
    assert first["person_id"] != mother["person_id"]
    evidence = _evidence(engine, first["source_record_id"])
    assert evidence is not None and evidence["mother_person_id"] == mother["person_id"]
    # Later under the name the certificate gives, at another facility, nothing else in common with the
    # first record but the birth: the certificate links it to the child.
    own = {**UNDER_MOTHER, "HO_TEN": "LÊ GIA KHANG", "DIEN_THOAI": "", "MAXA_CU_TRU": ""}
    later = _ingest(engine, linker, "N2", "74003", **own, MA_BN="K1")
    assert (later["rule"], later["link_state"], later["person_id"]) == ("birth_certificate", "auto", first["person_id"])
    # The mother's own encounters stay with her.
    again = _ingest(engine, linker, "M2", "74001", **MOTHER, MA_BN="M2")
    assert again["person_id"] == mother["person_id"]
    with engine.connect() as conn:
        (relation,) = relations(conn, first["person_id"])
        assert relations(conn, mother["person_id"]) == [relation]
    assert isinstance(relation, Relation)
    assert (relation.mother_person_id, relation.child_person_id) == (mother["person_id"], first["person_id"])


def test_a_certificate_arriving_after_the_childs_record_finds_the_child(engine: Engine, linker: OnlineLinker) -> None:
    from mpi.identity.births import relations

    first = _ingest(engine, linker, "N1", "74002", **UNDER_MOTHER, MA_BN="N1")
    mother = _delivery(engine, linker, "D1", BOY)
    assert mother["person_id"] != first["person_id"]
    own = {**UNDER_MOTHER, "HO_TEN": "LÊ GIA KHANG", "DIEN_THOAI": "", "MAXA_CU_TRU": ""}
    later = _ingest(engine, linker, "N2", "74003", **own, MA_BN="K1")
    assert (later["rule"], later["person_id"]) == ("birth_certificate", first["person_id"])
    with engine.connect() as conn:
        assert [(r.mother_person_id, r.child_person_id) for r in relations(conn, mother["person_id"])] == [
            (mother["person_id"], first["person_id"])
        ]


def test_twins_of_one_certificate_keep_to_their_own_birth_times(engine: Engine, linker: OnlineLinker) -> None:
    girl = {**BOY, "HO_TEN_CON": "LÊ GIA HÂN", "NGAY_SINH_CON": "202602010834", "GIOI_TINH_CON": "1"}
    _delivery(engine, linker, "D1", BOY, girl)
    boy_first = _ingest(engine, linker, "N1", "74002", **UNDER_MOTHER, MA_BN="N1")
    twin_first = _ingest(engine, linker, "N2", "74002", **{**UNDER_MOTHER, "NGAY_SINH": "202602010834"}, MA_BN="N2")
    assert twin_first["person_id"] != boy_first["person_id"]
    boy_again = _ingest(engine, linker, "N3", "74003", **{**UNDER_MOTHER, "HO_TEN": "LÊ GIA KHANG"}, MA_BN="K1")
    twin_again = _ingest(
        engine,
        linker,
        "N4",
        "74003",
        **{**UNDER_MOTHER, "HO_TEN": "LÊ GIA HÂN", "NGAY_SINH": "202602010834"},
        MA_BN="K2",
    )
    assert (boy_again["rule"], boy_again["person_id"]) == ("birth_certificate", boy_first["person_id"])
    assert (twin_again["rule"], twin_again["person_id"]) == ("birth_certificate", twin_first["person_id"])


def test_relink_never_merges_a_mother_and_her_child(engine: Engine, linker: OnlineLinker) -> None:
    from linkage import load_model
    from mpi.identity.policy import Thresholds
    from mpi.identity.relink import relink

    mother = _delivery(engine, linker, "D1", BOY)
    # The newborn under the mother's name and CCCD: the equal CCCD makes relink look at the pair.
    child = _ingest(engine, linker, "N1", "74002", **{**UNDER_MOTHER, "SO_CCCD": MOTHER["SO_CCCD"]}, MA_BN="N1")
    assert child["person_id"] != mother["person_id"]
    report = relink(engine=engine, model=load_model(), thresholds=Thresholds(auto=0.99, review=0.30))
    assert (report.merges, report.mother_and_child, report.reviews_opened) == (0, 1, 0)


def test_the_records_of_a_cccd_alone_decide_unless_the_look_up_was_cut(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The online path asks the CCCD rule first with the records of that number only: it needs all of them,
    so when as many carry it as the national-ID look-up's cap, the whole candidate search decides."""
    monkeypatch.setitem(matching.BLOCKING_CAPS, ("national_id",), 2)
    linker = OnlineLinker.from_settings(Settings(env="test", secret_key=TEST_SECRET))
    linker.warm(engine)
    first = _ingest(engine, linker, "A1", "74001", **MOTHER, MA_BN="BN-1")
    values = {"national_id": MOTHER["SO_CCCD"]}
    with engine.connect() as conn:
        found = linker.matcher.national_id_candidates(conn, values, facility_code="74002", ma_lk="B1")
    assert found is not None and [r.id for r in found] == [first["source_record_id"]]
    second = _ingest(engine, linker, "B1", "74002", **{**MOTHER, "HO_TEN": "TRAN THI MINH THU"}, MA_BN="9")
    assert (second["rule"], second["person_id"]) == ("national_id", first["person_id"])
    with engine.connect() as conn:  # two records of the number, the cap: the look-up may have been cut
        assert linker.matcher.national_id_candidates(conn, values, facility_code="74003", ma_lk="C1") is None
        assert linker.matcher.national_id_candidates(conn, {"national_id": None}, facility_code="1", ma_lk="1") is None
    third = _ingest(engine, linker, "C1", "74003", **MOTHER, MA_BN="7")
    assert (third["rule"], third["person_id"]) == ("national_id", first["person_id"])


def test_the_candidate_search_reads_each_record_s_features_as_stored(engine: Engine, linker: OnlineLinker) -> None:
    # on SQLite the search reads the features' UTF-8 bytes (matching._FeaturesText), elsewhere the text:
    # either way the model row decoded equals the stored one, accents and numbers included
    first = _ingest(engine, linker, "LK_FEATURES", **MOTHER)
    with engine.connect() as conn:
        stored = dict(conn.execute(select(L.sources.c.id, L.sources.c.features)).all())  # type: ignore[arg-type]
        row = conn.execute(select(L.sources).where(L.sources.c.id == first["source_record_id"])).mappings().one()
        found = linker.matcher.candidates(conn, row, facility_code="74001", ma_lk="LK_FEATURES")
        by_cccd = linker.matcher.national_id_candidates(conn, row, facility_code="74001", ma_lk="LK_FEATURES")
    assert by_cccd is not None
    assert {r.id: r.features for r in found} == {r.id: r.features for r in by_cccd} == stored
    features = found[0].features
    assert features["family"] == "TRẦN" and features["dob_year"] == 1990 and isinstance(features["dob_year"], int)


def test_a_common_block_is_cut_at_its_cap_and_the_birth_date_keys_still_find_the_record(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broad keys (same name and birth year, same given name and commune) bring at most their cap of a
    namesake block; a record sharing the full birth date is found through the date keys however large the
    block (matching.BLOCKING_CAPS)."""
    monkeypatch.setitem(matching.BLOCKING_CAPS, ("family_key", "given_key", "dob_year"), 2)
    monkeypatch.setitem(matching.BLOCKING_CAPS, ("name_sorted", "dob_year"), 2)
    monkeypatch.setitem(matching.BLOCKING_CAPS, ("given_key", "commune_code"), 1)
    linker = OnlineLinker.from_settings(Settings(env="test", secret_key=TEST_SECRET))
    linker.warm(engine)
    namesakes = [
        _ingest(
            engine,
            linker,
            f"N{k}",
            HO_TEN="NGUYỄN VĂN AN",
            NGAY_SINH=f"1985{k + 1:02d}{k + 10:02d}0000",
            GIOI_TINH="1",
            SO_CCCD="",
            MA_THE_BHYT="",
            DIEN_THOAI="",
            MA_BN=f"BN-{k}",
        )["source_record_id"]
        for k in range(4)
    ]
    with engine.connect() as conn:
        last = conn.execute(select(L.sources).where(L.sources.c.id == namesakes[-1])).mappings().one()
        found = {r.id for r in linker.matcher.candidates(conn, last, facility_code="74009", ma_lk="Q1")}
    assert namesakes[-1] in found  # the same birth date: the date keys
    assert len(found & set(namesakes[:-1])) == 2  # three namesakes born in other months, cut to the cap of 2
