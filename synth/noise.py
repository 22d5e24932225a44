"""Noise: the typing, registration and export errors that make one person's records differ.

Each record-level kind is drawn independently with its configured probability, but only on records where it
can apply (its *eligible* records: a CCCD digit cannot be wrong on a record without a CCCD). Both counts
are kept, so ``applied / eligible`` is the realised rate that tests compare with the setting. Facility
habits run after record noise and are recorded under their own names. Every applied kind is returned, in a
fixed order, for the ground truth. Nothing here logs a value.
"""

from __future__ import annotations

import random
import unicodedata
from calendar import isleap
from dataclasses import dataclass
from datetime import date, timedelta

from synth.config import NOISE_KINDS, SynthConfig
from synth.facilities import Facility
from synth.names import (
    THI_VAN,
    has_diacritics,
    has_tone,
    strip_diacritics,
    swap_y_i,
    typo,
    wrong_tone,
    y_i_positions,
)
from synth.population import CARD_BENEFIT, MOBILE_PREFIXES, OLD_PREFIX, Person, permute


@dataclass(slots=True)
class Identity:
    """The identity fields of one encounter as the facility will write them (XML1, repeated elsewhere)."""

    ho_ten: str
    so_cccd: str
    ngay_sinh: str
    dien_thoai: str
    dia_chi: str
    matinh: str
    mahuyen: str
    maxa: str
    ma_the_bhyt: str
    ma_bn: str
    ma_nghe_nghiep: str


def dob_text(person: Person) -> str:
    """NGAY_SINH as the person's clean record has it: year-only, with time for newborns, else day."""
    if person.year_only:
        return f"{person.dob.year:04d}00000000"
    h, m = person.birth_time
    return f"{person.dob:%Y%m%d}{h:02d}{m:02d}"


def reorder_name(tokens: list[str], *, given_first: bool) -> list[str]:
    """The name in a foreign order: the given name first (``Khai Nguyễn Thị Minh``), or the family name
    moved last (``Thị Minh Khai Nguyễn``)."""
    family, *rest = tokens
    if given_first:
        return [rest[-1], family, *rest[:-1]]
    return [*rest, family]


def _swap_digits(value: str, rng: random.Random) -> str | None:
    positions = [i for i in range(len(value) - 1) if value[i] != value[i + 1]]
    if not positions:
        return None
    i = rng.choice(positions)
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


class NoiseModel:
    def __init__(self, rng: random.Random, config: SynthConfig) -> None:
        self.rng = rng
        self.rates = dict(config.noise)
        self.undefined_share = config.undefined_row_share
        self.newborn_days = config.newborn_parent_name_days
        self.counts: dict[str, int] = dict.fromkeys(NOISE_KINDS, 0)
        self.eligible: dict[str, int] = dict.fromkeys(NOISE_KINDS, 0)
        self.habit_counts: dict[str, int] = {}

    def _draw(self, kind: str) -> bool:
        self.eligible[kind] += 1
        rate = self.rates[kind]
        # A kind switched off draws nothing, so adding a kind at rate 0 leaves every other draw unchanged.
        if rate > 0.0 and self.rng.random() < rate:
            self.counts[kind] += 1
            return True
        return False

    def habit(self, kind: str, applied: list[str]) -> None:
        applied.append(kind)
        self.habit_counts[kind] = self.habit_counts.get(kind, 0) + 1

    # --- record noise -----------------------------------------------------------------------------

    def apply(self, ident: Identity, person: Person, facility: Facility, day: date) -> list[str]:
        applied: list[str] = []
        rng = self.rng
        draw = self._draw

        # Names. A newborn without its own card is written under the mother's name (TT 30/2020).
        tokens = [person.name.family, *person.name.middles, person.name.given]
        mother = person.mother
        if (
            mother is not None
            and not person.has_card
            and (day - person.dob).days <= self.newborn_days
            and draw("newborn_parent_name")
        ):
            tokens = [mother.name.family, *mother.name.middles, mother.name.given]
            applied.append("newborn_parent_name")
        if len(tokens) >= 3 and draw("name_middle_dropped"):
            del tokens[1]
            applied.append("name_middle_dropped")
        name_sex = mother.sex if "newborn_parent_name" in applied and mother is not None else person.sex
        if (
            name_sex in THI_VAN
            and THI_VAN[name_sex] not in tokens[1:-1]
            and len(tokens) <= 4
            and draw("name_middle_added")
        ):
            tokens.insert(1, THI_VAN[name_sex])
            applied.append("name_middle_added")
        positions = y_i_positions(tokens)
        if positions and draw("name_y_i"):
            i = rng.choice(positions)
            tokens[i] = swap_y_i(tokens[i])
            applied.append("name_y_i")
        if draw("name_typo"):
            tokens[-1] = typo(tokens[-1], rng)
            applied.append("name_typo")
        if len(tokens) >= 2 and draw("name_order_reversed"):
            tokens = reorder_name(tokens, given_first=rng.random() < 0.5)
            applied.append("name_order_reversed")
        elif len(tokens) >= 2 and "facility_name_reversed" in facility.habits:
            # The facility's software always writes the same order: a fixed choice per facility.
            tokens = reorder_name(tokens, given_first=int(facility.code) % 2 == 0)
            self.habit("facility_name_reversed", applied)
        name = " ".join(tokens)
        if has_tone(name) and draw("name_wrong_tone"):
            name = wrong_tone(name, rng)
            applied.append("name_wrong_tone")
        if draw("name_double_space"):
            spaces = [i for i, ch in enumerate(name) if ch == " "]
            cut = rng.choice(spaces)
            name = name[:cut] + " " + name[cut:]
            applied.append("name_double_space")
        if has_diacritics(name) and draw("name_no_diacritics"):
            name = strip_diacritics(name)
            applied.append("name_no_diacritics")
        if has_diacritics(name) and draw("name_nfd"):
            name = unicodedata.normalize("NFD", name)
            applied.append("name_nfd")
        ident.ho_ten = name

        # CCCD. A child without a known card may be written with a guardian's number.
        cccd = ident.so_cccd
        if not cccd and person.guardian_cccd and draw("cccd_guardian"):
            cccd = person.guardian_cccd
            applied.append("cccd_guardian")
        if cccd and draw("cccd_missing"):
            cccd = ""
            applied.append("cccd_missing")
        if cccd and person.cmnd and cccd == person.cccd and draw("cccd_cmnd_instead"):
            cccd = person.cmnd
            applied.append("cccd_cmnd_instead")
        if len(cccd) == 12 and draw("cccd_digit_wrong"):
            i = rng.randrange(12)
            cccd = cccd[:i] + rng.choice([d for d in "0123456789" if d != cccd[i]]) + cccd[i + 1 :]
            applied.append("cccd_digit_wrong")
        if len(cccd) == 12 and draw("cccd_digits_swapped"):
            swapped = _swap_digits(cccd, rng)
            if swapped is not None:
                cccd = swapped
                applied.append("cccd_digits_swapped")
        ident.so_cccd = cccd

        # Date of birth.
        dob = ident.ngay_sinh
        full = dob[4:8] != "0000" and "newborn" not in person.tags
        if full and draw("dob_year_only"):
            dob = f"{dob[:4]}00000000"
            applied.append("dob_year_only")
            full = False
        if full:
            y, m, d = int(dob[:4]), int(dob[4:6]), int(dob[6:8])
            if d <= 12 and d != m and draw("dob_day_month_swapped"):
                dob = f"{y:04d}{d:02d}{m:02d}{dob[8:]}"
                applied.append("dob_day_month_swapped")
            elif draw("dob_off_by_one"):
                if rng.random() < 0.5:
                    shifted = date(y, m, d) + timedelta(days=rng.choice((-1, 1)))
                else:
                    shifted = date(y + rng.choice((-1, 1)), m, min(d, 28))
                dob = f"{shifted:%Y%m%d}{dob[8:]}"
                applied.append("dob_off_by_one")
            elif (m, d) != (1, 1) and draw("dob_jan_first"):
                dob = f"{y:04d}0101{dob[8:]}"
                applied.append("dob_jan_first")
        # Typing errors in the birth year, on any precision; only years that could be real (1900 up to
        # the encounter's year) and that differ from the true one.
        year = int(dob[:4])
        wrong = [
            y
            for pos in (2, 3)
            for digit in "0123456789"
            if digit != dob[pos] and 1900 <= (y := int(dob[:pos] + digit + dob[pos + 1 : 4])) <= day.year
        ]
        if wrong and draw("dob_year_digit_wrong"):
            year = rng.choice(wrong)
            applied.append("dob_year_digit_wrong")
        else:
            swapped_year = int(dob[:2] + dob[3] + dob[2])
            if swapped_year != year and 1900 <= swapped_year <= day.year and draw("dob_year_digits_swapped"):
                year = swapped_year
                applied.append("dob_year_digits_swapped")
        if year != int(dob[:4]):
            month_day = dob[4:8]
            if month_day == "0229" and not isleap(year):
                month_day = "0228"
            dob = f"{year:04d}{month_day}{dob[8:]}"
        ident.ngay_sinh = dob

        # Phone.
        phone = ident.dien_thoai
        if phone and draw("phone_missing"):
            phone = ""
            applied.append("phone_missing")
        if phone and draw("phone_changed"):
            phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
            applied.append("phone_changed")
        if phone[:3] in OLD_PREFIX and draw("phone_old_form"):
            phone = OLD_PREFIX[phone[:3]] + phone[3:]
            applied.append("phone_old_form")
        ident.dien_thoai = phone

        # Address: a previous residence, or the pre-2025 units.
        address = person.address
        if draw("address_moved"):
            address = person.alt_address
            applied.append("address_moved")
        legacy = draw("address_old_codes")
        if legacy:
            applied.append("address_old_codes")
        if mother is not None and "newborn_parent_name" in applied:
            address = mother.address
        ident.dia_chi = address.text(legacy=legacy)
        ident.matinh, ident.mahuyen, ident.maxa = address.codes(legacy=legacy)

        # Insurance card: the group prefix changed (same lifelong BHXH number).
        card = ident.ma_the_bhyt
        if card and not card.startswith("TE1") and draw("card_prefix_changed"):
            group = rng.choice([g for g in CARD_BENEFIT if g not in (card[:2], "TE")])
            card = f"{group}{CARD_BENEFIT[group]}{card[3:]}"
            applied.append("card_prefix_changed")
        ident.ma_the_bhyt = card

        # A second registration at the same facility: another MA_BN for the same person.
        if draw("ma_bn_duplicate"):
            ident.ma_bn = facility.ma_bn(permute(person.idx + 500_000_000, 10**9, int(facility.code)))
            applied.append("ma_bn_duplicate")

        self._habits(ident, facility, applied)
        return applied

    def _habits(self, ident: Identity, facility: Facility, applied: list[str]) -> None:
        habits = facility.habits
        if not habits:
            return
        if "facility_empty_cccd" in habits and ident.so_cccd:
            ident.so_cccd = ""
            self.habit("facility_empty_cccd", applied)
        if "facility_strip_diacritics" in habits and has_diacritics(ident.ho_ten + ident.dia_chi):
            ident.ho_ten = strip_diacritics(ident.ho_ten)
            ident.dia_chi = strip_diacritics(ident.dia_chi)
            self.habit("facility_strip_diacritics", applied)
        if "facility_nfd" in habits and has_diacritics(ident.ho_ten + ident.dia_chi):
            ident.ho_ten = unicodedata.normalize("NFD", ident.ho_ten)
            ident.dia_chi = unicodedata.normalize("NFD", ident.dia_chi)
            self.habit("facility_nfd", applied)
        if "facility_upper_names" in habits:
            # Upper case is a representation, not an error: not listed in the truth.
            ident.ho_ten = ident.ho_ten.upper()
        if "export_nghe_nghiep_00" in habits:
            ident.ma_nghe_nghiep = ident.ma_nghe_nghiep[:2]
            self.habit("export_nghe_nghiep_00", applied)

    def undefined_rows(self, n: int) -> list[bool]:
        """Which of ``n`` detail rows of an "undefined"-habit facility carry the literal."""
        return [self.rng.random() < self.undefined_share for _ in range(n)]
