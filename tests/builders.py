"""Build GIAMDINHHS files for tests from the official BHXH templates (tests/fixtures/templates_bhxh_4750).

Every person, code and amount here is invented.
"""

from __future__ import annotations

import base64
import copy
from decimal import Decimal
from functools import cache
from pathlib import Path

from lxml import etree

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATES = FIXTURES / "templates_bhxh_4750"
SAMPLE = FIXTURES / "SYNTHETIC_outpatient_GIAMDINHHS.xml"
RECORD_ELEMENTS = {
    "XML2": "CHI_TIET_THUOC",
    "XML3": "CHI_TIET_DVKT",
    "XML4": "CHI_TIET_CLS",
    "XML5": "CHI_TIET_DIEN_BIEN_BENH",
    "XML6": "HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
    "XML9": "DU_LIEU_GIAY_CHUNG_SINH",
    "XML15": "CHITIET_DIEUTRI_BENHLAO",
}


@cache
def _template(table: str) -> bytes:
    (path,) = TEMPLATES.glob(f"{table}_*.xml")
    return path.read_bytes()


def template_fields(table: str) -> list[str]:
    root = etree.fromstring(_template(table))
    record = root if table not in RECORD_ELEMENTS else root.find(f".//{RECORD_ELEMENTS[table]}")
    return [child.tag for child in record]


def inner_document(table: str, records: list[dict[str, str]], *, declaration: bool = False) -> bytes:
    """The official template of ``table`` with one record per dict (fields not given stay empty)."""
    root = etree.fromstring(_template(table))
    if table in RECORD_ELEMENTS:
        protos = root.findall(f".//{RECORD_ELEMENTS[table]}")  # templates show two records
        proto, parent = protos[0], protos[0].getparent()
        for element in protos:
            parent.remove(element)
        targets = []
        for _ in records:
            element = copy.deepcopy(proto)
            parent.append(element)
            targets.append(element)
    else:
        assert len(records) == 1, f"{table} holds a single record"
        targets = [root]
    for element, values in zip(targets, records, strict=True):
        known = {child.tag: child for child in element}
        for name, value in values.items():
            if name not in known:
                known[name] = etree.SubElement(element, name)
            known[name].text = value
    return etree.tostring(root, encoding="utf-8", xml_declaration=declaration)


def envelope(
    hosos: list[dict[str, bytes]],
    *,
    facility: str | None = "74001",
    ngaylap: str = "20260301",
    declared: int | None = None,
) -> bytes:
    """A GIAMDINHHS file holding the given HOSOs ({LOAIHOSO: inner document bytes})."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<GIAMDINHHS xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
    ]
    parts.append(f"<THONGTINDONVI><MACSKCB>{facility or ''}</MACSKCB></THONGTINDONVI>")
    count = len(hosos) if declared is None else declared
    parts.append(f"<THONGTINHOSO><NGAYLAP>{ngaylap}</NGAYLAP><SOLUONGHOSO>{count}</SOLUONGHOSO><DANHSACHHOSO>")
    for hoso in hosos:
        parts.append("<HOSO>")
        for kind, content in hoso.items():
            encoded = base64.b64encode(content).decode()
            parts.append(f"<FILEHOSO><LOAIHOSO>{kind}</LOAIHOSO><NOIDUNGFILE>{encoded}</NOIDUNGFILE></FILEHOSO>")
        parts.append("</HOSO>")
    parts.append("</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI/></GIAMDINHHS>")
    return "".join(parts).encode()


def summary(ma_lk: str = "LK26000001", facility: str = "74001", **overrides: str) -> dict[str, str]:
    values = {
        "MA_LK": ma_lk,
        "STT": "1",
        "MA_BN": "BN000123",
        "HO_TEN": "TRẦN THỊ MINH THƯ",
        "SO_CCCD": "074190001234",
        "NGAY_SINH": "199005150000",
        "GIOI_TINH": "2",
        "MA_QUOCTICH": "000",
        "MA_DANTOC": "01",
        "MA_NGHE_NGHIEP": "00000",
        "DIA_CHI": "Tổ 3, phường Phú Cường",
        "MATINH_CU_TRU": "74",
        "MAXA_CU_TRU": "25741",
        "DIEN_THOAI": "0912000111",
        "MA_THE_BHYT": "DN4740123456789",
        "MA_DKBD": "74001",
        "GT_THE_TU": "20260101",
        "GT_THE_DEN": "20261231",
        "LY_DO_VV": "Ho, sốt",
        "CHAN_DOAN_RV": "(J06.9) Nhiễm trùng hô hấp trên cấp",
        "MA_BENH_CHINH": "J06.9",
        "MA_BENH_KT": "R50.9;K30",
        "MA_DOITUONG_KCB": "1.1",
        "NGAY_VAO": "202603010815",
        "NGAY_RA": "202603010930",
        "SO_NGAY_DTRI": "0",
        "KET_QUA_DTRI": "1",
        "MA_LOAI_RV": "1",
        "NGAY_TTOAN": "202603010945",
        "T_THUOC": "27000.00",
        "T_VTYT": "0.00",
        "T_TONGCHI_BV": "127000.00",
        "T_TONGCHI_BH": "127000.00",
        "T_BNTT": "0.00",
        "T_BNCCT": "25400.00",
        "T_BHTT": "101600.00",
        "T_NGUONKHAC": "0.00",
        "T_BHTT_GDV": "0.00",
        "NAM_QT": "2026",
        "THANG_QT": "3",
        "MA_LOAI_KCB": "01",
        "MA_KHOA": "K01",
        "MA_CSKCB": facility,
        "MA_KHUVUC": "",
        "CAN_NANG": "52.00",
        "MA_HSBA": "HS26000001",
        "MA_TTDV": "7401234567",
    }
    values.update(overrides)
    return values


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def drug(ma_lk: str, stt: int, amount: str = "15000.00") -> dict[str, str]:
    a = Decimal(amount)
    return {
        "MA_LK": ma_lk,
        "STT": str(stt),
        "MA_THUOC": "40.152",
        "MA_NHOM": "4",
        "TEN_THUOC": "Paracetamol",
        "DON_VI_TINH": "Viên",
        "HAM_LUONG": "500mg",
        "DUONG_DUNG": "1.01",
        "LIEU_DUNG": "1 viên/lần * 2 lần/ngày * 5 ngày",
        "SO_DANG_KY": "VD-12345-20",
        "TT_THAU": "57/QĐ-SYT;G1;N4;2025",
        "PHAM_VI": "1",
        "TYLE_TT_BH": "100",
        "SO_LUONG": "10.000",
        "DON_GIA": _money(a / 10),
        "THANH_TIEN_BV": _money(a),
        "THANH_TIEN_BH": _money(a),
        "T_NGUONKHAC": "0.00",
        "MUC_HUONG": "80",
        "T_BNTT": "0.00",
        "T_BNCCT": _money(a * Decimal("0.2")),
        "T_BHTT": _money(a * Decimal("0.8")),
        "MA_KHOA": "K01",
        "MA_BAC_SI": "000123/BD-CCHN",
        "NGAY_YL": "202603010830",
        "NGAY_TH_YL": "202603010840",
        "MA_PTTT": "1",
        "NGUON_CTRA": "1",
    }


def service(ma_lk: str, stt: int, amount: str = "50000.00", code: str = "22.0120.1369") -> dict[str, str]:
    a = Decimal(amount)
    return {
        "MA_LK": ma_lk,
        "STT": str(stt),
        "MA_DICH_VU": code,
        "MA_NHOM": "3",
        "TEN_DICH_VU": "Tổng phân tích tế bào máu",
        "DON_VI_TINH": "Lần",
        "PHAM_VI": "1",
        "SO_LUONG": "1",
        "DON_GIA_BV": _money(a),
        "DON_GIA_BH": _money(a),
        "TYLE_TT_DV": "100",
        "TYLE_TT_BH": "100",
        "THANH_TIEN_BV": _money(a),
        "THANH_TIEN_BH": _money(a),
        "MUC_HUONG": "80",
        "T_BNTT": "0.00",
        "T_BNCCT": _money(a * Decimal("0.2")),
        "T_BHTT": _money(a * Decimal("0.8")),
        "MA_KHOA": "K01",
        "MA_BAC_SI": "000123/BD-CCHN",
        "NGAY_YL": "202603010830",
        "NGAY_KQ": "202603010900",
        "MA_PTTT": "1",
    }


def lab(ma_lk: str, stt: int) -> dict[str, str]:
    return {
        "MA_LK": ma_lk,
        "STT": str(stt),
        "MA_DICH_VU": "22.0120.1369",
        "MA_CHI_SO": "H17",
        "TEN_CHI_SO": "Hemoglobin",
        "GIA_TRI": "128",
        "DON_VI_DO": "g/L",
        "NGAY_KQ": "202603010900",
        "MA_BS_DOC_KQ": "000456/BD-CCHN",
    }


def outpatient(ma_lk: str = "LK26000001", facility: str = "74001", **overrides: str) -> dict[str, bytes]:
    """A consistent outpatient visit: XML1 + two drugs + two services + one lab result."""
    return {
        "XML1": inner_document("XML1", [summary(ma_lk, facility, **overrides)]),
        "XML2": inner_document("XML2", [drug(ma_lk, 1, "15000.00"), drug(ma_lk, 2, "12000.00")]),
        "XML3": inner_document("XML3", [service(ma_lk, 1, "50000.00", "02.1896"), service(ma_lk, 2, "50000.00")]),
        "XML4": inner_document("XML4", [lab(ma_lk, 1)]),
    }


def hiv_visit(ma_lk: str, facility: str = "74002", **overrides: str) -> dict[str, bytes]:
    """An outpatient HIV visit (ICD-10 B24, with the XML6 HIV care table) of the person of :func:`summary`."""
    fields = {"MA_BENH_CHINH": "B24", "MA_BENH_KT": "", "CHAN_DOAN_RV": "(B24) HIV"} | overrides
    visit = outpatient(ma_lk, facility, **fields)
    visit["XML6"] = inner_document("XML6", [{"MA_LK": ma_lk, "NGAYKD_HIV": "20250101"}])
    return visit


def codes(issues: list[object]) -> list[str]:
    return sorted(getattr(i, "code", None) or i["code"] for i in issues)  # type: ignore[index]
