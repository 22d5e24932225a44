"""One synthetic province with an injected dengue outbreak, ingested once per run (each worker a copy).

The outbreak's files are ingested last: ``baseline_surveillance`` is the surveillance table before them.
Two facilities that submit are left out of the registry (they must show as unregistered).
"""

from __future__ import annotations

import csv
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mpi.facilities import import_registry, read_registry_file
from mpi.identity.online import OnlineLinker
from mpi.ingest import ingest_parsed, parse_paths
from mpi.reports import build_report
from mpi.settings import Settings
from mpi.store import open_store, session_scope
from mpi.xml130 import Limits
from synth import generate_province
from synth.outbreak import Outbreak
from tests.support import (
    REPORT_OUTBREAK,
    REPORT_PERSONS,
    REPORT_SEED,
    TEST_SECRET,
    UNREGISTERED,
    ReportStore,
    copy_sqlite,
    once,
    run_root,
)


def _ingest(engine: Engine, files: list[Path], settings: Settings, linker: OnlineLinker) -> None:
    for _, data, parsed in parse_paths(files, limits=Limits.from_settings(settings)):
        ingest_parsed(engine=engine, data=data, parsed=parsed, submitter="cli", linker=linker)


def _build(directory: Path) -> None:
    """The province in ``directory/province``, its store in ``directory/store.sqlite3`` and the surveillance
    table before the outbreak in ``directory/baseline.pickle``."""
    out = directory / "province"
    generate_province(persons=REPORT_PERSONS, seed=REPORT_SEED, out=out, outbreaks=[Outbreak.parse(REPORT_OUTBREAK)])
    with (out / "truth.csv").open(encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    (outbreak,) = json.loads((out / "outbreaks.json").read_text(encoding="utf-8"))
    outbreak_files = {out / t["file"] for t in truth[-outbreak["persons"]:]}
    url = f"sqlite:///{directory / 'store.sqlite3'}"
    engine = open_store(url)
    settings = Settings(env="test", secret_key=TEST_SECRET, database_url=url)
    linker = OnlineLinker.from_settings(settings)
    linker.warm(engine)
    files = sorted((out / "xml").rglob("*.xml"))
    _ingest(engine, [f for f in files if f not in outbreak_files], settings, linker)
    rows = [r for r in read_registry_file(out / "facilities.csv") if r.facility_code not in UNREGISTERED]
    with session_scope(engine) as session:
        import_registry(session=session, rows=rows)
    baseline = build_report(engine=engine, name="surveillance")
    _ingest(engine, sorted(outbreak_files), settings, linker)
    engine.dispose()
    (directory / "baseline.pickle").write_bytes(pickle.dumps(baseline))


@pytest.fixture(scope="session")
def report_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportStore]:
    """Built once per run (by the first pytest-xdist worker that needs it); each worker reads a copy."""
    built = once(run_root(tmp_path_factory) / "report_province", _build)
    out = built / "province"
    with (out / "truth.csv").open(encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    (outbreak,) = json.loads((out / "outbreaks.json").read_text(encoding="utf-8"))
    url = copy_sqlite(f"sqlite:///{built / 'store.sqlite3'}", tmp_path_factory.mktemp("report_store") / "store.sqlite3")
    engine = open_store(url)
    with (out / "facilities.csv").open(encoding="utf-8") as fh:
        registry = [r for r in csv.DictReader(fh) if r["facility_code"] not in UNREGISTERED]
    baseline = pickle.loads((built / "baseline.pickle").read_bytes())  # written by _build above
    yield ReportStore(url, engine, out, truth, registry, outbreak, baseline)
    engine.dispose()
