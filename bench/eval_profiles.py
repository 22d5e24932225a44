"""Identity accuracy on synthetic provinces, per profile and seed: the whole path a user takes.

For each profile and seed: ``mpi synth`` -> ``mpi ingest`` (fresh SQLite store) -> ``mpi export links`` ->
``mpi evaluate --json`` (with the CCCD-exact and Splink-default baselines), then ``mpi relink`` ->
``mpi export links`` -> ``mpi evaluate --json`` again. Every figure comes from ``mpi evaluate``
(:mod:`mpi.evaluation.report`); this script only runs the commands and summarises their reports: pairwise
precision / recall / F1, share of encounters in review, persons split, precision before vs after relink,
and the share of each variation kind's true pairs missed, per seed, with the mean and the worst seed.

    python -m bench.eval_profiles --profile default hard --persons 20000 --seeds 1 2 3 --out data/eval

A province already generated under ``--out`` with the same parameters is reused; stores are rebuilt
unless ``--keep-stores``. A copy of each store as online linking left it (``mpi.online.sqlite3``) is kept, so
that ``--relink-only`` measures another relink on the same online state: it restores the copy, runs
``mpi relink``, exports and evaluates again (the online report is kept). Prints counts and rates only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from mpi.evaluation.report import CCCD_EXACT, MPI, NO_NOISE, SPLINK_DEFAULT

# Variation kinds shown first in the missed-pairs table (the rest follow by missed share).
FOCUS_KINDS = (
    "name_order_reversed",
    "facility_name_reversed",
    "newborn_parent_name",
    "dob_year_digits_swapped",
    "dob_year_digit_wrong",
    "name_typo",
    "name_no_diacritics",
    "facility_strip_diacritics",
    "name_nfd",
    "facility_nfd",
    "cccd_guardian",
    "person:namesake",
    "person:twin",
    "person:newborn",
    "cccd_missing",
    "facility_empty_cccd",
)


@dataclass(frozen=True)
class Stage:
    """The figures of one evaluated export, read from ``mpi evaluate --json``."""

    precision: float
    recall: float
    f1: float
    review_rate: float
    split_persons: int
    merged_clusters: int
    true_clusters: int
    true_pairs: int
    records: int
    missed: dict[str, tuple[float, int]]  # kind -> (share of its true pairs missed, true pairs)

    @classmethod
    def from_method(cls, report: Mapping[str, Any], method: Mapping[str, Any]) -> Stage:
        auto = method["auto"]
        missed = {
            n["kind"]: (1.0 - n["auto"]["recall"], n["true_pairs"]) for n in method["by_noise"] if n["true_pairs"]
        }
        return cls(
            precision=auto["precision"],
            recall=auto["recall"],
            f1=auto["f1"],
            review_rate=method["review_rate"],
            split_persons=method["clusters"]["split_persons"],
            merged_clusters=method["clusters"]["merged_clusters"],
            true_clusters=method["clusters"]["true_clusters"],
            true_pairs=report["true_pairs"],
            records=report["records"],
            missed=missed,
        )


@dataclass(frozen=True)
class Run:
    profile: str
    seed: int
    online: Stage
    relinked: Stage
    baselines: dict[str, Stage]
    seconds: dict[str, float]


def _env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPI_")}
    env["MPI_DATABASE_URL"] = f"sqlite:///{store}"
    for name in ("MPI_LINK_AUTO_PROBABILITY", "MPI_LINK_REVIEW_PROBABILITY", "MPI_MODEL_PATH"):
        if name in os.environ:  # the thresholds and model under test pass through
            env[name] = os.environ[name]
    return env


def _mpi(args: Sequence[str], *, env: Mapping[str, str], capture: bool = False) -> str:
    """Run ``mpi ARGS`` as a user would; raise with its error output if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "mpi", *args],
        env=dict(env),
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"mpi {args[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout if capture else ""


def _province(profile: str, persons: int, seed: int, root: Path, say: Callable[[str], None]) -> Path:
    out = root / f"{profile}-{persons}-s{seed}" / "synth"
    marker = out / "config.json"
    if marker.exists():
        written = json.loads(marker.read_text(encoding="utf-8"))
        if written.get("persons") == persons and written.get("seed") == seed and written.get("profile") == profile:
            return out
        shutil.rmtree(out)
    say(f"{profile} seed {seed}: mpi synth --persons {persons}")
    _mpi(
        [
            "synth",
            "--profile",
            profile,
            "--persons",
            str(persons),
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--batch",
            "100",
        ],
        env=dict(os.environ),
    )
    written = json.loads(marker.read_text(encoding="utf-8"))
    written["profile"] = profile  # so a later run knows which preset made it
    marker.write_text(json.dumps(written, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return out


def _evaluate(links: Path, truth: Path, env: Mapping[str, str], *, baselines: bool) -> dict[str, Any]:
    args = ["evaluate", "--links", str(links), "--truth", str(truth), "--json"]
    return json.loads(_mpi([*args, "--baselines" if baselines else "--no-baselines"], env=env, capture=True))


def _copy_store(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite store (its WAL included), through SQLite's backup API."""
    for stale in target.parent.glob(f"{target.name}*"):
        if stale.is_file():  # the store's -wal and -shm; its lock directory stays
            stale.unlink()
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _relink_and_evaluate(work: Path, truth: Path, env: Mapping[str, str], say: Callable[[str], None]) -> float:
    say(f"{work.name}: mpi relink")
    began = time.perf_counter()
    _mpi(["relink"], env=env)
    seconds = time.perf_counter() - began
    _mpi(["export", "links", "--out", str(work / "links_relink.csv")], env=env)
    relinked = _evaluate(work / "links_relink.csv", truth, env, baselines=False)
    (work / "evaluate_relink.json").write_text(json.dumps(relinked, indent=1), encoding="utf-8")
    return seconds


def relink_only(profile: str, persons: int, seed: int, root: Path, *, say: Callable[[str], None]) -> None:
    """Restore the store as online linking left it and measure ``mpi relink`` on it again."""
    work = root / f"{profile}-{persons}-s{seed}"
    online = work / "mpi.online.sqlite3"
    if not online.exists():
        raise SystemExit(f"{online} is missing: run without --relink-only first")
    store = work / "mpi.sqlite3"
    _copy_store(online, store)
    _relink_and_evaluate(work, work / "synth" / "truth.parquet", _env(store), say)


def run_one(
    profile: str,
    persons: int,
    seed: int,
    root: Path,
    *,
    baselines: bool,
    keep_store: bool,
    say: Callable[[str], None],
) -> Run:
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    synth = _province(profile, persons, seed, root, say)
    seconds["synth"] = time.perf_counter() - began
    work = synth.parent
    store = work / "mpi.sqlite3"
    env = _env(store)
    truth = synth / "truth.parquet"
    if not (keep_store and store.exists()):
        for stale in work.glob("mpi.sqlite3*"):
            stale.unlink()
        say(f"{profile} seed {seed}: mpi ingest")
        began = time.perf_counter()
        _mpi(["ingest", str(synth / "xml")], env=env)
        seconds["ingest"] = time.perf_counter() - began
        _copy_store(store, work / "mpi.online.sqlite3")
    say(f"{profile} seed {seed}: export + evaluate (online)")
    _mpi(["export", "links", "--out", str(work / "links_online.csv")], env=env)
    began = time.perf_counter()
    online = _evaluate(work / "links_online.csv", truth, env, baselines=baselines)
    seconds["evaluate"] = time.perf_counter() - began
    (work / "evaluate_online.json").write_text(json.dumps(online, indent=1), encoding="utf-8")
    seconds["relink"] = _relink_and_evaluate(work, truth, env, say)
    relinked = json.loads((work / "evaluate_relink.json").read_text(encoding="utf-8"))
    methods = {m["method"]: m for m in online["methods"]}
    return Run(
        profile=profile,
        seed=seed,
        online=Stage.from_method(online, methods[MPI]),
        relinked=Stage.from_method(relinked, relinked["methods"][0]),
        baselines={
            name: Stage.from_method(online, methods[name]) for name in (CCCD_EXACT, SPLINK_DEFAULT) if name in methods
        },
        seconds=seconds,
    )


# ---- summaries --------------------------------------------------------------------------------------
def _f(x: float) -> str:
    return f"{x:.4f}"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def _stage_row(label: str, s: Stage, after: Stage | None) -> list[str]:
    return [
        label,
        _f(s.precision),
        _f(s.recall),
        _f(s.f1),
        _pct(s.review_rate),
        f"{s.split_persons:,} / {s.true_clusters:,}",
        f"{s.merged_clusters:,}",
        _f(after.precision) if after else "",
        _f(after.recall) if after else "",
    ]


def _aggregate(stages: Sequence[Stage], pick: Callable[[Sequence[float]], float], worst: bool) -> Stage:
    """Mean (pick=mean) or worst seed: lowest precision/recall/F1, highest review and splits."""

    def agg(values: Sequence[float], higher_is_better: bool) -> float:
        if not worst:
            return pick(values)
        return min(values) if higher_is_better else max(values)

    return Stage(
        precision=agg([s.precision for s in stages], True),
        recall=agg([s.recall for s in stages], True),
        f1=agg([s.f1 for s in stages], True),
        review_rate=agg([s.review_rate for s in stages], False),
        split_persons=round(agg([s.split_persons for s in stages], False)),
        merged_clusters=round(agg([s.merged_clusters for s in stages], False)),
        true_clusters=round(mean(s.true_clusters for s in stages)),
        true_pairs=round(mean(s.true_pairs for s in stages)),
        records=round(mean(s.records for s in stages)),
        missed={
            kind: (
                agg([s.missed[kind][0] for s in stages if kind in s.missed], False),
                round(mean(s.missed[kind][1] for s in stages if kind in s.missed)),
            )
            for kind in {k for s in stages for k in s.missed}
        },
    )


def summarise(runs: Sequence[Run]) -> str:
    header = [
        "profile / seed",
        "precision",
        "recall",
        "F1",
        "in review",
        "persons split",
        "merged clusters",
        "precision after relink",
        "recall after relink",
    ]
    parts: list[str] = []
    profiles = list(dict.fromkeys(r.profile for r in runs))
    rows: list[list[str]] = []
    for profile in profiles:
        mine = [r for r in runs if r.profile == profile]
        for r in mine:
            rows.append(_stage_row(f"{profile} / {r.seed}", r.online, r.relinked))
        for label, worst in (("mean", False), ("worst", True)):
            online = _aggregate([r.online for r in mine], mean, worst)
            after = _aggregate([r.relinked for r in mine], mean, worst)
            rows.append(_stage_row(f"**{profile} {label}**", online, after))
    parts.append("MPI (online linking; then `mpi relink`), pairwise, auto links:\n\n" + _table(header, rows))

    base_rows: list[list[str]] = []
    for profile in profiles:
        mine = [r for r in runs if r.profile == profile]
        for name in (CCCD_EXACT, SPLINK_DEFAULT):
            stages = [r.baselines[name] for r in mine if name in r.baselines]
            if stages:
                base_rows.append(
                    _stage_row(
                        f"{profile}: {name.removeprefix('Baseline: ')} (mean)", _aggregate(stages, mean, False), None
                    )[:7]
                )
    if base_rows:
        parts.append("Baselines on the same stores (mean of the seeds):\n\n" + _table(header[:7], base_rows))

    kinds_header = ["variation kind"]
    for profile in profiles:
        kinds_header += [f"{profile} true pairs", f"{profile} missed (mean)", f"{profile} missed (worst)"]
    means = {p: _aggregate([r.online for r in runs if r.profile == p], mean, False) for p in profiles}
    worsts = {p: _aggregate([r.online for r in runs if r.profile == p], mean, True) for p in profiles}
    present = {k for p in profiles for k in means[p].missed}
    ordered = [k for k in FOCUS_KINDS if k in present]
    ordered += sorted(
        present - set(ordered) - {NO_NOISE}, key=lambda k: -max(means[p].missed.get(k, (0.0, 0))[0] for p in profiles)
    )
    ordered += [NO_NOISE] if NO_NOISE in present else []
    kind_rows = []
    for kind in ordered:
        row = [kind]
        for p in profiles:
            share, pairs = means[p].missed.get(kind, (float("nan"), 0))
            worst_share = worsts[p].missed.get(kind, (float("nan"), 0))[0]
            row += [f"{pairs:,}", _pct(share) if pairs else "-", _pct(worst_share) if pairs else "-"]
        kind_rows.append(row)
    parts.append(
        "Share of each kind's true pairs missed by online linking (pairs involving a record with that kind; "
        "`person:` = the person's tag):\n\n" + _table(kinds_header, kind_rows)
    )
    return "\n\n".join(parts) + "\n"


def _load(root: Path, profile: str, persons: int, seed: int) -> Run | None:
    work = root / f"{profile}-{persons}-s{seed}"
    try:
        online = json.loads((work / "evaluate_online.json").read_text(encoding="utf-8"))
        relinked = json.loads((work / "evaluate_relink.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    methods = {m["method"]: m for m in online["methods"]}
    return Run(
        profile,
        seed,
        Stage.from_method(online, methods[MPI]),
        Stage.from_method(relinked, relinked["methods"][0]),
        {n: Stage.from_method(online, methods[n]) for n in (CCCD_EXACT, SPLINK_DEFAULT) if n in methods},
        {},
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", nargs="+", default=["default", "hard"], help="synth profiles")
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=Path("data/eval/profiles"))
    parser.add_argument("--no-baselines", action="store_true", help="skip the CCCD-exact and Splink baselines")
    parser.add_argument("--keep-stores", action="store_true", help="reuse existing stores (no re-ingest)")
    parser.add_argument(
        "--summary-only", action="store_true", help="summarise the reports already under --out, run nothing"
    )
    parser.add_argument(
        "--relink-only",
        action="store_true",
        help="restore each store as online linking left it, run mpi relink and evaluate again, then summarise",
    )
    args = parser.parse_args(argv)

    def say(step: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {step}", file=sys.stderr, flush=True)

    runs: list[Run] = []
    for profile in args.profile:
        for seed in args.seeds:
            if args.relink_only:
                relink_only(profile, args.persons, seed, args.out, say=say)
            if args.summary_only or args.relink_only:
                loaded = _load(args.out, profile, args.persons, seed)
                if loaded is not None:
                    runs.append(loaded)
                continue
            run = run_one(
                profile,
                args.persons,
                seed,
                args.out,
                baselines=not args.no_baselines,
                keep_store=args.keep_stores,
                say=say,
            )
            say(f"{profile} seed {seed}: {', '.join(f'{k} {v:.0f} s' for k, v in run.seconds.items())}")
            runs.append(run)
    if not runs:
        print("no reports found", file=sys.stderr)
        return 1
    load = os.getloadavg()[0]
    print(
        f"{args.persons:,} persons per province; seeds {' '.join(sorted({str(r.seed) for r in runs}))}; "
        f"load average {load:.1f} at the end\n"
    )
    print(summarise(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
