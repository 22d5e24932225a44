"""The synthetic province's facility registry (``facilities.csv``, read by ``mpi facilities import``).

Derived from the province without drawing random numbers, so writing it changes no other output.
Waves follow the pilot's order: provincial hospitals and district centres first, private polyclinics two
months later, commune stations two months after that. Hospitals and polyclinics stand in a commune of
their old province chosen from their code; a commune station stands in the commune it serves; a district
centre in the first commune of the first district it serves.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from mpi.facilities import RegistryRow, write_registry_csv
from synth.facilities import COMMUNE, DISTRICT, PRIVATE, PROVINCIAL, Province
from synth.geography import communes

WAVE_OF_LEVEL = {PROVINCIAL: 1, DISTRICT: 1, PRIVATE: 2, COMMUNE: 3}
MONTHS_BETWEEN_WAVES = 2


def _months_later(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    return date(day.year + month0 // 12, month0 % 12 + 1, 1)


def registry_rows(province: Province, *, start: date) -> list[RegistryRow]:
    """One registry row per facility of ``province``; wave 1 is onboarded on ``start``."""
    all_communes = communes()
    by_old_province: dict[str, list[str]] = {}
    first_of_district: dict[str, str] = {}
    for c in all_communes:
        by_old_province.setdefault(c.old_province_code, []).append(c.new_code)
        first_of_district.setdefault(c.old_district_code, c.new_code)
    pools = {k: sorted(set(v)) for k, v in by_old_province.items()}
    rows = []
    for f in province.facilities:
        if f.level == COMMUNE:
            commune = min(f.serves)
        elif f.level == DISTRICT:
            commune = first_of_district[min(f.serves)]
        else:
            pool = pools.get(f.code[:2]) or sorted({c.new_code for c in all_communes})
            commune = pool[int(f.code) % len(pool)]
        wave = WAVE_OF_LEVEL[f.level]
        rows.append(
            RegistryRow(
                facility_code=f.code,
                name=f.name,
                level=f.level,
                commune_code=commune,
                wave=wave,
                onboarded_on=_months_later(start, (wave - 1) * MONTHS_BETWEEN_WAVES),
            )
        )
    return rows


def write_registry(province: Province, *, start: date, path: Path) -> None:
    write_registry_csv(registry_rows(province, start=start), path)
