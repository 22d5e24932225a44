"""FHIR Patient search latency by kind of query, on a synthetic province ingested through the production path.

Each query kind is run for a sample of the province's persons (their recorded name, birth date, phone and
CCCD, read back from the store), through the ASGI app in-process (``TestClient``), with a clinician key and
purpose of use, so the figures include authentication, the audit event and the Patient assembly. Reported:
p50 / p95 per kind, and how often the person searched for is among the Patients returned.

Usage: python bench/bench_fhir_search.py [--persons 300] [--queries 60] [--seed 11]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from mpi.fhir import identifiers as sid
from mpi.identity import links as L
from mpi.identity.online import OnlineLinker
from mpi.ingest import ingest_parsed, parse_paths
from mpi.keys import Role, create_key
from mpi.records.dates import partial_iso
from mpi.records.person import current_encounters
from mpi.settings import Settings
from mpi.store import open_store, session_scope
from mpi.xml130 import Limits
from synth import generate_province

Query = Callable[[Any], list[tuple[str, str]] | None]


def _family(r: Any) -> str:
    return str(r.ho_ten).split()[0]


def _given(r: Any) -> str:
    return str(r.ho_ten).split()[-1]


def _day(r: Any) -> str | None:
    day = partial_iso(r.ngay_sinh, r.ngay_sinh_precision)
    return day[:10] if day and len(day) >= 10 else None


QUERIES: dict[str, Query] = {
    "identifier (CCCD)": lambda r: [("identifier", f"{sid.CCCD}|{r.so_cccd}")] if r.so_cccd else None,
    "family + birthdate": lambda r: [("family", _family(r)), ("birthdate", d)] if (d := _day(r)) else None,
    "given + birthdate": lambda r: [("given", _given(r)), ("birthdate", d)] if (d := _day(r)) else None,
    "family + given + birth year": lambda r: (
        [("family", _family(r)), ("given", _given(r)), ("birthdate", d[:4])] if (d := _day(r)) else None
    ),
    "family + birthdate + gender + address-state": lambda r: (
        [
            ("family", _family(r)),
            ("birthdate", d),
            ("gender", {1: "male", 2: "female"}.get(r.gioi_tinh, "unknown")),
            ("address-state", r.matinh_cu_tru),
        ]
        if (d := _day(r)) and r.matinh_cu_tru
        else None
    ),
    "telecom": lambda r: [("telecom", f"phone|{r.dien_thoai}")] if r.dien_thoai else None,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
    url = f"sqlite:///{root}/store.sqlite3"
    settings = Settings(env="test", secret_key="bench-" + "x" * 40, database_url=url)
    engine = open_store(url)
    generate_province(persons=args.persons, seed=args.seed, out=root / "province")
    linker = OnlineLinker.from_settings(settings)
    linker.warm(engine)
    started = time.perf_counter()
    files = sorted((root / "province" / "xml").rglob("*.xml"))
    for _, data, parsed in parse_paths(files, limits=Limits.from_settings(settings)):
        ingest_parsed(engine=engine, data=data, parsed=parsed, submitter="cli", linker=linker)
    print(f"ingested {len(files)} submissions in {time.perf_counter() - started:.0f} s")

    with engine.connect() as conn:
        alive = select(L.persons.c.id).where(L.persons.c.merged_into_id.is_(None))
        persons = [int(p) for p in conn.execute(alive).scalars()]
        rng = random.Random(args.seed)
        sample = rng.sample(persons, min(args.queries, len(persons)))
        records = {p: conn.execute(current_encounters((p,))).first() for p in sample}
    app = create_app(settings.model_copy(update={"read_rate_per_minute": 10**6, "read_burst": 10**6}))
    app.state.linker = linker
    with session_scope(app.state.engine) as session:
        facility = next(str(r.facility_code) for r in records.values() if r is not None)
        _, plaintext = create_key(
            session=session, role=Role.CLINICIAN, facility_code=facility, secret=settings.secret_key
        )
    headers = {"Authorization": f"Bearer {plaintext}", "X-Purpose-Of-Use": "TREAT"}
    print(f"{platform.python_version()} on {platform.machine()}, load {os.getloadavg()[0]:.2f}")
    print(f"{'query':45} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'found':>6} {'mean hits':>9}")
    with TestClient(app) as client:
        for kind, make in QUERIES.items():
            times, found, hits = [], 0, []
            for person, record in records.items():
                if record is None or (params := make(record)) is None:
                    continue
                t0 = time.perf_counter()
                response = client.get("/fhir/Patient", params=params, headers=headers)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.text
                ids = [e["resource"]["id"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"]
                found += str(person) in ids
                hits.append(len(ids))
            if times:
                p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)
                print(
                    f"{kind:45} {len(times):>4} {statistics.median(times):>8.1f} {p95:>8.1f} "
                    f"{found / len(times):>6.0%} {statistics.mean(hits):>9.1f}"
                )
    engine.dispose()


if __name__ == "__main__":
    main()
