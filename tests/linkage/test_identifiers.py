"""National ID, insurance card and phone normalisers. Every number here is invented."""

import pytest

from linkage.normalise.dates import PartialDate
from linkage.normalise.insurance import InsuranceCard, bhxh_number, parse_insurance_cards
from linkage.normalise.national_id import NationalId, classify_national_id
from linkage.normalise.phone import Phone, normalise_phone
from linkage.normalise.provinces import CCCD_PROVINCES


@pytest.mark.parametrize(
    ("raw", "sex", "dob", "expected"),
    [
        pytest.param(
            "001085012345",
            1,
            PartialDate(1985, 3, 7),
            NationalId("001085012345", "CCCD"),
            id="cccd-ha-noi-male-1985-consistent",
        ),
        pytest.param(
            "079301004567",
            2,
            PartialDate(2001),
            NationalId("079301004567", "CCCD"),
            id="cccd-hcm-female-2001-year-only-dob",
        ),
        pytest.param("079 301 004 567", None, None, NationalId("079301004567", "CCCD"), id="cccd-spaces"),
        pytest.param(
            "074185012345",
            1,
            PartialDate(1985, 1, 1),
            NationalId("074185012345", "CCCD", ("sex",)),
            id="cccd-sex-digit-conflict",
        ),
        pytest.param(
            "001085012345",
            1,
            PartialDate(1986, 1, 1),
            NationalId("001085012345", "CCCD", ("birth_year",)),
            id="cccd-year-digits-conflict",
        ),
        pytest.param(
            "036218000321",
            2,
            PartialDate(1985, 6, 1),
            NationalId("036218000321", "CCCD", ("sex", "birth_century", "birth_year")),
            id="child-cccd-on-mother-record",
        ),
        pytest.param(
            "003085012345",
            3,
            None,
            NationalId("003085012345", "CCCD", ("province_code",)),
            id="cccd-unassigned-province-003",
        ),
        pytest.param(
            "097085012345",
            None,
            None,
            NationalId("097085012345", "CCCD", ("province_code",)),
            id="cccd-province-097-out-of-list",
        ),
        pytest.param(
            "001485012345",
            None,
            None,
            NationalId("001485012345", "CCCD", ("century",)),
            id="cccd-century-2100",
        ),
        pytest.param("012345678", 1, None, NationalId("012345678", "CMND"), id="cmnd-9"),
        pytest.param("b1234567", None, None, NationalId("B1234567", "PASSPORT"), id="passport-lowercase"),
        pytest.param(
            "0123456789", None, None, NationalId("0123456789", "OTHER"), id="ten-digits-wrong-field"
        ),
        pytest.param(
            "000000000000",
            None,
            None,
            NationalId("000000000000", "OTHER", ("placeholder",)),
            id="placeholder-zeros",
        ),
        pytest.param("VNEID-ABC123", None, None, NationalId("VNEIDABC123", "OTHER"), id="eid-like-code"),
    ],
)
def test_classify_national_id(
    raw: str, sex: int | None, dob: PartialDate | None, expected: NationalId
) -> None:
    assert classify_national_id(raw, sex=sex, dob=dob) == expected


@pytest.mark.parametrize("raw", [pytest.param(None, id="none"), pytest.param(" ", id="blank")])
def test_classify_national_id_empty(raw: str | None) -> None:
    assert classify_national_id(raw) is None


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("001", "Hà Nội"),
        ("002", "Hà Giang"),
        ("004", "Cao Bằng"),
        ("074", "Bình Dương"),
        ("079", "Thành phố Hồ Chí Minh"),
        ("096", "Cà Mau"),
    ],
)
def test_cccd_province_list(code: str, name: str) -> None:
    assert CCCD_PROVINCES[code] == name


def test_cccd_province_list_has_the_63_assigned_codes_only() -> None:
    assert len(CCCD_PROVINCES) == 63
    assert {"003", "005", "007", "009", "097"}.isdisjoint(CCCD_PROVINCES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "DN4797912345678", (InsuranceCard("DN4797912345678", "DN", 4, "79", "7912345678"),), id="one-card"
        ),
        pytest.param(
            "hc 4 01 0112345678",
            (InsuranceCard("HC4010112345678", "HC", 4, "01", "0112345678"),),
            id="lower-case-spaces",
        ),
        pytest.param(
            "TE1797912345678;HS4797912345678",
            (
                InsuranceCard("TE1797912345678", "TE", 1, "79", "7912345678"),
                InsuranceCard("HS4797912345678", "HS", 4, "79", "7912345678"),
            ),
            id="two-cards-group-changed",
        ),
        pytest.param(
            "7912345678",
            (InsuranceCard("7912345678", None, None, None, "7912345678"),),
            id="bare-bhxh-number",
        ),
        pytest.param("DN6797912345678;XX", (), id="benefit-level-6-and-junk-skipped"),
        pytest.param(None, (), id="none"),
    ],
)
def test_parse_insurance_cards(raw: str | None, expected: tuple[InsuranceCard, ...]) -> None:
    assert parse_insurance_cards(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("GD4797900011122;HT3797900011133", "7900011133", id="last-card-is-newest"),
        pytest.param("", None, id="empty"),
    ],
)
def test_bhxh_number(raw: str, expected: str | None) -> None:
    assert bhxh_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("0912345678", Phone("0912345678", "mobile"), id="plain-mobile"),
        pytest.param("+84 912 345 678", Phone("0912345678", "mobile"), id="plus-84"),
        pytest.param("84912345678", Phone("0912345678", "mobile"), id="84-no-plus"),
        pytest.param("0084-91-234-5678", Phone("0912345678", "mobile"), id="0084-dashes"),
        pytest.param("0912.345.678", Phone("0912345678", "mobile"), id="dots"),
        pytest.param("912345678", Phone("0912345678", "mobile"), id="leading-zero-lost"),
        pytest.param("01682345678", Phone("0382345678", "mobile"), id="viettel-0168-to-038"),
        pytest.param("0121 234 5678", Phone("0792345678", "mobile"), id="mobifone-0121-to-079"),
        pytest.param("0127 234 5678", Phone("0812345678", "mobile"), id="vinaphone-0127-to-081"),
        pytest.param("+84 186 234 5678", Phone("0562345678", "mobile"), id="vietnamobile-0186-to-056"),
        pytest.param("01992345678", Phone("0592345678", "mobile"), id="gmobile-0199-to-059"),
        pytest.param("(04) 3825 1234", Phone("02438251234", "landline"), id="ha-noi-04-to-024"),
        pytest.param("0650 3822 123", Phone("02743822123", "landline"), id="binh-duong-0650-to-0274"),
        pytest.param("0313 822 123", Phone("02253822123", "landline"), id="hai-phong-031-to-0225"),
        pytest.param("0274 3822 123", Phone("02743822123", "landline"), id="new-landline-kept"),
        pytest.param("0211 3822 123", Phone("02113822123", "landline"), id="vinh-phuc-unchanged-code"),
        pytest.param("08 3822 1234", Phone("0838221234", "mobile"), id="ambiguous-08-read-as-mobile"),
        pytest.param("0123", Phone("0123", "invalid"), id="too-short"),
        pytest.param("0912345678; 0987654321", Phone("0912345678", "mobile"), id="two-numbers-first-used"),
    ],
)
def test_normalise_phone(raw: str, expected: Phone) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", [pytest.param(None, id="none"), pytest.param("không có", id="no-digits")])
def test_normalise_phone_empty(raw: str | None) -> None:
    assert normalise_phone(raw) is None
