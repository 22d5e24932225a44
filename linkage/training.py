"""Train the linkage model with Splink on DuckDB and save it as versioned JSON with its provenance.

`train_model` runs the standard Fellegi-Sunter recipe on canonical records: the prior
(probability_two_random_records_match) from deterministic rules and an assumed recall, u by random
sampling, then m by EM on the blocking passes of `linkage.model.TRAINING_BLOCKING_RULES`, each capped
at `max_pairs`. DuckDB runs single-threaded here so that a seed gives the same model.

`save_model` writes `<name>.json` (the Splink model, loadable by `Linker(sdf, path)` and by
`linkage.scorer`) and `<name>.provenance.json` beside it (Splink model JSON refuses unknown keys): the
model id (content-hash prefix of the model JSON: a link stores it), the Splink and DuckDB versions, the
training data size, date and seed.

Retrain the shipped default in one command:
    python -m linkage.training --records RECORDS.parquet --out linkage/models/

Must never log record values (only counts), and never reach the network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from linkage.model import (
    BLOCKING_RULES,
    DETERMINISTIC_RULES,
    TRAINING_BLOCKING_RULES,
    build_settings,
    model_table,
)

__all__ = [
    "DEFAULT_MODEL_DIR",
    "TrainedModel",
    "TrainingDataTooSmall",
    "estimate_parameters",
    "finish_training",
    "load_model",
    "model_id_of",
    "save_model",
    "train_model",
]

DEFAULT_MODEL_DIR: Final = Path(__file__).parent / "models"
_SPLINK_LOG_LEVEL: Final = logging.WARNING + 5  # Splink's progress messages carry only counts, but are noise
U_CHUNKS: Final = 10
"""Splink's default number of chunks for u's random sampling (see `estimate_parameters`)."""
EM_MAX_ITERATIONS: Final = 25
"""Splink's default `max_iterations` of an EM training pass."""
_SPLINK_UNDERFLOW: Final = "will underflow to 0.0"
"""Part of the message of Splink's ValueError when EM estimates an m or u probability below float64's range."""


class TrainingDataTooSmall(ValueError):
    """EM could not estimate the model from these records: too few record pairs agree on a training pass."""


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A trained Splink model (the JSON dict) and its provenance."""

    model: dict[str, Any]
    provenance: dict[str, Any]

    @property
    def model_id(self) -> str:
        return str(self.provenance["model_id"])


def model_id_of(model: dict[str, Any]) -> str:
    """Content id of a model: the first 12 hex digits of SHA-256 over its canonical JSON."""
    canonical = json.dumps(model, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:12]


def _unobserved(model: dict[str, Any]) -> list[str]:
    """Levels training never observed (m or u missing), by name; their m is set to 0 for `_floor_m`.

    Splink leaves such a level without m or u and, on load, silently substitutes position-based
    defaults (e.g. weight -5 for a 3-level comparison's ELSE). The model JSON spells every number out
    instead, so that Splink and the scorer read the same ones: an unobserved m is raised to the floor
    by `_floor_m`, and an unobserved u is then set equal to m (weight 0: the level is no evidence
    either way). The list goes into the provenance so that whoever retrains sees which levels rest on
    no data.
    """
    unobserved: list[str] = []
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            for key in ("m_probability", "u_probability"):
                if not isinstance(level.get(key), float):
                    unobserved.append(f"{comparison['output_column_name']}: {level['label_for_charts']} ({key[0]})")
                    level[key] = 0.0 if key == "m_probability" else None
    return unobserved


def _fill_unobserved_u(model: dict[str, Any]) -> None:
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level") and level.get("u_probability") is None:
                level["u_probability"] = level["m_probability"]


def _floor_m(model: dict[str, Any], m_floor: float) -> list[str]:
    """Raise every trained m below `m_floor` to it, renormalise each comparison's m to sum to 1.

    EM drives m to ~0 for a disagreement the training data never shows among matches (a synthetic
    population without Hoàng/Huỳnh swaps gives that level m = 1e-39, weight -119): one such field would
    veto a true match in real data whatever else agrees. The floor bounds any level's weight below by
    about log2(m_floor / u), e.g. -10 bits for a completely different date of birth. Deliberate: the
    model JSON is what both Splink and the scorer read, so parity is unaffected.
    """
    floored: list[str] = []
    for comparison in model["comparisons"]:
        levels = [
            level
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level") and isinstance(level.get("m_probability"), float)
        ]
        changed = False
        for level in levels:
            if level["m_probability"] < m_floor:
                level["m_probability"] = m_floor
                floored.append(f"{comparison['output_column_name']}: {level['label_for_charts']}")
                changed = True
        if changed:
            total = sum(level["m_probability"] for level in levels)
            for level in levels:
                level["m_probability"] = level["m_probability"] / total
    return floored


def _block(columns: tuple[str, ...]) -> str:
    return " AND ".join(f'l."{c}" = r."{c}"' for c in columns)


def train_model(
    records: pa.Table,
    *,
    seed: int,
    max_pairs: float = 2e6,
    u_max_pairs: float = 5e6,
    u_chunks: int = U_CHUNKS,
    em_max_iterations: int = EM_MAX_ITERATIONS,
    recall: float = 0.7,
    address_text: bool = False,
    blocking_rules: tuple[tuple[str, ...], ...] = BLOCKING_RULES,
    m_floor: float = 1e-3,
    data_description: str = "",
) -> TrainedModel:
    """Train on canonical rows (`CanonicalRecord.to_row()` columns plus `unique_id`).

    `recall` is the assumed share of true matching pairs the deterministic rules find; it sets the
    prior. `address_text` selects the free-text address comparison (data without commune codes);
    `blocking_rules` are stored in the model for prediction. `m_floor`: see `_floor_m`. `u_chunks`: see
    `estimate_parameters`. `em_max_iterations`: the most EM iterations per training pass (Splink's
    `max_iterations`, stored in the model JSON); a pass stops earlier once no parameter moves by 1e-4.
    """
    from splink import DuckDBAPI, Linker

    table = model_table(records)
    con = duckdb.connect(":memory:")
    con.sql("SET threads TO 1")  # sampling and aggregation order, hence the model, follow the seed
    con.sql("SET enable_progress_bar = false")
    db_api = DuckDBAPI(con)
    sdf = db_api.register(table, dataset_display_name="records")
    settings = build_settings(address_text=address_text, blocking_rules=blocking_rules)
    settings["max_iterations"] = em_max_iterations
    linker = Linker(sdf, settings, log_level=_SPLINK_LOG_LEVEL)
    estimate_parameters(
        linker, seed=seed, max_pairs=max_pairs, u_max_pairs=u_max_pairs, u_chunks=u_chunks, recall=recall
    )
    model: dict[str, Any] = linker.misc.save_model_to_json()
    con.close()
    return finish_training(
        model,
        training_records=table.num_rows,
        seed=seed,
        max_pairs=max_pairs,
        u_max_pairs=u_max_pairs,
        u_chunks=u_chunks,
        recall=recall,
        m_floor=m_floor,
        data_description=data_description,
    )


def estimate_parameters(
    linker: Any,
    *,
    seed: int,
    max_pairs: float,
    u_max_pairs: float,
    recall: float,
    u_chunks: int = U_CHUNKS,
    quote: str = '"',
) -> None:
    """The training recipe on a Splink linker of any backend: prior, u by sampling, m by EM passes.

    ``u_chunks``: Splink counts each comparison's levels over the ``u_max_pairs`` sampled pairs in this many
    queries (after a probe of a tenth of a chunk), and stops early once every level has 100 pairs. ``1``: one
    query per comparison over every sampled pair (no probe, no early stop), the same counts for a sample too
    small to stop early; on Spark, whose every query has a fixed planning cost, it takes a ninth of the queries.
    ``quote``: the backend's identifier quote for the EM blocking rules (DuckDB ``"``, Spark a backtick).
    """
    if u_chunks < 1:
        raise ValueError(f"u_chunks must be at least 1, got {u_chunks}")
    linker.training.estimate_probability_two_random_records_match(list(DETERMINISTIC_RULES), recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed, num_chunks=u_chunks)
    for rule in TRAINING_BLOCKING_RULES:
        rule_sql = _block(rule).replace('"', quote)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule_sql, max_pairs=max_pairs)
        except ValueError as exc:
            if _SPLINK_UNDERFLOW not in str(exc):
                raise
            raise TrainingDataTooSmall(
                f"EM on the records agreeing on {' + '.join(rule)} estimated a match probability too small to "
                "represent (float64 underflow): too few pairs of these records agree on that training pass for EM "
                "to learn how often true matches agree on the other comparisons. Train on more records (a store "
                "with thousands of persons, many seen at several encounters), or keep the current model."
            ) from exc


def finish_training(
    model: dict[str, Any],
    *,
    training_records: int,
    seed: int,
    max_pairs: float,
    u_max_pairs: float,
    recall: float,
    m_floor: float,
    data_description: str,
    u_chunks: int = U_CHUNKS,
    engine: str | None = None,
) -> TrainedModel:
    """Post-process a freshly trained model JSON (unobserved levels, m floor) and attach its provenance."""
    model.pop("linker_uid", None)  # random per Linker: would make the content id differ run to run
    unobserved = _unobserved(model)
    floored = _floor_m(model, m_floor)
    _fill_unobserved_u(model)
    provenance = {
        "model_id": model_id_of(model),
        "splink_version": version("splink"),
        "duckdb_version": duckdb.__version__,
        "python_version": sys.version.split()[0],
        "trained_at": datetime.now(UTC).date().isoformat(),
        "training_records": training_records,
        "training_data": data_description,
        "seed": seed,
        "em_max_pairs": max_pairs,
        "u_max_pairs": u_max_pairs,
        "u_chunks": u_chunks,
        "deterministic_rules_recall": recall,
        "em_blocking_rules": [_block(rule) for rule in TRAINING_BLOCKING_RULES],
        "unobserved_levels": unobserved,
        "m_floor": m_floor,
        "m_floored_levels": floored,
    }
    if engine is not None:
        provenance["engine"] = engine
    return TrainedModel(model=model, provenance=provenance)


def save_model(trained: TrainedModel, directory: Path, *, name: str = "default") -> Path:
    """Write `<name>.json` and `<name>.provenance.json`; returns the model path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(trained.model, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (directory / f"{name}.provenance.json").write_text(
        json.dumps(trained.provenance, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path


def load_model(path: Path | None = None) -> TrainedModel:
    """Load a saved model and its provenance (default: the shipped `linkage/models/default.json`).

    Raises ValueError when the model JSON does not hash to the id its provenance records (the model
    file was edited or paired with another model's provenance).
    """
    path = path or DEFAULT_MODEL_DIR / "default.json"
    model = json.loads(path.read_text(encoding="utf-8"))
    provenance_path = path.with_name(path.stem + ".provenance.json")
    provenance = json.loads(provenance_path.read_text(encoding="utf-8"))
    if provenance.get("model_id") != model_id_of(model):
        raise ValueError(f"model {path.name} does not match the id in {provenance_path.name}")
    return TrainedModel(model=model, provenance=provenance)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m linkage.training", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=Path, required=True, help="Parquet of canonical rows + unique_id")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--name", default="default")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-pairs", type=float, default=2e6)
    parser.add_argument("--u-max-pairs", type=float, default=5e6)
    parser.add_argument("--recall", type=float, default=0.7)
    parser.add_argument("--description", default="", help="what the training records are (stored in provenance)")
    args = parser.parse_args(argv)
    records = pq.read_table(args.records)
    trained = train_model(
        records,
        seed=args.seed,
        max_pairs=args.max_pairs,
        u_max_pairs=args.u_max_pairs,
        recall=args.recall,
        data_description=args.description or args.records.name,
    )
    path = save_model(trained, args.out, name=args.name)
    print(f"model {trained.model_id} ({records.num_rows} records) -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
