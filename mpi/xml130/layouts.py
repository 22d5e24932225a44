"""Where the records sit inside each inner document (docs/xml130.md §2.3), for QĐ 4750 and the legacy QĐ 4210.

A layout is root / container / record. Single-record tables (XML1, XML7, XML8, ...) keep their fields
directly under the root. The legacy QĐ 4210 tables XML1..XML5 had no ``CHITIEU_`` wrapper and used some
other field names; :data:`LEGACY_RENAMES` maps them onto the current model so the store has one shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Layout:
    root: str
    container: str | None = None
    record: str | None = None
    """``None`` for single-record tables (the root is the record)."""
    legacy: bool = False

    @property
    def expected(self) -> str:
        return "/".join(p for p in (self.root, self.container, self.record) if p)


LAYOUTS: Final[dict[str, tuple[Layout, ...]]] = {
    "XML1": (Layout("TONG_HOP"),),
    "XML2": (
        Layout("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
        Layout("DSACH_CHI_TIET_THUOC", None, "CHI_TIET_THUOC", legacy=True),
    ),
    "XML3": (
        Layout("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
        Layout("DSACH_CHI_TIET_DVKT", None, "CHI_TIET_DVKT", legacy=True),
    ),
    "XML4": (
        Layout("CHITIEU_CHITIET_DICHVUCANLAMSANG", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
        Layout("DSACH_CHI_TIET_CLS", None, "CHI_TIET_CLS", legacy=True),
    ),
    "XML5": (
        Layout("CHITIEU_CHITIET_DIENBIENLAMSANG", "DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH"),
        Layout("DSACH_CHI_TIET_DIEN_BIEN_BENH", None, "CHI_TIET_DIEN_BIEN_BENH", legacy=True),
    ),
    "XML6": (
        Layout(
            "CHI_TIEU_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
            "DSACH_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
            "HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
        ),
    ),
    "XML7": (Layout("CHI_TIEU_DU_LIEU_GIAY_RA_VIEN"),),
    "XML8": (Layout("CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN"),),
    "XML9": (Layout("CHI_TIEU_DU_LIEU_GIAY_CHUNG_SINH", "DSACH_GIAYCHUNGSINH", "DU_LIEU_GIAY_CHUNG_SINH"),),
    "XML10": (Layout("CHI_TIEU_DU_LIEU_GIAY_NGHI_DUONG_THAI"),),
    "XML11": (Layout("CHI_TIEU_DU_LIEU_GIAY_CHUNG_NHAN_NGHI_VIEC_HUONG_BAO_HIEM_XA_HOI"),),
    # XML12 (medical assessment) is entered on the portal and has no official HIS template. Exports that
    # carry it anyway are accepted in either shape: a single record, or a list like the other tables.
    "XML12": (
        Layout("CHI_TIEU_DU_LIEU_GIAM_DINH_Y_KHOA"),
        Layout("CHI_TIEU_DU_LIEU_GIAM_DINH_Y_KHOA", "DSACH_GIAM_DINH_Y_KHOA", "DU_LIEU_GIAM_DINH_Y_KHOA"),
    ),
    "XML13": (Layout("CHI_TIEU_GIAYCHUYENTUYEN"),),
    "XML14": (Layout("CHI_TIEU_GIAYHEN_KHAMLAI"),),
    "XML15": (Layout("CHI_TIEU_DIEUTRI_BENHLAO", "DSACH_CHITIET_DIEUTRI_BENHLAO", "CHITIET_DIEUTRI_BENHLAO"),),
}

# QĐ 4210 tag -> QĐ 4750 tag (docs/xml130.md §8). Only names that changed; the rest are identical.
# MA_NOI_CHUYEN was the facility the patient was transferred from, today's MA_NOI_DI.
LEGACY_RENAMES: Final[dict[str, dict[str, str]]] = {
    "XML1": {
        "MA_THE": "MA_THE_BHYT",
        "MA_BENH": "MA_BENH_CHINH",
        "MA_BENHKHAC": "MA_BENH_KT",
        "TEN_BENH": "CHAN_DOAN_RV",
        "MIEN_CUNG_CT": "NGAY_MIEN_CCT",
        "MA_NOI_CHUYEN": "MA_NOI_DI",
        "TINH_TRANG_RV": "MA_LOAI_RV",
        "T_TONGCHI": "T_TONGCHI_BV",
    },
    "XML2": {"THANH_TIEN": "THANH_TIEN_BV", "TYLE_TT": "TYLE_TT_BH"},
    "XML3": {"DON_GIA": "DON_GIA_BV", "THANH_TIEN": "THANH_TIEN_BV", "TYLE_TT": "TYLE_TT_BH"},
    "XML4": {},
    "XML5": {"DIEN_BIEN": "DIEN_BIEN_LS", "NGAY_YL": "THOI_DIEM_DBLS"},
}

# Tags that only QĐ 4210 used in XML1: their presence marks a legacy summary table.
LEGACY_XML1_MARKERS: Final = frozenset({"MA_THE", "MA_BENH", "T_TONGCHI", "TEN_BENH"})
