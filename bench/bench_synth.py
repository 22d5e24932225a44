"""Benchmark the synthetic province generator: persons/s, encounters/s, peak RSS, and a 1M-person estimate.

Usage: python bench/bench_synth.py [--persons 20000] [--batch 1] [--seed 0]
One file per HOSO (batch 1, like real exports) is bound by file creation on the disk; --batch 100 shows
the generator's own speed.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth import generate_province


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        s = generate_province(persons=args.persons, seed=args.seed, out=out / "province", batch=args.batch)
        size = sum(p.stat().st_size for p in (out / "province").rglob("*") if p.is_file())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_person = s.seconds / s.persons
    print(f"persons={s.persons} encounters={s.encounters} files={s.files} batch={args.batch}")
    print(
        f"time={s.seconds:.1f}s  {s.persons / s.seconds:,.0f} persons/s  {s.encounters / s.seconds:,.0f} encounters/s"
    )
    print(f"output={size / 1e6:,.0f} MB  peak RSS={peak_mb:,.0f} MB")
    print(f"estimate for 1,000,000 persons: {per_person * 1e6 / 60:,.1f} min, {size / s.persons * 1e6 / 1e9:,.0f} GB")


if __name__ == "__main__":
    main()
