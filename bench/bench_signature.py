"""Cost of the CHUKYDONVI check in ingest: the same synthetic files unsigned and signed.

    python -m bench.bench_signature [--persons 300]

Prints per file: the envelope parse, the signature check alone, and ingest (store, no linking) of the
unsigned files and of the signed ones with every facility's certificate registered. Ratios are what to
compare on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mpi.facilities.certificates import active_certificates, add_certificate, read_certificate
from mpi.ingest import ingest_many
from mpi.store import open_store, session_scope
from mpi.xml130 import parse_submission
from mpi.xml130.signature import check_signature
from synth import generate_province
from synth.signing import sign_province


def _ingest(url: str, blobs: list[bytes], certificates: Path | None) -> float:
    engine = open_store(url)
    if certificates is not None:
        with session_scope(engine) as session:
            for pem in sorted(certificates.glob("[0-9]*.pem")):
                add_certificate(
                    session=session, facility_code=pem.stem, cert=read_certificate(pem.read_bytes(), source=pem.name)
                )
    pairs = [(b, parse_submission(b)) for b in blobs]
    t0 = time.perf_counter()
    receipts = list(ingest_many(engine=engine, files=pairs, submitter="bench"))
    seconds = time.perf_counter() - t0
    if certificates is not None:
        statuses = {r.signature["status"] for r in receipts if r.signature}
        assert statuses == {"valid"}, statuses
    engine.dispose()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, signed = Path(tmp) / "plain", Path(tmp) / "signed"
        generate_province(persons=args.persons, seed=5, out=plain)
        shutil.copytree(plain, signed)
        t0 = time.perf_counter()
        sign_province(signed)
        sign_seconds = time.perf_counter() - t0
        files = sorted((plain / "xml").rglob("*.xml"))
        unsigned_blobs = [f.read_bytes() for f in files]
        signed_blobs = [(signed / f.relative_to(plain)).read_bytes() for f in files]
        n = len(files)

        t0 = time.perf_counter()
        parsed = [parse_submission(b) for b in signed_blobs]
        parse_seconds = time.perf_counter() - t0

        engine = open_store(f"sqlite:///{tmp}/certs.sqlite3")
        with session_scope(engine) as session:
            for pem in sorted((signed / "certificates").glob("[0-9]*.pem")):
                add_certificate(
                    session=session, facility_code=pem.stem, cert=read_certificate(pem.read_bytes(), source=pem.name)
                )
        with engine.connect() as conn:
            certs = {p.facility_code: active_certificates(conn, p.facility_code) for p in parsed}
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        results = [
            check_signature(b, p.signature, certs[p.facility_code], at=now)
            for b, p in zip(signed_blobs, parsed, strict=True)
        ]
        check_seconds = time.perf_counter() - t0
        assert {r.status for r in results} == {"valid"}
        engine.dispose()

        plain_ingest = _ingest(f"sqlite:///{tmp}/a.sqlite3", unsigned_blobs, None)
        signed_ingest = _ingest(f"sqlite:///{tmp}/b.sqlite3", signed_blobs, signed / "certificates")

    ms = lambda s: s * 1000 / n  # noqa: E731
    print(f"{n} files (one HOSO each), {args.persons} persons; signing them took {ms(sign_seconds):.2f} ms/file")
    print(f"parse (signed file)            {ms(parse_seconds):7.2f} ms/file")
    print(f"signature check alone          {ms(check_seconds):7.2f} ms/file")
    print(f"ingest, unsigned (store)       {ms(plain_ingest):7.2f} ms/file")
    print(f"ingest, signed + check (store) {ms(signed_ingest):7.2f} ms/file  (x{signed_ingest / plain_ingest:.2f})")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
