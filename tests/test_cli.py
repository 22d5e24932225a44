"""The `mpi` command line: ingest a folder; API keys that then work (or stop working) against the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.app import create_app
from mpi.cli import app as cli
from mpi.settings import get_settings
from tests.builders import envelope, outpatient

HOSTILE = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<!DOCTYPE GIAMDINHHS [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b"<GIAMDINHHS><THONGTINDONVI><MACSKCB>&xxe;</MACSKCB></THONGTINDONVI></GIAMDINHHS>"
)


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Callable[[str], str]) -> Path:
    """The store the commands write to: a copy of the migrated template (migrating costs more than most
    commands; ``new_db_file`` is a store no command has opened yet)."""
    monkeypatch.setenv("MPI_DATABASE_URL", migrated_sqlite("cli"))
    get_settings.cache_clear()
    return tmp_path / "cli.sqlite3"


@pytest.fixture
def new_db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store that does not exist yet: the first command creates and migrates it."""
    path = tmp_path / "new.sqlite3"
    monkeypatch.setenv("MPI_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """Two good files (one in a subfolder), one with a warning, one hostile, and a file that is not XML."""
    return _write(
        tmp_path / "in",
        {
            "good.xml": envelope([outpatient("LK1"), outpatient("LK2")]),
            "2026/03/good.XML": envelope([outpatient("LK3")]),
            "warning.xml": envelope([outpatient("LK4", T_THUOC="28000.00")]),
            "sub/hostile.xml": HOSTILE,
            "notes.txt": b"not an XML 130 file",
        },
    )


def _table_rows(text: str) -> list[list[str]]:
    """The body rows of rich tables, as stripped cells."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def _json(result: Result) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(result.stdout)
    return report


# --- ingest ---------------------------------------------------------------------------------------


def test_ingest_a_folder_recursively_reports_exact_totals_and_exits_1_on_a_rejected_file(
    db_file: Path, mixed_folder: Path
) -> None:
    result = run("ingest", str(mixed_folder), "--json")
    assert result.exit_code == 1
    report = _json(result)
    assert report["totals"] == {
        "files": 4,
        "files_rejected": 1,
        "files_duplicate": 0,
        "encounters": {"accepted": 4, "with_warnings": 1, "rejected": 0, "duplicate": 0, "new_version": 0},
        "warnings_by_code": {"total_mismatch": 1},
        "errors_by_code": {"dtd_forbidden": 1},
        "signatures": {"unsigned": 4},
    }
    assert sorted(Path(f["path"]).relative_to(mixed_folder).as_posix() for f in report["files"]) == [
        "2026/03/good.XML",
        "good.xml",
        "sub/hostile.xml",
        "warning.xml",
    ]
    outcomes = {Path(f["path"]).name: f["outcome"] for f in report["files"]}
    assert outcomes == {
        "good.XML": "accepted",
        "good.xml": "accepted",
        "hostile.xml": "rejected",
        "warning.xml": "accepted",
    }
    assert "TRẦN THỊ MINH THƯ" not in result.stdout


def test_ingesting_the_same_folder_again_stores_nothing_and_reports_duplicates(
    db_file: Path, mixed_folder: Path
) -> None:
    run("ingest", str(mixed_folder))
    result = run("ingest", str(mixed_folder), "--json")
    assert result.exit_code == 1  # the hostile file is still rejected
    totals = _json(result)["totals"]
    assert (totals["files"], totals["files_duplicate"], totals["files_rejected"]) == (4, 4, 1)
    assert totals["encounters"] == {
        "accepted": 0,
        "with_warnings": 0,
        "rejected": 0,
        "duplicate": 4,
        "new_version": 0,
    }
    assert all(f["duplicate"] for f in _json(result)["files"])


def test_a_corrected_file_is_counted_as_a_new_version(db_file: Path, tmp_path: Path) -> None:
    first = _write(tmp_path / "a", {"v1.xml": envelope([outpatient("LK1", MA_BENH_CHINH="J06.9")])})
    second = _write(tmp_path / "b", {"v2.xml": envelope([outpatient("LK1", MA_BENH_CHINH="J20.9")])})
    assert run("ingest", str(first)).exit_code == 0
    result = run("ingest", str(second), "--json")
    assert result.exit_code == 0
    assert _json(result)["totals"]["encounters"] == {
        "accepted": 1,
        "with_warnings": 0,
        "rejected": 0,
        "duplicate": 0,
        "new_version": 1,
    }


def test_a_rejected_encounter_exits_1(db_file: Path, tmp_path: Path) -> None:
    folder = _write(tmp_path / "in", {"mixed.xml": envelope([outpatient("LK1"), outpatient("LK2", facility="74002")])})
    result = run("ingest", str(folder), "--facility", "74001", "--json")
    assert result.exit_code == 1
    totals = _json(result)["totals"]
    assert (totals["files_rejected"], totals["encounters"]["accepted"], totals["encounters"]["rejected"]) == (
        0,
        1,
        1,
    )
    assert totals["errors_by_code"] == {"facility_scope": 1}
    assert totals["warnings_by_code"] == {"macskcb_mismatch": 1}


def test_an_all_good_folder_exits_0_with_a_readable_summary(db_file: Path, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "in",
        {
            "a.xml": envelope([outpatient("LK1"), outpatient("LK2")]),
            "b/c.xml": envelope([outpatient("LK3")]),
        },
    )
    result = run("ingest", str(folder))
    assert result.exit_code == 0
    counts = {cells[0]: cells[1] for cells in _table_rows(result.stdout)}
    assert counts["files"] == "2"
    assert counts["files rejected whole"] == "0"
    assert counts["encounters accepted"] == "3"
    assert counts["encounters rejected"] == "0"


def test_ingest_of_a_missing_path_exits_2(db_file: Path, tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "nowhere.xml"))
    assert result.exit_code == 2
    assert "not a file or folder" in result.stderr


# --- keys -----------------------------------------------------------------------------------------


def _client() -> TestClient:
    """The API on the store the CLI writes to (``MPI_DATABASE_URL``)."""
    return TestClient(create_app(get_settings()))


def _create(*args: str) -> tuple[int, str]:
    result = run("keys", "create", *args)
    assert result.exit_code == 0, result.output
    *_, header, key = result.stdout.strip().splitlines()
    assert header.startswith("created key ")
    return int(header.split()[2]), key


def test_a_created_key_is_printed_alone_on_the_last_line_and_authenticates(new_db_file: Path) -> None:
    key_id, key = _create("--role", "submitter", "--facility", "74001", "--label", "HIS of 74001")
    assert key_id == 1
    assert key.startswith("mpi_") and " " not in key
    with _client() as client:
        response = client.post(
            "/api/v1/submissions",
            content=envelope([outpatient("LK1")]),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/xml"},
        )
    assert response.status_code == 201
    assert response.json()["outcome"] == "accepted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "submitter"], "must be bound to a facility"),
        (["--role", "clinician"], "must be bound to a facility"),
        (["--role", "submitter", "--facility", "7400"], "5 digits"),
    ],
    ids=["submitter-without-facility", "clinician-without-facility", "facility-not-5-digits"],
)
def test_keys_create_refuses_a_key_without_a_valid_facility(db_file: Path, args: list[str], message: str) -> None:
    result = run("keys", "create", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "mpi_" not in result.stdout
    assert "mpi_" not in run("keys", "list").stdout


def test_keys_create_refuses_an_unknown_role(db_file: Path) -> None:
    result = run("keys", "create", "--role", "superuser")
    assert result.exit_code == 2
    assert "superuser" in result.output


def test_keys_list_shows_keys_but_never_a_key(db_file: Path) -> None:
    _, submitter = _create("--role", "submitter", "--facility", "74001")
    _, steward = _create("--role", "steward")
    result = run("keys", "list")
    assert result.exit_code == 0
    for key in (submitter, steward):
        prefix, secret = key.split("_")[1], key.split("_", 2)[2]
        assert prefix in result.stdout
        assert secret not in result.stdout and key not in result.stdout
    assert "submitter" in result.stdout and "steward" in result.stdout and "74001" in result.stdout


def test_keys_grant_sensitive_categories_to_clinician_keys(db_file: Path) -> None:
    key_id, _ = _create("--role", "clinician", "--facility", "74050", "--grant", "hiv")
    assert _table_rows(run("keys", "list").stdout)[0][-1] == "hiv"
    assert run("keys", "grant", str(key_id), "tb,hiv").stdout == f"key {key_id} grants: hiv,tb\n"
    assert _table_rows(run("keys", "list").stdout)[0][-1] == "hiv,tb"
    assert run("keys", "grant", str(key_id), "").stdout == f"key {key_id} grants: none\n"
    refused = run("keys", "grant", str(key_id), "cancer")
    assert refused.exit_code == 2 and "unknown sensitive categories" in refused.output
    steward_id, _ = _create("--role", "steward")
    refused = run("keys", "grant", str(steward_id), "hiv")
    assert refused.exit_code == 2 and "only clinician keys" in refused.output


def test_a_revoked_key_stops_authenticating(db_file: Path) -> None:
    key_id, key = _create("--role", "submitter", "--facility", "74001")
    headers = {"Authorization": f"Bearer {key}"}
    with _client() as client:
        assert client.get("/api/v1/submissions/1", headers=headers).status_code == 404
        result = run("keys", "revoke", str(key_id))
        assert result.exit_code == 0
        assert result.stdout == f"revoked key {key_id}\n"
        response = client.get("/api/v1/submissions/1", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "key_revoked"
    (row,) = [cells for cells in _table_rows(run("keys", "list").stdout) if cells[1] == key.split("_")[1]]
    assert row[8] != ""  # the revoked column


def test_revoking_an_unknown_key_exits_2(db_file: Path) -> None:
    result = run("keys", "revoke", "42")
    assert result.exit_code == 2
    assert "no API key with id 42" in result.stderr


def test_every_command_is_declared_in_one_style() -> None:
    """Each command has an explicit name and a function called `<group>_<name>_command`."""
    import typer

    def walk(app: typer.Typer, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
        found = [((*prefix, c.name or ""), c.callback.__name__) for c in app.registered_commands if c.callback]
        for group in app.registered_groups:
            found += walk(group.typer_instance, (*prefix, group.name or ""))  # type: ignore[arg-type]
        return found

    commands = walk(cli, ())
    assert len(commands) > 15
    for path, function in commands:
        assert "" not in path, function
        assert function == "_".join(path).replace("-", "_") + "_command", (path, function)


def test_synth_without_the_generator_package_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import typer

    from mpi import cli as cli_module

    for name in ("synth", "synth.cli"):  # as if the generator were not installed
        monkeypatch.setitem(sys.modules, name, None)
    app = typer.Typer()
    app.command("version")(lambda: None)
    cli_module._register_synth(app)
    result = CliRunner().invoke(app, ["synth", "--persons", "10"])
    assert result.exit_code == 2
    assert "`synth` is not installed" in result.output
