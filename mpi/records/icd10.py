"""Vietnamese names of ICD-10 codes for pages: a curated subset, not the full classification.

The full Vietnamese ICD-10 (Bộ Y tế, QĐ 4469/QĐ-BYT 2020) is not shipped with this repository. What is here:
the 22 chapters with their Vietnamese titles (every code gets at least its chapter), and the three-character
categories and codes common in primary and secondary care. :func:`icd10_label` answers the most specific
name it has; a page shows the code beside it, so nothing is hidden when only the chapter is known.
"""

from __future__ import annotations

from typing import Final

from mpi.records.sensitivity import icd_key

CHAPTERS: Final[tuple[tuple[str, str, str], ...]] = (
    ("A00", "B99", "Bệnh nhiễm trùng và ký sinh trùng"),
    ("C00", "D48", "Khối u"),
    ("D50", "D89", "Bệnh của máu, cơ quan tạo máu và rối loạn miễn dịch"),
    ("E00", "E90", "Bệnh nội tiết, dinh dưỡng và chuyển hóa"),
    ("F00", "F99", "Rối loạn tâm thần và hành vi"),
    ("G00", "G99", "Bệnh của hệ thần kinh"),
    ("H00", "H59", "Bệnh mắt và phần phụ"),
    ("H60", "H95", "Bệnh của tai và xương chũm"),
    ("I00", "I99", "Bệnh của hệ tuần hoàn"),
    ("J00", "J99", "Bệnh của hệ hô hấp"),
    ("K00", "K93", "Bệnh của hệ tiêu hóa"),
    ("L00", "L99", "Bệnh của da và mô dưới da"),
    ("M00", "M99", "Bệnh của hệ cơ, xương, khớp và mô liên kết"),
    ("N00", "N99", "Bệnh của hệ tiết niệu, sinh dục"),
    ("O00", "O99", "Chửa, đẻ và sau đẻ"),
    ("P00", "P96", "Một số bệnh lý xuất phát trong thời kỳ chu sinh"),
    ("Q00", "Q99", "Dị tật bẩm sinh, biến dạng và bất thường nhiễm sắc thể"),
    ("R00", "R99", "Triệu chứng, dấu hiệu và bất thường lâm sàng, cận lâm sàng"),
    ("S00", "T98", "Vết thương, ngộ độc và hậu quả của nguyên nhân bên ngoài"),
    ("V01", "Y98", "Nguyên nhân bên ngoài của bệnh và tử vong"),
    ("Z00", "Z99", "Yếu tố ảnh hưởng sức khỏe và tiếp xúc dịch vụ y tế"),
    ("U00", "U99", "Mã dành cho mục đích đặc biệt"),
)

NAMES: Final[dict[str, str]] = {
    "A09": "Tiêu chảy và viêm dạ dày ruột do nhiễm trùng",
    "A15": "Lao hô hấp, có xác nhận vi khuẩn học và mô học",
    "A150": "Lao phổi, xác nhận bằng soi đờm",
    "A16": "Lao hô hấp, không xác nhận vi khuẩn học hoặc mô học",
    "A90": "Sốt Dengue [sốt xuất huyết cổ điển]",
    "A91": "Sốt xuất huyết Dengue",
    "B01": "Thủy đậu",
    "B019": "Thủy đậu không biến chứng",
    "B05": "Sởi",
    "B059": "Sởi không biến chứng",
    "B08": "Nhiễm virus khác đặc trưng bởi tổn thương da và niêm mạc, chưa được phân loại ở phần khác",
    "B084": "Viêm miệng có mụn nước do virus đường ruột kèm phát ban (bệnh tay chân miệng)",
    "B20": "Bệnh do HIV dẫn đến bệnh nhiễm trùng và ký sinh trùng",
    "B24": "Bệnh do HIV không đặc hiệu",
    "E11": "Bệnh đái tháo đường type 2",
    "E119": "Bệnh đái tháo đường type 2 không biến chứng",
    "E78": "Rối loạn chuyển hóa lipoprotein và tăng lipid máu khác",
    "E785": "Tăng lipid máu, không đặc hiệu",
    "F32": "Giai đoạn trầm cảm",
    "F329": "Giai đoạn trầm cảm, không đặc hiệu",
    "H10": "Viêm kết mạc",
    "H109": "Viêm kết mạc, không đặc hiệu",
    "H521": "Cận thị",
    "I10": "Bệnh lý tăng huyết áp vô căn (nguyên phát)",
    "I25": "Bệnh tim thiếu máu cục bộ mạn",
    "I259": "Bệnh tim thiếu máu cục bộ mạn, không đặc hiệu",
    "I50": "Suy tim",
    "I509": "Suy tim, không đặc hiệu",
    "I63": "Nhồi máu não",
    "I639": "Nhồi máu não, không đặc hiệu",
    "J00": "Viêm mũi họng cấp [cảm thường]",
    "J02": "Viêm họng cấp",
    "J029": "Viêm họng cấp, không đặc hiệu",
    "J03": "Viêm amidan cấp",
    "J039": "Viêm amidan cấp, không đặc hiệu",
    "J06": "Nhiễm trùng đường hô hấp trên cấp ở nhiều vị trí và vị trí không xác định",
    "J069": "Nhiễm trùng đường hô hấp trên cấp, không đặc hiệu",
    "J11": "Cúm, virus không được định danh",
    "J111": "Cúm có biểu hiện hô hấp khác, virus không được định danh",
    "J18": "Viêm phổi, tác nhân không xác định",
    "J189": "Viêm phổi, không đặc hiệu",
    "J20": "Viêm phế quản cấp",
    "J209": "Viêm phế quản cấp, không đặc hiệu",
    "J44": "Bệnh phổi tắc nghẽn mạn tính khác",
    "J449": "Bệnh phổi tắc nghẽn mạn tính, không đặc hiệu",
    "J45": "Hen",
    "J459": "Hen, không đặc hiệu",
    "K02": "Sâu răng",
    "K029": "Sâu răng, không đặc hiệu",
    "K21": "Bệnh trào ngược dạ dày thực quản",
    "K219": "Bệnh trào ngược dạ dày thực quản không viêm thực quản",
    "K29": "Viêm dạ dày và tá tràng",
    "K297": "Viêm dạ dày, không đặc hiệu",
    "K30": "Khó tiêu chức năng",
    "K35": "Viêm ruột thừa cấp",
    "K358": "Viêm ruột thừa cấp, khác và không đặc hiệu",
    "L20": "Viêm da cơ địa",
    "L209": "Viêm da cơ địa, không đặc hiệu",
    "L30": "Viêm da khác",
    "L309": "Viêm da, không đặc hiệu",
    "M17": "Thoái hóa khớp gối",
    "M179": "Thoái hóa khớp gối, không đặc hiệu",
    "M54": "Đau lưng",
    "M545": "Đau vùng thắt lưng",
    "N18": "Bệnh thận mạn",
    "N189": "Bệnh thận mạn, không đặc hiệu",
    "N390": "Nhiễm khuẩn hệ tiết niệu, vị trí không xác định",
    "O80": "Đẻ thường một thai",
    "O82": "Đẻ một thai bằng mổ lấy thai",
    "P59": "Vàng da sơ sinh do nguyên nhân khác và không đặc hiệu",
    "P599": "Vàng da sơ sinh, không đặc hiệu",
    "R05": "Ho",
    "R104": "Đau bụng khác và không đặc hiệu",
    "R50": "Sốt không rõ nguyên nhân",
    "R509": "Sốt, không đặc hiệu",
    "R51": "Đau đầu",
    "S525": "Gãy đầu dưới xương quay",
    "S610": "Vết thương ngón tay không tổn thương móng",
    "Z001": "Khám sức khỏe định kỳ trẻ em",
    "Z21": "Tình trạng nhiễm HIV không triệu chứng",
    "Z34": "Giám sát thai nghén bình thường",
    "Z349": "Giám sát thai nghén bình thường, không đặc hiệu",
    "Z380": "Trẻ đơn thai, sinh tại bệnh viện",
}
"""Categories (3 characters) and codes (without the dot) with their Vietnamese names."""


def chapter(code: str) -> str | None:
    head = icd_key(code)[:3]
    if len(head) < 3:
        return None
    for low, high, title in CHAPTERS:
        if low <= head <= high:
            return title
    return None


def icd10_label(code: str | None) -> str | None:
    """The most specific Vietnamese name known: the code, its category, else its chapter; None if none."""
    if not code:
        return None
    key = icd_key(code)
    return NAMES.get(key) or NAMES.get(key[:3]) or chapter(key)
