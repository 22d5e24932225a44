"""The snapshot refreshed with only what changed equals the facts read afresh, table by table.

A store is built from part of the synthetic province's files; after the first report, more files arrive,
an encounter is corrected (a new version), two persons are merged, a record is moved, the registry
changes and an encounter commits with an id below one already read (as a slower PostgreSQL transaction
can): every report from the refreshed snapshot must equal the same report from a fresh load.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from mpi.facilities import import_registry, read_registry_file
from mpi.identity import links as L
from mpi.identity import stewardship as S
from mpi.identity.online import OnlineLinker
from mpi.ingest import ingest_parsed, parse_paths
from mpi.reports import TABLES, build_report, facts
from mpi.settings import Settings
from mpi.store import session_scope
from mpi.store.content import content_tables
from mpi.store.models import Encounter
from mpi.xml130 import Limits
from tests.support import TEST_SECRET, ReportStore

_enc = Encounter.__table__  # type: ignore[attr-defined]


def _ingest(engine: Engine, files: list[Path], linker: OnlineLinker, *, corrected: bool = False) -> None:
    settings = Settings(env="test", secret_key=TEST_SECRET)
    for _, data, parsed in parse_paths(files, limits=Limits.from_settings(settings)):
        if corrected:  # the same encounters sent again with changed content: new versions
            parsed.sha256 = "c" * 64
            for enc in parsed.encounters:
                enc.content_sha256 = "d" * 64
        ingest_parsed(engine=engine, data=data, parsed=parsed, submitter="cli", linker=linker)


def _all_reports(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {name: build_report(engine=engine, name=name).rows for name in TABLES}


def _fresh(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    kept = facts._snapshots.pop(engine)
    try:
        return _all_reports(engine)
    finally:
        facts._snapshots[engine] = kept


def _late_encounter(engine: Engine) -> None:
    """Copies of an encounter (other MA_LKs): one read by a report, then one under a lower id."""
    with engine.connect() as conn:
        top = int(conn.execute(select(func.max(_enc.c.id))).scalar_one())
        row = dict(conn.execute(select(_enc).where(_enc.c.id == top)).mappings().one())
        xml1 = content_tables["XML1"]
        x = {k: v for k, v in conn.execute(select(xml1).where(xml1.c.encounter_id == top)).mappings().one().items()}
    x.pop("id", None)
    for new_id, ma_lk in ((top + 7, "LATE7"), (top + 3, "LATE3")):
        with engine.begin() as conn:
            conn.execute(insert(_enc).values({**row, "id": new_id, "ma_lk": ma_lk}))
            conn.execute(insert(xml1).values({**x, "encounter_id": new_id}))
        if new_id == top + 7:  # the snapshot reads up to here before the lower id commits
            build_report(engine=engine, name="totals")


@pytest.mark.slow  # the 400-person report province (tests/reports/conftest.py)
def test_refreshed_snapshot_equals_a_fresh_load(engine: Engine, report_store: ReportStore) -> None:
    files = sorted((report_store.out / "xml").rglob("*.xml"))[:60]
    linker = OnlineLinker.from_settings(Settings(env="test", secret_key=TEST_SECRET))
    linker.warm(engine)
    _ingest(engine, files[:30], linker)
    registry = read_registry_file(report_store.out / "facilities.csv")
    with session_scope(engine) as session:
        import_registry(session=session, rows=registry[:-3])
    first = _all_reports(engine)
    assert first["totals"][0]["records"] > 0

    _ingest(engine, files[30:], linker)
    _ingest(engine, files[:2], linker, corrected=True)
    with engine.begin() as conn:
        persons = list(conn.execute(select(L.sources.c.person_id).distinct().limit(4)).scalars())
        S.merge_persons(conn, from_person_id=persons[0], into_person_id=persons[1], actor="test")
        source = conn.execute(select(L.sources.c.id).where(L.sources.c.person_id == persons[2])).scalars().first()
        S.move_record(conn, source_record_id=source, to_person_id=None, actor="test")
    with session_scope(engine) as session:
        import_registry(session=session, rows=[dataclasses.replace(r, wave=9) for r in registry[-3:]])
    _late_encounter(engine)

    refreshed = _all_reports(engine)
    assert refreshed == _fresh(engine)
    assert refreshed["totals"] != first["totals"]
    with engine.connect() as conn:
        current = conn.execute(select(func.count()).where(_enc.c.is_current.is_(True))).scalar_one()
    assert refreshed["totals"][0]["records"] == current


def test_the_api_reads_the_facts_at_start(migrated_sqlite: Callable[[str], str]) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    url = migrated_sqlite("store")
    app = create_app(Settings(env="development", secret_key=TEST_SECRET, database_url=url))
    with TestClient(app):
        app.state.reports_warm.join(timeout=120)
        assert app.state.engine in facts._snapshots
    app.state.engine.dispose()
