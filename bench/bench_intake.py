"""CPU per encounter of a server's intake process (``api.intake.store_jobs``), in this one process.

The same work the load benchmark (``bench.bench_load``) gives a server's intake process: the province of
``--persons`` synthetic persons in files of ``--batch`` HOSO (``mpi synth --seed 11``) is ingested into a
SQLite store once; then ``--files`` of its files, every MA_LK made unique as the load benchmark's
submitters do (new encounters of the same persons: parsed, validated, stored and linked), go through
``store_jobs`` in batches of ``--jobs`` files, on a fresh copy of that store each run, with a warmed
online linker (as the intake process starts). Reports, per run, this process's CPU seconds per encounter
(``time.process_time``, less sensitive to other jobs than wall time) and the best and median of
``--runs``; ``--profile`` adds a cProfile (CPU time) of one more run, its functions ranked by own time and
by time including callees. The generated province and its store are kept in ``--workdir`` and reused.

Usage: python -m bench.bench_intake [--persons 400] [--batch 20] [--files 60] [--jobs 6] [--runs 5]
       [--workdir /tmp/bench-intake] [--profile N]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import shutil
import statistics
import time
from pathlib import Path

from api.heap import freeze_start_up
from bench.bench_load import SECRET, _Resendable, make_province
from mpi.xml130 import Limits

_ENV = {"MPI_ENV": "test", "MPI_SECRET_KEY": SECRET}


def _province(workdir: Path, persons: int, batch: int) -> tuple[Path, list[bytes]]:
    """The store holding the province, and its files (made once per ``workdir``)."""
    store = workdir / "base.sqlite3"
    synth = workdir / "synth"
    if not store.exists():
        shutil.rmtree(synth, ignore_errors=True)
        make_province(f"sqlite:///{workdir / 'building.sqlite3'}", synth, persons, batch)
        (workdir / "building.sqlite3").rename(store)
    return store, [p.read_bytes() for p in sorted((synth / "xml").rglob("*.xml"))]


def _files(workdir: Path, originals: list[bytes], count: int) -> list[bytes]:
    """The first ``count`` files sent: the province's files in turn, every MA_LK made unique (kept in
    ``workdir``, so a run's instruction count does not include making them)."""
    folder = workdir / "sent"
    folder.mkdir(exist_ok=True)
    out = []
    for n in range(count):
        path = folder / f"{n:05d}.xml"
        if not path.exists():
            path.write_bytes(_Resendable(originals[n % len(originals)]).unique(f"i{n}"))
        out.append(path.read_bytes())
    return out


def _run(
    store: Path, scratch: Path, files: list[bytes], jobs: int, profile: cProfile.Profile | None
) -> tuple[float, int]:
    """(CPU seconds, encounters acknowledged) of ``files`` through ``store_jobs`` on a copy of ``store``."""
    from api.intake import Job, store_jobs
    from mpi.identity.online import OnlineLinker
    from mpi.settings import get_settings
    from mpi.store.db import create_db_engine

    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(store, scratch)
    engine = create_db_engine(f"sqlite:///{scratch}", pool_size=2)
    linker = OnlineLinker.from_settings(get_settings())
    linker.warm(engine)
    freeze_start_up()  # as the intake process does after warming
    limits = Limits()
    batches = [[Job(data, "bench", None, limits) for data in files[n : n + jobs]] for n in range(0, len(files), jobs)]
    acknowledged = 0
    started = time.process_time()
    if profile is not None:
        profile.enable()
    for batch in batches:
        for outcome in store_jobs(engine, linker, batch):
            if isinstance(outcome, Exception):
                raise outcome
            acknowledged += sum(1 for e in outcome.encounters if e.status.value in ("accepted", "duplicate"))
    if profile is not None:
        profile.disable()
    cpu = time.process_time() - started
    gc.unfreeze()
    engine.dispose()
    return cpu, acknowledged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=400)
    ap.add_argument("--batch", type=int, default=20, help="HOSO per generated file (as bench_load: 20)")
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=6, help="files per store_jobs batch")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-intake"))
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="profile one more run; print N functions")
    args = ap.parse_args()
    for key, value in _ENV.items():
        os.environ.setdefault(key, value)
    workdir = args.workdir / f"p{args.persons}b{args.batch}"
    workdir.mkdir(parents=True, exist_ok=True)
    store, originals = _province(workdir, args.persons, args.batch)
    files = _files(workdir, originals, args.files)
    scratch = workdir / f"scratch-{os.getpid()}.sqlite3"
    print(f"load before: {os.getloadavg()}", flush=True)
    results = []
    try:
        for run in range(args.runs):
            cpu, encounters = _run(store, scratch, files, args.jobs, None)
            results.append(cpu * 1000 / max(1, encounters))
            print(f"run {run + 1}: {encounters} encounters, {cpu:.2f} CPU s, {results[-1]:.3f} ms per encounter",
                  flush=True)  # fmt: skip
        if args.profile:
            profile = cProfile.Profile(time.process_time)
            cpu, encounters = _run(store, scratch, files, args.jobs, profile)
            print(f"profiled run: {encounters} encounters, {cpu * 1000 / encounters:.3f} ms per encounter")
            stats = pstats.Stats(profile)
            stats.sort_stats("tottime").print_stats(args.profile)
            stats.sort_stats("cumulative").print_stats(args.profile)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    if results:
        print(f"intake CPU per encounter: best {min(results):.3f} ms, median {statistics.median(results):.3f} ms "
              f"({len(results)} runs); load after: {os.getloadavg()}")  # fmt: skip


if __name__ == "__main__":
    main()
