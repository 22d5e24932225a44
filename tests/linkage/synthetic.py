"""A small deterministic synthetic population of Vietnamese source records, with ground truth.

Stand-in for `synth` inside the linkage tests (and the data the shipped default model was trained
on until `synth` can feed it): persons with Zipf-distributed Vietnamese names, households sharing a
family name, address and phone, twins and namesakes, and per-record noise of the kinds seen between
facilities (stripped diacritics, dropped Thị/Văn, wrong tone mark, Y/I, DOB typos and year-only dates,
missing or mistyped identifiers, old 11-digit phones, moves). Records are XML1 raw fields passed through
`linkage.normalise_record`, so the normalisation layer is exercised too.

Fully determined by the seed; no I/O.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from linkage import normalise_record

FAMILY = (
    ("Nguyễn", 38), ("Trần", 12), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 3), ("Huỳnh", 2), ("Phan", 4.5),
    ("Vũ", 2), ("Võ", 2), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1),
    ("Lý", 0.5), ("Đinh", 0.5), ("Trương", 0.5), ("Lâm", 0.4), ("Mai", 0.4), ("Đoàn", 0.4), ("Cao", 0.3),
    ("Tạ", 0.2), ("Hà", 0.3), ("Lương", 0.3), ("Kiều", 0.1), ("Triệu", 0.1), ("Quách", 0.1), ("Tô", 0.2),
    ("Châu", 0.2), ("Thái", 0.2), ("Lưu", 0.2), ("Tăng", 0.1), ("La", 0.1),
)  # fmt: skip
MIDDLE_M = ("Minh", "Đức", "Quang", "Hữu", "Công", "Thanh", "Ngọc", "Xuân", "Hoàng", "Gia", "Anh", "Tiến",
            "Trọng", "Quốc", "Văn Minh", "Bá", "Đình", "Duy")  # fmt: skip
MIDDLE_F = ("Ngọc", "Thu", "Thanh", "Minh", "Hồng", "Kim", "Mai", "Bích", "Phương", "Thùy", "Diệu",
            "Khánh", "Thị Thu", "Hoài", "Mỹ", "Lan")  # fmt: skip
GIVEN_M = ("Anh", "Minh", "Hùng", "Dũng", "Tuấn", "Nam", "Hải", "Long", "Huy", "Đức", "Thắng", "Sơn",
           "Cường", "Phong", "Quân", "Trung", "Hiếu", "Bình", "Khánh", "Hoàng", "Tùng", "Thành", "Vinh",
           "Toàn", "Đạt", "Nghĩa", "Phúc", "Tài", "Thịnh", "Việt", "Khoa", "Kiên", "Lâm", "An", "Bảo",
           "Duy", "Hiển", "Lợi", "Tâm", "Tiến", "Trí", "Tú", "Hòa", "Quang", "Tín", "Lực", "Hưng",
           "Khải", "Thuận", "Sang", "Nhân", "Hậu", "Thiện", "Luân", "Vỹ")  # fmt: skip
GIVEN_F = ("Linh", "Trang", "Hương", "Anh", "Lan", "Hà", "Thảo", "Ngọc", "Hằng", "Mai", "Phương",
           "Nhung", "Hoa", "Huyền", "Thủy", "Vân", "Yến", "Dung", "Hạnh", "Giang", "Hiền", "Chi", "Ly",
           "Nga", "Ngân", "Oanh", "Quỳnh", "Trinh", "Uyên", "Vy", "My", "Thúy", "Thư", "Nhi", "Hân",
           "Loan", "Duyên", "Huệ", "Hồng", "Tâm", "Diệp", "Tuyết", "Xuân", "Hảo", "Lụa", "Thoa", "Châu",
           "Nguyệt", "Phượng", "Kiều", "Vi", "Thi")  # fmt: skip
_TONES = {
    "A": "AÁÀẢÃẠ", "Ă": "ĂẮẰẲẴẶ", "Â": "ÂẤẦẨẪẬ", "E": "EÉÈẺẼẸ", "Ê": "ÊẾỀỂỄỆ", "I": "IÍÌỈĨỊ",
    "O": "OÓÒỎÕỌ", "Ô": "ÔỐỒỔỖỘ", "Ơ": "ƠỚỜỞỠỢ", "U": "UÚÙỦŨỤ", "Ư": "ƯỨỪỬỮỰ", "Y": "YÝỲỶỸỴ",
}  # fmt: skip
_TONE_OF = {ch: base for base, chars in _TONES.items() for ch in chars}
_MOBILE = ("090", "091", "093", "094", "096", "097", "098", "086", "088", "032", "033", "034", "035",
           "036", "037", "038", "039", "070", "076", "077", "078", "079", "081", "082", "083", "084")  # fmt: skip
_OLD_MOBILE = {"032": "0162", "033": "0163", "034": "0164", "035": "0165", "036": "0166", "037": "0167",
               "038": "0168", "039": "0169", "070": "0120", "079": "0121", "077": "0122", "076": "0126",
               "078": "0128", "083": "0123", "084": "0124", "081": "0127", "082": "0129"}  # fmt: skip
_CCCD_PROVINCES = ("001", "031", "036", "038", "040", "074", "075", "079", "080", "083", "089", "092")
_CARD_GROUPS_ADULT = ("DN", "HC", "GD", "HN", "CN", "HT")
_COMMUNES = Path(__file__).resolve().parents[2] / "linkage/normalise/data/admin_2025_communes.csv"
_REGIONAL = {"Hoàng": "Huỳnh", "Huỳnh": "Hoàng", "Vũ": "Võ", "Võ": "Vũ"}
_FACILITIES = ("79001", "79012", "79023", "79034", "79045", "79056")


def _zipf(items: tuple[str, ...], s: float = 1.0) -> tuple[tuple[str, ...], list[float]]:
    return items, [1.0 / (rank + 1) ** s for rank in range(len(items))]


def _communes(province: str) -> list[str]:
    with _COMMUNES.open(encoding="utf-8", newline="") as f:
        return [row["new_commune"] for row in csv.DictReader(f) if row["new_province"] == province]


@dataclass
class _Person:
    pid: int
    sex: int
    dob: date
    year_only: bool
    family: str
    middle: str
    given: str
    cccd: str | None
    bhxh: str | None
    phone: str | None
    commune: str


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.communes = _communes("79")[:60]
        self.family_names, self.family_weights = (
            tuple(n for n, _ in FAMILY),
            [w for _, w in FAMILY],
        )
        self.given_m = _zipf(GIVEN_M, 0.8)
        self.given_f = _zipf(GIVEN_F, 0.8)
        self.next_serial = 0

    def _serial(self) -> int:
        self.next_serial += 1
        return (self.next_serial * 387_420_489 + 12_345) % 1_000_000

    def _dob(self, min_age: int, max_age: int) -> date:
        today = date(2025, 10, 1)
        age_days = self.rng.randint(min_age * 365, max_age * 365 + 364)
        return today - timedelta(days=age_days)

    def _cccd(self, sex: int, dob: date) -> str:
        century = 0 if dob.year < 2000 else 2
        g = century + (1 if sex == 2 else 0)
        return f"{self.rng.choice(_CCCD_PROVINCES)}{g}{dob.year % 100:02d}{self._serial():06d}"

    def _person(self, pid: int, *, family: str, sex: int, dob: date, phone: str | None, commune: str) -> _Person:
        rng = self.rng
        if sex == 1:
            middle = "Văn" if rng.random() < 0.45 else rng.choice(MIDDLE_M)
            given = rng.choices(*self.given_m)[0]
        else:
            middle = "Thị" if rng.random() < 0.45 else rng.choice(MIDDLE_F)
            given = rng.choices(*self.given_f)[0]
        age = 2025 - dob.year
        has_cccd = rng.random() < (0.9 if age >= 14 else 0.5)
        return _Person(
            pid=pid,
            sex=sex,
            dob=dob,
            year_only=dob.year < 1960 and rng.random() < 0.35,
            family=family,
            middle=middle,
            given=given,
            cccd=self._cccd(sex, dob) if has_cccd else None,
            bhxh=f"{rng.choice(('79', '74', '80'))}{rng.randrange(10**8):08d}" if rng.random() < 0.85 else None,
            phone=phone if rng.random() < 0.7 else self._phone(),
            commune=commune,
        )

    def _phone(self) -> str:
        return f"{self.rng.choice(_MOBILE)}{self.rng.randrange(10**7):07d}"

    def population(self, n_persons: int) -> list[_Person]:
        rng = self.rng
        persons: list[_Person] = []
        while len(persons) < n_persons:
            family = rng.choices(self.family_names, self.family_weights)[0]
            commune = rng.choice(self.communes)
            phone = self._phone()
            size = rng.choice((1, 1, 2, 3, 3, 4, 5))
            parent_dob = self._dob(25, 85)
            for i in range(size):
                if len(persons) >= n_persons:
                    break
                if i == 0:
                    dob, sex = parent_dob, rng.choice((1, 2))
                elif i == 1:
                    dob, sex = self._dob(max(20, 2025 - parent_dob.year - 8), 2025 - parent_dob.year + 8), 2
                else:
                    child_max = max(0, min(60, 2025 - parent_dob.year - 18))
                    dob, sex = self._dob(0, child_max), rng.choice((1, 2))
                person = self._person(len(persons), family=family, sex=sex, dob=dob, phone=phone, commune=commune)
                persons.append(person)
                if i >= 2 and rng.random() < 0.04 and len(persons) < n_persons:  # a twin
                    twin = self._person(len(persons), family=family, sex=rng.choice((1, 2)), dob=dob,
                                        phone=phone, commune=commune)  # fmt: skip
                    persons.append(twin)
        # namesakes: same full name, sex and birth year in the same commune, different people
        for _ in range(n_persons // 100):
            a, b = rng.sample(persons, 2)
            b.family, b.middle, b.given, b.sex, b.commune = a.family, a.middle, a.given, a.sex, a.commune
            b.dob = date(a.dob.year, rng.randint(1, 12), rng.randint(1, 28))
        return persons

    # ---- per-record noise ------------------------------------------------------------------
    def _tone_typo(self, word: str) -> str:
        rng = self.rng
        positions = [i for i, ch in enumerate(word.upper()) if ch in _TONE_OF]
        if not positions:
            return word
        i = rng.choice(positions)
        base = _TONE_OF[word.upper()[i]]
        return word[:i] + rng.choice(_TONES[base]) + word[i + 1 :]

    def _char_typo(self, word: str) -> str:
        rng = self.rng
        if len(word) < 3:
            return word
        i = rng.randrange(1, len(word))
        op = rng.random()
        if op < 0.4:
            return word[:i] + word[i + 1 :]
        if op < 0.7 and i < len(word) - 1:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        return word[:i] + rng.choice("AEIOUNHTG") + word[i + 1 :]

    def _digit_typo(self, digits: str) -> str:
        rng = self.rng
        i = rng.randrange(len(digits) - 1)
        if rng.random() < 0.5:
            return digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
        return digits[:i] + str((int(digits[i]) + rng.randint(1, 9)) % 10) + digits[i + 1 :]

    def record(self, p: _Person, k: int) -> dict[str, str | None]:
        rng = self.rng
        given = p.given
        roll = rng.random()
        if roll < 0.04:
            given = self._tone_typo(given)
        elif roll < 0.07:
            given = self._char_typo(given)
        elif roll < 0.09 and given.endswith(("y", "ỹ")):
            given = given[:-1] + "i"
        family = self._char_typo(p.family) if rng.random() < 0.01 else p.family
        if family in _REGIONAL and rng.random() < 0.1:
            family = _REGIONAL[family]
        middle = p.middle
        if middle and rng.random() < 0.03:
            middle = self._tone_typo(middle) if rng.random() < 0.5 else self._char_typo(middle)
        if (middle in ("Thị", "Văn") and rng.random() < 0.2) or rng.random() < 0.03:
            middle = ""
        name = " ".join(part for part in (family, middle, given) if part)
        if rng.random() < 0.25:
            name = name.upper().translate(str.maketrans({ch: base for ch, base in _TONE_OF.items()}))
            name = name.replace("Đ", "D").replace("Ă", "A").replace("Â", "A").replace("Ê", "E")
            name = name.replace("Ô", "O").replace("Ơ", "O").replace("Ư", "U")
        elif rng.random() < 0.5:
            name = name.upper()
        dob = p.dob
        roll = rng.random()
        if p.year_only:
            ngay_sinh: str | None = f"{dob.year:04d}00000000"
        elif roll < 0.02 and dob.day <= 12:
            ngay_sinh = f"{dob.year:04d}{dob.day:02d}{dob.month:02d}0000"
        elif roll < 0.05:
            ngay_sinh = f"{dob.year:04d}{dob.month:02d}{min(28, max(1, dob.day + rng.choice((-1, 1, 10)))):02d}0000"
        elif roll < 0.07:
            ngay_sinh = f"{dob.year + rng.choice((-1, 1)):04d}{dob.month:02d}{dob.day:02d}0000"
        elif roll < 0.08:
            ngay_sinh = None
        elif roll < 0.083:
            ngay_sinh = f"{self._dob(0, 90):%Y%m%d}0000"
        elif roll < 0.10 and dob.year < 1970:
            ngay_sinh = f"{dob.year:04d}00000000"
        else:
            ngay_sinh = f"{dob.year:04d}{dob.month:02d}{dob.day:02d}0000"
        cccd = p.cccd if rng.random() > 0.2 else None
        if cccd and rng.random() < 0.02:
            cccd = self._digit_typo(cccd)
        card: str | None = None
        if p.bhxh and rng.random() > 0.1:
            bhxh = self._digit_typo(p.bhxh) if rng.random() < 0.01 else p.bhxh
            group = "TE" if 2025 - p.dob.year < 6 else rng.choice(_CARD_GROUPS_ADULT)
            card = f"{group}{rng.randint(1, 5)}79{bhxh}"
        phone = p.phone if rng.random() > 0.2 else None
        if phone and rng.random() < 0.01:
            phone = self._digit_typo(phone)
        if phone and rng.random() < 0.1 and phone[:3] in _OLD_MOBILE:
            phone = _OLD_MOBILE[phone[:3]] + phone[3:]
        commune: str | None = p.commune if rng.random() > 0.05 else rng.choice(self.communes)
        province = "79"
        if rng.random() < 0.03:
            province, commune = "75", None
        elif rng.random() < 0.1:
            commune = None
        return {
            "HO_TEN": name,
            "NGAY_SINH": ngay_sinh,
            "GIOI_TINH": str(p.sex) if rng.random() > 0.02 else "3",
            "SO_CCCD": cccd,
            "MA_THE_BHYT": card,
            "DIEN_THOAI": phone,
            "MATINH_CU_TRU": province,
            "MAXA_CU_TRU": commune,
            "DIA_CHI": None,
            "MA_CSKCB": rng.choice(_FACILITIES),
            "MA_BN": f"BN{p.pid:07d}{k}",
        }


def synthetic_records(n_persons: int, *, seed: int = 7) -> pa.Table:
    """Canonical rows (`CanonicalRecord.to_row()`) plus `unique_id` and the true `person_id`.

    Each person has 1-5 records (about 2.2 on average); record order is shuffled.
    """
    gen = _Generator(seed)
    rows: list[dict[str, str | int | None]] = []
    for person in gen.population(n_persons):
        n_records = gen.rng.choices((1, 2, 3, 4, 5), (30, 35, 20, 10, 5))[0]
        for k in range(n_records):
            row = normalise_record(gen.record(person, k)).to_row()
            row["person_id"] = person.pid
            rows.append(row)
    gen.rng.shuffle(rows)
    for i, row in enumerate(rows):
        row["unique_id"] = i
    return pa.Table.from_pylist(rows)
