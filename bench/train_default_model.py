"""Retrain the shipped default model (``linkage/models/default.json``) on a synthetic province.

    python -m bench.train_default_model --persons 20000 --seed 7 [--profile hard] --out linkage/models

Generates the province (``synth``), reads every encounter with the XML 130 reader, normalises its
XML1 demographics as the online path does, and trains with ``linkage.train_model`` (u by random sampling,
m by EM). A generator profile without name-order and birth-year-digit variations gives EM nothing to
learn those levels from; ``--vary`` then rewrites that share of records, chosen by the seed, the way
exports show them (name written given-name first or family name last; two birth-year digits swapped; one
birth-year digit wrong), and the provenance says so. Prints counts only.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import pyarrow as pa

from linkage import normalise_record, save_model, train_model
from mpi.identity.online import canonical_raw
from mpi.xml130 import parse_submission
from synth import generate_province


def _vary(raw: dict[str, str | None], rng: random.Random, share: float) -> str | None:
    """Rewrite one record's name order or birth year; returns the kind applied, if any."""
    if rng.random() >= share:
        return None
    kind = rng.choice(["reversed", "given_first", "family_last", "year_swapped", "year_digit"])
    name, dob = raw.get("HO_TEN"), raw.get("NGAY_SINH")
    if kind in ("reversed", "given_first", "family_last") and name and len(name.split()) >= 2:
        tokens = name.split()
        tokens = {
            "reversed": tokens[::-1],
            "given_first": [tokens[-1], *tokens[:-1]],
            "family_last": [*tokens[1:], tokens[0]],
        }[kind]
        raw["HO_TEN"] = " ".join(tokens)
        return kind
    if kind in ("year_swapped", "year_digit") and dob and len(dob) >= 4 and dob[:4].isdigit():
        year = list(dob[:4])
        if kind == "year_swapped":
            i = rng.choice([1, 2])
            year[i], year[i + 1] = year[i + 1], year[i]
        else:
            i = rng.choice([2, 3])
            year[i] = rng.choice([d for d in "0123456789" if d != year[i]])
        if "".join(year) != dob[:4] and 1900 <= int("".join(year)) <= 2026:
            raw["NGAY_SINH"] = "".join(year) + dob[4:]
            return kind
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", default=None, help="mpi synth profile (default: the generator's default)")
    parser.add_argument("--vary", type=float, default=0.0, help="share of records to rewrite (see above)")
    parser.add_argument("--out", type=Path, default=Path("linkage/models"))
    parser.add_argument("--name", default="default")
    args = parser.parse_args(argv)
    config = None
    if args.profile:
        from synth.config import profile_config

        config = profile_config(args.profile)
    rng = random.Random(args.seed)
    rows, varied = [], 0
    with tempfile.TemporaryDirectory(prefix="train-") as work:
        generate_province(persons=args.persons, seed=args.seed, out=Path(work), config=config, batch=100)
        for path in sorted((Path(work) / "xml").rglob("*.xml")):
            for encounter in parse_submission(path.read_bytes()).encounters:
                if encounter.summary is None:
                    continue
                raw = canonical_raw(encounter)
                varied += _vary(raw, rng, args.vary) is not None
                row = normalise_record(raw).to_row()
                row["unique_id"] = len(rows)
                rows.append(row)
    records = pa.Table.from_pylist(rows)
    description = (
        f"synth.generate_province(persons={args.persons}, seed={args.seed}"
        f"{f', profile={args.profile!r}' if args.profile else ''}) -> parse_submission -> normalise_record"
        f" ({records.num_rows:,} encounters"
        + (f"; {varied:,} rewritten by bench.train_default_model --vary {args.vary}" if varied else "")
        + ")"
    )
    trained = train_model(records, seed=42, data_description=description)
    path = save_model(trained, args.out, name=args.name)
    print(f"model {trained.model_id}: {records.num_rows} records ({varied} varied) -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
