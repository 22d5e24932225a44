"""Ingest throughput on the embedded store versus the bare parse of the same files.

Corpus: a synthetic province (`mpi.synth`), i.e. a realistic mix of encounters (mostly XML1+2+3+4,
some XML5/7/13/14). Three timings over the same files, one process:
  bare      read + lxml parse of the envelope + base64 decode + lxml parse of each inner table
  validate  `parse_submission` (the above + typing every field + every check)
  store       `ingest_file` into a fresh SQLite store (validate + one transaction per encounter), no linking
  store+link  the same with the online linker (what ingest does in production)
  cli (2w)    as `mpi ingest` runs it: 2 worker processes parse, the main process stores and links
Goals: >= 1,000 encounters/s end to end with linking, and ingest <= 3x bare.

Usage: python -m bench.bench_ingest [--persons N]
"""

from __future__ import annotations

import argparse
import base64
import platform
import resource
import tempfile
import time
from pathlib import Path

from lxml import etree

from mpi.identity.online import OnlineLinker
from mpi.ingest import ingest_file, ingest_parsed, parse_paths
from mpi.settings import Settings
from mpi.store import open_store
from mpi.synth import generate_province
from mpi.xml130 import Limits, parse_submission


def bare_parse(data: bytes) -> int:
    # recover: a strict parser refuses the malformed xsi URI that real exports (and the generator) carry
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True)
    root = etree.fromstring(data, parser)
    tables = 0
    for payload in root.iter("NOIDUNGFILE"):
        etree.fromstring(base64.b64decode(payload.text or ""), parser)
        tables += 1
    return tables


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=3000)
    args = ap.parse_args()
    settings = Settings(env="test", secret_key="bench-secret-0123456789")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "province"
        summary = generate_province(persons=args.persons, seed=11, out=out)
        files = sorted(out.rglob("*.xml"))
        blobs = [f.read_bytes() for f in files]
        encounters = sum(len(parse_submission(b).encounters) for b in blobs[:1]) and summary.encounters
        mb = sum(map(len, blobs)) / 1e6

        t0 = time.perf_counter()
        for b in blobs:
            bare_parse(b)
        bare = time.perf_counter() - t0

        t0 = time.perf_counter()
        for b in blobs:
            parse_submission(b)
        validate = time.perf_counter() - t0

        engine = open_store(f"sqlite:///{tmp}/bench.sqlite3")
        t0 = time.perf_counter()
        for b in blobs:
            ingest_file(engine=engine, data=b, submitter="bench")
        ingest = time.perf_counter() - t0
        engine.dispose()

        engine = open_store(f"sqlite:///{tmp}/bench1.sqlite3")
        linker = OnlineLinker.from_settings(settings)
        t0 = time.perf_counter()
        for b in blobs:
            ingest_file(engine=engine, data=b, submitter="bench", linker=linker)
        linked = time.perf_counter() - t0
        engine.dispose()

        # As `mpi ingest` does it: worker processes parse while this process stores.
        engine = open_store(f"sqlite:///{tmp}/bench2.sqlite3")
        t0 = time.perf_counter()
        linker = OnlineLinker.from_settings(settings)
        for _, data, parsed in parse_paths(files, limits=Limits(), workers=2):
            ingest_parsed(engine=engine, data=data, parsed=parsed, submitter="bench", linker=linker)
        ingest2 = time.perf_counter() - t0
        engine.dispose()

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}, "
        f"cpus={len(__import__('os').sched_getaffinity(0))}"
    )
    print(f"corpus: {len(files)} files, {encounters} encounters, {mb:.1f} MB")
    print(f"{'step':<10}{'seconds':>10}{'enc/s':>12}{'x bare':>9}")
    steps = (("bare", bare), ("validate", validate), ("store", ingest), ("store+link", linked), ("cli (2w)", ingest2))
    for name, seconds in steps:
        print(f"{name:<10}{seconds:>10.2f}{encounters / seconds:>12,.0f}{seconds / bare:>9.2f}")
    print(f"peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
