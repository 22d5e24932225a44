"""A small synthetic province ingested into a store, with one referral held back for the "received" step.

The scenario (the record's acceptance case): a patient referred from facility A to facility B, whose CCCD is
known and whose referral encounter at A came with drugs (XML2) and lab results (XML4). B's encounter for
that referral is not ingested with the rest, so the referral is pending until the test ingests it.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Engine

from mpi.identity.online import OnlineLinker
from mpi.ingest import ingest_file, ingest_parsed, parse_paths
from mpi.settings import Settings
from mpi.xml130 import Limits, parse_submission
from synth import generate_province

PERSONS = 200
SEED = 11


@dataclass(frozen=True, slots=True)
class Scenario:
    facility_a: str
    ma_lk_a: str
    facility_b: str
    ma_lk_b: str
    held_back: Path
    cccd: str
    name: str
    birth_date: str
    """YYYY-MM-DD, as in persons.csv."""
    bhxh: str
    phone: str


@dataclass(frozen=True, slots=True)
class Province:
    out: Path
    scenario: Scenario
    names: tuple[str, ...]
    cccds: tuple[str, ...]
    phones: tuple[str, ...]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def generate(out: Path) -> None:
    """The province's files, written into ``out``."""
    generate_province(persons=PERSONS, seed=SEED, out=out)


@cache
def province(out: Path) -> Province:
    """The province generated into ``out`` (see ``generate``), and the scenario found in it."""
    truth = _rows(out / "truth.csv")
    persons = {p["person_id"]: p for p in _rows(out / "persons.csv")}
    by_key = {(t["facility_code"], t["ma_lk"]): t for t in truth}
    for t in truth:
        if t["is_referral_target"] != "true":
            continue
        source = by_key[(t["referral_source_facility"], t["referral_source_ma_lk"])]
        person = persons[t["person_id"]]
        (enc,) = parse_submission((out / source["file"]).read_bytes()).encounters
        assert enc.summary is not None
        if (
            person["cccd_known"] == "true"
            and person["birth_date"].count("-") == 2
            and enc.summary.text("SO_CCCD") == person["cccd"]
            and {"XML2", "XML4", "XML13"} <= set(enc.tables)
            and any(row.text("GIA_TRI") for row in enc.tables["XML4"].rows)  # a lab result with a measured value
            and sum(1 for x in truth if x["person_id"] == t["person_id"]) >= 3
        ):
            scenario = Scenario(
                facility_a=source["facility_code"],
                ma_lk_a=source["ma_lk"],
                facility_b=t["facility_code"],
                ma_lk_b=t["ma_lk"],
                held_back=out / t["file"],
                cccd=person["cccd"],
                name=person["full_name"],
                birth_date=person["birth_date"],
                bhxh=person["bhxh"],
                phone=person["phone"],
            )
            break
    else:  # pragma: no cover - the seed is fixed
        raise AssertionError("no referral fits the scenario: change SEED")
    return Province(
        out=out,
        scenario=scenario,
        names=tuple(p["full_name"] for p in persons.values()),
        cccds=tuple(p["cccd"] for p in persons.values() if p["cccd"]),
        phones=tuple(p["phone"] for p in persons.values() if p["phone"]),
    )


def ingest_province(engine: Engine, prov: Province, settings: Settings) -> OnlineLinker:
    """Everything but the held-back encounter, through the production path (parse, store, link)."""
    linker = OnlineLinker.from_settings(settings)
    linker.warm(engine)
    files = [p for p in sorted((prov.out / "xml").rglob("*.xml")) if p != prov.scenario.held_back]
    for _, data, parsed in parse_paths(files, limits=Limits.from_settings(settings)):
        ingest_parsed(engine=engine, data=data, parsed=parsed, submitter="cli", linker=linker)
    return linker


def ingest_held_back(engine: Engine, prov: Province, linker: OnlineLinker) -> None:
    receipt = ingest_file(engine=engine, data=prov.scenario.held_back.read_bytes(), submitter="cli", linker=linker)
    assert [e.status for e in receipt.encounters] == ["accepted"]


class Capture(logging.Handler):
    """Every log record at DEBUG and above, formatted with its arguments (what a log file would hold)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)
