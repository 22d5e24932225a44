"""Persons and households of the synthetic province, with their true identifiers.

A household shares an address and usually a phone. Families get children whose ages fit the mother's;
some children are twins; some are born inside the encounter window (their mother gets a delivery, they get
newborn records). Namesakes (same full name, sex and birth year in the same commune) are planted on purpose.
Identifiers follow their real structure: CCCD ``PPP G YY NNNNNN`` consistent with birth province, sex and
year; old 9-digit CMND for some older people; a lifelong 10-digit BHXH number inside a 15-character card
whose prefix follows age and status. Sequence parts of identifiers are bijective functions of the person
index, so two different persons never share a CCCD, CMND, BHXH number or MA_BN.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from synth.config import SynthConfig
from synth.facilities import Province
from synth.geography import LEGACY_PROVINCES, Address, Commune, address_detail, communes
from synth.names import Name, draw_given, draw_name

# Vietnam's age pyramid (share of population by 5-year band, 80+ last), rounded from the 2019 census.
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 4, 7.6),
    (5, 9, 8.3),
    (10, 14, 7.4),
    (15, 19, 6.6),
    (20, 24, 6.9),
    (25, 29, 7.9),
    (30, 34, 8.3),
    (35, 39, 7.9),
    (40, 44, 7.3),
    (45, 49, 6.8),
    (50, 54, 6.1),
    (55, 59, 5.4),
    (60, 64, 4.6),
    (65, 69, 3.4),
    (70, 74, 2.2),
    (75, 79, 1.5),
    (80, 99, 1.8),
)
_ADULT_BANDS = tuple(b for b in AGE_BANDS if b[0] >= 20)
_ADULT_CUM = tuple(accumulate(b[2] for b in _ADULT_BANDS))

# MA_DANTOC (QĐ 121-TCTK/PPCĐ): Kinh 01 and the largest minorities, weights of the non-Kinh part.
_MINORITIES: tuple[tuple[str, float], ...] = (
    ("02", 1.9),
    ("03", 1.8),
    ("06", 1.5),
    ("05", 1.4),
    ("08", 1.5),
    ("07", 1.1),
    ("09", 0.9),
    ("04", 0.8),
    ("10", 0.5),
    ("11", 0.4),
    ("12", 0.3),
)
_MINORITY_CUM = tuple(accumulate(w for _, w in _MINORITIES))

# Mobile prefixes in use (10 digits). Converted ones map back to the 11-digit form used before 2018.
MOBILE_PREFIXES = (
    "086",
    "096",
    "097",
    "098",
    "032",
    "033",
    "034",
    "035",
    "036",
    "037",
    "038",
    "039",
    "090",
    "093",
    "070",
    "076",
    "077",
    "078",
    "079",
    "091",
    "094",
    "081",
    "082",
    "083",
    "084",
    "085",
    "088",
    "092",
    "056",
    "058",
    "099",
    "059",
)
OLD_PREFIX = {
    "032": "0162",
    "033": "0163",
    "034": "0164",
    "035": "0165",
    "036": "0166",
    "037": "0167",
    "038": "0168",
    "039": "0169",
    "070": "0120",
    "079": "0121",
    "077": "0122",
    "076": "0126",
    "078": "0128",
    "083": "0123",
    "084": "0124",
    "085": "0125",
    "081": "0127",
    "082": "0129",
    "056": "0186",
    "058": "0188",
    "059": "0199",
}

# Occupation codes (QĐ 34/2020 style, 5 digits); 00000 = none (children, retirees, homemakers).
_OCCUPATIONS = (
    "61110",
    "61130",
    "71110",
    "72120",
    "75310",
    "52230",
    "83220",
    "93120",
    "23410",
    "22120",
    "33130",
    "51310",
    "91120",
    "81210",
    "24110",
)

CARD_BENEFIT = {
    "TE": 1,
    "HS": 4,
    "SV": 4,
    "DN": 4,
    "HC": 4,
    "GD": 4,
    "HN": 2,
    "CN": 3,
    "HT": 3,
    "CB": 2,
    "BT": 2,
    "CC": 1,
}
MUC_HUONG = {1: 100, 2: 100, 3: 95, 4: 80, 5: 100}

_M = 10**9
_A = 387_420_489  # 3**18: coprime with 10**k, so n -> n*A+B mod 10**k is a bijection


def permute(n: int, modulus: int, salt: int = 0) -> int:
    """A bijection of ``0 .. modulus-1`` (modulus a power of ten) that looks random."""
    return (n * _A + salt * 7_919 + 12_345) % modulus


@dataclass(eq=False)
class Person:
    idx: int
    household: int
    sex: int
    dob: date
    year_only: bool
    name: Name
    ethnicity: str
    occupation: str
    address: Address
    alt_address: Address
    phone: str
    cccd: str
    has_card: bool
    cmnd: str
    bhxh: str
    card_group: str
    card_province: str
    dkbd: str
    birth_time: tuple[int, int] = (0, 0)
    chronic: tuple[str, ...] = ()
    tb: bool = False
    hiv: bool = False
    guardian_cccd: str = ""
    mother: Person | None = None
    father: Person | None = None
    newborns: list[Person] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)

    @property
    def person_id(self) -> str:
        return f"P{self.idx:08d}"

    @property
    def household_id(self) -> str:
        return f"H{self.household:08d}"

    @property
    def insured(self) -> bool:
        return bool(self.card_group)

    def age_on(self, day: date) -> int:
        years = day.year - self.dob.year
        return years - ((day.month, day.day) < (self.dob.month, self.dob.day))

    def card_on(self, day: date) -> str:
        """The 15-character card code valid on ``day`` (newborns: the temporary TE1 card)."""
        if not self.card_group:
            return ""
        group = self.card_group
        if group == "TE" and self.age_on(day) >= 6:
            group = "HS"
        return f"{group}{CARD_BENEFIT[group]}{self.card_province}{self.bhxh}"

    def muc_huong(self, day: date) -> int:
        card = self.card_on(day)
        return MUC_HUONG[int(card[2])] if card else 0


@dataclass
class PopulationContext:
    """State shared by all households of a run: the facilities, the window and a few counters."""

    rng: random.Random
    config: SynthConfig
    province: Province
    window_start: date
    window_end: date
    next_idx: int = 0
    households: int = 0
    recent: dict[str, list[Person]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._communes = communes()

    def _commune(self) -> Commune:
        return self._communes[self.rng.randrange(len(self._communes))]

    def _address(self, commune: Commune | None = None) -> Address:
        c = commune or self._commune()
        rng = self.rng
        return Address(address_detail(rng.randrange(1000), urban=c.is_urban, street_pick=rng.randrange(1000)), c)

    def _phone(self) -> str:
        return f"{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**7):07d}"

    def _age(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def _adult_age(self) -> int:
        band = self.rng.choices(_ADULT_BANDS, cum_weights=_ADULT_CUM, k=1)[0]
        return self.rng.randint(band[0], band[1])

    def _dob(self, age: int) -> date:
        ref = self.window_start
        latest = date(ref.year - age, ref.month, min(ref.day, 28))
        return latest - timedelta(days=self.rng.randrange(365))

    def _ethnicity(self) -> str:
        if self.rng.random() < self.config.kinh_share:
            return "01"
        return self.rng.choices(_MINORITIES, cum_weights=_MINORITY_CUM, k=1)[0][0]

    # --- people ---------------------------------------------------------------------------------

    def person(
        self,
        *,
        sex: int,
        dob: date,
        address: Address,
        name: Name,
        phone: str,
        ethnicity: str,
        tags: set[str] | None = None,
    ) -> Person:
        rng, cfg = self.rng, self.config
        idx = self.next_idx
        self.next_idx += 1
        year = dob.year
        age = self.window_start.year - year
        birth_prov = address.commune.old_province_code
        if rng.random() < cfg.born_elsewhere_share:
            birth_prov = rng.choice(tuple(LEGACY_PROVINCES))
        century = (year // 100 - 19) * 2 + (sex - 1)
        cccd = f"0{birth_prov}{century}{year % 100:02d}{permute(idx, 10**6):06d}"
        cmnd = ""
        if year < 1990 and rng.random() < cfg.cmnd_holder_share_pre1990:
            prefix = {"33": "145", "34": "151"}.get(birth_prov, f"0{birth_prov}")
            cmnd = f"{prefix}{permute(idx, 10**6, 3):06d}"
        has_card = age >= 14 or rng.random() > cfg.child_without_card_share
        year_only = year < 1950 and rng.random() < cfg.year_only_dob_share_pre1950
        group = self._card_group(age)
        card_prov = address.commune.old_province_code if rng.random() < 0.2 else "33"
        bhxh = f"{birth_prov if birth_prov in ('33', '34') else '33'}{permute(idx, 10**8, 1):08d}"
        occupation = "00000" if age < 18 or age >= 60 or rng.random() < 0.3 else rng.choice(_OCCUPATIONS)
        p = Person(
            idx=idx,
            household=self.households,
            sex=sex,
            dob=dob,
            year_only=year_only,
            name=name,
            ethnicity=ethnicity,
            occupation=occupation,
            address=address,
            alt_address=self._address(),
            phone=phone,
            cccd=cccd,
            has_card=has_card,
            cmnd=cmnd,
            bhxh=bhxh,
            card_group=group,
            card_province=card_prov,
            dkbd=self._dkbd(address),
            tags=set(tags or ()),
        )
        if year_only:
            p.tags.add("year_only_dob")
        self._conditions(p, age)
        return p

    def _card_group(self, age: int) -> str:
        r = self.rng.random()
        if r < self.config.uninsured_share and age >= 6:
            return ""
        r = self.rng.random()
        if age < 6:
            return "TE"
        if age < 18:
            return "HS" if r < 0.9 else "GD"
        if age < 23:
            return "SV" if r < 0.5 else ("DN" if r < 0.75 else "GD")
        if age < 60:
            for group, upto in (("DN", 0.35), ("HC", 0.43), ("HN", 0.47), ("CN", 0.50)):
                if r < upto:
                    return group
            return "GD"
        if age < 80:
            for group, upto in (("HT", 0.30), ("CB", 0.35), ("HN", 0.40), ("CN", 0.45), ("BT", 0.55)):
                if r < upto:
                    return group
            return "GD"
        for group, upto in (("BT", 0.5), ("HT", 0.8), ("CC", 0.85)):
            if r < upto:
                return group
        return "GD"

    def _dkbd(self, address: Address) -> str:
        r = self.rng.random()
        prov = self.province
        if r < 0.6:
            return prov.station_for_commune[address.commune.new_code].code
        if r < 0.85:
            return prov.centre_for_district[address.commune.old_district_code].code
        if r < 0.95:
            return self.rng.choice(prov.private).code
        return prov.provincial[0].code

    def _conditions(self, p: Person, age: int) -> None:
        rng, cfg = self.rng, self.config
        share = cfg.chronic_share_40plus if age >= 40 else (0.04 if age >= 18 else 0.01)
        if rng.random() < share:
            pool: tuple[str, ...] = (
                ("hypertension",) * 9
                + ("diabetes",) * 4
                + ("copd",) * 2
                + ("ihd",) * 2
                + ("ckd", "arthritis", "arthritis")
            )
            if age < 40:
                pool = ("asthma", "asthma", "diabetes", "hypertension", "mental")
            first = rng.choice(pool)
            chronic = [first]
            if rng.random() < 0.25:
                second = rng.choice(pool)
                if second != first:
                    chronic.append(second)
            p.chronic = tuple(chronic)
        if age >= 15 and rng.random() < cfg.tb_share:
            p.tb = True
            p.tags.add("tb")
        if 18 <= age < 65 and rng.random() < cfg.hiv_share:
            p.hiv = True
            p.tags.add("hiv")

    # --- households -----------------------------------------------------------------------------

    def household(self, max_persons: int) -> list[Person]:
        """One household of at most ``max_persons`` persons, in a stable order."""
        rng = self.rng
        self.households += 1
        address = self._address()
        phone = self._phone()
        r = rng.random()
        members: list[Person] = []
        if max_persons < 2:
            r = 0.95  # no room for a couple: a single young adult
        if r < 0.62:
            members = self._family(address, phone, max_persons)
        elif r < 0.80:
            for sex in (1, 2)[:max_persons]:
                age = self._age(60, 90)
                members.append(self._adult(sex, age, address, phone if sex == 1 else self._phone()))
        elif r < 0.90:
            members.append(self._adult(2 if rng.random() < 0.65 else 1, self._age(65, 95), address, phone))
        else:
            members.append(self._adult(rng.choice((1, 2)), self._age(18, 35), address, phone))
        self._plant_namesake(members)
        for m in members:
            self.recent.setdefault(m.address.commune.new_code, []).append(m)
            bucket = self.recent[m.address.commune.new_code]
            if len(bucket) > 8:
                del bucket[0]
        return members[:max_persons]

    def _adult(self, sex: int, age: int, address: Address, phone: str, family: str | None = None) -> Person:
        dob = self._dob(age)
        name = draw_name(self.rng, sex=sex, birth_year=dob.year, family=family)
        return self.person(sex=sex, dob=dob, address=address, name=name, phone=phone, ethnicity=self._ethnicity())

    def _family(self, address: Address, phone: str, max_persons: int) -> list[Person]:
        rng, cfg = self.rng, self.config
        mother_age = max(20, min(55, self._adult_age()))
        father_age = max(20, mother_age + round(rng.gauss(3, 3)))
        father = self._adult(1, father_age, address, phone)
        ethnicity = father.ethnicity
        mother = self._adult(2, mother_age, address, self._phone())
        mother.ethnicity = ethnicity if rng.random() < 0.9 else mother.ethnicity
        members = [father, mother]
        n_kids = rng.choices((0, 1, 2, 3, 4), cum_weights=(10, 40, 82, 97, 100), k=1)[0]
        kid_ages = sorted({max(0, mother_age - rng.randint(19, 38)) for _ in range(n_kids)}, reverse=True)
        for age in kid_ages:
            if len(members) >= max_persons:
                break
            dob = self._dob(age)
            twins = rng.random() < cfg.twin_birth_share and len(members) + 2 <= max_persons
            members.extend(self._children(father, mother, dob, 2 if twins else 1, address, phone))
        if len(members) < max_persons and mother_age <= 40 and rng.random() < cfg.newborn_share_young_mothers:
            days = (self.window_end - self.window_start).days - 40
            born = self.window_start + timedelta(days=rng.randrange(max(1, days)))
            twins = rng.random() < cfg.twin_birth_share and len(members) + 2 <= max_persons
            babies = self._children(father, mother, born, 2 if twins else 1, address, phone)
            hour, minute = rng.randrange(24), rng.randrange(60)
            for b in babies:
                b.birth_time = (hour, minute)
                b.tags.add("newborn")
                b.card_group = "TE"
                b.has_card = False
            mother.newborns.extend(babies)
            mother.tags.add("mother_of_newborn")
            members.extend(babies)
        if len(members) < max_persons and rng.random() < cfg.grandparent_household_share:
            g_age = min(99, father_age + rng.randint(22, 32))
            members.append(self._adult(rng.choice((1, 2)), g_age, address, phone))
        return members[:max_persons]

    def _children(
        self, father: Person, mother: Person, dob: date, n: int, address: Address, phone: str
    ) -> list[Person]:
        rng = self.rng
        kids: list[Person] = []
        shared_middle: tuple[str, ...] | None = None
        twin_sex = 0
        for _ in range(n):
            sex = rng.choice((1, 2))
            name = draw_name(rng, sex=sex, birth_year=dob.year, family=father.name.family)
            if n > 1:
                # Twins: same family name and often the same middle name.
                if shared_middle is None:
                    shared_middle = name.middles
                    twin_sex = sex
                elif sex == twin_sex:
                    given = draw_given(rng, sex=sex)
                    while given in {k.name.given for k in kids} | set(shared_middle):
                        given = draw_given(rng, sex=sex)
                    name = Name(name.family, shared_middle, given)
            kid = self.person(
                sex=sex,
                dob=dob,
                address=address,
                name=name,
                phone=phone,
                ethnicity=father.ethnicity,
                tags={"twin"} if n > 1 else None,
            )
            kid.guardian_cccd = father.cccd if father.has_card and rng.random() < 0.5 else mother.cccd
            kid.mother, kid.father = mother, father
            kid.year_only = False
            kid.tags.discard("year_only_dob")
            kids.append(kid)
        return kids

    def _plant_namesake(self, members: list[Person]) -> None:
        """Make one adult a namesake of someone recent in the same commune (same name, sex, birth year)."""
        rng = self.rng
        if rng.random() >= self.config.namesake_share * len(members):
            return
        adults = [m for m in members if m.age_on(self.window_start) >= 18 and "twin" not in m.tags]
        if not adults:
            return
        target = rng.choice(adults)
        candidates = [
            p
            for p in self.recent.get(target.address.commune.new_code, ())
            if p.sex == target.sex and p.household != target.household and p.age_on(self.window_start) >= 18
        ]
        if not candidates:
            return
        other = rng.choice(candidates)
        target.name = other.name
        if target.dob.year != other.dob.year:
            # Keep the identifiers consistent with the new birth year.
            new_dob = date(other.dob.year, target.dob.month, min(target.dob.day, 28))
            target.dob = new_dob
            century = (new_dob.year // 100 - 19) * 2 + (target.sex - 1)
            old_cccd = target.cccd
            target.cccd = f"{target.cccd[:3]}{century}{new_dob.year % 100:02d}{target.cccd[6:]}"
            for member in members:  # children who carry this guardian's number carry the new one
                if member.guardian_cccd == old_cccd:
                    member.guardian_cccd = target.cccd
            if new_dob.year >= 1990:
                target.cmnd = ""
        target.tags.add("namesake")
        other.tags.add("namesake")
