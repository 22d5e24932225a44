"""What one clinician read costs the server, per route: SQL statements and CPU.

The load benchmark (``bench.bench_load``) measures latency under contention; this one measures the cost
that decides it, one request at a time and deterministically where it can:

1. **statements per request** (exact): the application in this process (``TestClient``), an SQLAlchemy
   listener counting the statements the request runs (the audit writer's batched inserts, which run in
   their own thread after the answer, are counted apart, per request);
2. **CPU per request**: ``mpi serve --workers 1`` on loopback, the routes read one request at a time by one
   client, in ``--rounds`` rounds where the routes take turns; per route and round the server process's CPU
   seconds (``/proc``, its intake process excluded) divided by the reads, reported as the median (and the
   least) round: other load on a shared machine weighs on every route alike. The client's CPU is not in
   it; sequential, so no request waits for another.
   ``--profile ROUTE`` instead prints the top of a cProfile of ``--requests`` reads of that route in this
   process (the client's share included).

The routes are those the load benchmark's clinicians read (summary, timeline, FHIR Patient) and the other
per-person reads of a clinician (FHIR Patient search by identifier, FHIR Encounter, the REST encounter).
The store is the load benchmark's province (``mpi synth --persons 400 --seed 11``, ingested), or ``--url``.

Usage: python -m bench.bench_reads [--url URL] [--requests 200] [--profile ROUTE] [--out FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event, text

from bench.bench_load import SECRET, _free_port, _load, _prepare, _tree_cpu, _wait_ready
from mpi.keys import Role, create_key
from mpi.store import open_store, session_scope

Route = tuple[str, Callable[[dict[str, Any]], str]]
BASELINE: Route = ("healthz", lambda _: "/healthz")
"""No key, no database: what the HTTP stack alone costs (CPU only)."""
ROUTES: list[Route] = [
    ("summary", lambda p: f"/api/v1/persons/{p['person']}"),
    ("timeline", lambda p: f"/api/v1/persons/{p['person']}/timeline"),
    ("fhir_patient", lambda p: f"/fhir/Patient/{p['person']}"),
    ("fhir_search_identifier", lambda p: f"/fhir/Patient?identifier={p['identifier']}"),
    ("fhir_encounter", lambda p: f"/fhir/Encounter/{p['encounter']}"),
    ("encounter", lambda p: f"/api/v1/persons/{p['person']}/encounters/{p['encounter']}"),
]


def _samples(url: str, n: int, seed: int = 5) -> list[dict[str, Any]]:
    """``n`` reads' parameters: a surviving person, one of their current encounters, an identifier they hold."""
    engine = open_store(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.person_id, min(s.encounter_id), max(s.national_id) FROM source_record s "
            "JOIN person p ON p.id = s.person_id JOIN encounter e ON e.id = s.encounter_id "
            "WHERE p.merged_into_id IS NULL AND e.is_current GROUP BY s.person_id ORDER BY s.person_id"
        )).all()  # fmt: skip
    engine.dispose()
    rng = random.Random(seed)
    chosen = [r for r in rows if r[2]]
    return [
        {"person": int(r[0]), "encounter": int(r[1]), "identifier": f"{_cccd_system()}|{r[2]}"}
        for r in (rng.choice(chosen) for _ in range(n))
    ]


def _cccd_system() -> str:
    from mpi.fhir import identifiers

    return identifiers.CCCD


def _clinician_key(url: str) -> str:
    engine = open_store(url)
    with session_scope(engine) as session:
        facility = session.execute(text("SELECT min(code) FROM facility")).scalar_one()
        _, key = create_key(session=session, role=Role.CLINICIAN, facility_code=facility, secret=SECRET)
    engine.dispose()
    return key


class StatementCounter:
    """Statements executed on an engine, split into the request's and the audit writer's."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.request = 0
        self.audit = 0
        self._lock = threading.Lock()

    def _count(self, *_: Any) -> None:
        with self._lock:
            if threading.current_thread().name == "audit-writer":
                self.audit += 1
            else:
                self.request += 1

    @contextmanager
    def listening(self) -> Iterator[StatementCounter]:
        event.listen(self.engine, "before_cursor_execute", self._count)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", self._count)


def _env(url: str) -> dict[str, str]:
    from bench.bench_load import _UNLIMITED

    return {"MPI_DATABASE_URL": url, "MPI_ENV": "test", "MPI_SECRET_KEY": SECRET, **_UNLIMITED}


def statements(url: str, key: str, samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per route: statements per request (min, max, mean) and the audit writer's per request."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from mpi.audit.writer import writer_for
    from mpi.settings import Settings

    os.environ.update({**_env(url), "MPI_INTAKE_PROCESSES": "0"})
    settings = Settings()
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "TREAT"}
    out: dict[str, dict[str, float]] = {}
    with TestClient(app) as client:
        for name, path in ROUTES:
            client.get(path(samples[0]), headers=headers)  # warm: caches, the first connection
            writer_for(app.state.engine).flush()
            counts: list[int] = []
            counter = StatementCounter(app.state.engine)
            with counter.listening():
                for sample in samples:
                    before = counter.request
                    response = client.get(path(sample), headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
                    counts.append(counter.request - before)
                writer_for(app.state.engine).flush()
            out[name] = {
                "min": min(counts), "max": max(counts), "mean": round(sum(counts) / len(counts), 2),
                "audit_per_request": round(counter.audit / len(counts), 2),
            }  # fmt: skip
    app.state.engine.dispose()
    return out


def cpu(url: str, key: str, samples: list[dict[str, Any]], workdir: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Per route: the server's CPU milliseconds per request (the median and the least of ``rounds`` rounds,
    the routes taking turns, so that other load on the machine weighs on every route alike) and the
    client-side p50 latency."""
    port = _free_port()
    log = workdir / "serve.log"
    routes = [BASELINE, *ROUTES]
    spent: dict[str, list[float]] = {name: [] for name, _ in routes}
    latencies: dict[str, list[float]] = {name: [] for name, _ in routes}
    per_round = max(1, len(samples) // rounds)
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "mpi", "serve", "--workers", "1", "--port", str(port)],
            env={**os.environ, **_env(url)}, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_ready(port, server)
            headers = {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "TREAT"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                for _, path in routes:
                    for sample in samples[:10]:  # warm
                        client.get(path(sample), headers=headers)
                for at in range(rounds):
                    chunk = samples[at * per_round : (at + 1) * per_round]
                    for name, path in routes:
                        time.sleep(0.2)  # the audit writer's batch of the requests before
                        before = _tree_cpu(server.pid)["other"]
                        for sample in chunk:
                            started = time.perf_counter()
                            response = client.get(path(sample), headers=headers)
                            latencies[name].append(time.perf_counter() - started)
                            if response.status_code != 200:
                                raise RuntimeError(f"{name}: {response.status_code}")
                        time.sleep(0.2)  # this batch's audit events count too
                        spent[name].append((_tree_cpu(server.pid)["other"] - before) * 1000 / len(chunk))
        finally:
            server.terminate()
            server.wait(timeout=120)
    return {
        name: {
            "server_cpu_ms": round(statistics.median(spent[name]), 1),
            "server_cpu_ms_least": round(min(spent[name]), 1),
            "p50_ms": round(statistics.median(latencies[name]) * 1000, 1),
        }
        for name, _ in routes
    }


def profile(url: str, key: str, samples: list[dict[str, Any]], route: str, top: int) -> str:
    """A cProfile of the reads in this thread: the application runs on an event loop here, its sync handlers
    and dependencies inline rather than in worker threads (which cProfile would not see)."""
    import asyncio

    import anyio.to_thread

    from api.app import create_app
    from mpi.settings import Settings

    async def inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return func(*args)

    os.environ.update({**_env(url), "MPI_INTAKE_PROCESSES": "0"})
    app = create_app(Settings())
    path = dict(ROUTES)[route]
    headers = {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "TREAT"}
    profiler = cProfile.Profile()

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await client.get(path(samples[0]), headers=headers)
            profiler.enable()
            for sample in samples:
                await client.get(path(sample), headers=headers)
            profiler.disable()

    original = anyio.to_thread.run_sync
    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    try:
        asyncio.run(run())
    finally:
        anyio.to_thread.run_sync = original
    app.state.engine.dispose()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(top)
    stream.write("\n")
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    if os.environ.get("BENCH_CALLERS"):
        pstats.Stats(profiler, stream=stream).print_callers(os.environ["BENCH_CALLERS"])
    return stream.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a store to read (default: the load benchmark's province, built here)")
    parser.add_argument("--requests", type=int, default=200, help="reads per route")
    parser.add_argument("--rounds", type=int, default=5, help="CPU: rounds the requests are split into")
    parser.add_argument("--persons", type=int, default=400)
    parser.add_argument("--profile", choices=[name for name, _ in ROUTES], help="print a cProfile of this route")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--skip-cpu", action="store_true", help="statements only (no server started)")
    parser.add_argument("--skip-statements", action="store_true", help="CPU only")
    parser.add_argument("--routes", nargs="+", choices=[name for name, _ in ROUTES], help="only these routes")
    parser.add_argument("--out", type=Path, default=None, help="append the JSON line here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
        workdir = Path(tmp)
        url = args.url
        if url is None:
            url = f"sqlite:///{workdir}/reads.sqlite3"
            _prepare(url, workdir, args.persons)
        key = _clinician_key(url)
        samples = _samples(url, args.requests)
        if args.profile:
            print(profile(url, key, samples, args.profile, args.top))
            return
        load_before = _load()
        result: dict[str, Any] = {"store": url.split(":", 1)[0], "requests": args.requests}
        if args.routes:
            ROUTES[:] = [r for r in ROUTES if r[0] in args.routes]
        if not args.skip_statements:
            result["statements"] = statements(url, key, samples)
        if not args.skip_cpu:
            result["cpu"] = cpu(url, key, samples, workdir, args.rounds)
        result["load_before"], result["load_after"] = load_before, _load()
    line = json.dumps(result)
    print(line)
    if args.out is not None:
        with args.out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
