"""The generator's parameters: one frozen, validated dataclass, and the summary a run returns.

Every probability the model uses is a field here, so a run is fully described by (persons, seed, config)
and a JSON file can reproduce it. Defaults are meant to be realistic (see README.md for where each comes
from); tests raise them to measure noise rates with tight tolerances. This module must stay free of
generation logic.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

# Record-level noise kinds, each drawn independently per record with probability
# `SynthConfig.noise[kind]`, and only where it can apply (its "eligible" records).
NOISE_KINDS: tuple[str, ...] = (
    "cccd_missing",
    "cccd_digit_wrong",
    "cccd_digits_swapped",
    "cccd_cmnd_instead",
    "cccd_guardian",
    "name_no_diacritics",
    "name_nfd",
    "name_wrong_tone",
    "name_middle_dropped",
    "name_middle_added",
    "name_y_i",
    "name_typo",
    "name_double_space",
    "dob_year_only",
    "dob_day_month_swapped",
    "dob_off_by_one",
    "dob_jan_first",
    "phone_changed",
    "phone_old_form",
    "phone_missing",
    "address_moved",
    "address_old_codes",
    "card_prefix_changed",
    "ma_bn_duplicate",
    "newborn_parent_name",
    # Kinds the default profile leaves at 0 (its output stays what it was); the hard profile raises them.
    "name_order_reversed",
    "dob_year_digit_wrong",
    "dob_year_digits_swapped",
)

DEFAULT_NOISE: Mapping[str, float] = {
    "cccd_missing": 0.12,
    "cccd_digit_wrong": 0.01,
    "cccd_digits_swapped": 0.005,
    "cccd_cmnd_instead": 0.10,
    "cccd_guardian": 0.30,
    "name_no_diacritics": 0.03,
    "name_nfd": 0.03,
    "name_wrong_tone": 0.01,
    "name_middle_dropped": 0.03,
    "name_middle_added": 0.01,
    "name_y_i": 0.05,
    "name_typo": 0.01,
    "name_double_space": 0.01,
    "dob_year_only": 0.01,
    "dob_day_month_swapped": 0.01,
    "dob_off_by_one": 0.01,
    "dob_jan_first": 0.005,
    "phone_changed": 0.05,
    "phone_old_form": 0.05,
    "phone_missing": 0.05,
    "address_moved": 0.03,
    "address_old_codes": 0.25,
    "card_prefix_changed": 0.03,
    "ma_bn_duplicate": 0.01,
    "newborn_parent_name": 0.80,
    "name_order_reversed": 0.0,
    "dob_year_digit_wrong": 0.0,
    "dob_year_digits_swapped": 0.0,
}

# Facility habits: the share of facilities whose software behaves this way. Chosen facilities are drawn
# exactly (round(share * facilities)), so the number of facilities with a habit is fixed. Every record
# of such a facility where the habit changes a value carries the habit's name in the truth's noise list.
HABIT_KINDS: tuple[str, ...] = (
    "facility_upper_names",
    "facility_strip_diacritics",
    "facility_nfd",
    "facility_empty_cccd",
    "export_nghe_nghiep_00",
    "export_ngay_hen_kl_8",
    "export_undefined_bs_doc_kq",
    "export_undefined_ma_nhom",
    "export_inner_xmlns",
    "facility_name_reversed",
)

# Habits whose effect leaves the field table (or is a known .NET serialiser artefact): the reader may warn.
EXPORT_DEVIATIONS: frozenset[str] = frozenset(k for k in HABIT_KINDS if k.startswith("export_"))

DEFAULT_HABITS: Mapping[str, float] = {
    "facility_upper_names": 0.70,
    "facility_strip_diacritics": 0.05,
    "facility_nfd": 0.04,
    "facility_empty_cccd": 0.08,
    "export_nghe_nghiep_00": 0.25,
    "export_ngay_hen_kl_8": 0.25,
    "export_undefined_bs_doc_kq": 0.10,
    "export_undefined_ma_nhom": 0.10,
    "export_inner_xmlns": 0.50,
    "facility_name_reversed": 0.0,
}


def _noise_defaults() -> dict[str, float]:
    return dict(DEFAULT_NOISE)


def _habit_defaults() -> dict[str, float]:
    return dict(DEFAULT_HABITS)


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a synthetic province. Validated on construction; see README.md for the model."""

    # Time window of encounters (post-reform: administrative codes after 1 July 2025 are the clean ones).
    start: date = date(2025, 7, 1)
    months: int = 12
    # Population.
    kinh_share: float = 0.85
    uninsured_share: float = 0.07
    born_elsewhere_share: float = 0.15
    year_only_dob_share_pre1950: float = 0.35
    twin_birth_share: float = 0.015
    newborn_share_young_mothers: float = 0.12  # families with a mother <= 40 who give birth in the window
    namesake_share: float = 0.01
    grandparent_household_share: float = 0.30
    old_phone_user_share: float = 0.0  # persons still giving an 11-digit number everywhere (beyond noise)
    cmnd_holder_share_pre1990: float = 0.6  # of people born before 1990, who still has an old 9-digit CMND
    child_without_card_share: float = 0.7  # under-14s whose CCCD number is not known to facilities
    # How long a newborn without a card may still be recorded under the mother's name (TT 30/2020 allows
    # the first 28 days; some facilities keep the mother's-name record for months).
    newborn_parent_name_days: int = 28
    # Care.
    visits_scale: float = 1.0
    chronic_share_40plus: float = 0.22
    referral_share: float = 0.025
    appointment_share: float = 0.35
    tb_share: float = 0.001
    hiv_share: float = 0.002
    # Noise and habits.
    noise: Mapping[str, float] = field(default_factory=_noise_defaults)
    habits: Mapping[str, float] = field(default_factory=_habit_defaults)
    undefined_row_share: float = 0.3  # rows of an "undefined"-habit facility that carry the literal
    # Write the inner xmlns habit with the malformed xsi URI seen in real files (lxml rejects it by default).
    inner_xmlns_malformed: bool = True

    def __post_init__(self) -> None:
        problems: list[str] = []
        noise = dict(DEFAULT_NOISE)
        for k, v in dict(self.noise).items():
            if k not in DEFAULT_NOISE:
                problems.append(f"unknown noise kind {k!r}")
            noise[k] = v
        habits = dict(DEFAULT_HABITS)
        for k, v in dict(self.habits).items():
            if k not in DEFAULT_HABITS:
                problems.append(f"unknown facility habit {k!r}")
            habits[k] = v
        for name, value in [*noise.items(), *habits.items(), *self._shares()]:
            if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
                problems.append(f"{name} must be a probability in [0, 1], got {value!r}")
        if not 1 <= self.months <= 60:
            problems.append(f"months must be 1..60, got {self.months}")
        if not 0 <= self.newborn_parent_name_days <= 366:
            problems.append(f"newborn_parent_name_days must be 0..366, got {self.newborn_parent_name_days}")
        if not 0.0 < self.visits_scale <= 20.0:
            problems.append(f"visits_scale must be in (0, 20], got {self.visits_scale}")
        if problems:
            raise ValueError("invalid SynthConfig: " + "; ".join(problems))
        # Read-only mappings, completed with defaults, so a frozen config cannot change under a run.
        object.__setattr__(self, "noise", MappingProxyType(noise))
        object.__setattr__(self, "habits", MappingProxyType(habits))

    def _shares(self) -> list[tuple[str, float]]:
        """Every float field except ``visits_scale`` is a probability."""
        return [
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if isinstance(getattr(self, f.name), float) and f.name != "visits_scale"
        ]

    def scaled(self, factor: float) -> SynthConfig:
        """The same config with every record-level noise rate multiplied by ``factor`` (capped at 1)."""
        if factor < 0:
            raise ValueError("noise scale must be >= 0")
        return dataclasses.replace(self, noise={k: min(1.0, v * factor) for k, v in self.noise.items()})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                value.isoformat() if isinstance(value, date) else (dict(value) if isinstance(value, Mapping) else value)
            )
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base: SynthConfig | None = None) -> SynthConfig:
        """Build from a JSON object; missing keys keep the values of ``base`` (default: the defaults), noise
        and habit rates are merged kind by kind onto ``base``'s, unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown SynthConfig keys: {sorted(unknown)}")
        kwargs = dict(data)
        if "start" in kwargs and isinstance(kwargs["start"], str):
            kwargs["start"] = date.fromisoformat(kwargs["start"])
        if base is None:
            return cls(**kwargs)
        for mapping in ("noise", "habits"):
            if mapping in kwargs:
                kwargs[mapping] = {**getattr(base, mapping), **kwargs[mapping]}
        return dataclasses.replace(base, **kwargs)

    @classmethod
    def from_file(cls, path: Path, base: SynthConfig | None = None) -> SynthConfig:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")), base)


@dataclass(frozen=True)
class SynthSummary:
    """What a run produced. ``noise_counts[k] / noise_eligible[k]`` is the realised rate of kind ``k``."""

    persons: int
    households: int
    encounters: int
    files: int
    referrals: int
    noise_counts: Mapping[str, int]
    noise_eligible: Mapping[str, int]
    habit_facilities: Mapping[str, int]
    seconds: float
    out: Path


# Named presets of `mpi synth --profile`. "default" is `SynthConfig()` unchanged (its output is pinned by
# seed). "hard" is at least as hard as exports we did not generate: every variation kind a real province
# shows is frequent enough to move pairwise recall — names in reversed order (per record, and whole
# facilities whose software writes the given name first or the family name last), one wrong or two
# swapped digits in the birth year, newborns kept under the mother's name for months, whole facilities
# without diacritics or in NFD, more typos, missing CCCDs and guardians' CCCDs on children's records.
PROFILES: tuple[str, ...] = ("default", "hard")

HARD_NOISE: Mapping[str, float] = {
    "cccd_missing": 0.15,
    "cccd_digit_wrong": 0.015,
    "cccd_guardian": 0.50,
    "name_no_diacritics": 0.08,
    "name_nfd": 0.06,
    "name_wrong_tone": 0.02,
    "name_middle_dropped": 0.05,
    "name_middle_added": 0.02,
    "name_y_i": 0.08,
    "name_typo": 0.04,
    "name_double_space": 0.02,
    "dob_year_only": 0.02,
    "dob_day_month_swapped": 0.02,
    "dob_off_by_one": 0.02,
    "dob_jan_first": 0.01,
    "phone_changed": 0.08,
    "phone_missing": 0.10,
    "address_moved": 0.05,
    "ma_bn_duplicate": 0.02,
    "newborn_parent_name": 0.90,
    "name_order_reversed": 0.04,
    "dob_year_digit_wrong": 0.02,
    "dob_year_digits_swapped": 0.02,
}

HARD_HABITS: Mapping[str, float] = {
    "facility_strip_diacritics": 0.20,
    "facility_nfd": 0.12,
    "facility_empty_cccd": 0.10,
    "facility_name_reversed": 0.08,
}


def profile_config(name: str) -> SynthConfig:
    """The preset called ``name`` (one of :data:`PROFILES`)."""
    if name == "default":
        return SynthConfig()
    if name == "hard":
        return SynthConfig(
            noise=HARD_NOISE,
            habits=HARD_HABITS,
            newborn_parent_name_days=120,
            newborn_share_young_mothers=0.15,
            namesake_share=0.02,
            twin_birth_share=0.02,
        )
    raise ValueError(f"unknown synth profile {name!r}; known: {', '.join(PROFILES)}")
