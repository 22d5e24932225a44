"""Labels of the code sets a clinician reads on a timeline (SPEC §5), in one place."""

from __future__ import annotations

from typing import Final

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
