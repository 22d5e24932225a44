"""Sensitive data segmentation: classification of encounters and the withholding decision."""

from __future__ import annotations

import pytest

from mpi.records.sensitivity import (
    BreakGlass,
    BreakGlassInvalid,
    Category,
    Disclosure,
    EncounterSensitivity,
    Segmentation,
    SensitivityPolicy,
    Viewer,
    categories_of_icd,
    classify,
    security_labels,
)

HIV, TB, MENTAL, REPRO = Category.HIV, Category.TB, Category.MENTAL_HEALTH, Category.REPRODUCTIVE_HEALTH


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("B20", {HIV}), ("B24", {HIV}), ("b23.8", {HIV}), ("Z21", {HIV}), ("Z20.6", {HIV}), ("Z20.5", set()),
        ("B25", set()), ("B19", set()), ("A15.0", {TB}), ("A19.9", {TB}), ("A20", set()), ("F32.9", {MENTAL}),
        ("F99", {MENTAL}), ("G30", set()), ("O04.9", {REPRO}), ("O80", set()), ("Z30.0", {REPRO}),
        ("A54.9", {REPRO}), ("I10", set()), ("", set()),
    ],
)  # fmt: skip
def test_icd10_codes_fall_in_their_category(code: str, expected: set[Category]) -> None:
    assert categories_of_icd(code) == expected


def test_tables_tests_and_tb_records_classify_hiv() -> None:
    assert classify(diagnoses=["I10"], tables=["XML1", "XML6"]) == {HIV}
    assert classify(diagnoses=["I10"], tables=["XML1", "XML15"]) == {TB}
    assert classify(diagnoses=["A15.0"], tables=["XML15"], tb_hiv_positive=True) == {TB, HIV}
    assert classify(diagnoses=["J06.9"], tables=["XML4"], test_names=["Tải lượng HIV"]) == {HIV}
    assert classify(diagnoses=["J06.9"], tables=["XML4"], test_names=["Xét nghiệm HIV Ab test nhanh"]) == {HIV}
    assert classify(diagnoses=["J06.9"], tables=["XML4"], test_names=["Glucose", "ARCHIVE"]) == set()
    assert classify(diagnoses=[None, "J06.9"], tables=["XML1", "XML2"]) == set()


def _item(facility: str, *cats: Category) -> EncounterSensitivity:
    return EncounterSensitivity(encounter_id=1, facility_code=facility, categories=frozenset(cats))


def _decide(item: EncounterSensitivity, **viewer: object) -> Disclosure:
    base: dict[str, object] = {"facility_code": "74001", "purpose": "TREAT"} | viewer
    return Segmentation(SensitivityPolicy(), Viewer(**base)).decide(item).disclosure  # type: ignore[arg-type]


def test_withheld_by_default_revealed_by_break_glass_own_facility_always_sees() -> None:
    glass = BreakGlass.parse("Cấp cứu, bệnh nhân hôn mê, cần tiền sử điều trị")
    assert _decide(_item("74002")) is Disclosure.OPEN
    assert _decide(_item("74002", HIV)) is Disclosure.WITHHELD
    assert _decide(_item("74001", HIV)) is Disclosure.OWN_FACILITY
    # a reason alone is not enough: the purpose must be a break-glass purpose, or the key granted the category
    assert _decide(_item("74002", HIV), break_glass=glass) is Disclosure.WITHHELD
    assert _decide(_item("74002", HIV), purpose="ETREAT") is Disclosure.WITHHELD
    assert _decide(_item("74002", HIV), purpose="ETREAT", break_glass=glass) is Disclosure.REVEALED
    granted = frozenset({HIV})
    assert _decide(_item("74002", HIV), granted=granted, break_glass=glass) is Disclosure.REVEALED
    assert _decide(_item("74002", HIV, TB), granted=granted, break_glass=glass) is Disclosure.WITHHELD


def test_categories_are_configurable() -> None:
    policy = SensitivityPolicy.from_settings("hiv", "ETREAT")
    segmentation = Segmentation(policy, Viewer(facility_code="74001", purpose="TREAT"))
    assert segmentation.decide(_item("74002", TB)).disclosure is Disclosure.OPEN
    assert segmentation.decide(_item("74002", HIV)).disclosure is Disclosure.WITHHELD
    with pytest.raises(ValueError, match="unknown sensitive categories"):
        SensitivityPolicy.from_settings("hiv,cancer", "ETREAT")


def test_a_break_glass_reason_must_be_typed() -> None:
    assert BreakGlass.parse(None) is None
    assert BreakGlass.parse("   ") is None
    with pytest.raises(BreakGlassInvalid, match="at least"):
        BreakGlass.parse("cần xem")
    assert BreakGlass.parse("  cấp cứu   ngừng tim  ") == BreakGlass("cấp cứu ngừng tim")


def test_fhir_security_labels() -> None:
    assert security_labels([]) == []
    labels = security_labels([HIV, TB])
    assert [(label["code"]) for label in labels] == ["R", "HIV", "COMDIS"]


def test_grants_are_read_from_settings() -> None:
    policy = SensitivityPolicy.from_settings("hiv,tb", "ETREAT", "74050:hiv,tb; 74051:tb")
    assert policy.granted_to("74050") == {HIV, TB} and policy.granted_to("74051") == {TB}
    assert policy.granted_to("74001") == frozenset() and policy.granted_to(None) == frozenset()
    for bad in ("7405:hiv", "74050", "74050:cancer"):
        with pytest.raises(ValueError):
            SensitivityPolicy.from_settings("hiv", "ETREAT", bad)
