"""Outbreaks injected into a synthetic province: extra visits of residents of one commune for one
notifiable disease over a few weeks, so that surveillance (:mod:`mpi.reports.surveillance`) has something
to find.

``mpi synth --outbreak dengue:auto:2026-03-02:8`` adds 8 distinct residents of the most populous commune
(or of a given post-2025 commune code), each seen once for dengue at their commune's station within the two
weeks from 2026-03-02. Drawn from their own random stream after the province is generated: the baseline's
files are byte-identical with or without outbreaks. What was injected is written to ``outbreaks.json``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, timedelta

from synth.encounters import Encounter, EncounterFactory
from synth.facilities import Province
from synth.population import Person

OUTBREAK_DX: dict[str, str] = {
    "dengue": "A90",
    "hfmd": "B08.4",
    "measles": "B05.9",
    "influenza": "J11.1",
    "diarrhoea": "A09",
    "chickenpox": "B01.9",
    "tb": "A15.0",
}
"""Surveillance group -> the ICD-10 code the generator's clinical catalogue renders for it."""

_SPEC = re.compile(
    r"(?P<group>[a-z]+):(?P<commune>auto|\d{5}):(?P<start>\d{4}-\d{2}-\d{2}):(?P<persons>\d+)"
    r"(?::(?P<weeks>\d+))?"
)


@dataclass(frozen=True, slots=True)
class Outbreak:
    group: str
    commune_code: str
    """A post-2025 commune code, or ``auto``: the commune with the most residents."""
    start: date
    persons: int
    weeks: int = 2

    @classmethod
    def parse(cls, text: str) -> Outbreak:
        """``GROUP:COMMUNE|auto:YYYY-MM-DD:PERSONS[:WEEKS]``; a ValueError says what is wrong."""
        m = _SPEC.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"outbreak {text!r} is not GROUP:COMMUNE|auto:YYYY-MM-DD:PERSONS[:WEEKS]")
        if m["group"] not in OUTBREAK_DX:
            raise ValueError(f"outbreak group {m['group']!r} is not one of {', '.join(OUTBREAK_DX)}")
        start = date.fromisoformat(m["start"])
        persons, weeks = int(m["persons"]), int(m["weeks"] or 2)
        if persons < 1 or not 1 <= weeks <= 8:
            raise ValueError(f"outbreak {text!r}: PERSONS must be >= 1 and WEEKS 1..8")
        return cls(m["group"], m["commune"], start, persons, weeks)


def inject(
    outbreak: Outbreak, *, residents: dict[str, list[Person]], factory: EncounterFactory, province: Province, seed: int
) -> tuple[dict[str, object], list[Encounter]]:
    """The outbreak's encounters and a description of what was injected."""
    commune = outbreak.commune_code
    if commune == "auto":
        commune = max(sorted(residents), key=lambda c: len(residents[c]))
    days = [outbreak.start + timedelta(days=d) for d in range(7 * outbreak.weeks)]
    alive = [p for p in residents.get(commune, []) if p.dob < outbreak.start]
    if len(alive) < outbreak.persons:
        raise ValueError(
            f"outbreak in commune {commune}: {outbreak.persons} persons asked, {len(alive)} residents there"
        )
    if days[-1] >= factory.end or days[0] < factory.start:
        raise ValueError(f"outbreak weeks from {outbreak.start} fall outside the generated window")
    rng = random.Random(f"{seed}:{outbreak.group}:{commune}:{outbreak.start}")  # noqa: S311 - synthetic data
    station = province.station_for_commune[commune]
    encounters = [
        factory.extra_visit(p, day=rng.choice(days), dx=OUTBREAK_DX[outbreak.group], facility=station)
        for p in rng.sample(alive, outbreak.persons)
    ]
    described: dict[str, object] = {
        "group": outbreak.group, "commune_code": commune, "start": outbreak.start.isoformat(),
        "weeks": outbreak.weeks, "persons": outbreak.persons, "icd10": OUTBREAK_DX[outbreak.group],
        "facility_code": station.code,
    }  # fmt: skip
    return described, encounters
