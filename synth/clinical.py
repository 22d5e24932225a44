"""Clinical catalogues: ICD-10 diagnoses, drugs (XML2), services and supplies (XML3), lab indices (XML4).

Diagnosis codes are real ICD-10 codes with Vietnamese labels. Drug, service, supply and index codes follow
the shapes seen in real exports (``40.NNN``, ``NN.NNNN.NNNN``, ``KNN.NNNN``...) but are illustrative: they
were not checked against the MoH common catalogues (DMDC), and prices are plausible, not official.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Drug:
    code: str
    name: str
    unit: str
    strength: str
    route: str
    form: str
    price: int  # VND per unit
    per_day: int
    registration: str


@dataclass(frozen=True, slots=True)
class Index:
    code: str
    name: str
    unit: str
    low: float
    high: float
    decimals: int


@dataclass(frozen=True, slots=True)
class Service:
    code: str
    name: str
    group: int  # MA_NHOM
    unit: str
    price: int
    indices: tuple[Index, ...] = ()
    imaging_text: str = ""


def _d(code: str, label: str) -> Diagnosis:
    return Diagnosis(code, label)


DX: dict[str, Diagnosis] = {
    d.code: d
    for d in (
        _d("J00", "Viêm mũi họng cấp [cảm thường]"),
        _d("J02.9", "Viêm họng cấp, không đặc hiệu"),
        _d("J03.9", "Viêm amidan cấp, không đặc hiệu"),
        _d("J06.9", "Nhiễm trùng đường hô hấp trên cấp"),
        _d("J20.9", "Viêm phế quản cấp, không đặc hiệu"),
        _d("J18.9", "Viêm phổi, không đặc hiệu"),
        _d("A09", "Tiêu chảy và viêm dạ dày ruột do nhiễm trùng"),
        _d("K29.7", "Viêm dạ dày, không đặc hiệu"),
        _d("K30", "Khó tiêu chức năng"),
        _d("M54.5", "Đau vùng thắt lưng"),
        _d("R50.9", "Sốt, không đặc hiệu"),
        _d("R51", "Đau đầu"),
        _d("H10.9", "Viêm kết mạc, không đặc hiệu"),
        _d("L30.9", "Viêm da, không đặc hiệu"),
        _d("N39.0", "Nhiễm khuẩn hệ tiết niệu, vị trí không xác định"),
        _d("A90", "Sốt Dengue [sốt xuất huyết cổ điển]"),
        _d("B01.9", "Thủy đậu không biến chứng"),
        _d("K02.9", "Sâu răng, không đặc hiệu"),
        _d("S61.0", "Vết thương ngón tay không tổn thương móng"),
        _d("S52.5", "Gãy đầu dưới xương quay"),
        _d("K35.8", "Viêm ruột thừa cấp, khác và không đặc hiệu"),
        _d("I63.9", "Nhồi máu não, không đặc hiệu"),
        _d("I10", "Bệnh lý tăng huyết áp vô căn (nguyên phát)"),
        _d("E11.9", "Bệnh đái tháo đường type 2 không biến chứng"),
        _d("E78.5", "Tăng lipid máu, không đặc hiệu"),
        _d("J44.9", "Bệnh phổi tắc nghẽn mạn tính, không đặc hiệu"),
        _d("J45.9", "Hen, không đặc hiệu"),
        _d("I25.9", "Bệnh tim thiếu máu cục bộ mạn, không đặc hiệu"),
        _d("N18.9", "Bệnh thận mạn, không đặc hiệu"),
        _d("M17.9", "Thoái hóa khớp gối, không đặc hiệu"),
        _d("F32.9", "Giai đoạn trầm cảm, không đặc hiệu"),
        _d("K21.9", "Bệnh trào ngược dạ dày thực quản"),
        _d("Z34.9", "Giám sát thai nghén bình thường, không đặc hiệu"),
        _d("O80", "Đẻ thường một thai"),
        _d("O82", "Đẻ một thai bằng mổ lấy thai"),
        _d("P59.9", "Vàng da sơ sinh, không đặc hiệu"),
        _d("Z00.1", "Khám sức khỏe định kỳ trẻ em"),
        _d("Z38.0", "Trẻ đơn thai, sinh tại bệnh viện"),
        _d("A15.0", "Lao phổi, xác nhận bằng soi đờm"),
        _d("J11.1", "Cúm có biểu hiện hô hấp khác, virus không được định danh"),
        _d("B08.4", "Viêm miệng có mụn nước do virus đường ruột kèm phát ban (bệnh tay chân miệng)"),
        _d("B05.9", "Sởi không biến chứng"),
        _d("B24", "Bệnh do HIV không đặc hiệu"),
        _d("R05", "Ho"),
        _d("R10.4", "Đau bụng khác và không đặc hiệu"),
        _d("H52.1", "Cận thị"),
        _d("L20.9", "Viêm da cơ địa, không đặc hiệu"),
        _d("I50.9", "Suy tim, không đặc hiệu"),
    )
}

ACUTE_CHILD = (
    "J00",
    "J02.9",
    "J03.9",
    "J06.9",
    "J20.9",
    "J18.9",
    "A09",
    "R50.9",
    "B01.9",
    "H10.9",
    "L20.9",
    "A90",
    "K02.9",
)
ACUTE_ADULT = (
    "J02.9",
    "J06.9",
    "J20.9",
    "A09",
    "K29.7",
    "K30",
    "M54.5",
    "R51",
    "N39.0",
    "L30.9",
    "H10.9",
    "A90",
    "S61.0",
    "K02.9",
    "R10.4",
    "H52.1",
    "K21.9",
)
ACUTE_ELDER = ("J18.9", "J20.9", "K29.7", "M54.5", "M17.9", "R51", "N39.0", "I50.9", "H52.1", "S52.5")
INPATIENT_ACUTE = ("J18.9", "A90", "K35.8", "I63.9", "S52.5", "A09", "I50.9")

NOTIFIABLE_ACUTE: tuple[tuple[int, tuple[tuple[str, float], ...]], ...] = (
    (5, (("J11.1", 0.030), ("A09", 0.060), ("B01.9", 0.010), ("B08.4", 0.002), ("A90", 0.001), ("B05.9", 0.0004))),
    (16, (("J11.1", 0.030), ("A09", 0.030), ("B01.9", 0.015), ("B08.4", 0.0005), ("A90", 0.002), ("B05.9", 0.0002))),
    (65, (("J11.1", 0.025), ("A09", 0.020), ("B01.9", 0.002), ("A90", 0.0015), ("B05.9", 0.0001))),
    (200, (("J11.1", 0.020), ("A09", 0.015), ("A90", 0.0005))),
)
"""(below this age, ((ICD-10, share of acute visits), ...)): the notifiable diseases an acute visit is for; the
other visits take a diagnosis of the age group's pool above that is not one of them. Aimed at the orders of
magnitude of Vietnam's reported incidence: dengue ≈ 0.1-0.3 % of people a year, hand-foot-mouth mostly under 5
(≈ 1 % of them a year), influenza-like illness a few % of people a year, measles a few in 10,000, acute
diarrhoea about one care-seeking episode a year under 5 and a few % of adults, chickenpox mostly in children;
tuberculosis comes from the person's TB programme visits. A dengue, measles or hand-foot-mouth visit admitted
stays under its own diagnosis."""


NOTIFIABLE_CODES = frozenset(code for _, shares in NOTIFIABLE_ACUTE for code, _ in shares)


def notifiable_shares(age: int) -> tuple[tuple[str, float], ...]:
    return next(shares for upto, shares in NOTIFIABLE_ACUTE if age < upto)


SYMPTOMS = ("R50.9", "R05", "R51", "R10.4")

CHRONIC_DX = {
    "hypertension": "I10",
    "diabetes": "E11.9",
    "copd": "J44.9",
    "asthma": "J45.9",
    "ihd": "I25.9",
    "ckd": "N18.9",
    "arthritis": "M17.9",
    "mental": "F32.9",
}


def _drug(
    code: str, name: str, unit: str, strength: str, form: str, price: int, per_day: int, route: str = "1.01"
) -> Drug:
    # A registration-number shape (VD-NNNNN-YY or 12 digits), stable across processes.
    digits = sum(ord(c) * (i + 1) for i, c in enumerate(code + name)) % 90000 + 10000
    reg = f"VD-{digits}-{19 + len(name) % 6}" if digits % 3 else f"{digits:05d}{len(name):02d}2{digits % 1000:03d}0"
    return Drug(code, name, unit, strength, route, form, price, per_day, reg)


DRUGS: dict[str, Drug] = {
    d.code: d
    for d in (
        _drug("40.48", "Paracetamol", "Viên", "500mg", "Viên nén", 350, 3),
        _drug("40.222", "Amoxicilin", "Viên", "500mg", "Viên nang", 1_200, 2),
        _drug("40.243", "Cefuroxim", "Viên", "500mg", "Viên nén bao phim", 4_800, 2),
        _drug("40.270", "Azithromycin", "Viên", "250mg", "Viên nén", 3_900, 1),
        _drug("40.934", "Loratadin", "Viên", "10mg", "Viên nén", 450, 1),
        _drug("40.677", "Omeprazol", "Viên", "20mg", "Viên nang", 900, 2),
        _drug("40.680", "Domperidon", "Viên", "10mg", "Viên nén", 300, 3),
        _drug("40.1005", "Oresol", "Gói", "4,1g", "Thuốc bột", 2_100, 3),
        _drug("40.35", "Meloxicam", "Viên", "7,5mg", "Viên nén", 600, 1),
        _drug("40.478", "Amlodipin", "Viên", "5mg", "Viên nén", 420, 1),
        _drug("40.487", "Losartan", "Viên", "50mg", "Viên nén bao phim", 1_100, 1),
        _drug("40.505", "Bisoprolol", "Viên", "2,5mg", "Viên nén", 1_300, 1),
        _drug("40.796", "Metformin", "Viên", "850mg", "Viên nén", 700, 2),
        _drug("40.801", "Gliclazid", "Viên", "30mg", "Viên nén giải phóng có kiểm soát", 1_500, 1),
        _drug("40.526", "Atorvastatin", "Viên", "20mg", "Viên nén", 950, 1),
        _drug("40.999", "Salbutamol", "Bình xịt", "100mcg/liều", "Khí dung", 78_000, 1, "3.05"),
        _drug("40.1001", "Budesonid + Formoterol", "Bình xịt", "160/4,5mcg", "Thuốc hít", 265_000, 1, "3.05"),
        _drug("40.471", "Aspirin", "Viên", "81mg", "Viên nén bao tan trong ruột", 250, 1),
        _drug("40.543", "Clopidogrel", "Viên", "75mg", "Viên nén", 2_600, 1),
        _drug("40.591", "Furosemid", "Viên", "40mg", "Viên nén", 280, 1),
        _drug("40.718", "Glucosamin", "Viên", "500mg", "Viên nang", 1_900, 2),
        _drug("40.370", "Sertralin", "Viên", "50mg", "Viên nén", 2_400, 1),
        _drug("40.1043", "Natri clorid 0,9%", "Chai", "500ml", "Dung dịch tiêm truyền", 10_500, 2, "2.15"),
        _drug("40.244", "Ceftriaxon", "Lọ", "1g", "Bột pha tiêm", 16_800, 2, "2.10"),
        _drug("40.1099", "Oxytocin", "Ống", "5UI/ml", "Dung dịch tiêm", 5_900, 1, "2.03"),
        _drug("40.1035", "Vitamin K1", "Ống", "1mg/0,5ml", "Dung dịch tiêm", 9_500, 1, "2.03"),
        _drug(
            "40.283",
            "Rifampicin + Isoniazid + Pyrazinamid + Ethambutol",
            "Viên",
            "150/75/400/275mg",
            "Viên nén bao phim",
            2_300,
            3,
        ),
        _drug(
            "40.309",
            "Tenofovir + Lamivudin + Dolutegravir",
            "Viên",
            "300/300/50mg",
            "Viên nén bao phim",
            8_200,
            1,
        ),
        _drug(
            "40.1060",
            "Insulin người tác dụng trung bình",
            "Lọ",
            "100UI/ml x 10ml",
            "Hỗn dịch tiêm",
            98_000,
            1,
            "2.01",
        ),
    )
}

DRUGS_FOR: dict[str, tuple[str, ...]] = {
    "respiratory": ("40.48", "40.222", "40.934", "40.243", "40.270"),
    "gastro": ("40.677", "40.680", "40.1005"),
    "pain": ("40.48", "40.35", "40.718"),
    "skin": ("40.934",),
    "I10": ("40.478", "40.487", "40.505"),
    "E11.9": ("40.796", "40.801", "40.1060"),
    "E78.5": ("40.526",),
    "J44.9": ("40.999", "40.1001"),
    "J45.9": ("40.999", "40.1001"),
    "I25.9": ("40.471", "40.543", "40.526"),
    "I50.9": ("40.591", "40.505"),
    "N18.9": ("40.591",),
    "M17.9": ("40.718", "40.35"),
    "F32.9": ("40.370",),
    "A15.0": ("40.283",),
    "B24": ("40.309",),
    "inpatient": ("40.1043", "40.244"),
    "delivery": ("40.1099", "40.1043"),
    "newborn": ("40.1035",),
}

DX_DRUG_CLASS = {
    "J00": "respiratory",
    "J02.9": "respiratory",
    "J03.9": "respiratory",
    "J06.9": "respiratory",
    "J20.9": "respiratory",
    "J18.9": "respiratory",
    "R05": "respiratory",
    "R50.9": "respiratory",
    "A09": "gastro",
    "K29.7": "gastro",
    "K30": "gastro",
    "K21.9": "gastro",
    "R10.4": "gastro",
    "M54.5": "pain",
    "R51": "pain",
    "S61.0": "pain",
    "S52.5": "pain",
    "K02.9": "pain",
    "A90": "pain",
    "J11.1": "respiratory",
    "B08.4": "skin",
    "B05.9": "respiratory",
    "L30.9": "skin",
    "L20.9": "skin",
    "B01.9": "skin",
    "H10.9": "skin",
    "N39.0": "respiratory",
}


def _ix(code: str, name: str, unit: str, low: float, high: float, decimals: int = 1) -> Index:
    return Index(code, name, unit, low, high, decimals)


CBC = (
    _ix("H17", "WBC", "G/L", 4.0, 10.0),
    _ix("H01", "RBC", "T/L", 3.8, 5.8, 2),
    _ix("H02", "HGB", "g/L", 120, 170, 0),
    _ix("H13", "PLT", "G/L", 150, 400, 0),
)

SERVICES: dict[str, Service] = {
    s.code: s
    for s in (
        Service("02.1896", "Khám Nội", 13, "Lần", 50_600),
        Service("02.1897", "Khám Nhi", 13, "Lần", 50_600),
        Service("02.1898", "Khám Sản", 13, "Lần", 50_600),
        Service("02.1899", "Khám Ngoại", 13, "Lần", 50_600),
        Service("02.1900", "Khám tại trạm y tế xã", 13, "Lần", 34_500),
        Service("22.0121.1369", "Tổng phân tích tế bào máu ngoại vi (bằng máy đếm laser)", 1, "Lần", 46_200, CBC),
        Service(
            "23.0075.1494",
            "Định lượng Glucose [Máu]",
            1,
            "Lần",
            21_500,
            (_ix("B04", "Glucose", "mmol/L", 3.9, 6.4),),
        ),
        Service(
            "23.0051.1494",
            "Định lượng Creatinin [Máu]",
            1,
            "Lần",
            21_500,
            (_ix("B10", "Creatinin", "µmol/L", 62, 120, 0),),
        ),
        Service(
            "23.0020.1493",
            "Đo hoạt độ ALT (GPT) [Máu]",
            1,
            "Lần",
            21_500,
            (_ix("B21", "ALT", "U/L", 5, 40, 0),),
        ),
        Service(
            "23.0041.1506",
            "Định lượng Cholesterol toàn phần [Máu]",
            1,
            "Lần",
            26_900,
            (_ix("B15", "Cholesterol", "mmol/L", 3.9, 5.2),),
        ),
        Service("23.0083.1523", "Định lượng HbA1c [Máu]", 1, "Lần", 101_000, (_ix("B30", "HbA1c", "%", 4.0, 6.4),)),
        Service(
            "23.0206.1596",
            "Tổng phân tích nước tiểu (bằng máy tự động)",
            1,
            "Lần",
            27_400,
            (_ix("U01", "Protein niệu", "g/L", 0.0, 0.1, 2), _ix("U02", "pH", "", 5.0, 7.5)),
        ),
        Service(
            "24.0017.1714",
            "Vi khuẩn lao nhuộm soi trực tiếp",
            1,
            "Lần",
            68_000,
            (_ix("V01", "AFB", "", 0, 0, 0),),
        ),
        Service(
            "24.0282.1715",
            "HIV đo tải lượng",
            1,
            "Lần",
            710_000,
            (_ix("V02", "Tải lượng HIV", "copies/ml", 20, 200, 0),),
        ),
        Service(
            "18.0071.0028",
            "Chụp X-quang ngực thẳng",
            2,
            "Lần",
            65_400,
            imaging_text="Hai phế trường sáng, không thấy tổn thương khu trú.|Bóng tim không to.",
        ),
        Service(
            "18.0001.0001",
            "Siêu âm ổ bụng",
            2,
            "Lần",
            43_900,
            imaging_text="Gan, mật, tụy, lách, thận không thấy bất thường.|Không có dịch ổ bụng.",
        ),
        Service(
            "02.0085.1778",
            "Điện tim thường",
            2,
            "Lần",
            32_800,
            imaging_text="Nhịp xoang đều, tần số 78 ck/ph.|Không thấy dấu hiệu thiếu máu cơ tim.",
        ),
        Service("13.0098.0591", "Đỡ đẻ thường ngôi chỏm", 8, "Lần", 706_000),
        Service("12.0305.0447", "Phẫu thuật lấy thai lần đầu", 8, "Lần", 2_623_000),
        Service("10.0525.0531", "Phẫu thuật cắt ruột thừa", 8, "Lần", 2_540_000),
        Service("03.3911.0212", "Thay băng vết thương chiều dài dưới 15cm", 18, "Lần", 57_600),
    )
}

BED_DAY = Service("K03.1930", "Ngày giường bệnh Nội khoa loại 3", 15, "Ngày", 190_100)
SUPPLY = Service("N03.02.070", "Bơm tiêm nhựa dùng một lần 5ml", 10, "Cái", 1_050)

LABS_FOR: dict[str, tuple[str, ...]] = {
    "I10": ("23.0051.1494", "23.0041.1506", "02.0085.1778"),
    "E11.9": ("23.0075.1494", "23.0083.1523", "23.0051.1494"),
    "J44.9": ("18.0071.0028",),
    "J45.9": ("22.0121.1369",),
    "I25.9": ("02.0085.1778", "23.0041.1506"),
    "N18.9": ("23.0051.1494", "23.0206.1596"),
    "J18.9": ("22.0121.1369", "18.0071.0028"),
    "A90": ("22.0121.1369",),
    "A09": ("22.0121.1369",),
    "N39.0": ("23.0206.1596",),
    "R10.4": ("18.0001.0001",),
    "K35.8": ("22.0121.1369", "18.0001.0001"),
    "I63.9": ("22.0121.1369", "23.0075.1494"),
    "A15.0": ("24.0017.1714", "18.0071.0028"),
    "B24": ("24.0282.1715",),
    "O80": ("22.0121.1369",),
    "O82": ("22.0121.1369",),
    "Z34.9": ("18.0001.0001",),
    "S52.5": ("18.0071.0028",),
    "I50.9": ("02.0085.1778", "18.0071.0028"),
}

EXAM_FOR_SPECIALTY = {"paediatric": "02.1897", "obstetric": "02.1898", "surgery": "02.1899"}

# MA_KHOA: department codes in the shape of QĐ 5937 Phụ lục 5 (illustrative assignment).
DEPT_EXAM = "K01"
DEPT_BY_KIND = {
    "medical": "K03",
    "paediatric": "K12",
    "obstetric": "K24",
    "surgery": "K19",
    "tb": "K15",
    "hiv": "K16",
    "mental": "K21",
}
