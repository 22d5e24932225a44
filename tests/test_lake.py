"""`mpi export parquet`: persons, source records, links and encounters by month, matching the store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from mpi.cli import app
from mpi.identity import links as L
from mpi.identity.online import OnlineLinker
from mpi.identity.relink import read_source_records
from mpi.ingest import ingest_file
from mpi.lake import ENCOUNTER_SCHEMA, LINK_SCHEMA, PERSON_SCHEMA, export_parquet
from mpi.settings import get_settings
from mpi.store import content_tables, open_store
from mpi.store.models import Encounter
from synth import generate_province
from tests.support import BACKENDS, Templates, drop_pg_database, pg_server_for

_encounters = Encounter.__table__


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    generate_province(persons=60, seed=3, out=out)
    return out


def _ingest(province: Path, url: str) -> None:
    """Build step of the ``lake`` template: the province ingested and linked, then one merge."""
    engine = open_store(url)
    try:
        linker = OnlineLinker.from_settings(get_settings())
        for path in sorted((province / "xml").rglob("*.xml")):
            ingest_file(engine=engine, data=path.read_bytes(), submitter="test", linker=linker)
        with engine.begin() as conn:  # one merge, so that current_person_id differs from person_id somewhere
            a, b = conn.execute(select(L.persons.c.id).order_by(L.persons.c.id).limit(2)).scalars().all()
            L.merge(conn, from_person_id=b, into_person_id=a, actor="test")
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path, templates: Templates, province: Path) -> Iterator[str]:
    """A store of this test's own holding the province (a copy of the ``lake`` template)."""
    server = pg_server_for(request)
    url = templates.copy("lake", partial(_ingest, province), tmp_path / "store.sqlite3", server=server)
    yield url
    if server is not None:
        drop_pg_database(server, url)


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    engine = open_store(store_url)
    yield engine
    engine.dispose()


def test_export_matches_the_store(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    report = export_parquet(engine=store, out=out)
    with store.connect() as conn:
        persons = conn.execute(select(func.count()).select_from(L.persons)).scalar_one()
        links = conn.execute(select(func.count()).select_from(L.links)).scalar_one()
        encounters = conn.execute(select(func.count()).select_from(_encounters)).scalar_one()
        merged = dict(conn.execute(select(L.persons.c.id, L.persons.c.merged_into_id)).all())
        admissions = conn.execute(select(content_tables["XML1"].c.ngay_vao)).scalars().all()
    assert (report.persons, report.links, report.encounters) == (persons, links, encounters)

    person_table = pq.read_table(out / "persons")
    assert person_table.schema == PERSON_SCHEMA
    redirected = [r for r in person_table.to_pylist() if r["merged_into_id"] is not None]
    assert redirected and all(
        r["current_person_id"] == merged[r["merged_into_id"]] or merged[r["merged_into_id"]] is None for r in redirected
    )
    assert all(merged[r["current_person_id"]] is None for r in person_table.to_pylist())

    assert pq.read_table(out / "links").schema == LINK_SCHEMA
    assert pq.read_table(out / "source_records").equals(read_source_records(store))

    import pyarrow.dataset as ds  # seconds to import (pandas): only here

    dataset = ds.dataset(out / "encounters", format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert table.num_rows == encounters
    months = Counter(f"{d.year:04d}-{d.month:02d}" for d in admissions)
    assert report.months == dict(sorted(months.items()))
    assert {p.name for p in (out / "encounters").iterdir()} == {f"month={m}" for m in months}
    for fragment in dataset.get_fragments():
        month = Path(fragment.path).parent.name.removeprefix("month=")
        rows = fragment.to_table(schema=ENCOUNTER_SCHEMA).to_pylist()
        assert all(f"{r['ngay_vao']:%Y-%m}" == month for r in rows)
    current_persons = set(person_table.column("current_person_id").to_pylist())
    assert set(table.column("person_id").to_pylist()) <= current_persons
    assert {r["person_id"] for r in table.to_pylist()}.isdisjoint(k for k, v in merged.items() if v is not None)


def test_export_refuses_a_directory_in_use(store: Engine, tmp_path: Path) -> None:
    (tmp_path / "old.parquet").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        export_parquet(engine=store, out=tmp_path)


def test_cli_export_parquet(store: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPI_DATABASE_URL", store_url)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["export", "parquet", "--out", str(tmp_path / "lake")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "lake" / "source_records" / "part-0.parquet").exists()
    again = CliRunner().invoke(app, ["export", "parquet", "--out", str(tmp_path / "lake")])
    assert again.exit_code == 2
    assert "not an empty directory" in again.output
