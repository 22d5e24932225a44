"""Reading well-formed submissions: every official template, the shipped sample, and the real-world
variants a reader must accept (declarations, BOMs, the malformed xsi namespace, CDATA, wrapped base64,
the legacy QĐ 4210 layout, several HOSO per file). docs/xml130.md §2, §3, §8, §10."""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal

import pytest

from mpi.xml130 import FieldDef, Kind, PartialDateTime, Precision, field_table, parse_submission
from tests.builders import FIXTURES, SAMPLE, drug, envelope, inner_document, outpatient, summary, template_fields
from tests.xml130.files import b64, found, raw_envelope, summary_only

HIS_TABLES = [f"XML{n}" for n in range(1, 16) if n != 12]
MA_LK = "LK26000777"

# Plausible values for the fields whose shape matters (codes, keys, short fields). Everything else is
# generated from the field's kind and length. All invented.
NAMED: dict[str, str] = {
    "MA_LK": MA_LK, "STT": "1", "MA_BN": "BN000777", "HO_TEN": "LÊ VĂN THỬ", "HO_TEN_CHA": "LÊ VĂN CHA",
    "HO_TEN_ME": "PHẠM THỊ MẸ", "HO_TEN_NND": "PHẠM THỊ MẸ", "HO_TEN_CON": "LÊ THỊ CON",
    "SO_CCCD": "074190001234", "SO_CCCD_NND": "074195004321", "NGAY_SINH": "199005150000",
    "GIOI_TINH": "1", "GIOI_TINH_CON": "2", "NHOM_MAU": "O", "MA_QUOCTICH": "000", "MA_DANTOC": "01",
    "MA_DANTOC_NND": "01", "MA_NGHE_NGHIEP": "00000", "MATINH_CU_TRU": "74", "MAHUYEN_CU_TRU": "718",
    "MAXA_CU_TRU": "25741", "DIEN_THOAI": "0912000111", "MA_THE_BHYT": "DN4740123456789",
    "MA_THE_NND": "DN4740123456780", "MA_THE_TAM": "TE1740123456789", "MA_DKBD": "74001",
    "GT_THE_TU": "20260101", "GT_THE_DEN": "20261231", "MA_LY_DO_VNT": "J18", "MA_BENH_CHINH": "J18.9",
    "MA_BENH_KT": "R50.9;K30", "MA_BENH_YHCT": "U50.371", "MA_BENH": "J18.9", "MA_PTTT_QT": "96.04",
    "MA_DOITUONG_KCB": "1.1", "MA_NOI_DI": "74002", "MA_NOI_DEN": "79001", "MA_CSKCB": "74001",
    "MA_CSKCB_THUOC": "74001", "NOI_LAY_MAU_XN": "74001", "NOI_XN_KD": "74001", "NOI_BDDT_ARV": "74001",
    "MA_LOAI_KCB": "03", "MA_KHOA": "K18;K01", "MA_KHOA_RV": "K18", "MA_KHUVUC": "K1", "CAN_NANG": "52.00",
    "CAN_NANG_CON": "3200", "NGAY_TAI_KHAM": "20260315", "MA_TTDV": "7401234567", "MA_BHXH": "7401234560",
    "MA_BHXH_NND": "7401234561", "MA_CHA": "7401234562", "MA_ME": "7401234563", "MA_BS": "7401234564",
    "MA_BAC_SI": "000123/BD-CCHN", "NGUOI_THUC_HIEN": "000123/BD-CCHN", "MA_BS_DOC_KQ": "000456/BD-CCHN",
    "MA_DICH_VU": "02.1896", "MA_THUOC": "40.152", "MA_VAT_TU": "N03.05.070", "MA_NHOM": "4",
    "DUONG_DUNG": "1.01", "GOI_VTYT": "G1", "MA_GIUONG": "H001", "MA_XANG_DAU": "XD01",
    "MA_TINH_TRANG_DK": "1;2", "MA_XU_TRI": "1", "MAU_SO": "CT07", "NAM_QT": "2026", "THANG_QT": "3",
    "SO_NGAY_DTRI": "5", "TYLE_TT_BH": "100", "TYLE_TT_DV": "100", "MUC_HUONG": "80", "TUOI_THAI": "12",
    "SO_NGAY": "30", "SO_NGAY_NGHI": "5", "VI_TRI_TH_DVKT": "1", "SO_NGAY_CAP_THUOC_ARV": "30",
    "PHACDO_DTRI_LAO": "1", "NHOM_DOI_TUONG": "1", "SO_CON": "1", "LAN_SINH": "1", "SO_CON_SONG": "1",
    "SO_CONCHET": "0", "GIA_TRI": "128", "DON_VI_DO": "g/L", "TT_THAU": "57/QĐ-SYT;G1;N4;2025",
    "MA_MAY": "XQ.1.74001.1", "SO_LUONG": "1.000",
}
# Money in one drug line (XML2) and one service line (XML3), and the XML1 totals that add up.
MONEY: dict[str, dict[str, str]] = {
    "XML1": {
        "T_THUOC": "15000.00", "T_TONGCHI_BV": "65000.00", "T_TONGCHI_BH": "65000.00", "T_BNCCT": "13000.00",
        "T_BHTT": "52000.00",
    },
    "XML2": {
        "SO_LUONG": "10.000", "DON_GIA": "1500.000", "THANH_TIEN_BV": "15000.00", "THANH_TIEN_BH": "15000.00",
        "T_BNCCT": "3000.00", "T_BHTT": "12000.00",
    },
    "XML3": {
        "DON_GIA_BV": "50000.000", "DON_GIA_BH": "50000.000", "THANH_TIEN_BV": "50000.00",
        "THANH_TIEN_BH": "50000.00", "T_TRANTT": "50000.00", "T_BNCCT": "10000.00", "T_BHTT": "40000.00",
    },
}


def plausible(fdef: FieldDef) -> str:
    """A value of the right kind and length for ``fdef``."""
    value = MONEY.get(fdef.table, {}).get(fdef.name) or NAMED.get(fdef.name)
    if value is None:
        match fdef.kind:
            case Kind.DATETIME:
                value = "202603010815" if fdef.max_length == 12 else "20260301"
            case Kind.DECIMAL:
                value = "0.00"
            case Kind.INTEGER:
                value = "1"
            case _:
                # short code fields must be named above: a truncated word would not be plausible
                assert fdef.max_length is None or fdef.max_length >= 10, f"give {fdef.table}.{fdef.name} a value"
                value = f"Mẫu {fdef.name.lower()}"
    assert fdef.max_length is None or len(value) <= fdef.max_length, (fdef.name, value)
    return value


def filled(table: str) -> bytes:
    return inner_document(table, [{f.name: plausible(f) for f in field_table()[table]}])


def full_hoso() -> dict[str, bytes]:
    return {table: filled(table) for table in HIS_TABLES}


def test_every_official_template_filled_in_parses_clean() -> None:
    sub = parse_submission(envelope([full_hoso()]))
    assert found(sub) == []
    (enc,) = sub.encounters
    assert list(enc.tables) == HIS_TABLES
    assert (enc.ma_lk, enc.facility_code, enc.rejected) == (MA_LK, "74001", False)
    for table in HIS_TABLES:
        (row,) = enc.tables[table].rows
        assert list(row.values) == template_fields(table), table  # every field typed, in template order
        assert list(row.raw) == template_fields(table), table


def test_filled_values_are_typed_by_kind() -> None:
    (enc,) = parse_submission(envelope([full_hoso()])).encounters
    xml1 = enc.tables["XML1"].rows[0].values
    assert xml1["NGAY_SINH"] == PartialDateTime(datetime(1990, 5, 15), Precision.DAY, 12)
    assert xml1["NGAY_VAO"] == PartialDateTime(datetime(2026, 3, 1, 8, 15), Precision.MINUTE, 12)
    assert xml1["T_TONGCHI_BV"] == Decimal("65000.00")
    assert xml1["GIOI_TINH"] == 1
    assert xml1["MA_BENH_KT"] == ["R50.9", "K30"]
    assert xml1["MA_KHOA"] == ["K18", "K01"]
    assert xml1["MA_LOAI_KCB"] == "03"
    assert enc.tables["XML15"].rows[0].values["SO_CCCD"] == "074190001234"
    assert enc.tables["XML9"].rows[0].values["CAN_NANG_CON"] == Decimal(3200)


def test_shipped_synthetic_sample_parses_without_issues() -> None:
    sub = parse_submission(SAMPLE.read_bytes())
    assert found(sub) == []
    assert (sub.facility_code, sub.created_on, sub.declared_count, sub.signature_present) == (
        "79999", "20250310", 1, False
    )
    (enc,) = sub.encounters
    assert (enc.ma_lk, enc.facility_code) == ("SYN2025000001", "79999")
    assert list(enc.tables) == ["XML1", "XML2", "XML3", "XML4", "XML14"]


XSI_MALFORMED = (
    b'<TONG_HOP xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema instance">'
)


def _variant(name: str) -> dict[str, bytes]:
    hoso = outpatient()
    xml1 = hoso["XML1"]
    if name == "declaration":
        hoso["XML1"] = inner_document("XML1", [summary()], declaration=True)
    elif name == "bom":
        hoso["XML1"] = b"\xef\xbb\xbf" + xml1
    elif name == "bom+declaration":
        hoso["XML1"] = b"\xef\xbb\xbf" + inner_document("XML1", [summary()], declaration=True)
    elif name == "malformed-xsi":
        hoso["XML1"] = xml1.replace(b"<TONG_HOP>", XSI_MALFORMED)
    elif name == "malformed-xsi-on-list-table":
        hoso["XML2"] = hoso["XML2"].replace(
            b"<CHITIEU_CHITIET_THUOC>",
            b'<CHITIEU_CHITIET_THUOC xmlns:xsi="http://www.w3.org/2001/XMLSchema instance">',
        )
    elif name == "cdata":
        hoso["XML1"] = xml1.replace(
            "<CHAN_DOAN_RV>(J06.9) Nhiễm trùng hô hấp trên cấp</CHAN_DOAN_RV>".encode(),
            "<CHAN_DOAN_RV><![CDATA[(J06.9) Nhiễm trùng hô hấp trên cấp]]></CHAN_DOAN_RV>".encode(),
        )
    else:  # pragma: no cover
        raise AssertionError(name)
    assert hoso["XML1"] != xml1 or name.endswith("list-table")
    return hoso


@pytest.mark.parametrize(
    "variant",
    ["declaration", "bom", "bom+declaration", "malformed-xsi", "malformed-xsi-on-list-table", "cdata"],
)
def test_inner_document_variants_parse_clean(variant: str) -> None:
    sub = parse_submission(envelope([_variant(variant)]))
    assert found(sub) == []
    (enc,) = sub.encounters
    assert enc.ma_lk == "LK26000001"
    assert enc.tables["XML1"].rows[0].values["CHAN_DOAN_RV"] == "(J06.9) Nhiễm trùng hô hấp trên cấp"
    assert len(enc.tables["XML2"].rows) == 2


def test_malformed_xsi_is_accepted_after_an_unrelated_parse_error() -> None:
    """lxml's exception log also holds earlier parses' errors; only this document's own may decide."""
    assert found(parse_submission(b"<GIAMDINHHS><a>")) == [("error", "xml_syntax", "/")]
    assert found(parse_submission(envelope([_variant("malformed-xsi")]))) == []


def test_malformed_xsi_does_not_excuse_a_broken_document() -> None:
    xml1 = _variant("malformed-xsi")["XML1"][:-40]
    sub = parse_submission(envelope([{**outpatient(), "XML1": xml1}]))
    assert found(sub) == [("error", "xml_syntax", "HOSO[1]/XML1"), ("error", "xml1_missing", "HOSO[1]")]


def test_cdata_keeps_markup_characters_as_text() -> None:
    xml1 = inner_document("XML1", [summary(GHI_CHU="@")]).replace(
        b"<GHI_CHU>@</GHI_CHU>", "<GHI_CHU><![CDATA[Uống <2 lít> & nghỉ]]></GHI_CHU>".encode()
    )
    (enc,) = parse_submission(envelope([{**outpatient(), "XML1": xml1}])).encounters
    assert enc.tables["XML1"].rows[0].values["GHI_CHU"] == "Uống <2 lít> & nghỉ"
    assert enc.issues == []


def test_envelope_with_bom() -> None:
    sub = parse_submission(b"\xef\xbb\xbf" + envelope([outpatient()]))
    assert found(sub) == []
    assert sub.encounters[0].ma_lk == "LK26000001"


def test_base64_with_line_breaks() -> None:
    """MIME-style wrapping (76 columns, CRLF) and indentation are whitespace, not payload."""
    files = []
    for kind, content in outpatient().items():
        encoded = base64.encodebytes(content).decode().replace("\n", "\r\n    ")
        files.append((kind, encoded))
    assert "\r\n" in files[0][1]
    sub = parse_submission(raw_envelope([files]))
    assert found(sub) == []
    assert len(sub.encounters[0].tables["XML3"].rows) == 2


def test_chitieu_spellings_follow_the_templates() -> None:
    """XML2..XML5 roots are spelled CHITIEU_, XML6..XML15 CHI_TIEU_ (docs/xml130.md §2.3); each table takes its own."""
    hoso = outpatient()
    hoso["XML6"] = filled("XML6").replace(NAMED["MA_LK"].encode(), b"LK26000001")
    sub = parse_submission(envelope([hoso]))
    assert found(sub) == []
    assert hoso["XML2"].startswith(b"<CHITIEU_CHITIET_THUOC>")
    assert hoso["XML6"].startswith(b"<CHI_TIEU_HO_SO_BENH_AN")
    assert len(sub.encounters[0].tables["XML6"].rows) == 1


@pytest.mark.parametrize(
    ("table", "good", "bad"),
    [
        ("XML4", b"CHITIEU_CHITIET_DICHVUCANLAMSANG", b"CHI_TIEU_CHITIET_DICHVUCANLAMSANG"),
        ("XML6", b"CHI_TIEU_HO_SO_BENH_AN", b"CHITIEU_HO_SO_BENH_AN"),
    ],
)
def test_swapped_chitieu_spelling_is_the_wrong_root(table: str, good: bytes, bad: bytes) -> None:
    hoso = outpatient()
    hoso[table] = (hoso.get(table) or filled(table).replace(MA_LK.encode(), b"LK26000001")).replace(good, bad)
    sub = parse_submission(envelope([hoso]))
    assert found(sub) == [("error", "inner_root", f"HOSO[1]/{table}")]


# --- QĐ 4210 (docs/xml130.md §8) ------------------------------------------------------------------------

LEGACY_XML1 = {
    "MA_LK": "LK23000042", "STT": "1", "MA_BN": "BN004210", "HO_TEN": "ĐỖ VĂN CŨ", "NGAY_SINH": "19800101",
    "GIOI_TINH": "1", "DIA_CHI": "Thôn 2, xã Mẫu", "MA_THE": "HT3740123456789", "MA_DKBD": "74001",
    "GT_THE_TU": "20230101", "GT_THE_DEN": "20231231", "MIEN_CUNG_CT": "", "TEN_BENH": "Viêm họng cấp",
    "MA_BENH": "J02.9", "MA_BENHKHAC": "R50.9", "MA_LYDO_VVIEN": "1", "MA_NOI_CHUYEN": "74002",
    "MA_TAI_NAN": "", "NGAY_VAO": "202306010800", "NGAY_RA": "202306010900", "SO_NGAY_DTRI": "0",
    "KET_QUA_DTRI": "1", "TINH_TRANG_RV": "1", "NGAY_TTOAN": "202306010910", "T_THUOC": "27000",
    "T_VTYT": "0", "T_TONGCHI": "27000", "T_BNTT": "0", "T_BNCCT": "0", "T_BHTT": "27000", "T_NGUONKHAC": "0",
    "T_NGOAIDS": "0", "NAM_QT": "2023", "THANG_QT": "6", "MA_LOAI_KCB": "01", "MA_KHOA": "K01",
    "MA_CSKCB": "74001", "MA_KHUVUC": "", "MA_PTTT_QT": "", "CAN_NANG": "60",
}


def _legacy_xml1() -> bytes:
    body = "".join(f"<{k}>{v}</{k}>" for k, v in LEGACY_XML1.items())
    return f'<?xml version="1.0" encoding="utf-8"?><TONG_HOP>{body}</TONG_HOP>'.encode()


def _legacy_xml2() -> bytes:
    rows = []
    for stt, amount in ((1, "15000"), (2, "12000")):
        fields = {
            "MA_LK": "LK23000042", "STT": str(stt), "MA_THUOC": "40.152", "MA_NHOM": "4", "TEN_THUOC": "Paracetamol",
            "DON_VI_TINH": "Viên", "HAM_LUONG": "500mg", "DUONG_DUNG": "1.01", "LIEU_DUNG": "2 viên/ngày",
            "SO_DANG_KY": "VD-12345-20", "TT_THAU": "57/QĐ-SYT;G1;N4;2022", "PHAM_VI": "1", "TYLE_TT": "100",
            "SO_LUONG": "10", "DON_GIA": str(int(amount) // 10), "THANH_TIEN": amount, "MUC_HUONG": "100",
            "T_NGUONKHAC": "0", "T_BNTT": "0", "T_BHTT": amount, "T_BNCCT": "0", "T_NGOAIDS": "0",
            "MA_KHOA": "K01", "MA_BAC_SI": "7401234567", "MA_BENH": "J02.9", "NGAY_YL": "202306010815",
            "MA_PTTT": "1",
        }
        rows.append("<CHI_TIET_THUOC>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</CHI_TIET_THUOC>")
    body = "".join(rows)
    return f'<?xml version="1.0" encoding="utf-8"?><DSACH_CHI_TIET_THUOC>{body}</DSACH_CHI_TIET_THUOC>'.encode()


def test_legacy_4210_mapped_to_current_names() -> None:
    sub = parse_submission(envelope([{"XML1": _legacy_xml1(), "XML2": _legacy_xml2()}]))
    # MA_LYDO_VVIEN, T_NGOAIDS (XML1) and MA_BENH, T_NGOAIDS (XML2) have no 4750 counterpart: kept raw
    assert found(sub) == [
        ("warning", "legacy_4210", "HOSO[1]/XML1"),
        ("warning", "unknown_field", "HOSO[1]/XML1[1]/MA_LYDO_VVIEN"),
        ("warning", "unknown_field", "HOSO[1]/XML1[1]/T_NGOAIDS"),
        ("warning", "legacy_4210", "HOSO[1]/XML2"),
        ("warning", "unknown_field", "HOSO[1]/XML2[1]/T_NGOAIDS"),
        ("warning", "unknown_field", "HOSO[1]/XML2[1]/MA_BENH"),
        ("warning", "unknown_field", "HOSO[1]/XML2[2]/T_NGOAIDS"),
        ("warning", "unknown_field", "HOSO[1]/XML2[2]/MA_BENH"),
    ]
    (enc,) = sub.encounters
    assert not enc.rejected
    assert (enc.tables["XML1"].legacy, enc.tables["XML2"].legacy) == (True, True)
    xml1 = enc.tables["XML1"].rows[0]
    assert xml1.values["MA_THE_BHYT"] == ["HT3740123456789"]
    assert xml1.values["MA_BENH_CHINH"] == "J02.9"
    assert xml1.values["MA_BENH_KT"] == ["R50.9"]
    assert xml1.values["CHAN_DOAN_RV"] == "Viêm họng cấp"
    assert xml1.values["MA_NOI_DI"] == "74002"
    assert xml1.values["MA_LOAI_RV"] == 1
    assert xml1.values["T_TONGCHI_BV"] == Decimal(27000)
    assert xml1.values["NGAY_SINH"] == PartialDateTime(datetime(1980, 1, 1), Precision.DAY, 8)
    assert xml1.raw["MA_LYDO_VVIEN"] == "1"
    assert not {"MA_THE", "MA_BENH", "TEN_BENH", "T_TONGCHI"} & set(xml1.raw)
    drugs = enc.tables["XML2"].rows
    assert [(r.values["THANH_TIEN_BV"], r.values["TYLE_TT_BH"]) for r in drugs] == [
        (Decimal(15000), 100), (Decimal(12000), 100)
    ]


def test_legacy_xml2_without_chitieu_wrapper_alongside_a_current_xml1() -> None:
    hoso = {"XML1": inner_document("XML1", [summary("LK23000042", T_TONGCHI_BV="27000.00", T_TONGCHI_BH="0.00",
                                                   T_THUOC="27000.00", T_BNCCT="0.00", T_BHTT="27000.00")]),
            "XML2": _legacy_xml2()}
    sub = parse_submission(envelope([hoso]))
    assert found(sub) == [
        ("warning", "legacy_4210", "HOSO[1]/XML2"),
        ("warning", "unknown_field", "HOSO[1]/XML2[1]/T_NGOAIDS"),
        ("warning", "unknown_field", "HOSO[1]/XML2[1]/MA_BENH"),
        ("warning", "unknown_field", "HOSO[1]/XML2[2]/T_NGOAIDS"),
        ("warning", "unknown_field", "HOSO[1]/XML2[2]/MA_BENH"),
    ]
    assert sub.encounters[0].tables["XML1"].legacy is False


# --- tables the HIS does not normally send -----------------------------------------------------------------

XML12 = (
    "<CHI_TIEU_DU_LIEU_GIAM_DINH_Y_KHOA><NGUOI_CHU_TRI>BS. Hội đồng Mẫu</NGUOI_CHU_TRI><CHUC_VU>1</CHUC_VU>"
    "<NGAY_HOP>20260301</NGAY_HOP><HO_TEN>LÊ VĂN THỬ</HO_TEN><NGAY_SINH>19900515</NGAY_SINH>"
    "<TYLE_TTCT_MOI>31</TYLE_TTCT_MOI></CHI_TIEU_DU_LIEU_GIAM_DINH_Y_KHOA>"
).encode()


def test_xml12_accepted_with_a_warning() -> None:
    sub = parse_submission(envelope([{**outpatient(), "XML12": XML12}]))
    assert found(sub) == [("warning", "xml12_present", "HOSO[1]/XML12")]
    (enc,) = sub.encounters
    assert not enc.rejected
    assert enc.tables["XML12"].rows[0].values["TYLE_TTCT_MOI"] == 31


def test_unknown_loaihoso_kept_raw_with_a_warning() -> None:
    extra = b"<BANG_MOI><MA_LK>LK26000001</MA_LK></BANG_MOI>"
    sub = parse_submission(envelope([{**outpatient(), "XML16": extra}]))
    assert found(sub) == [("warning", "loaihoso_unknown", "HOSO[1]")]
    (enc,) = sub.encounters
    assert enc.unknown_tables == {"XML16": extra}
    assert "XML16" not in enc.tables
    assert not enc.rejected


def test_loaihoso_is_case_insensitive() -> None:
    hoso = {kind.lower(): content for kind, content in outpatient().items()}
    sub = parse_submission(envelope([hoso]))
    assert found(sub) == []
    assert list(sub.encounters[0].tables) == ["XML1", "XML2", "XML3", "XML4"]


def test_several_hoso_in_one_file() -> None:
    keys = ["LK26000001", "LK26000002", "LK26000003"]
    sub = parse_submission(envelope([outpatient(k) for k in keys[:2]] + [summary_only(keys[2])]))
    assert found(sub) == []
    assert sub.declared_count == 3
    assert [(e.hoso, e.ma_lk, list(e.tables)) for e in sub.encounters] == [
        (1, "LK26000001", ["XML1", "XML2", "XML3", "XML4"]),
        (2, "LK26000002", ["XML1", "XML2", "XML3", "XML4"]),
        (3, "LK26000003", ["XML1"]),
    ]
    assert len({e.content_sha256 for e in sub.encounters}) == 3


def test_same_content_hashes_alike() -> None:
    first = parse_submission(envelope([outpatient()]))
    again = parse_submission(envelope([outpatient()], ngaylap="20260302"))
    assert first.sha256 != again.sha256
    assert first.encounters[0].content_sha256 == again.encounters[0].content_sha256


def test_checkin_file_rejected() -> None:
    sub = parse_submission((FIXTURES / "SYNTHETIC_checkin_XML0.xml").read_bytes())
    assert found(sub) == [("error", "checkin_not_accepted", "/")]
    assert (sub.rejected, sub.encounters) == (True, [])


def test_xml0_inside_a_hoso_is_not_a_table() -> None:
    checkin = (FIXTURES / "SYNTHETIC_checkin_XML0.xml").read_bytes()
    sub = parse_submission(envelope([{**outpatient(), "XML0": checkin}]))
    assert found(sub) == [("warning", "loaihoso_unknown", "HOSO[1]")]


def test_rows_keep_the_raw_text_of_every_element() -> None:
    hoso = outpatient()
    hoso["XML2"] = inner_document("XML2", [{**drug("LK26000001", 1), "TRUONG_RIENG": "  giữ nguyên  "},
                                           drug("LK26000001", 2, "12000.00")])
    sub = parse_submission(envelope([hoso]))
    assert found(sub) == [("warning", "unknown_field", "HOSO[1]/XML2[1]/TRUONG_RIENG")]
    row = sub.encounters[0].tables["XML2"].rows[0]
    assert row.raw["TRUONG_RIENG"] == "  giữ nguyên  "
    assert row.raw["MA_PP_CHEBIEN"] == ""  # empty template element: raw, not typed
    assert "MA_PP_CHEBIEN" not in row.values
    assert sub.encounters[0].tables["XML2"].content == hoso["XML2"]


def test_b64_helper_round_trips() -> None:
    assert base64.b64decode(b64(b"<A/>")) == b"<A/>"
