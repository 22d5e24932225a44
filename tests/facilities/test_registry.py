"""The facility registry: file reading (CSV, XLSX, every problem named), import, display, admin API, CLI,
the synthetic province's registry, and a facility that submits before it is registered."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.app import create_app
from mpi.cli import app as cli
from mpi.errors import InvalidInputFile, MPIError
from mpi.facilities import (
    REGISTRY_COLUMNS,
    RegistryRow,
    describe_facilities,
    describe_facility,
    import_registry,
    list_facilities,
    read_registry_file,
    upsert_facility,
)
from mpi.ingest import ingest_file
from mpi.keys import Role, create_key
from mpi.settings import Settings, get_settings
from mpi.store import open_store, session_scope
from synth.config import SynthConfig
from synth.facilities import build_province
from synth.registry import registry_rows
from tests.builders import envelope, outpatient
from tests.support import TEST_SECRET

HEADER = ",".join(REGISTRY_COLUMNS)
GOOD = (
    f"{HEADER}\n"
    "33001,Bệnh viện Đa khoa tỉnh Hưng Yên,provincial,12010,1,2025-07-01\n"
    "34200,Trạm Y tế xã Vũ Quý,commune,13225,3,2025-11-01\n"
)


def _csv(tmp_path: Path, text: str, name: str = "registry.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_is_read_with_types(tmp_path: Path) -> None:
    rows = read_registry_file(_csv(tmp_path, GOOD))
    assert rows == [
        RegistryRow("33001", "Bệnh viện Đa khoa tỉnh Hưng Yên", "provincial", "12010", 1, date(2025, 7, 1)),
        RegistryRow("34200", "Trạm Y tế xã Vũ Quý", "commune", "13225", 3, date(2025, 11, 1)),
    ]


def test_unknown_columns_are_named(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"{HEADER},phone,Director\n33001,X,provincial,12010,1,2025-07-01,0912,Y\n")
    with pytest.raises(InvalidInputFile) as caught:
        read_registry_file(path)
    assert caught.value.code == "registry_columns"
    assert "unknown column(s): phone, director" in caught.value.message


def test_missing_columns_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputFile) as caught:
        read_registry_file(_csv(tmp_path, "facility_code,name,level\n33001,X,provincial\n"))
    assert "missing column(s): commune_code, wave, onboarded_on" in caught.value.message


def test_every_bad_cell_is_reported_and_nothing_returned(tmp_path: Path) -> None:
    text = (
        f"{HEADER}\n"
        "3300,X,provincial,12010,1,2025-07-01\n"  # short code
        "33002,,hospital,1201,0,01/07/2025\n"  # empty name, unknown level, bad commune, wave 0, non-ISO date
        "33003,Ok,private,,,\n"  # valid: optional cells empty
        "33003,Again,private,,,\n"  # repeated code
    )
    with pytest.raises(InvalidInputFile) as caught:
        read_registry_file(_csv(tmp_path, text))
    assert caught.value.problems == [
        "registry.csv row 2: facility_code '3300' is not a MA_CSKCB (5 digits)",
        "registry.csv row 3: name is empty",
        "registry.csv row 3: level 'hospital' is not one of provincial, district, private, commune",
        "registry.csv row 3: commune_code '1201' is not a commune code (5 digits)",
        "registry.csv row 3: wave '0' is not a positive whole number",
        "registry.csv row 3: onboarded_on '01/07/2025' is not an ISO date (YYYY-MM-DD)",
        "registry.csv row 5: facility_code 33003 repeats row 4",
    ]


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(GOOD.encode("cp1258", errors="replace"))
    with pytest.raises(InvalidInputFile) as caught:
        read_registry_file(path)
    assert caught.value.code == "registry_encoding"


def test_xlsx_with_dates_and_numbers(tmp_path: Path) -> None:
    from openpyxl import Workbook  # imported where used: every worker collects this module

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([*REGISTRY_COLUMNS, "active"])
    sheet.append(["33001", "Bệnh viện A", "provincial", "12010", 1, date(2025, 7, 1), "có"])
    sheet.append([33101, "Phòng khám B", "PRIVATE", None, 2.0, "2025-09-01", 0])
    path = tmp_path / "registry.xlsx"
    book.save(path)
    assert read_registry_file(path) == [
        RegistryRow("33001", "Bệnh viện A", "provincial", "12010", 1, date(2025, 7, 1), True),
        RegistryRow("33101", "Phòng khám B", "private", None, 2, date(2025, 9, 1), False),
    ]


def test_import_is_an_upsert_and_display_follows(sqlite_engine: Engine, tmp_path: Path) -> None:
    rows = read_registry_file(_csv(tmp_path, GOOD))
    with session_scope(sqlite_engine) as session:
        report = import_registry(session=session, rows=rows)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    renamed = [rows[0], RegistryRow("34200", "Trạm Y tế xã Vũ Quý mới", "commune", "13225", 3, date(2025, 11, 1))]
    with session_scope(sqlite_engine) as session:
        report = import_registry(session=session, rows=renamed)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    with sqlite_engine.connect() as conn:
        labels = describe_facilities(conn=conn, codes=["33001", "34200", "74999"])
        assert labels["33001"].text("vi") == "Bệnh viện Đa khoa tỉnh Hưng Yên (Bệnh viện tuyến tỉnh)"
        assert labels["33001"].text("en") == "Bệnh viện Đa khoa tỉnh Hưng Yên (Provincial hospital)"
        assert labels["34200"].text("vi") == "Trạm Y tế xã Vũ Quý mới (Trạm y tế xã)"
        assert labels["74999"].text("vi") == "74999 (chưa đăng ký)"
        assert labels["74999"].text("en") == "74999 (unregistered)"
        assert not labels["74999"].registered
        assert describe_facility(conn=conn, code="33001").level == "provincial"


def test_facility_submitting_before_registration_is_listed_unregistered(sqlite_engine: Engine) -> None:
    receipt = ingest_file(engine=sqlite_engine, data=envelope([outpatient("LK1")]), submitter="cli")
    assert receipt.outcome == "accepted"
    with session_scope(sqlite_engine) as session:
        assert [f.code for f in list_facilities(session=session, registered=False)] == ["74001"]
        label = describe_facility(conn=session, code="74001")
        assert (label.registered, label.text("vi")) == (False, "74001 (chưa đăng ký)")
        first_seen = list_facilities(session=session)[0].first_seen_at
        row = RegistryRow("74001", "Bệnh viện X", "district", "12010", 2, date(2026, 1, 1))
        assert upsert_facility(session=session, row=row) == "updated"
    with session_scope(sqlite_engine) as session:
        assert list_facilities(session=session, registered=False) == []
        (facility,) = list_facilities(session=session, registered=True)
        assert facility.first_seen_at == first_seen
        label = describe_facility(conn=session, code="74001")
        assert label.text("vi") == "Bệnh viện X (Trung tâm y tế khu vực (tuyến huyện))"
    # and it keeps submitting
    again = ingest_file(engine=sqlite_engine, data=envelope([outpatient("LK2")]), submitter="cli")
    assert again.outcome == "accepted"


def test_upsert_checks_rows_from_code(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session, pytest.raises(MPIError) as caught:
        upsert_facility(session=session, row=RegistryRow("33001", "X", "hospital"))
    assert caught.value.code == "facility_invalid"


def test_synthetic_registry_covers_the_province() -> None:
    cfg = SynthConfig()
    province = build_province(random.Random(3), cfg)
    rows = registry_rows(province, start=cfg.start)
    assert len(rows) == 131
    assert {r.facility_code for r in rows} == set(province.by_code)
    by_level: dict[str, set[int | None]] = {}
    for r in rows:
        by_level.setdefault(r.level, set()).add(r.wave)
        assert r.commune_code is not None and len(r.commune_code) == 5
    assert by_level == {"provincial": {1}, "district": {1}, "private": {2}, "commune": {3}}
    station = next(f for f in province.facilities if f.level == "commune")
    assert next(r for r in rows if r.facility_code == station.code).commune_code == min(station.serves)


def test_synth_writes_a_registry_that_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Callable[[str], str]
) -> None:
    monkeypatch.setenv("MPI_DATABASE_URL", migrated_sqlite("cli"))
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(cli, ["synth", "--persons", "3", "--seed", "1", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    with (tmp_path / "s" / "facilities.csv").open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == REGISTRY_COLUMNS
    result = runner.invoke(cli, ["facilities", "import", str(tmp_path / "s" / "facilities.csv")])
    assert result.exit_code == 0, result.output
    assert "131 facilities in facilities.csv: 131 created, 0 updated, 0 unchanged" in result.output
    result = runner.invoke(cli, ["facilities", "import", str(tmp_path / "s" / "facilities.csv")])
    assert "0 created, 0 updated, 131 unchanged" in result.output
    bad = _csv(tmp_path, f"{HEADER},fax\n")
    result = runner.invoke(cli, ["facilities", "import", str(bad)])
    assert result.exit_code == 2
    assert "unknown column(s): fax" in result.output


@pytest.fixture
def client(migrated_sqlite: Callable[[str], str]) -> TestClient:
    settings = Settings(env="test", secret_key=TEST_SECRET, database_url=migrated_sqlite("api"))
    return TestClient(create_app(settings))


def _key(client: TestClient, role: Role, facility: str | None = None) -> dict[str, str]:
    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        _, plaintext = create_key(session=session, role=role, facility_code=facility, secret=TEST_SECRET)
    return {"Authorization": f"Bearer {plaintext}"}


def test_api_lists_gets_and_admins_upsert(client: TestClient) -> None:
    admin = _key(client, Role.ADMIN)
    analyst = _key(client, Role.ANALYST)
    submitter = _key(client, Role.SUBMITTER, "74001")
    assert client.post("/api/v1/submissions", content=envelope([outpatient("LK1")]), headers={
        **submitter, "Content-Type": "application/xml"}).status_code == 201  # fmt: skip
    listed = client.get("/api/v1/facilities", headers=analyst).json()
    assert (listed["total"], listed["unregistered"]) == (1, 1)
    assert listed["items"][0]["display_vi"] == "74001 (chưa đăng ký)"
    body = {
        "name": "Bệnh viện X",
        "level": "provincial",
        "commune_code": "12010",
        "wave": 1,
        "onboarded_on": "2025-07-01",
    }
    assert client.put("/api/v1/facilities/33001", json=body, headers=analyst).status_code == 403
    assert client.put("/api/v1/facilities/33001", json=body, headers=submitter).status_code == 403
    created = client.put("/api/v1/facilities/33001", json=body, headers=admin)
    assert created.status_code == 201
    assert created.json()["display_vi"] == "Bệnh viện X (Bệnh viện tuyến tỉnh)"
    updated = client.put("/api/v1/facilities/74001", json={**body, "level": "private"}, headers=admin)
    assert updated.status_code == 200
    assert updated.json()["registered"] is True
    assert client.put("/api/v1/facilities/74001", json={**body, "level": "hospital"}, headers=admin).status_code == 422
    got = client.get("/api/v1/facilities/33001", headers=analyst).json()
    assert (got["level_label_en"], got["wave"], got["onboarded_on"]) == ("Provincial hospital", 1, "2025-07-01")
    assert client.get("/api/v1/facilities/99999", headers=analyst).status_code == 404
    assert client.get("/api/v1/facilities?registered=false", headers=analyst).json()["total"] == 0
    assert client.get("/api/v1/facilities").status_code == 401


@pytest.mark.postgres
def test_registry_on_postgres(pg_server: object, tmp_path: Path) -> None:
    from tests.support import pg_database

    engine = open_store(pg_database(pg_server))  # type: ignore[arg-type]
    try:
        rows = read_registry_file(_csv(tmp_path, GOOD))
        with session_scope(engine) as session:
            assert import_registry(session=session, rows=rows).created == 2
        with engine.connect() as conn:
            label = describe_facility(conn=conn, code="34200")
            assert label.text("en") == "Trạm Y tế xã Vũ Quý (Commune health station)"
    finally:
        engine.dispose()
