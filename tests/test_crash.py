"""Crash safety: kill -9 during a large ingest, restart, and find nothing partial and nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mpi.store import Encounter, content_tables, create_db_engine
from tests.builders import envelope, outpatient

pytestmark = pytest.mark.slow

BIG_FILE_HOSO = 400
SMALL_FILES = 40


def _write_corpus(folder: Path) -> int:
    folder.mkdir()
    (folder / "a_big.xml").write_bytes(envelope([outpatient(f"BIG{n:05d}") for n in range(BIG_FILE_HOSO)]))
    for n in range(SMALL_FILES):
        (folder / f"b_small_{n:03d}.xml").write_bytes(envelope([outpatient(f"SMALL{n:05d}")]))
    return BIG_FILE_HOSO + SMALL_FILES


def _per_encounter_rows(url: str) -> dict[int, tuple[int, int, int, int]]:
    engine = create_db_engine(url)
    counts: dict[int, list[int]] = {}
    with engine.connect() as conn:
        for eid in conn.execute(select(Encounter.__table__.c.id)).scalars():
            counts[eid] = [0, 0, 0, 0]
        for i, name in enumerate(("XML1", "XML2", "XML3", "XML4")):
            t = content_tables[name]
            for eid, n in conn.execute(select(t.c.encounter_id, func.count()).group_by(t.c.encounter_id)):
                counts.setdefault(eid, [0, 0, 0, 0])[i] = n
    engine.dispose()
    return {eid: (c[0], c[1], c[2], c[3]) for eid, c in counts.items()}


def _ingest(url: str, folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MPI_DATABASE_URL": url}
    # A session of its own: the crash kills the whole ingest, its parsing workers included.
    return subprocess.Popen(
        [sys.executable, "-m", "mpi", "ingest", str(folder), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_killed_ingest_leaves_whole_encounters_and_a_rerun_completes(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    expected = _write_corpus(folder)
    from mpi.store import open_store

    open_store(db_url).dispose()  # schema first, so the poll below can count
    process = _ingest(db_url, folder)
    deadline = time.monotonic() + 120
    stored = 0
    poll = create_db_engine(db_url)  # one connection counting, light beside the ingest it watches
    with poll.connect() as conn:
        while time.monotonic() < deadline:
            stored = conn.execute(select(func.count()).select_from(Encounter.__table__)).scalar_one()
            conn.rollback()  # the next count sees what was committed since
            if stored >= 100:
                break
            time.sleep(0.05)
    poll.dispose()
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    after_kill = _per_encounter_rows(db_url)
    assert 100 <= len(after_kill) < expected, "the kill must land in the middle of the ingest"
    assert set(after_kill.values()) == {(1, 2, 2, 1)}, "an encounter is whole or absent"

    rerun = _ingest(db_url, folder)
    _, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stderr.decode()[-2000:]
    final = _per_encounter_rows(db_url)
    assert len(final) == expected
    assert set(final.values()) == {(1, 2, 2, 1)}
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        keys = conn.execute(select(Encounter.__table__.c.ma_lk, Encounter.__table__.c.version)).all()
    engine.dispose()
    assert len({k.ma_lk for k in keys}) == expected
    assert {k.version for k in keys} == {1}
