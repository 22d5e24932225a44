"""Whether two runs of ``bench.bench_linking --decisions`` decided the same for every query.

A change to the online path meant to be faster, not different, must give the same decision for each held-out
record on the same store: the same person (store persons keep their true ids; new persons are numbered in
query order), rule, link state and review, and the same probability (to ``--tolerance``, for a change in
the order of a floating-point sum). Prints each difference and a summary; exits 1 when any query differs.

Usage: python -m bench.compare_decisions BEFORE.jsonl AFTER.jsonl [--tolerance 1e-9]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_EXACT = ("person", "rule", "state", "review")


def _read(path: str) -> dict[int, dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {int(r["query"]): r for r in rows}


def differences(
    before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]], tolerance: float
) -> list[tuple[int, str]]:
    """(query, what differs) for every query decided differently or present in one run only."""
    out: list[tuple[int, str]] = []
    for query in sorted(before.keys() | after.keys()):
        a, b = before.get(query), after.get(query)
        if a is None or b is None:
            out.append((query, "only in " + ("after" if a is None else "before")))
            continue
        changed = [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in _EXACT if a.get(k) != b.get(k)]
        pa, pb = a.get("probability"), b.get("probability")
        if (pa is None) != (pb is None) or (
            pa is not None and pb is not None and not math.isclose(pa, pb, rel_tol=tolerance, abs_tol=tolerance)
        ):
            changed.append(f"probability: {pa!r} -> {pb!r}")
        if changed:
            out.append((query, "; ".join(changed)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--tolerance", type=float, default=1e-9, help="relative and absolute, on the probability")
    args = ap.parse_args()
    before, after = _read(args.before), _read(args.after)
    found = differences(before, after, args.tolerance)
    for query, what in found:
        print(f"query {query}: {what}")
    rules = Counter(r["rule"] for r in after.values())
    print(f"{len(before)} / {len(after)} decisions; {len(found)} differ; after: {dict(rules.most_common())}")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
