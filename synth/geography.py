"""Administrative units of the synthetic province, before and after the 1 July 2025 reform.

The province is the post-2025 Tỉnh Hưng Yên (code 33), which absorbed Tỉnh Thái Bình (old code 34).
``data/admin_units_hung_yen.csv`` lists every pre-2025 commune of both old provinces with its old district
and the post-2025 commune it became (real public codes; derived from the MIT-licensed dataset of the PyPI
package ``vietnamadminunits`` 1.0.4, see README.md). Post-2025 records leave the district empty.
This module only describes places; it never draws random values.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROVINCE_CODE = "33"
PROVINCE_NAME = "Tỉnh Hưng Yên"

# The 63 pre-2025 provinces (code -> short name). Used for CCCD birth-registration codes (3 digits, "0"+code).
LEGACY_PROVINCES: dict[str, str] = {
    "01": "Hà Nội",
    "02": "Hà Giang",
    "04": "Cao Bằng",
    "06": "Bắc Kạn",
    "08": "Tuyên Quang",
    "10": "Lào Cai",
    "11": "Điện Biên",
    "12": "Lai Châu",
    "14": "Sơn La",
    "15": "Yên Bái",
    "17": "Hòa Bình",
    "19": "Thái Nguyên",
    "20": "Lạng Sơn",
    "22": "Quảng Ninh",
    "24": "Bắc Giang",
    "25": "Phú Thọ",
    "26": "Vĩnh Phúc",
    "27": "Bắc Ninh",
    "30": "Hải Dương",
    "31": "Hải Phòng",
    "33": "Hưng Yên",
    "34": "Thái Bình",
    "35": "Hà Nam",
    "36": "Nam Định",
    "37": "Ninh Bình",
    "38": "Thanh Hóa",
    "40": "Nghệ An",
    "42": "Hà Tĩnh",
    "44": "Quảng Bình",
    "45": "Quảng Trị",
    "46": "Huế",
    "48": "Đà Nẵng",
    "49": "Quảng Nam",
    "51": "Quảng Ngãi",
    "52": "Bình Định",
    "54": "Phú Yên",
    "56": "Khánh Hòa",
    "58": "Ninh Thuận",
    "60": "Bình Thuận",
    "62": "Kon Tum",
    "64": "Gia Lai",
    "66": "Đắk Lắk",
    "67": "Đắk Nông",
    "68": "Lâm Đồng",
    "70": "Bình Phước",
    "72": "Tây Ninh",
    "74": "Bình Dương",
    "75": "Đồng Nai",
    "77": "Bà Rịa - Vũng Tàu",
    "79": "Hồ Chí Minh",
    "80": "Long An",
    "82": "Tiền Giang",
    "83": "Bến Tre",
    "84": "Trà Vinh",
    "86": "Vĩnh Long",
    "87": "Đồng Tháp",
    "89": "An Giang",
    "91": "Kiên Giang",
    "92": "Cần Thơ",
    "93": "Hậu Giang",
    "94": "Sóc Trăng",
    "95": "Bạc Liêu",
    "96": "Cà Mau",
}

_STREETS = (
    "Nguyễn Văn Linh",
    "Trần Hưng Đạo",
    "Lê Lợi",
    "Điện Biên",
    "Hai Bà Trưng",
    "Phạm Ngũ Lão",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Bạch Đằng",
    "Chu Mạnh Trinh",
    "Nguyễn Thiện Thuật",
    "Tô Hiệu",
    "Lê Quý Đôn",
    "Kỳ Đồng",
)


@dataclass(frozen=True, slots=True)
class Commune:
    """One pre-2025 commune and the post-2025 commune it belongs to."""

    old_province_code: str
    old_province_name: str
    old_district_code: str
    old_district_name: str
    old_code: str
    old_name: str
    new_code: str
    new_name: str

    @property
    def is_urban(self) -> bool:
        return self.new_name.startswith("Phường")


@dataclass(frozen=True, slots=True)
class Address:
    """A residence: house/hamlet detail plus the commune. Renders in new or pre-2025 units."""

    detail: str
    commune: Commune

    def text(self, *, legacy: bool) -> str:
        c = self.commune
        if legacy:
            return f"{self.detail}, {c.old_name}, {c.old_district_name}, {c.old_province_name}"
        return f"{self.detail}, {c.new_name}, {PROVINCE_NAME}"

    def codes(self, *, legacy: bool) -> tuple[str, str, str]:
        """(MATINH_CU_TRU, MAHUYEN_CU_TRU, MAXA_CU_TRU)."""
        c = self.commune
        if legacy:
            return c.old_province_code, c.old_district_code, c.old_code
        return PROVINCE_CODE, "", c.new_code


@cache
def communes() -> tuple[Commune, ...]:
    path = Path(__file__).parent / "data" / "admin_units_hung_yen.csv"
    with path.open(encoding="utf-8", newline="") as f:
        return tuple(
            Commune(
                old_province_code=r["old_province_code"],
                old_province_name=r["old_province_name"],
                old_district_code=r["old_district_code"],
                old_district_name=r["old_district_name"],
                old_code=r["old_ward_code"],
                old_name=r["old_ward_name"],
                new_code=r["new_ward_code"],
                new_name=r["new_ward_name"],
            )
            for r in csv.DictReader(f)
        )


@cache
def old_districts() -> tuple[str, ...]:
    return tuple(sorted({c.old_district_code for c in communes()}))


@cache
def new_commune_codes() -> tuple[str, ...]:
    return tuple(sorted({c.new_code for c in communes()}))


def address_detail(index: int, *, urban: bool, street_pick: int) -> str:
    """A house number on a street (urban) or a hamlet (rural); synthetic, derived from two integers."""
    if urban:
        return f"Số {index % 180 + 1} đường {_STREETS[street_pick % len(_STREETS)]}"
    return f"Thôn {street_pick % 12 + 1}"
