"""The two baselines the MPI's linkage is measured against, on the same records.

- **CCCD exact**: records whose national IDs are equal *valid* CCCDs are one person; everything else
  stays apart. Valid = the 12-digit CCCD structure checks pass against the record's own sex and birth
  year (`linkage.normalise.national_id.check_cccd`). What a registry that trusts only the card does.
- **Splink with default settings**: what an analyst gets from Splink out of the box on the same
  normalised columns: `splink.comparison_library` comparisons with their default arguments (no term
  frequency adjustments, none of our Vietnamese-specific levels: no Y/I or Hoàng/Huỳnh keys, no
  precision-aware dates, no diacritic folding), trained with the standard recipe (prior from the same
  deterministic rules, u by random sampling, m by EM on the same two passes) and the same blocking
  rules, so the two models see the same candidate pairs and differ only in how they score them.

Input rows are *model rows* (`linkage.model.model_row` output, as the MPI stores them) with a
`unique_id`. Pure: no I/O beyond DuckDB in memory, never logs a value.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Final

import pyarrow as pa

from linkage.model import BLOCKING_RULES, DETERMINISTIC_RULES, MODEL_COLUMNS, TRAINING_BLOCKING_RULES
from linkage.normalise.dates import PartialDate
from linkage.normalise.national_id import check_cccd

__all__ = ["cccd_exact_assignment", "splink_default_pairs", "splink_default_settings"]

_SPLINK_LOG_LEVEL: Final = logging.WARNING + 5


def _valid_cccd(row: Mapping[str, Any]) -> str | None:
    number = row.get("national_id")
    if row.get("national_id_kind") != "CCCD" or not isinstance(number, str):
        return None
    year = row.get("dob_year")
    sex = row.get("sex")
    issues = check_cccd(
        number,
        sex=sex if isinstance(sex, int) else None,
        dob=PartialDate(year) if isinstance(year, int) else None,
    )
    return None if issues else number


def cccd_exact_assignment(rows: Iterable[Mapping[str, Any]]) -> dict[Hashable, Hashable]:
    """unique_id -> cluster id: the valid CCCD when the record has one, else the record alone."""
    out: dict[Hashable, Hashable] = {}
    for row in rows:
        number = _valid_cccd(row)
        out[row["unique_id"]] = ("cccd", number) if number else ("record", row["unique_id"])
    return out


def splink_default_settings() -> Any:
    """Splink settings (a `SettingsCreator`) from `comparison_library` defaults over the canonical columns."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("given"),
            cl.NameComparison("family"),
            cl.NameComparison("middle_core"),
            cl.DateOfBirthComparison("dob_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.LevenshteinAtThresholds("national_id"),
            cl.LevenshteinAtThresholds("bhxh_number"),
            cl.LevenshteinAtThresholds("phone"),
            cl.ExactMatch("commune_code"),
        ],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in BLOCKING_RULES],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def splink_default_pairs(
    rows: Iterable[Mapping[str, Any]], *, seed: int = 42, min_probability: float = 0.01, max_pairs: float = 2e6
) -> list[tuple[Any, Any, float]]:
    """Train the default-settings model on `rows` and predict: (id_l, id_r, match probability)."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    schema = pa.schema(list(MODEL_COLUMNS.items()))
    table = pa.Table.from_pylist([{name: row.get(name) for name in MODEL_COLUMNS} for row in rows], schema=schema)
    con = duckdb.connect(":memory:")
    con.sql("SET threads TO 1")  # a seed gives the same model
    con.sql("SET enable_progress_bar = false")
    db_api = DuckDBAPI(con)
    linker = Linker(
        db_api.register(table, dataset_display_name="records"),
        splink_default_settings(),
        log_level=_SPLINK_LOG_LEVEL,
    )
    linker.training.estimate_probability_two_random_records_match(list(DETERMINISTIC_RULES), recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=seed)
    for rule in TRAINING_BLOCKING_RULES:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule), max_pairs=max_pairs)
    predictions: pa.Table = linker.inference.predict(  # type: ignore[no-untyped-call]
        threshold_match_probability=min_probability
    ).as_pyarrow_table()
    con.close()
    return list(
        zip(
            predictions.column("unique_id_l").to_pylist(),
            predictions.column("unique_id_r").to_pylist(),
            predictions.column("match_probability").to_pylist(),
            strict=True,
        )
    )
