"""Validation: every issue code of the catalogue, its severity, its path, and the compiler-style report.

Each case is one file and the exact list of (severity, code, path) the reader must report for it. A last
test checks that the cases together produce every code of ``RULES`` (except the ingest layer's own).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mpi.xml130 import Limits, parse_submission
from mpi.xml130.issues import RULES, Severity
from tests.builders import FIXTURES, drug, envelope, inner_document, lab, outpatient, service, summary
from tests.xml130.files import b64, found, raw_envelope, summary_only

# Produced outside the reader: ingest checks the submitter key against the facility.
INGEST_ONLY = {"facility_scope", "signature_invalid", "signature_rejected"}  # tests/signatures: ingest checks them

E, W = "error", "warning"
LK = "LK26000001"


@dataclass(frozen=True)
class Case:
    id: str
    data: bytes
    expected: list[tuple[str, str, str]]
    limits: Limits | None = None


def _hoso(**tables: bytes) -> dict[str, bytes]:
    return {**outpatient(), **tables}


def _xml1(**overrides: str) -> bytes:
    return inner_document("XML1", [summary(**overrides)])


def _appointment(**overrides: str) -> bytes:
    values = {
        "MA_LK": LK, "SO_GIAYHEN_KL": "GH26000001", "MA_CSKCB": "74001", "HO_TEN": "TRẦN THỊ MINH THƯ",
        "NGAY_SINH": "199005150000", "GIOI_TINH": "2", "NGAY_VAO": "202603010815", "NGAY_RA": "202603010930",
        "NGAY_HEN_KL": "202603150800", "MA_BENH_CHINH": "J06.9", "MA_DOITUONG_KCB": "1.1",
        "MA_BAC_SI": "000123/BD-CCHN", "MA_TTDV": "7401234567", "NGAY_CT": "20260301",
    }
    return inner_document("XML14", [{**values, **overrides}])


def _lab_doc(*, legacy: bool = False) -> bytes:
    """XML4 with one result; ``legacy``: the QĐ 4210 shape, without the CHITIEU_ wrapper."""
    doc = inner_document("XML4", [lab(LK, 1)])
    if legacy:
        doc = doc.replace(b"<CHITIEU_CHITIET_DICHVUCANLAMSANG>", b"")
        doc = doc.replace(b"</CHITIEU_CHITIET_DICHVUCANLAMSANG>", b"")
        assert doc.lstrip().startswith(b"<DSACH_CHI_TIET_CLS>")
    return doc


def _broken_hoso(ma_lk: str) -> dict[str, bytes]:
    return {**outpatient(ma_lk, NGAY_VAO="202613010815"), "XML4": b"<CHITIEU_CHITIET_DICHVUCANLAMSANG>"}


CHECKIN = (FIXTURES / "SYNTHETIC_checkin_XML0.xml").read_bytes()
GOOD = envelope([outpatient()])

CASES = [
    # --- whole file: errors ---
    Case("file_empty", b"", [(E, "file_empty", "/")]),
    Case("file_too_large", GOOD, [(E, "file_too_large", "/")], Limits(max_file_bytes=len(GOOD) - 1)),
    Case("file_encoding", GOOD.replace(b"74001", "7400É".encode("latin-1"), 1), [(E, "file_encoding", "/")]),
    Case(
        "dtd_forbidden",
        GOOD.replace(b"<GIAMDINHHS", b'<!DOCTYPE GIAMDINHHS [<!ENTITY x "y">]><GIAMDINHHS', 1),
        [(E, "dtd_forbidden", "/")],
    ),
    Case("xml_syntax", GOOD[: len(GOOD) // 2], [(E, "xml_syntax", "/")]),
    Case("wrong_root", b"<HOSO_KCB><MACSKCB>74001</MACSKCB></HOSO_KCB>", [(E, "wrong_root", "/")]),
    Case("checkin_not_accepted", CHECKIN, [(E, "checkin_not_accepted", "/")]),
    Case(
        "envelope_missing",
        b"<GIAMDINHHS><THONGTINDONVI><MACSKCB>74001</MACSKCB></THONGTINDONVI><CHUKYDONVI/></GIAMDINHHS>",
        [(E, "envelope_missing", "/")],
    ),
    Case("no_hoso", envelope([]), [(E, "no_hoso", "/")]),
    Case(
        "too_many_hoso",
        envelope([outpatient("LK26000001"), outpatient("LK26000002")]),
        [(E, "too_many_hoso", "/")],
        Limits(max_hoso_per_file=1),
    ),
    # --- envelope: warnings ---
    Case("soluonghoso_mismatch", envelope([outpatient()], declared=2), [(W, "soluonghoso_mismatch", "/")]),
    Case("soluonghoso_missing", envelope([outpatient()], declared=-1), [(W, "soluonghoso_mismatch", "/")]),
    Case("ngaylap_format", envelope([outpatient()], ngaylap="01/03/2026"), [(W, "ngaylap_format", "NGAYLAP")]),
    Case(
        "macskcb_mismatch",
        envelope([outpatient(facility="74002")]),
        [(W, "macskcb_mismatch", "HOSO[1]/XML1/MA_CSKCB")],
    ),
    Case(
        "facility_shape",
        envelope([outpatient(facility="7401")], facility="7401"),
        [(W, "facility_shape", "MACSKCB"), (W, "code_shape", "HOSO[1]/XML1[1]/MA_CSKCB")],
    ),
    Case("macskcb_missing", envelope([outpatient()], facility=None), [(W, "required_missing", "MACSKCB")]),
    # --- one HOSO ---
    Case(
        "loaihoso_missing",
        raw_envelope([[(k, b64(v)) for k, v in outpatient().items()] + [("", b64(b"<A/>"))]]),
        [(E, "loaihoso_missing", "HOSO[1]")],
    ),
    Case("loaihoso_unknown", envelope([_hoso(XML16=b"<X/>")]), [(W, "loaihoso_unknown", "HOSO[1]")]),
    Case(
        "table_duplicate",
        raw_envelope([[(k, b64(v)) for k, v in outpatient().items()] + [("XML4", b64(outpatient()["XML4"]))]]),
        [(E, "table_duplicate", "HOSO[1]/XML4")],
    ),
    Case(
        "base64_invalid",
        raw_envelope([[(k, b64(v)) for k, v in outpatient().items() if k != "XML4"] + [("XML4", "không*base64")]]),
        [(E, "base64_invalid", "HOSO[1]/XML4/NOIDUNGFILE")],
    ),
    Case(
        "base64_empty",
        raw_envelope([[(k, b64(v)) for k, v in outpatient().items() if k != "XML4"] + [("XML4", "")]]),
        [(E, "base64_invalid", "HOSO[1]/XML4/NOIDUNGFILE")],
    ),
    Case(
        "table_too_large",
        envelope([_hoso(XML4=inner_document("XML4", [lab(LK, n) for n in range(1, 40)]))]),
        [(E, "table_too_large", "HOSO[1]/XML4")],
        Limits(max_table_bytes=10_000),
    ),
    Case(
        "inner_encoding",
        envelope([_hoso(XML4=_lab_doc().replace(b"Hemoglobin", "Hémoglobine".encode("cp1258")))]),
        [(E, "inner_encoding", "HOSO[1]/XML4")],
    ),
    Case(
        "inner_xml_syntax",
        envelope([_hoso(XML4=_lab_doc()[:-30])]),
        [(E, "xml_syntax", "HOSO[1]/XML4")],
    ),
    Case(
        "inner_dtd_forbidden",
        envelope([_hoso(XML4=b"<!DOCTYPE X><CHITIEU_CHITIET_DICHVUCANLAMSANG/>")]),
        [(E, "dtd_forbidden", "HOSO[1]/XML4")],
    ),
    Case(
        "inner_root",
        envelope([_hoso(XML4=b"<CHI_TIET_CLS><MA_LK>LK26000001</MA_LK></CHI_TIET_CLS>")]),
        [(E, "inner_root", "HOSO[1]/XML4")],
    ),
    Case("inner_empty", envelope([_hoso(XML4=inner_document("XML4", []))]), [(W, "inner_empty", "HOSO[1]/XML4")]),
    Case("xml1_missing", envelope([{"XML4": _lab_doc()}]), [(E, "xml1_missing", "HOSO[1]")]),
    Case(
        "xml1_unreadable",
        envelope([_hoso(XML1=b"<TONG_HOP><MA_LK>LK26000001</MA_LK>")]),
        [(E, "xml_syntax", "HOSO[1]/XML1"), (E, "xml1_missing", "HOSO[1]")],
    ),
    Case(
        "xml12_present",
        envelope([_hoso(XML12=b"<CHI_TIEU_DU_LIEU_GIAM_DINH_Y_KHOA><NGAY_HOP>20260301</NGAY_HOP>"
                                b"</CHI_TIEU_DU_LIEU_GIAM_DINH_Y_KHOA>")]),
        [(W, "xml12_present", "HOSO[1]/XML12")],
    ),
    Case(
        "legacy_4210",
        envelope([_hoso(XML4=_lab_doc(legacy=True))]),
        [(W, "legacy_4210", "HOSO[1]/XML4")],
    ),
    # --- keys ---
    Case("ma_lk_missing", envelope([outpatient("")]), [(E, "ma_lk_missing", "HOSO[1]/XML1/MA_LK")]),
    Case(
        "ma_lk_mismatch",
        envelope([_hoso(XML2=inner_document("XML2", [drug(LK, 1), drug("LK26000009", 2, "12000.00")]))]),
        [(E, "ma_lk_mismatch", "HOSO[1]/XML2[2]/MA_LK")],
    ),
    Case(
        "ma_lk_missing_in_detail_row",
        envelope([_hoso(XML3=inner_document("XML3", [service(LK, 1), {**service(LK, 2), "MA_LK": ""}]))]),
        [(E, "ma_lk_mismatch", "HOSO[1]/XML3[2]/MA_LK")],
    ),
    Case(
        "ma_lk_too_long",
        envelope([summary_only("L" * 101)]),
        [(W, "too_long", "HOSO[1]/XML1[1]/MA_LK"), (E, "ma_lk_too_long", "HOSO[1]/XML1/MA_LK")],
    ),
    Case(
        "facility_missing",
        envelope([outpatient(facility="")], facility=None),
        [(W, "required_missing", "MACSKCB"), (E, "facility_missing", "HOSO[1]/XML1/MA_CSKCB")],
    ),
    Case(
        "facility_from_envelope",
        envelope([outpatient(facility="")]),
        [(W, "facility_from_envelope", "HOSO[1]/XML1/MA_CSKCB")],
    ),
    Case(
        "required_missing",
        envelope([_hoso(XML1=_xml1(HO_TEN=""))]),
        [(W, "required_missing", "HOSO[1]/XML1/HO_TEN")],
    ),
    # --- values ---
    Case(
        "date_mandatory_ngay_sinh",
        envelope([_hoso(XML1=_xml1(NGAY_SINH="199013150000"))]),
        [(E, "date_mandatory", "HOSO[1]/XML1[1]/NGAY_SINH")],
    ),
    Case(
        "date_mandatory_ngay_vao",
        envelope([_hoso(XML1=_xml1(NGAY_VAO="2026-03-01 08:15"))]),
        [(E, "date_mandatory", "HOSO[1]/XML1[1]/NGAY_VAO")],
    ),
    Case(
        "date_mandatory_ngay_ra_missing",
        envelope([_hoso(XML1=_xml1(NGAY_RA=""))]),
        [(E, "date_mandatory", "HOSO[1]/XML1[1]/NGAY_RA")],
    ),
    Case(
        "date_invalid",
        envelope([_hoso(XML1=_xml1(NGAY_TTOAN="202602300945"))]),
        [(W, "date_invalid", "HOSO[1]/XML1[1]/NGAY_TTOAN")],
    ),
    Case(
        "date_short_ngay_hen_kl",
        envelope([_hoso(XML14=_appointment(NGAY_HEN_KL="20260315"))]),
        [(W, "date_short", "HOSO[1]/XML14[1]/NGAY_HEN_KL")],
    ),
    Case(
        "not_number",
        envelope([_hoso(XML1=_xml1(T_TONGCHI_BV="127.000,00"))]),
        [(E, "not_number", "HOSO[1]/XML1[1]/T_TONGCHI_BV")],
    ),
    Case(
        "not_number_in_detail_line",
        envelope([_hoso(XML2=inner_document("XML2", [drug(LK, 1), {**drug(LK, 2, "12000.00"), "DON_GIA": "1.200đ"}]))]),
        [(E, "not_number", "HOSO[1]/XML2[2]/DON_GIA")],
    ),
    Case(
        "not_integer",
        envelope([_hoso(XML1=_xml1(GIOI_TINH="X"))]),
        [(E, "not_integer", "HOSO[1]/XML1[1]/GIOI_TINH")],
    ),
    Case(
        "undefined_literal",
        envelope([_hoso(XML4=inner_document("XML4", [{**lab(LK, 1), "MA_BS_DOC_KQ": "undefined"}]))]),
        [(W, "undefined_literal", "HOSO[1]/XML4[1]/MA_BS_DOC_KQ")],
    ),
    Case(
        "too_long",
        envelope([_hoso(XML1=_xml1(DIA_CHI="Thôn Mẫu " * 120))]),
        [(W, "too_long", "HOSO[1]/XML1[1]/DIA_CHI")],
    ),
    Case(
        "code_shape_nghe_nghiep_00",
        envelope([_hoso(XML1=_xml1(MA_NGHE_NGHIEP="00"))]),
        [(W, "code_shape", "HOSO[1]/XML1[1]/MA_NGHE_NGHIEP")],
    ),
    Case(
        "code_shape_card",
        envelope([_hoso(XML1=_xml1(MA_THE_BHYT="DN4740123456789;DN47401"))]),
        [(W, "code_shape", "HOSO[1]/XML1[1]/MA_THE_BHYT")],
    ),
    Case(
        "unknown_field",
        envelope([_hoso(XML1=_xml1(TRUONG_LA="giá trị"))]),
        [(W, "unknown_field", "HOSO[1]/XML1[1]/TRUONG_LA")],
    ),
    Case(
        "total_mismatch",
        envelope([_hoso(XML1=_xml1(T_TONGCHI_BV="130000.00"))]),
        [(W, "total_mismatch", "HOSO[1]/XML1/T_TONGCHI_BV")],
    ),
    Case(
        "total_within_tolerance",
        envelope([_hoso(XML1=_xml1(T_TONGCHI_BV="127001.00"))]),
        [],
    ),
    Case(
        "cccd_shape",
        envelope([_hoso(XML1=_xml1(SO_CCCD="07419000123"))]),
        [(W, "cccd_shape", "HOSO[1]/XML1[1]/SO_CCCD")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_reports_exactly(case: Case) -> None:
    assert found(parse_submission(case.data, limits=case.limits)) == case.expected


def test_every_catalogue_code_has_a_case() -> None:
    produced = {
        i.code for case in CASES for i in parse_submission(case.data, limits=case.limits).all_issues()
    }
    assert produced == set(RULES) - INGEST_ONLY


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("xml1_missing", Severity.ERROR), ("ma_lk_missing", Severity.ERROR), ("ma_lk_mismatch", Severity.ERROR),
        ("date_mandatory", Severity.ERROR), ("not_number", Severity.ERROR),
        ("date_short", Severity.WARNING), ("code_shape", Severity.WARNING), ("undefined_literal", Severity.WARNING),
        ("too_long", Severity.WARNING), ("macskcb_mismatch", Severity.WARNING),
        ("soluonghoso_mismatch", Severity.WARNING), ("total_mismatch", Severity.WARNING),
        ("cccd_shape", Severity.WARNING),
    ],
)
def test_severity_per_catalogue(code: str, severity: Severity) -> None:
    assert RULES[code].severity is severity


def test_catalogue_messages_fill_from_their_params() -> None:
    """Every case's issues render in both languages (no missing placeholder)."""
    for case in CASES:
        for i in parse_submission(case.data, limits=case.limits).all_issues():
            assert "{" not in i.message_vi + i.message_en, i.code


def test_compiler_style_reports_every_problem_of_one_encounter() -> None:
    xml1 = _xml1(SO_CCCD="12345", MA_NGHE_NGHIEP="00", NGAY_TTOAN="202613010945", GIOI_TINH="x", T_BHTT="1.00")
    sub = parse_submission(envelope([_hoso(XML1=xml1)]))
    assert found(sub) == [
        (W, "cccd_shape", "HOSO[1]/XML1[1]/SO_CCCD"),
        (E, "not_integer", "HOSO[1]/XML1[1]/GIOI_TINH"),
        (W, "code_shape", "HOSO[1]/XML1[1]/MA_NGHE_NGHIEP"),
        (W, "date_invalid", "HOSO[1]/XML1[1]/NGAY_TTOAN"),
        (W, "total_mismatch", "HOSO[1]/XML1/T_BHTT"),
    ]
    assert sub.encounters[0].rejected


def test_compiler_style_across_tables() -> None:
    hoso = _hoso(
        XML1=_xml1(NGAY_RA="abc"),
        XML2=inner_document("XML2", [drug(LK, 1), {**drug("LK-KHAC", 2, "12000.00"), "MA_BS_DOC_KQ": "x"}]),
        XML4=inner_document("XML4", [{**lab(LK, 1), "NGAY_KQ": "20260301"}]),
    )
    assert found(parse_submission(envelope([hoso]))) == [
        (E, "date_mandatory", "HOSO[1]/XML1[1]/NGAY_RA"),
        (W, "unknown_field", "HOSO[1]/XML2[2]/MA_BS_DOC_KQ"),
        (W, "date_short", "HOSO[1]/XML4[1]/NGAY_KQ"),
        (E, "ma_lk_mismatch", "HOSO[1]/XML2[2]/MA_LK"),
    ]


def test_a_bad_hoso_never_rejects_the_good_ones() -> None:
    sub = parse_submission(envelope([outpatient("LK26000001"), _broken_hoso("LK26000002"), outpatient("LK26000003")]))
    assert found(sub) == [
        (E, "date_mandatory", "HOSO[2]/XML1[1]/NGAY_VAO"),
        (E, "xml_syntax", "HOSO[2]/XML4"),
    ]
    assert [e.rejected for e in sub.encounters] == [False, True, False]
    assert [e.ma_lk for e in sub.encounters] == ["LK26000001", "LK26000002", "LK26000003"]
    assert sub.rejected is False  # the file itself is fine
    assert list(sub.encounters[2].tables) == ["XML1", "XML2", "XML3", "XML4"]


def test_a_bad_hoso_with_undecodable_tables_never_rejects_the_good_ones() -> None:
    good = [(k, b64(v)) for k, v in outpatient("LK26000001").items()]
    bad = [("XML1", "@@@"), ("XML2", b64(b"\xff\xfe"))]
    also_good = [(k, b64(v)) for k, v in outpatient("LK26000003").items()]
    sub = parse_submission(raw_envelope([good, bad, also_good]))
    assert found(sub) == [
        (E, "base64_invalid", "HOSO[2]/XML1/NOIDUNGFILE"),
        (E, "inner_encoding", "HOSO[2]/XML2"),
        (E, "xml1_missing", "HOSO[2]"),
    ]
    assert [e.rejected for e in sub.encounters] == [False, True, False]


SECRET_NAME = "NGUYỄN THỊ BÍ MẬT"
SECRET_CCCD = "BIMAT-0987654"
SECRET_ADDRESS = "Số 99 đường Kín Đáo " * 60


def test_messages_never_quote_patient_values() -> None:
    xml1 = _xml1(
        HO_TEN=SECRET_NAME, SO_CCCD=SECRET_CCCD, DIA_CHI=SECRET_ADDRESS, DIEN_THOAI="0987-654-321-000-99",
        NGAY_SINH="184501019999", MA_THE_BHYT="XX9990001112223", GIOI_TINH="Nữ", CAN_NANG="năm mươi",
        T_TONGCHI_BV="9.999.999",
    )
    sub = parse_submission(envelope([_hoso(XML1=xml1)]))
    assert found(sub) == [
        (W, "cccd_shape", "HOSO[1]/XML1[1]/SO_CCCD"),
        (E, "date_mandatory", "HOSO[1]/XML1[1]/NGAY_SINH"),
        (W, "too_long", "HOSO[1]/XML1[1]/GIOI_TINH"),
        (E, "not_integer", "HOSO[1]/XML1[1]/GIOI_TINH"),
        (W, "too_long", "HOSO[1]/XML1[1]/DIA_CHI"),
        (W, "too_long", "HOSO[1]/XML1[1]/DIEN_THOAI"),
        (W, "code_shape", "HOSO[1]/XML1[1]/MA_THE_BHYT"),
        (E, "not_number", "HOSO[1]/XML1[1]/T_TONGCHI_BV"),
        (W, "too_long", "HOSO[1]/XML1[1]/CAN_NANG"),
    ]
    text = " ".join(i.message_vi + " " + i.message_en + " " + i.path for i in sub.all_issues())
    for value in (SECRET_NAME, "BÍ MẬT", SECRET_CCCD, "Kín Đáo", "0987", "1845", "XX999", "Nữ", "năm mươi", "9.999"):
        assert value not in text
