"""Load benchmark: ``mpi serve`` on loopback under submitters, clinicians and (optionally) slow-body clients.

Targets (server issue): zero 5xx, p99 of reads <= 100 ms, submissions >= 500 encounters/s, then every
acknowledged encounter stored exactly once and linked; 32 concurrent timeline reads with no failure.

What it does, per store (SQLite file, or a throwaway PostgreSQL started like tests/postgres.py does) and per
number of slow clients:
1. generates a small synthetic province (``mpi synth``) and ingests it, so clinicians have persons to read;
2. starts ``mpi serve --workers W`` (default: one per core) on a free loopback port, waits for ``/readyz``;
3. for ``--duration`` seconds runs, in one asyncio client process (aiohttp: ≈ 0.5 ms of CPU per request against
   httpx's ≈ 7 ms with 32 connections in its pool, measured here — the client shares the server's cores):
   - ``--submitters`` loops posting the province's files again with every MA_LK made unique per post
     (so each post is new encounters of the same persons: ingest, validation and linking all work);
   - ``--clinicians`` loops reading a random person: summary, timeline or FHIR Patient, each after reading
     the last page for 0.5..1.5 x ``--think`` seconds (0: back to back);
   - ``--slow`` clients that send a submission's headers, then trickle one body byte every 2 s;
4. then 32 concurrent timeline reads at once, and the count check against the database.
Each run prints a JSON line (also appended to ``--out``), with the CPU seconds of the server processes,
their intake processes, the database server and this client; at the end a table of every run and which
targets it met. The server runs with the per-key read limits lifted (``_UNLIMITED``): the 32 clinicians
share one key.

Usage: python -m bench.bench_load [--stores sqlite postgresql] [--duration 300] [--slow 0 16] [--workers N]
       [--think 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import httpx
from sqlalchemy import text

from api.heap import freeze_start_up
from mpi.keys import Role, create_key
from mpi.store import create_db_engine, open_store, session_scope

SECRET = "bench-load-secret-0123456789"
# The clinicians share one key: the per-key read limit (a guard against one key harvesting records) would
# answer most of their reads 429 and the run would measure the limiter, not the server.
_UNLIMITED = {"MPI_READ_RATE_PER_MINUTE": "1000000000", "MPI_READ_BURST": "1000000000"}
_CONTENT = re.compile(rb"<NOIDUNGFILE>(.*?)</NOIDUNGFILE>", re.S)
_MA_LK = re.compile(rb"<MA_LK>([^<]*)</MA_LK>")
_TRANSPORT_ERRORS: Final = (aiohttp.ClientError, TimeoutError)
"""A request that got no answer: refused, reset, closed early, or no answer within the timeout."""


@dataclass
class Stats:
    reads: list[float] = field(default_factory=list)
    reads_by_route: dict[str, list[float]] = field(default_factory=dict)
    read_status: Counter[int] = field(default_factory=Counter)
    submit_status: Counter[int] = field(default_factory=Counter)
    submit_latency: list[float] = field(default_factory=list)
    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    slow_status: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    loop_lag: list[float] = field(default_factory=list)
    probes: list[float] = field(default_factory=list)
    """Answers to a path no route has (404 from the event loop: no worker thread, no database), 10 a second:
    how quickly the server's event loop, and this client's, get to a request."""
    """How late this client's event loop woke from 10 ms sleeps: a busy or starved client inflates the
    latencies it measures by as much."""

    def request_count(self) -> int:
        """Requests answered (reads, submissions, probes; slow-body clients and transport errors aside)."""
        return len(self.reads) + sum(self.submit_status.values()) + len(self.probes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load() -> list[str]:
    """The 1, 5 and 15 minute load averages."""
    loadavg = Path("/proc/loadavg")
    return loadavg.read_text().split(" ")[:3] if loadavg.exists() else ["?"]


_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def _tree_cpu(pid: int | None) -> dict[str, float]:
    """CPU seconds (user + system) of ``pid`` and its descendants, split into the intake processes (under
    the multiprocessing fork server) and the rest. Linux only; empty elsewhere."""
    totals = {"intake": 0.0, "other": 0.0}
    if pid is None or not Path("/proc").exists():
        return totals
    stack = [(pid, False)]
    while stack:
        current, intake = stack.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            cmdline = Path(f"/proc/{current}/cmdline").read_bytes()
        except OSError:
            continue
        intake = intake or b"forkserver" in cmdline
        fields = stat.rsplit(")", 1)[1].split()
        totals["intake" if intake else "other"] += (int(fields[11]) + int(fields[12])) / _TICKS
        stack += [(child, intake) for child in _children(current)]
    return totals


def _postmaster(pg: Any) -> int | None:
    try:
        return int((pg.datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _spread(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    """Count and p50/p95/p99/max of ``values`` (seconds, shown in ms)."""
    return {"n": len(values), **{name: round(_percentile(values, q) * scale, 1)
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))}}  # fmt: skip


_ACCESS: Final = re.compile(r"api\.access: (GET|POST) (\S+) (\d+) ([\d.]+) ms")


def _server_times(log_text: str) -> dict[str, dict[str, float]]:
    """Per route template, the time the server itself took (its access log: from the request's first
    byte to the answer's last), beside the client's figures: the difference is time spent waiting to be
    read off the socket or for the event loop."""
    times: dict[str, list[float]] = {}
    for m in _ACCESS.finditer(log_text):
        times.setdefault(f"{m.group(1)} {m.group(2)}", []).append(float(m.group(4)) / 1000)
    return {route: _spread(values) for route, values in sorted(times.items())}


class _Resendable:
    """A submission file, to be posted again as new encounters of the same persons: every MA_LK suffixed by a
    tag. The file is cut once around its base64 tables and each decoded table around its MA_LK values, so a
    post only joins the pieces and encodes the tables again (the client shares the server's cores)."""

    def __init__(self, data: bytes) -> None:
        self.outer: list[bytes] = []  # the file between its tables: len(tables) + 1 pieces
        self.tables: list[tuple[list[bytes], list[bytes]]] = []  # each table: the text between, the MA_LKs
        at = 0
        for content in _CONTENT.finditer(data):
            self.outer.append(data[at : content.start(1)])
            inner = base64.b64decode(content.group(1))
            between, values, last = [], [], 0
            for ma_lk in _MA_LK.finditer(inner):
                between.append(inner[last : ma_lk.start(1)])
                values.append(ma_lk.group(1))
                last = ma_lk.end(1)
            between.append(inner[last:])
            self.tables.append((between, values))
            at = content.end(1)
        self.outer.append(data[at:])

    def unique(self, tag: str) -> bytes:
        """The file with every MA_LK suffixed by ``tag`` (and cut to the field's 100 characters)."""
        suffix = b"-" + tag.encode()
        parts = [self.outer[0]]
        for (between, values), after in zip(self.tables, self.outer[1:], strict=True):
            inner = [between[0]]
            for value, text_after in zip(values, between[1:], strict=True):
                inner += [value.decode()[: 99 - len(tag)].encode(), suffix, text_after]
            parts += [base64.b64encode(b"".join(inner)), after]
        return b"".join(parts)


def make_province(url: str, synth: Path, persons: int, batch: int = 20) -> None:
    """The benchmark's province (``mpi synth``, seed 11, ``batch`` HOSO per file) written to ``synth`` and
    ingested into the store at ``url``."""
    env = {**os.environ, "MPI_DATABASE_URL": url, "MPI_ENV": "test", "MPI_SECRET_KEY": SECRET}
    subprocess.run([sys.executable, "-m", "mpi", "synth", "--persons", str(persons), "--seed", "11", "--out",
                    str(synth), "--batch", str(batch)], check=True, env=env, capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, "-m", "mpi", "ingest", str(synth / "xml")], check=True, env=env,
                   capture_output=True)  # fmt: skip


def _prepare(url: str, workdir: Path, persons: int) -> tuple[list[tuple[str, _Resendable]], dict[str, str], list[int]]:
    synth = workdir / "synth"
    make_province(url, synth, persons)
    files = [(p.parent.name, _Resendable(p.read_bytes())) for p in sorted((synth / "xml").rglob("*.xml"))]
    engine = open_store(url)
    keys: dict[str, str] = {}
    with session_scope(engine) as session:
        for facility in sorted({f for f, _ in files}):
            _, keys[facility] = create_key(session=session, role=Role.SUBMITTER, facility_code=facility, secret=SECRET)
        _, keys["clinician"] = create_key(session=session, role=Role.CLINICIAN, facility_code=files[0][0],
                                          secret=SECRET)  # fmt: skip
    with engine.connect() as conn:
        person_ids = [int(r[0]) for r in conn.execute(text("SELECT id FROM person WHERE merged_into_id IS NULL"))]
    engine.dispose()
    return files, keys, person_ids


async def _submitter(
    client: aiohttp.ClientSession, files: list[tuple[str, _Resendable]], keys: dict[str, str], stats: Stats,
    stop: float, counter: itertools.count[int], run: str, seed: int,
) -> None:  # fmt: skip
    rng = random.Random(seed)
    while time.monotonic() < stop:
        facility, file = rng.choice(files)
        body = file.unique(f"{run}{next(counter)}")
        started = time.perf_counter()
        try:
            async with client.post(
                "/api/v1/submissions", data=body,
                headers={"Authorization": f"Bearer {keys[facility]}", "Content-Type": "application/xml"},
            ) as response:  # fmt: skip
                status = response.status
                answer = await response.read()
        except _TRANSPORT_ERRORS as exc:
            stats.transport_errors[type(exc).__name__] += 1
            continue
        stats.submit_latency.append(time.perf_counter() - started)
        stats.submit_status[status] += 1
        if status in (200, 201):
            for enc in json.loads(answer)["encounters"]:
                if enc["status"] in ("accepted", "duplicate"):
                    stats.acknowledged.add((enc["facility_code"], enc["ma_lk"]))


async def _get(client: aiohttp.ClientSession, path: str, headers: dict[str, str] | None = None) -> int:
    """GET ``path`` and read the whole answer; its status."""
    async with client.get(path, headers=headers) as response:
        await response.read()
        return response.status


async def _clinician(
    client: aiohttp.ClientSession, key: str, persons: list[int], stats: Stats, stop: float, seed: int, think: float
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "TREAT"}
    await asyncio.sleep(rng.uniform(0, think))  # the clinicians do not all start in the same instant
    while time.monotonic() < stop:
        if think > 0:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))  # reading the last page
        person = rng.choice(persons)
        route, path = rng.choice(
            [("summary", f"/api/v1/persons/{person}"), ("timeline", f"/api/v1/persons/{person}/timeline"),
             ("fhir_patient", f"/fhir/Patient/{person}")]
        )  # fmt: skip
        started = time.perf_counter()
        try:
            status = await _get(client, path, headers)
        except _TRANSPORT_ERRORS as exc:
            stats.transport_errors[type(exc).__name__] += 1
            continue
        elapsed = time.perf_counter() - started
        stats.reads.append(elapsed)
        stats.reads_by_route.setdefault(route, []).append(elapsed)
        stats.read_status[status] += 1


async def _lag_monitor(stats: Stats, stop: float) -> None:
    while time.monotonic() < stop:
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        stats.loop_lag.append(max(0.0, time.perf_counter() - started - 0.01))


async def _loop_probe(client: aiohttp.ClientSession, stats: Stats, stop: float) -> None:
    while time.monotonic() < stop:
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        try:
            await _get(client, "/bench-loop-probe")
        except _TRANSPORT_ERRORS as exc:
            stats.transport_errors[type(exc).__name__] += 1
            continue
        stats.probes.append(time.perf_counter() - started)


async def _slow_body(port: int, key: str, stats: Stats, stop: float) -> None:
    """Headers of a 1 MB submission, then one byte every 2 s; reconnects when the server gives up."""
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(1)
            continue
        head = (
            f"POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/xml\r\nContent-Length: 1000000\r\n\r\n"
        )
        writer.write(head.encode())
        try:
            while time.monotonic() < stop:
                writer.write(b"<")
                await writer.drain()
                try:
                    line = await asyncio.wait_for(reader.readline(), timeout=2)
                except TimeoutError:
                    continue
                stats.slow_status[line.decode(errors="replace").strip()[:40] or "closed"] += 1
                break
        except (ConnectionError, OSError):
            stats.slow_status["reset"] += 1
        finally:
            writer.close()


async def _run_load(port: int, files: list[tuple[str, _Resendable]], keys: dict[str, str], persons: list[int],
                    args: argparse.Namespace) -> tuple[Stats, float, Counter[int]]:  # fmt: skip
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=args.submitters + args.clinicians + 8)
    timeout = aiohttp.ClientTimeout(total=120.0)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=connector, timeout=timeout) as client:
        started = time.monotonic()
        stop = started + args.duration
        counter = itertools.count()
        run = uuid.uuid4().hex[:6]
        tasks = [_submitter(client, files, keys, stats, stop, counter, run, i) for i in range(args.submitters)]
        tasks += [
            _clinician(client, keys["clinician"], persons, stats, stop, i, args.think) for i in range(args.clinicians)
        ]
        tasks += [_slow_body(port, keys[files[0][0]], stats, stop) for _ in range(args.slow)]
        tasks += [_lag_monitor(stats, stop), _loop_probe(client, stats, stop)]
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        # 32 concurrent timeline reads at once, after the load.
        headers = {"Authorization": f"Bearer {keys['clinician']}", "X-Purpose-Of-Use": "TREAT"}
        burst = await asyncio.gather(
            *(_get(client, f"/api/v1/persons/{random.choice(persons)}/timeline", headers) for _ in range(32)),
            return_exceptions=True,
        )
    burst_status: Counter[int] = Counter(r if isinstance(r, int) else -1 for r in burst)
    return stats, elapsed, burst_status


def _count_check(url: str, acknowledged: set[tuple[str, str]]) -> dict[str, int]:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT e.facility_code, e.ma_lk, count(*), count(s.id) FROM encounter e "
            "LEFT JOIN source_record s ON s.encounter_id = e.id GROUP BY e.facility_code, e.ma_lk"
        )).all()  # fmt: skip
    engine.dispose()
    stored = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}
    return {
        "acknowledged": len(acknowledged),
        "missing": sum(1 for k in acknowledged if k not in stored),
        "stored_more_than_once": sum(1 for k in acknowledged if k in stored and stored[k][0] != 1),
        "not_linked": sum(1 for k in acknowledged if k in stored and stored[k][1] != stored[k][0]),
    }


def bench_store(store: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        workdir = Path(tmp)
        pg = None
        if store == "postgresql":
            from tests import postgres

            pg = postgres.start()
            admin = create_db_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text('CREATE DATABASE "bench"'))
            admin.dispose()
            url = pg.url("bench")
        else:
            url = f"sqlite:///{workdir}/bench.sqlite3"
        try:
            files, keys, persons = _prepare(url, workdir, args.persons)
            port = _free_port()
            env = {**os.environ, "MPI_DATABASE_URL": url, "MPI_ENV": "test", "MPI_SECRET_KEY": SECRET, **_UNLIMITED}
            log = workdir / "serve.log"
            with log.open("wb") as out:
                server = subprocess.Popen(
                    [sys.executable, "-m", "mpi", "serve", "--workers", str(args.workers), "--port", str(port)],
                    env=env, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
                try:
                    _wait_ready(port, server)
                    load_before = _load()
                    cpu_before = time.process_time()
                    server_before, db_before = _tree_cpu(server.pid), _tree_cpu(_postmaster(pg))
                    log_start = log.stat().st_size
                    # this client's own full collections would stall every request it has in flight and
                    # count as the server's latency
                    freeze_start_up()
                    stats, elapsed, burst = asyncio.run(_run_load(port, files, keys, persons, args))
                    gc.unfreeze()
                    client_cpu = (time.process_time() - cpu_before) / max(elapsed, 1e-9)
                    server_after, db_after = _tree_cpu(server.pid), _tree_cpu(_postmaster(pg))
                    load_after = _load()
                finally:
                    server.terminate()  # a normal stop: waiting files and audit events are written first
                    try:
                        server.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        server.kill()
                        server.wait()
            server_log = log.read_text(errors="replace")
            # the access log of the load itself (not the start-up, nor the 32 timelines after it)
            load_log = server_log.encode()[log_start:].decode(errors="replace").split("\n")
            load_log = [line for line in load_log if "api.access" in line][: stats.request_count()]
            check = _count_check(url, stats.acknowledged)
        finally:
            if pg is not None:
                pg.stop()
    five_xx = sum(n for s, n in (stats.read_status + stats.submit_status).items() if s >= 500)
    return {
        "store": store,
        "workers": args.workers,
        "duration_s": round(elapsed, 1),
        "submitters": args.submitters,
        "clinicians": args.clinicians,
        "slow_clients": args.slow,
        "think_s": args.think,
        "load_before": load_before,
        "load_after": load_after,
        "client_cpu_share": round(client_cpu, 2),
        "server_cpu_s": round(server_after["other"] - server_before["other"], 1),
        "intake_cpu_s": round(server_after["intake"] - server_before["intake"], 1),
        "database_cpu_s": round(sum(db_after.values()) - sum(db_before.values()), 1),
        "reads": len(stats.reads),
        "read_p50_ms": round(_percentile(stats.reads, 0.50) * 1000, 1),
        "read_p95_ms": round(_percentile(stats.reads, 0.95) * 1000, 1),
        "read_p99_ms": round(_percentile(stats.reads, 0.99) * 1000, 1),
        "read_routes": {route: _spread(values) for route, values in sorted(stats.reads_by_route.items())},
        "server_routes": _server_times("\n".join(load_log)),
        "client_loop_lag_ms": _spread(stats.loop_lag),
        "loop_probe_ms": _spread(stats.probes),
        "server_cpu_ms_per_read": round(
            (server_after["other"] - server_before["other"]) * 1000 / max(1, len(stats.reads)), 1
        ),
        "read_status": dict(stats.read_status),
        "submissions": sum(stats.submit_status.values()),
        "submit_status": dict(stats.submit_status),
        "submit_p99_ms": round(_percentile(stats.submit_latency, 0.99) * 1000, 1),
        "encounters_per_s": round(len(stats.acknowledged) / elapsed, 1),
        "five_xx": five_xx,
        "transport_errors": dict(stats.transport_errors),
        "slow_client_answers": dict(stats.slow_status),
        "timeline_burst_32": dict(burst),
        "count_check": check,
        "server_tracebacks": server_log.count("Traceback"),
        "server_errors": dict(Counter(m.group(1) for m in re.finditer(r"unhandled (\w+) on", server_log))),
    }


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("mpi serve exited during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError("mpi serve was not ready within 180 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load per run")
    parser.add_argument("--submitters", type=int, default=16)
    parser.add_argument("--clinicians", type=int, default=32)
    parser.add_argument("--slow", type=int, nargs="+", default=[0, 16], help="slow-body clients; one run each")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2,
        help="server processes (default: one per core; each has its intake process beside it)",
    )  # fmt: skip
    parser.add_argument(
        "--think", type=float, default=1.0,
        help="mean seconds a clinician reads a page before the next read (0.5x..1.5x; 0: back to back)",
    )  # fmt: skip
    parser.add_argument("--persons", type=int, default=400, help="synthetic persons ingested before the load")
    parser.add_argument("--out", type=Path, default=None, help="append each run's JSON line here")
    args = parser.parse_args()
    started = time.monotonic()
    results = []
    for store in args.stores:
        for slow in args.slow:
            run = argparse.Namespace(**{**vars(args), "slow": slow})
            result = bench_store(store, run)
            results.append(result)
            line = json.dumps(result, ensure_ascii=False)
            print(line, flush=True)
            if args.out is not None:
                with args.out.open("a") as out:
                    out.write(line + "\n")
    print(table(results), flush=True)
    print(f"total {time.monotonic() - started:.0f} s", flush=True)


TARGETS: Final = {"read_p99_ms": 100.0, "encounters_per_s": 500.0}


def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    """Each target of one run: met or not."""
    check = result["count_check"]
    return {
        "no 5xx": result["five_xx"] == 0 and not result["transport_errors"],
        "read p99": result["read_p99_ms"] <= TARGETS["read_p99_ms"],
        "encounters/s": result["encounters_per_s"] >= TARGETS["encounters_per_s"],
        "count check": check["missing"] == check["stored_more_than_once"] == check["not_linked"] == 0,
        "32 timelines": set(result["timeline_burst_32"]) == {200},
    }


def _cores(r: dict[str, Any]) -> str:
    """Cores busy on average: server processes, intake processes, the database server, the load client."""
    shares = [r["server_cpu_s"] / r["duration_s"], r["intake_cpu_s"] / r["duration_s"],
              r["database_cpu_s"] / r["duration_s"], r["client_cpu_share"]]  # fmt: skip
    return "/".join(f"{x:.2f}" for x in shares)


def table(results: list[dict[str, Any]]) -> str:
    """One line per store and configuration: the figures and whether each target is met."""
    head = (f"{'store':<10} {'slow':>4} {'5xx':>5} {'reads':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'enc/s':>7} {'sub p99 ms':>10} {'count':>6} {'32 tl':>6} {'cores srv/intake/db/client':>27}  "
            "load before -> after")
    lines = [head, "-" * len(head)]
    for r in results:
        v = verdicts(r)
        lines.append(
            f"{r['store']:<10} {r['slow_clients']:>4} {r['five_xx']:>5} {r['reads']:>7} {r['read_p50_ms']:>8} "
            f"{r['read_p95_ms']:>8} {r['read_p99_ms']:>8} {r['encounters_per_s']:>7} {r['submit_p99_ms']:>10} "
            f"{'OK' if v['count check'] else 'FAIL':>6} {'OK' if v['32 timelines'] else 'FAIL':>6} "
            f"{_cores(r):>27}  {' '.join(r['load_before'])} -> {' '.join(r['load_after'])}"
        )  # fmt: skip
    lines.append("")
    for r in results:
        client = ", ".join(f"{k} {v['p50']}/{v['p99']}" for k, v in r.get("read_routes", {}).items())
        server = ", ".join(f"{k} {v['p50']}/{v['p99']}" for k, v in r.get("server_routes", {}).items())
        lines.append(f"{r['store']}, {r['slow_clients']} slow: reads p50/p99 ms per route, client: {client}")
        lines.append(f"    server (access log): {server}")
        lines.append(f"    server CPU per read: {r.get('server_cpu_ms_per_read')} ms; "
                     f"client loop lag: {r.get('client_loop_lag_ms')}; 404 probe: {r.get('loop_probe_ms')}")
    lines.append("")
    lines.append(f"targets: zero 5xx, read p99 <= {TARGETS['read_p99_ms']:.0f} ms, "
                 f">= {TARGETS['encounters_per_s']:.0f} encounters/s, count check, 32 concurrent timelines, no failure")
    for r in results:
        missed = [name for name, ok in verdicts(r).items() if not ok]
        lines.append(f"{r['store']}, {r['slow_clients']} slow clients: " + ("all met" if not missed else
                     "missed: " + ", ".join(missed)))  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
