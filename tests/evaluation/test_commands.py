"""`mpi export links`, `mpi evaluate` and `mpi calibrate` from the command line."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mpi.cli import app as commands
from mpi.settings import get_settings
from mpi.store import open_store
from tests.evaluation.stores import small_store


def run(*args: str) -> Result:
    return CliRunner().invoke(commands, list(args))


@pytest.fixture
def db_url(monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Callable[[str], str]) -> str:
    url = migrated_sqlite("cli")
    monkeypatch.setenv("MPI_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


def test_export_then_evaluate_without_baselines(db_url: str, tmp_path: Path) -> None:
    engine = open_store(db_url)
    small_store(engine, merge=False)
    engine.dispose()
    links = tmp_path / "out" / "links.csv"
    result = run("export", "links", "--out", str(links))
    assert result.exit_code == 0, result.output
    with links.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 5
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "facility_code,ma_lk,person_id,noise\n74001,A1,M,\n74002,B1,M,name_no_diacritics\n74001,C1,O,\n"
        "74001,K1,K,cccd_guardian\n",
        encoding="utf-8",
    )
    result = run("evaluate", "--links", str(links), "--truth", str(truth), "--no-baselines", "--json")
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    (mpi,) = report["methods"]
    assert (report["records"], report["true_pairs"], report["not_stored"]) == (4, 1, 0)
    assert (mpi["auto"]["precision"], mpi["auto"]["recall"]) == (1.0, 1.0)
    # the child waits in review against the mother: accepting it blindly would join two people
    assert (mpi["auto_and_review"]["false_positives"], mpi["review_records"]) == (2, 1)
    assert [n["kind"] for n in mpi["by_noise"]] == ["cccd_guardian", "name_no_diacritics", "(none)"]
    markdown = run("evaluate", "--links", str(links), "--truth", str(truth), "--no-baselines", "--markdown")
    assert "| MPI (online linkage) | 1.0000 | 1.0000 | 1.0000 | 0.3333 | 1.0000 | 25.00% | 3 / 3 | 0 | 0 |" in (
        markdown.stdout
    )
    table = run("evaluate", "--links", str(links), "--truth", str(truth), "--no-baselines")
    assert table.exit_code == 0 and "MPI" in table.stdout
    curve = run("calibrate", "--links", str(links), "--truth", str(truth), "--json")
    assert curve.exit_code == 0, curve.output
    assert json.loads(curve.stdout)["curve"]["records"] == 4


def test_evaluate_refuses_a_file_that_is_not_an_export(db_url: str, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.csv"
    bogus.write_text("a,b\n1,2\n", encoding="utf-8")
    result = run("evaluate", "--links", str(bogus), "--truth", str(bogus), "--no-baselines")
    assert result.exit_code != 0
    assert "missing columns" in str(result.exception)


@pytest.mark.slow
def test_synth_ingest_export_evaluate_meets_the_floors(db_url: str, tmp_path: Path) -> None:
    """The README's recipe on 300 persons (seed 7). Measured (model 5accc78ab794, the synthetic province
    with the acute-illness mix): auto precision 1.000, auto recall 0.992, auto + review recall 0.992,
    review 0.44%; CCCD exact recall 0.528."""
    from mpi.cli import app as cli

    synth = tmp_path / "synth"
    assert CliRunner().invoke(cli, ["synth", "--persons", "300", "--seed", "7", "--out", str(synth)]).exit_code == 0
    ingested = CliRunner().invoke(cli, ["ingest", str(synth / "xml"), "--json"])
    assert ingested.exit_code == 0, ingested.output
    links = tmp_path / "links.csv"
    assert run("export", "links", "--out", str(links)).exit_code == 0
    result = run("evaluate", "--links", str(links), "--truth", str(synth / "truth.parquet"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["records"], report["not_stored"]) == (906, 0)
    mpi, cccd, splink = report["methods"]
    assert mpi["auto"]["precision"] >= 0.995
    assert mpi["auto"]["recall"] >= 0.985
    assert mpi["auto_and_review"]["recall"] >= 0.99
    assert mpi["review_rate"] <= 0.02
    assert cccd["auto"]["precision"] == 1.0
    assert cccd["auto"]["recall"] <= 0.6 < mpi["auto"]["recall"]
    assert splink["method"] == "Baseline: Splink default settings"
