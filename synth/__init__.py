"""Synthetic province generator: Vietnamese patients, facilities and XML 130 submissions with ground truth.

No real patient data may enter this project, yet tests, the demo, benchmarks and accuracy figures need
data that behaves like the real thing. :func:`generate_province` writes GIAMDINHHS files that look like a
province's facilities' exports (surname concentration, real identifier structures, facility habits,
families, twins, namesakes, newborns under the mother's name, referrals) and a truth table saying which
records belong to the same person and which noise each carries. See README.md in this folder.
"""

from synth.config import (
    DEFAULT_HABITS,
    DEFAULT_NOISE,
    EXPORT_DEVIATIONS,
    HABIT_KINDS,
    NOISE_KINDS,
    PROFILES,
    SynthConfig,
    SynthSummary,
    profile_config,
)
from synth.province import generate_province

__all__ = [
    "DEFAULT_HABITS",
    "DEFAULT_NOISE",
    "EXPORT_DEVIATIONS",
    "HABIT_KINDS",
    "NOISE_KINDS",
    "PROFILES",
    "SynthConfig",
    "SynthSummary",
    "generate_province",
    "profile_config",
]
