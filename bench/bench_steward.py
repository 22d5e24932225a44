"""The steward's workbench at scale: item-page latency and change-feed throughput on a store of N persons.

The store is built in bulk SQL: ``bench.bench_linking.build_store`` writes a template population of
``--template`` synthetic persons (1-5 noisy records each, term-frequency counts), which is then copied
with ``INSERT ... SELECT`` (ids offset, MA_LK suffixed) until the store holds ``--persons`` persons; one
``link`` per source record, term-frequency counts scaled to the copies. Then XML1 rows for the records
the review items show, ``--items`` open review items between records of different persons, and
``--events`` identity events in the log. ``--store PATH`` keeps the store (e.g. under /tmp) and reuses it
on the next run, so the 1M-person store is built once.

- item page: ``GET /web/steward/items/{id}`` through the whole app in process (session cookie check,
  review, both sides' records with their XML1, the scorer's waterfall for every candidate record, the
  decision previews, facility names, the audit write, the template): p50 / p95 / p99.
- feed: ``GET /api/v1/events?after=…&limit=…`` paged to the end by a subscriber (HTTP, audit included),
  and ``links.read_feed`` alone: changes per second.

Goals: item page p95 <= 100 ms at 1M persons; the feed >= 10,000 changes/s.

Usage: python -m bench.bench_steward --persons 1000000 [--items 300] [--events 200000] [--store /tmp/steward1m.sqlite3]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, literal, select, update

from api.app import create_app
from api.web import session as web_session
from bench.bench_linking import build_store
from mpi.identity import links as L
from mpi.identity.models import TermFrequency
from mpi.identity.online import OnlineLinker
from mpi.keys import Role, create_key
from mpi.settings import Settings
from mpi.store import open_store, session_scope
from mpi.store.content import content_tables
from mpi.store.models import Encounter, utcnow
from tests.linkage.synthetic import synthetic_records

SECRET = "bench-secret-0123456789"
XML1 = content_tables["XML1"]


def _raw(features: dict[str, Any], row: dict[str, Any]) -> dict[str, str | None]:
    """XML1 identity elements as a facility would send them (synthetic, from the generator's row)."""
    dob = features.get("dob_date")
    return {
        "MA_BN": f"BN{row['unique_id']}",
        "HO_TEN": features.get("name_key"),
        "NGAY_SINH": dob.replace("-", "") + "0000" if dob else None,
        "GIOI_TINH": str(features.get("sex") or ""),
        "SO_CCCD": features.get("national_id"),
        "DIEN_THOAI": features.get("phone"),
        "MAXA_CU_TRU": features.get("commune_code"),
        "DIA_CHI": features.get("address_text"),
    }


def replicate(url: str, copies: int) -> None:
    """Copy the template population ``copies - 1`` more times with ``INSERT ... SELECT`` (persons, encounters,
    source records), then one ``link`` per source record and term-frequency counts scaled to the copies."""
    engine = open_store(url)
    enc_t = Encounter.__table__  # type: ignore[attr-defined]
    tf_t = TermFrequency.__table__  # type: ignore[attr-defined]
    now = utcnow()
    with engine.begin() as conn:
        top_person = int(conn.execute(select(func.max(L.persons.c.id))).scalar_one()) + 1
        top_enc = int(conn.execute(select(func.max(enc_t.c.id))).scalar_one()) + 1
        top_src = int(conn.execute(select(func.max(L.sources.c.id))).scalar_one()) + 1
        for k in range(1, copies):
            # each copy reads only the template rows (ids up to the template's top)
            conn.execute(
                insert(L.persons).from_select(
                    ["id", "created_at"],
                    select(L.persons.c.id + k * top_person, L.persons.c.created_at).where(L.persons.c.id < top_person),
                )
            )
            enc_cols = list(enc_t.columns)
            conn.execute(
                insert(enc_t).from_select(
                    [c.name for c in enc_cols],
                    select(
                        *(
                            (c + k * top_enc) if c.name == "id" else (c + literal(f"_{k}")) if c.name == "ma_lk" else c
                            for c in enc_cols
                        )
                    ).where(enc_t.c.id < top_enc),
                )
            )
            src_cols = list(L.sources.columns)
            shifted = {"id": k * top_src, "encounter_id": k * top_enc, "person_id": k * top_person}
            conn.execute(
                insert(L.sources).from_select(
                    [c.name for c in src_cols],
                    select(
                        *(
                            (c + shifted[c.name])
                            if c.name in shifted
                            else (c + literal(f"_{k}"))
                            if c.name == "ma_lk"
                            else c
                            for c in src_cols
                        )
                    ).where(L.sources.c.id < top_src),
                )
            )
        conn.execute(
            insert(L.links).from_select(
                ["source_record_id", "person_id", "state", "rule", "actor", "created_at"],
                select(
                    L.sources.c.id,
                    L.sources.c.person_id,
                    literal("auto"),
                    literal("model"),
                    literal("bench"),
                    literal(now),
                ),
            )
        )
        conn.execute(update(tf_t).values(count=tf_t.c["count"] * copies))
    engine.dispose()


def prepare(url: str, persons: int, items: int, events: int, template: int) -> list[int]:
    """Build the store; returns the review item ids."""
    template = min(template, persons)
    copies = max(1, round(persons / template))
    rows = synthetic_records(persons // copies, seed=3).to_pylist()
    linker = OnlineLinker.from_settings(Settings(env="test", secret_key=SECRET))
    build_store(url, rows, linker)
    replicate(url, copies)
    engine = open_store(url)
    rng = random.Random(5)
    now = utcnow()
    with engine.begin() as conn:
        source_ids = list(conn.execute(select(L.sources.c.id)).scalars())
        review_ids: list[int] = []
        for _ in range(items):
            a, b = rng.choice(source_ids), rng.choice(source_ids)
            pa, pb = (
                int(conn.execute(select(L.sources.c.person_id).where(L.sources.c.id == x)).scalar_one()) for x in (a, b)
            )
            if pa == pb:
                continue
            review_ids.append(
                L.open_review(
                    conn,
                    source_record_id=a,
                    candidate_person_id=pb,
                    reason="model_band",
                    actor="bench",
                    match_probability=rng.random(),
                )
            )
        shown = conn.execute(
            select(L.sources.c.id, L.sources.c.encounter_id, L.sources.c.features, L.sources.c.ma_lk).where(
                L.sources.c.person_id.in_(
                    select(L.reviews.c.candidate_person_id).union(
                        select(L.sources.c.person_id).where(L.sources.c.id.in_(select(L.reviews.c.source_record_id)))
                    )
                )
            )
        ).all()
        conn.execute(
            insert(XML1),
            [
                {"encounter_id": r.encounter_id, "row_no": 1, "raw": _raw(r.features, {"unique_id": r.id})}
                for r in shown
            ],
        )
        head = L.last_seq(conn)
        batch = 50_000
        for start in range(0, events, batch):
            conn.execute(
                insert(L.events),
                [
                    {
                        "seq": head + i + 1,
                        "kind": "linked",
                        "source_record_id": source_ids[i % len(source_ids)],
                        "person_id": 1,
                        "actor": "bench",
                        "created_at": now,
                        "details": {"state": "auto", "rule": "model"},
                    }
                    for i in range(start, min(events, start + batch))
                ],
            )
        conn.execute(update(L.feed_head).values(last_seq=head + events))
    engine.dispose()
    return review_ids


def _percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  p99 {q[98]:.1f} ms (n={len(samples)})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--page", type=int, default=5000)
    ap.add_argument("--template", type=int, default=25_000, help="persons generated; the rest are copies")
    ap.add_argument("--store", help="keep the store in this file and reuse it when it exists (never in the repo)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} CPython {platform.python_version()}, cpus={len(os.sched_getaffinity(0))}")
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or f"{tmp}/bench.sqlite3"
        url = f"sqlite:///{path}"
        t0, c0 = time.perf_counter(), time.process_time()
        if args.store and Path(path).exists():
            engine = open_store(url)
            with engine.connect() as conn:
                review_ids = list(conn.execute(select(L.reviews.c.id).where(L.reviews.c.status == "open")).scalars())
            engine.dispose()
            print(f"reusing {path}: {len(review_ids)} open items")
        else:
            review_ids = prepare(url, args.persons, args.items, args.events, args.template)
            print(
                f"persons={args.persons:,}: store built in {time.perf_counter() - t0:.0f} s "
                f"({time.process_time() - c0:.0f} s CPU), {len(review_ids)} items"
            )
        with open_store(url).connect() as conn:
            counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                      for t in (L.persons, L.sources, L.links, L.events)}  # fmt: skip
        print("  rows: " + ", ".join(f"{name} {n:,}" for name, n in counts.items()))
        settings = Settings(env="test", secret_key=SECRET, database_url=url)
        app = create_app(settings)
        with session_scope(app.state.engine) as session:
            steward, _ = create_key(session=session, role=Role.STEWARD, secret=SECRET)
            _, subscriber = create_key(session=session, role=Role.SUBSCRIBER, secret=SECRET)
            assert steward.id is not None
            cookie = web_session.issue(session, SECRET, steward.id)
        with TestClient(app) as client:
            client.cookies.set(web_session.COOKIE, cookie)
            assert client.get(f"/web/steward/items/{review_ids[0]}").status_code == 200  # warm: model, TF tables
            latencies, cpu = [], []
            for review_id in review_ids:
                start, start_cpu = time.perf_counter(), time.process_time()
                response = client.get(f"/web/steward/items/{review_id}")
                latencies.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
                assert response.status_code == 200, response.text[:200]
            print(f"  item page, wall: {_percentiles(latencies)}")
            print(f"  item page, CPU of the process (client and app): {_percentiles(cpu)}")

            client.cookies.clear()
            headers = {"Authorization": f"Bearer {subscriber}"}
            start, start_cpu, after, seen = time.perf_counter(), time.process_time(), 0, 0
            while True:
                page = client.get("/api/v1/events", params={"after": after, "limit": args.page}, headers=headers)
                body = page.json()
                if not body["events"]:
                    break
                seen += len(body["events"])
                after = body["next_after"]
            elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
            print(
                f"  feed over HTTP (pages of {args.page}): {seen:,} changes in {elapsed:.2f} s = "
                f"{seen / elapsed:,.0f}/s ({seen / used:,.0f} per CPU-second)"
            )
        with app.state.engine.connect() as conn:
            start, start_cpu, after, seen = time.perf_counter(), time.process_time(), 0, 0
            while batch := L.read_feed(conn, after=after, limit=args.page):
                seen += len(batch)
                after = batch[-1].id
            elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
        print(
            f"  links.read_feed alone: {seen:,} changes in {elapsed:.2f} s = {seen / elapsed:,.0f}/s "
            f"({seen / used:,.0f} per CPU-second)"
        )
        app.state.engine.dispose()
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
