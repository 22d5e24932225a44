"""normalise_record on XML1 field names, to_row for Arrow/DuckDB, and the public surface."""

import pyarrow as pa
import pytest

import linkage
from linkage import CanonicalRecord, PartialDate, normalise_record

RAW = {
    "HO_TEN": "NguyÔn ThÞ Mü Duyªn",
    "NGAY_SINH": "199002150000",
    "GIOI_TINH": "2",
    "SO_CCCD": "036190001234",
    "MA_THE_BHYT": "HC4363600012345;DN4363600012345",
    "DIEN_THOAI": "+84 168 234 5678",
    "MATINH_CU_TRU": "74",
    "MAHUYEN_CU_TRU": "718",
    "MAXA_CU_TRU": "25747",
    "DIA_CHI": "Tổ 3, khu phố Đông, P. Phú Hòa, TP. Thủ Dầu Một, Bình Dương",
    "MA_BN": "BN00012345",
    "MA_CSKCB": "74001",
}


def test_normalise_record_full_example() -> None:
    record = normalise_record(RAW)
    assert record == CanonicalRecord(
        name_full="NGUYỄN THỊ MỸ DUYÊN",
        name_ascii="NGUYEN THI MY DUYEN",
        name_key="NGUYEN THI MI DUYEN",
        family="NGUYỄN",
        middle="THỊ MỸ",
        middle_core="MỸ",
        given="DUYÊN",
        given_ascii="DUYEN",
        dob=PartialDate(1990, 2, 15),
        sex=2,
        national_id="036190001234",
        national_id_kind="CCCD",
        national_id_issues=(),
        bhxh_number="3600012345",
        insurance_prefix="DN",
        phone="0382345678",
        phone_kind="mobile",
        province_code="79",
        commune_code="25747",
        commune_split=False,
        address_text="TO 3 KHU PHO DONG P PHU HOA TP THU DAU MOT BINH DUONG",
        facility_code="74001",
        patient_code="BN00012345",
    )
    assert (record.dob_iso, record.dob_year, record.dob_precision) == ("1990-02-15", 1990, "day")


def test_normalise_record_empty_and_malformed_fields() -> None:
    record = normalise_record(
        {"HO_TEN": "", "NGAY_SINH": "19901315", "GIOI_TINH": "9", "SO_CCCD": None, "DIEN_THOAI": "  "}
    )
    assert record.to_row() == dict.fromkeys(record.to_row(), None) | {"commune_split": 0}


def test_to_row_is_flat_and_arrow_ready() -> None:
    record = normalise_record(RAW | {"SO_CCCD": "036085001234", "NGAY_SINH": "195600000000"})
    row = record.to_row()
    assert row["national_id_issues"] == "sex;birth_year"
    assert (row["dob_iso"], row["dob_year"], row["dob_month"], row["dob_day"], row["dob_precision"]) == (
        "1956",
        1956,
        None,
        None,
        "year",
    )
    assert all(value is None or type(value) in (str, int) for value in row.values())
    table = pa.Table.from_pylist([row, normalise_record({}).to_row()])
    assert table.num_rows == 2
    assert table.column_names == list(row)


@pytest.mark.parametrize("name", linkage.__all__)
def test_public_names_exist(name: str) -> None:
    assert getattr(linkage, name) is not None


def test_all_is_sorted_and_unique() -> None:
    # The order ruff's RUF022 keeps: constants first, then classes, then functions, each alphabetical.
    def kind(name: str) -> int:
        return 0 if name.isupper() else 1 if name[0].isupper() else 2

    assert list(linkage.__all__) == sorted(set(linkage.__all__), key=lambda name: (kind(name), name))
