"""Address codes to post-2025 units, and the folded address text."""

import csv
from pathlib import Path

import pytest

from linkage.normalise.address import AdminUnit, fold_address, normalise_admin_codes
from linkage.normalise.provinces import PROVINCES_2025, PROVINCES_PRE_2025

DATA = Path(__file__).parents[2] / "linkage" / "normalise" / "data"


@pytest.mark.parametrize(
    ("province", "district", "commune", "expected"),
    [
        pytest.param("01", "001", "00001", AdminUnit("01", "00097", converted=True), id="phuc-xa-to-hong-ha"),
        pytest.param("79", "760", "26740", AdminUnit("79", "26740"), id="ben-nghe-keeps-code-as-sai-gon"),
        pytest.param(
            "74", "718", "25747", AdminUnit("79", "25747", converted=True), id="binh-duong-commune-into-hcm"
        ),
        pytest.param("01", "", "00103", AdminUnit("01", "00103"), id="new-code-without-district-read-as-new"),
        pytest.param(
            "01",
            "003",
            "00103",
            AdminUnit("01", "00611", converted=True, split=True),
            id="same-number-with-district-read-as-old-split",
        ),
        pytest.param("74", "", "", AdminUnit("79", None, converted=True), id="old-province-only"),
        pytest.param("1", None, "4", AdminUnit("01", "00004"), id="leading-zeros-restored"),
        pytest.param("079", None, None, AdminUnit("79", None), id="three-digit-province"),
        pytest.param(None, None, None, AdminUnit(None, None), id="nothing"),
        pytest.param("99", "", "99999", AdminUnit(None, None), id="unknown-codes"),
    ],
)
def test_normalise_admin_codes(
    province: str | None, district: str | None, commune: str | None, expected: AdminUnit
) -> None:
    assert normalise_admin_codes(province, district, commune) == expected


def test_every_new_province_code_maps_to_itself() -> None:
    for code in PROVINCES_2025:
        assert normalise_admin_codes(code, None, None).province_code == code


def test_mapping_tables_cover_the_known_units() -> None:
    with (DATA / "admin_2025_old_to_new.csv").open(encoding="utf-8") as f:
        old = list(csv.DictReader(f))
    with (DATA / "admin_2025_communes.csv").open(encoding="utf-8") as f:
        new = list(csv.DictReader(f))
    assert (len(old), len(new)) == (10035, 3321)
    assert {row["old_province"] for row in old} == set(PROVINCES_PRE_2025)
    assert {row["new_province"] for row in new} == set(PROVINCES_2025)
    assert {row["new_commune"] for row in old} <= {row["new_commune"] for row in new}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "Số 12, ngõ 34/5 Đường Lê Lợi, P. Bến Nghé, Q.1, TP.HCM",
            "SO 12 NGO 34/5 DUONG LE LOI P BEN NGHE Q 1 TP HCM",
            id="street-address",
        ),
        pytest.param("Thôn   Đông,  xã Tân Định", "THON DONG XA TAN DINH", id="spaces"),
        pytest.param(" , ", None, id="punctuation-only"),
        pytest.param(None, None, id="none"),
    ],
)
def test_fold_address(raw: str | None, expected: str | None) -> None:
    assert fold_address(raw) == expected
