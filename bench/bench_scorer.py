"""Time of the in-process scorer per pair (target: well under 0.2 ms; ~20 µs measured on 2 vCPU).

    python -m bench.bench_scorer [--records 300] [--repeat 10]

The shipped model scores pairs of synthetic records (`tests.linkage.synthetic`) with their own term
frequencies, as the online path does. Prints the load with the figure: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import time

from linkage import Scorer, build_tf_tables, load_model, model_row
from linkage.scorer import tf_columns
from tests.linkage.synthetic import synthetic_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    model = load_model().model
    rows = [model_row(r) for r in synthetic_records(args.records, seed=9).to_pylist()]
    scorer = Scorer(model, build_tf_tables(rows, tf_columns(model)))
    pairs = [(rows[i], rows[(i * 7 + 3) % len(rows)]) for i in range(len(rows))] * args.repeat
    start = time.perf_counter()
    for left, right in pairs:
        scorer.match_weight(left, right)
    per_pair = (time.perf_counter() - start) / len(pairs)
    print(f"{len(pairs):,} pairs: {per_pair * 1e6:.1f} µs per pair (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
