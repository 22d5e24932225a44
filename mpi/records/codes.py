"""Labels of the code sets a clinician reads on a timeline (docs/xml130.md §5), in one place."""

from __future__ import annotations

import re
from functools import cache
from typing import Final

from mpi.xml130.fields import field_table

ENCOUNTER_TYPES: Final[dict[str, str]] = {
    "01": "Khám bệnh",
    "02": "Điều trị ngoại trú",
    "03": "Điều trị nội trú",
    "04": "Điều trị nội trú ban ngày",
    "05": "Ngoại trú bệnh mạn tính dài ngày có khám và lĩnh thuốc",
    "06": "Điều trị lưu tại TYT xã / PKĐKKV",
    "07": "Nhận thuốc theo hẹn (không khám)",
    "08": "Ngoại trú bệnh mạn tính có KCB, DVKT và/hoặc thuốc",
    "09": "Điều trị nội trú dưới 04 giờ",
    "10": "Các trường hợp khác",
}
"""MA_LOAI_KCB."""

OUTCOMES: Final[dict[int, str]] = {
    1: "Khỏi",
    2: "Đỡ",
    3: "Không thay đổi",
    4: "Nặng hơn",
    5: "Tử vong",
    6: "Tiên lượng nặng xin về",
    7: "Chưa xác định",
    8: "Tử vong ngoại viện",
}
"""KET_QUA_DTRI."""

DISCHARGE_TYPES: Final[dict[int, str]] = {
    1: "Ra viện",
    2: "Chuyển tuyến theo yêu cầu chuyên môn",
    3: "Trốn viện",
    4: "Xin ra viện",
    5: "Chuyển tuyến theo yêu cầu người bệnh",
}
"""MA_LOAI_RV."""

REFERRAL_REASONS: Final[dict[int, str]] = {
    1: "Đủ điều kiện chuyển tuyến",
    2: "Vượt quá khả năng chuyên môn",
    3: "Theo yêu cầu người bệnh / người đại diện",
}
"""XML13 MA_LYDO_CT."""


def label(table: dict[int, str] | dict[str, str], code: object) -> str | None:
    return table.get(code) if code is not None else None  # type: ignore[call-overload]


SEX: Final[dict[int, str]] = {1: "Nam", 2: "Nữ", 3: "Chưa xác định"}
"""GIOI_TINH (the field table: "1: Nam; 2: Nữ; 3: Chưa xác định")."""

ROUTE_GROUPS: Final[dict[str, str]] = {
    "1": "Đường uống",
    "2": "Đường tiêm, truyền",
    "3": "Dùng ngoài",
    "4": "Đường đặt, thụt",
    "5": "Đường hô hấp",
    "6": "Đường nhỏ",
}
"""DUONG_DUNG: the group (digit before the dot) of the common code list's route codes."""

ROUTES: Final[dict[str, str]] = {
    "1.01": "Uống",
    "1.02": "Ngậm",
    "1.03": "Nhai",
    "1.04": "Đặt dưới lưỡi",
    "2.01": "Tiêm bắp",
    "2.02": "Tiêm dưới da",
    "2.03": "Tiêm trong da",
    "2.04": "Tiêm tĩnh mạch",
    "2.05": "Tiêm truyền tĩnh mạch",
    "2.10": "Tiêm",
    "2.15": "Tiêm truyền",
    "3.01": "Bôi",
    "3.02": "Xoa ngoài",
    "3.03": "Dán trên da",
    "3.05": "Dùng ngoài",
    "4.01": "Đặt âm đạo",
    "4.02": "Đặt hậu môn",
    "5.01": "Phun mù",
    "5.02": "Hít",
    "5.05": "Khí dung",
}
"""DUONG_DUNG codes commonly sent (a curated subset of the common code list); others show their group."""


def route_label(code: str | None) -> str | None:
    """``1.01`` → ``Uống``; an unknown code of a known group → the group's name; else None."""
    if not code:
        return None
    code = code.strip()
    return ROUTES.get(code) or ROUTE_GROUPS.get(code.split(".", 1)[0])


_MA_CODE = re.compile(r'Mã\s*"([^"]+)"\s*:\s*([^;\n]+)')
_INLINE = re.compile(r"\((\d+\s*:[^)]*)\)")
_SAME_AS = re.compile(r"Sử dụng thông tin tại trường (\w+) trong Bảng 1")


@cache
def field_code_labels(table: str, name: str) -> dict[str, str]:
    """The code list the official field table states for a field (``Mã "1": ...`` items, or ``(1: Nam; 2: Nữ)``),
    corrections of the QĐ 4750 amendment applied; a field "using the information of field X in table 1"
    takes XML1's list. Empty when the table states none (the code list is then an external catalogue)."""
    field = next((f for f in field_table().get(table, ()) if f.name == name), None)
    if field is None:
        return {}
    texts = [field.description, field.amendment]
    for text in texts:
        same = _SAME_AS.search(text or "")
        if same and table != "XML1":
            return field_code_labels("XML1", same.group(1))
    labels: dict[str, str] = {}
    for text in texts:
        for code, label in _MA_CODE.findall(text or ""):
            labels[code.strip()] = label.strip().rstrip(".,").strip()
        for inline in _INLINE.findall(text or ""):
            for part in inline.split(";"):
                code, _, label = part.partition(":")
                if code.strip().isdigit() and label.strip():
                    labels[code.strip()] = label.strip()
    return labels
