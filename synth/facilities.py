"""The province's health facilities and each one's software habits.

The mix follows the pilot province: 14 provincial hospitals, 9 district health centres, 37 private
polyclinics and 71 commune health stations. Codes are 5 digits, 2-digit province + 3-digit sequence; the
merged province still has facilities coded under the old Thái Bình code 34. Codes and clinic names are
synthetic (any match with a real facility's code is coincidental). Habits (upper-case names, software that
strips diacritics or writes NFD, empty CCCD, export deviations) are drawn per facility with exact counts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from synth.config import HABIT_KINDS, SynthConfig
from synth.geography import Commune, communes, old_districts
from synth.names import draw_name

PROVINCIAL = "provincial"
DISTRICT = "district"
PRIVATE = "private"
COMMUNE = "commune"

LEVEL_RANK = {COMMUNE: 1, PRIVATE: 2, DISTRICT: 2, PROVINCIAL: 3}

# (code, name, specialties). "general" takes any patient; others attract matching encounters.
_PROVINCIAL: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("33001", "Bệnh viện Đa khoa tỉnh Hưng Yên", frozenset({"general", "hiv", "surgery"})),
    ("33002", "Bệnh viện Sản Nhi Hưng Yên", frozenset({"obstetric", "paediatric"})),
    ("33003", "Bệnh viện Phổi Hưng Yên", frozenset({"tb", "respiratory"})),
    ("33004", "Bệnh viện Y dược cổ truyền Hưng Yên", frozenset({"chronic"})),
    ("33005", "Bệnh viện Tâm thần Hưng Yên", frozenset({"mental"})),
    ("33006", "Bệnh viện Mắt Hưng Yên", frozenset({"eye"})),
    ("33007", "Bệnh viện Đa khoa Phố Nối", frozenset({"general", "surgery"})),
    ("34001", "Bệnh viện Đa khoa Thái Bình", frozenset({"general", "hiv", "surgery"})),
    ("34002", "Bệnh viện Nhi Thái Bình", frozenset({"paediatric"})),
    ("34003", "Bệnh viện Phụ sản Thái Bình", frozenset({"obstetric"})),
    ("34004", "Bệnh viện Phổi Thái Bình", frozenset({"tb", "respiratory"})),
    ("34005", "Bệnh viện Phục hồi chức năng Thái Bình", frozenset({"chronic"})),
    ("34006", "Bệnh viện Da liễu Thái Bình", frozenset({"skin"})),
    ("34007", "Bệnh viện Đa khoa Đại học Y Thái Bình", frozenset({"general", "surgery"})),
)

_CLINIC_WORDS = (
    "An Phúc",
    "Bình An",
    "Hồng Đức",
    "Minh Tâm",
    "Thiện Nhân",
    "Tâm Đức",
    "Hưng Thịnh",
    "Phúc Lâm",
    "An Khang",
    "Đức Minh",
    "Hòa Bình",
    "Sông Hồng",
    "Tâm An",
    "Việt Đức",
    "Hà Thành",
    "Đông Đô",
    "Thành Công",
    "Nhân Ái",
    "Medic Phố Hiến",
    "Bảo An",
    "Hạnh Phúc",
    "Quốc Tế",
    "Thái Hà",
    "Vạn Phúc",
    "Hiền Lương",
    "Trường An",
    "Khánh An",
    "Gia Đình",
    "Tân Hưng",
    "Kim Động",
    "Việt Mỹ",
    "An Bình",
    "Hải Hà",
    "Thiên Đức",
    "Đại An",
    "Song An",
    "Hồng Phát",
)

_MA_BN_FORMATS = ("BN{:09d}", "{:010d}", "HS{:08d}", "{prefix}{:07d}", "BN.{:09d}", "PK{:08d}")
_MA_LK_FORMATS = ("{letters}{yy}{:06d}", "{yy}{:07d}", "{letters}{:08d}", "{:06d}")


@dataclass(frozen=True)
class Facility:
    code: str
    name: str
    level: str
    specialties: frozenset[str]
    habits: frozenset[str]
    ma_bn_format: str
    ma_lk_format: str
    letters: str
    doctors: tuple[str, ...]
    doctor_names: tuple[str, ...]
    head_bhxh: str
    bed_prefix: str
    serves: frozenset[str] = field(default_factory=frozenset)
    """Commune stations: new commune codes. District centres: old district codes."""

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]

    def ma_bn(self, n: int) -> str:
        return self.ma_bn_format.format(n, prefix=self.code)

    def ma_lk(self, counter: int, year: int) -> str:
        return self.ma_lk_format.format(counter, letters=self.letters, yy=f"{year % 100:02d}")


@dataclass(frozen=True)
class Province:
    facilities: tuple[Facility, ...]
    by_code: dict[str, Facility]
    station_for_commune: dict[str, Facility]
    centre_for_district: dict[str, Facility]
    provincial: tuple[Facility, ...]
    private: tuple[Facility, ...]

    def with_specialty(self, specialty: str) -> tuple[Facility, ...]:
        return tuple(f for f in self.provincial if specialty in f.specialties)

    def habit_count(self, habit: str) -> int:
        return sum(habit in f.habits for f in self.facilities)


def _doctors(rng: random.Random, code: str, n: int) -> tuple[str, ...]:
    abbr = "HY" if code.startswith("33") else "TB"
    out = []
    for _ in range(n):
        number = rng.randrange(1, 999_999)
        out.append(f"{number:06d}/{abbr}-CCHN" if rng.random() < 0.7 else f"{number:06d}/BYT-GPHN")
    return tuple(out)


def build_province(rng: random.Random, config: SynthConfig) -> Province:
    """All facilities of the province, deterministic for ``rng``'s state."""
    specs: list[tuple[str, str, str, frozenset[str], frozenset[str]]] = []
    for code, name, spec in _PROVINCIAL:
        specs.append((code, name, PROVINCIAL, spec, frozenset()))
    all_communes = communes()
    district_names: dict[str, Commune] = {}
    for c in all_communes:
        district_names.setdefault(c.old_district_code, c)
    districts = old_districts()
    # 9 district health centres, each serving two neighbouring old districts (18 in the two old provinces).
    groups = [districts[i::9] for i in range(9)]
    for i, group in enumerate(groups):
        first = district_names[group[0]]
        prov = first.old_province_code
        specs.append(
            (
                f"{prov}{10 + i:03d}",
                f"Trung tâm Y tế {first.old_district_name.split(' ', 1)[1]}",
                DISTRICT,
                frozenset({"general"}),
                frozenset(group),
            )
        )
    for i, word in enumerate(_CLINIC_WORDS):
        prov = "33" if i % 3 else "34"
        specs.append(
            (
                f"{prov}{100 + i:03d}",
                f"Phòng khám Đa khoa {word}",
                PRIVATE,
                frozenset({"general"}),
                frozenset(),
            )
        )
    new_codes: dict[str, str] = {}
    for commune in all_communes:
        new_codes.setdefault(commune.new_code, commune.new_name)
    station_communes = sorted(new_codes)
    rng.shuffle(station_communes)
    for i, commune_code in enumerate(sorted(station_communes[:71])):
        prov = "33" if i % 2 else "34"
        specs.append(
            (
                f"{prov}{200 + i:03d}",
                f"Trạm Y tế {new_codes[commune_code]}",
                COMMUNE,
                frozenset({"general"}),
                frozenset({commune_code}),
            )
        )

    n = len(specs)
    habit_sets: list[set[str]] = [set() for _ in range(n)]
    for habit in HABIT_KINDS:
        k = round(config.habits[habit] * n)
        for i in rng.sample(range(n), k):
            habit_sets[i].add(habit)
    # Software that strips diacritics or writes NFD cannot do both; keep the first drawn.
    for hs in habit_sets:
        if "facility_strip_diacritics" in hs:
            hs.discard("facility_nfd")

    facilities = []
    for (code, name, level, spec, serves), habits in zip(specs, habit_sets, strict=True):
        letters = rng.choice(("PK", "NT", "KB", "LK", "HS", "BA")) if level != COMMUNE else "TYT"
        facilities.append(
            Facility(
                code=code,
                name=name,
                level=level,
                specialties=spec,
                habits=frozenset(habits),
                ma_bn_format=rng.choice(_MA_BN_FORMATS),
                ma_lk_format=rng.choice(_MA_LK_FORMATS[:3]) if level != COMMUNE else rng.choice(_MA_LK_FORMATS),
                letters=letters,
                doctors=_doctors(rng, code, 3 if level == COMMUNE else 12),
                doctor_names=tuple(
                    draw_name(rng, sex=rng.choice((1, 2)), birth_year=1980).full
                    for _ in range(3 if level == COMMUNE else 12)
                ),
                head_bhxh=f"{code[:2]}{rng.randrange(10**8):08d}",
                bed_prefix=rng.choice("HTCK"),
                serves=serves,
            )
        )
    by_code = {f.code: f for f in facilities}
    stations = [f for f in facilities if f.level == COMMUNE]
    station_for_commune: dict[str, Facility] = {}
    for f in stations:
        for code in f.serves:
            station_for_commune[code] = f
    # Communes without a station use the station of another new commune in the same old district.
    by_district: dict[str, list[Facility]] = {}
    for c in all_communes:
        if c.new_code in station_for_commune:
            by_district.setdefault(c.old_district_code, []).append(station_for_commune[c.new_code])
    for c in all_communes:
        if c.new_code not in station_for_commune:
            pool = by_district.get(c.old_district_code) or stations
            station_for_commune[c.new_code] = pool[int(c.new_code) % len(pool)]
    centre_for_district = {d: f for f in facilities if f.level == DISTRICT for d in f.serves}
    return Province(
        facilities=tuple(facilities),
        by_code=by_code,
        station_for_commune=station_for_commune,
        centre_for_district=centre_for_district,
        provincial=tuple(f for f in facilities if f.level == PROVINCIAL),
        private=tuple(f for f in facilities if f.level == PRIVATE),
    )
