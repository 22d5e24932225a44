"""Generate a whole synthetic province: persons, their encounters as XML 130 files, and the ground truth.

Streaming: households are generated one at a time, each person's encounters are rendered and written at
once, and truth rows wait only until the current chunk of persons is complete (so hard-case tags added
later in the chunk, like a namesake, reach every row). Memory is bounded by the chunk size and the
per-facility counters, not by the number of persons. One ``random.Random(seed)`` drives everything in a
fixed order: the same (persons, seed, config, batch) gives byte-identical files.
"""

from __future__ import annotations

import json
import random
import time
from calendar import monthrange
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from synth.config import HABIT_KINDS, SynthConfig, SynthSummary
from synth.encounters import Encounter, EncounterFactory
from synth.envelope_writer import SubmissionSink, render_hoso
from synth.facilities import build_province
from synth.noise import NoiseModel
from synth.outbreak import Outbreak, inject
from synth.population import Person, PopulationContext
from synth.registry import write_registry
from synth.truth import PERSONS_SCHEMA, TRUTH_SCHEMA, TableWriter

CHUNK_PERSONS = 2_000


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def _person_row(p: Person) -> dict[str, Any]:
    return {
        "person_id": p.person_id,
        "household_id": p.household_id,
        "full_name": p.name.full,
        "sex": p.sex,
        "birth_date": f"{p.dob.year:04d}" if p.year_only else p.dob.isoformat(),
        "dob_year_only": p.year_only,
        "cccd": p.cccd,
        "cccd_known": p.has_card,
        "cmnd": p.cmnd,
        "bhxh": p.bhxh,
        "card_group": p.card_group,
        "phone": p.phone,
        "commune_code": p.address.commune.new_code,
        "ethnicity": p.ethnicity,
        "mother_id": p.mother.person_id if p.mother is not None else "",
        "tags": ";".join(sorted(p.tags)),
    }


def _truth_row(enc: Encounter, file: str) -> dict[str, Any]:
    source = enc.referral_source
    return {
        "facility_code": enc.facility.code,
        "ma_lk": enc.ma_lk,
        "person_id": enc.person.person_id,
        "household_id": enc.person.household_id,
        "encounter_date": enc.start.date().isoformat(),
        "ma_loai_kcb": enc.loai_kcb,
        "is_referral_target": source is not None,
        "referral_source_facility": source[0] if source else "",
        "referral_source_ma_lk": source[1] if source else "",
        "referred_to": enc.referral_to,
        "noise": ";".join(enc.noise),
        "person_tags": "",
        "file": file,
    }


def generate_province(
    *,
    persons: int,
    seed: int,
    out: Path,
    config: SynthConfig | None = None,
    batch: int = 1,
    outbreaks: Sequence[Outbreak] = (),
) -> SynthSummary:
    """Write ``persons`` synthetic persons' encounters under ``out`` and return what was produced.

    Layout: ``out/xml/<MA_CSKCB>/*.xml`` (GIAMDINHHS files), ``out/truth.{csv,parquet}``,
    ``out/persons.{csv,parquet}``, ``out/facilities.json``, ``out/facilities.csv`` (the registry for
    ``mpi facilities import``) and ``out/config.json``.
    """
    if persons < 1:
        raise ValueError("persons must be >= 1")
    cfg = config or SynthConfig()
    began = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not a secret
    province = build_province(rng, cfg)
    window_end = _add_months(cfg.start, cfg.months)
    noise = NoiseModel(rng, cfg)
    population = PopulationContext(
        rng=rng, config=cfg, province=province, window_start=cfg.start, window_end=window_end
    )
    factory = EncounterFactory(
        rng=rng,
        config=cfg,
        province=province,
        noise=noise,
        window_start=cfg.start,
        window_end=window_end,
        dx_rng=random.Random(f"{seed}:diagnoses"),  # noqa: S311 - reproducible synthetic data
    )
    sink = SubmissionSink(out / "xml", batch=batch)
    residents: dict[str, list[Person]] = {}
    injected: list[dict[str, object]] = []
    encounters = referrals = 0
    with (
        TableWriter(out / "truth", TRUTH_SCHEMA) as truth,
        TableWriter(out / "persons", PERSONS_SCHEMA) as people,
    ):
        chunk_people: list[Person] = []
        chunk_rows: list[tuple[dict[str, Any], Person]] = []

        def flush() -> None:
            for row, person in chunk_rows:
                row["person_tags"] = ";".join(sorted(person.tags))
            truth.write([row for row, _ in chunk_rows])
            people.write([_person_row(p) for p in chunk_people])
            chunk_rows.clear()
            chunk_people.clear()
            population.recent.clear()  # namesakes are planted within a chunk only

        while population.next_idx < persons:
            members = population.household(persons - population.next_idx)
            for person in members:
                chunk_people.append(person)
                if outbreaks:
                    residents.setdefault(person.address.commune.new_code, []).append(person)
                for enc in factory.encounters(person):
                    hoso = render_hoso(enc.documents)
                    file = sink.add(facility_code=enc.facility.code, ma_lk=enc.ma_lk, ngaylap=enc.ngaylap, hoso=hoso)
                    chunk_rows.append((_truth_row(enc, f"xml/{file}"), person))
                    encounters += 1
                    referrals += enc.referral_source is not None
            if len(chunk_people) >= CHUNK_PERSONS:
                flush()
        for outbreak in outbreaks:
            described, extra = inject(outbreak, residents=residents, factory=factory, province=province, seed=seed)
            injected.append(described)
            for enc in extra:
                hoso = render_hoso(enc.documents)
                file = sink.add(facility_code=enc.facility.code, ma_lk=enc.ma_lk, ngaylap=enc.ngaylap, hoso=hoso)
                chunk_rows.append((_truth_row(enc, f"xml/{file}"), enc.person))
                encounters += 1
        flush()
        sink.close()
    facilities = [
        {"code": f.code, "name": f.name, "level": f.level, "habits": sorted(f.habits)} for f in province.facilities
    ]
    (out / "facilities.json").write_text(json.dumps(facilities, ensure_ascii=False, indent=1), encoding="utf-8")
    write_registry(province, start=cfg.start, path=out / "facilities.csv")
    if injected:
        (out / "outbreaks.json").write_text(json.dumps(injected, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "config.json").write_text(
        json.dumps(
            {"persons": persons, "seed": seed, "batch": batch, "config": cfg.to_json()},
            ensure_ascii=False,
            indent=1,
            sort_keys=True,
        ),
        encoding="utf-8",
    )
    noise_counts = dict(noise.counts)
    noise_counts.update(noise.habit_counts)
    return SynthSummary(
        persons=population.next_idx,
        households=population.households,
        encounters=encounters,
        files=sink.files,
        referrals=referrals,
        noise_counts=noise_counts,
        noise_eligible=dict(noise.eligible),
        habit_facilities={h: province.habit_count(h) for h in HABIT_KINDS},
        seconds=time.perf_counter() - began,
        out=out,
    )
