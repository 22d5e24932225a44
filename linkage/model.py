"""The linkage model's specification: input columns, comparisons, blocking rules, as Splink 5 settings.

`build_settings()` is the single source of the model's structure. Training (`linkage.training`) fills
in its parameters and saves it as versioned JSON in `linkage/models/`; the in-process scorer
(`linkage.scorer`) and Splink both read that JSON, never this module's Python objects, so a shipped
model keeps scoring the same way after this file changes.

Input rows are `CanonicalRecord.to_row()` dicts plus a `unique_id`; `model_row` / `model_table` add
the few derived columns the comparisons use (name keys, folded family name, day-precision date). The
comparison SQL is deliberately restricted to what `linkage.scorer` can evaluate in Python: column
equality, IS NULL, AND/OR/NOT, arithmetic comparisons, `abs`, `levenshtein`, `damerau_levenshtein`,
`jaro_winkler_similarity` (only on ASCII columns, so DuckDB's byte-wise and rapidfuzz's
character-wise string functions agree).

Comparisons are chosen to be conditionally independent given match status: no comparison is derived
from another's column (e.g. free-text address is left out when commune codes are compared).

Pure: builds dicts and Arrow tables; no I/O, never logs a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, TypedDict, cast, get_args, get_type_hints

import pyarrow as pa

from linkage.normalise.names import name_key, sorted_name_key
from linkage.normalise.text import fold_ascii

__all__ = [
    "BATCH_BLOCKING_RULES",
    "BLOCKING_RULES",
    "DETERMINISTIC_RULES",
    "IDENTIFIER_KEYS",
    "MODEL_COLUMNS",
    "TRAINING_BLOCKING_RULES",
    "ModelRow",
    "build_settings",
    "model_row",
    "model_table",
    "prediction_blocking_rules",
    "within_province",
]

RowValue = str | int | None
Settings = dict[str, Any]

class ModelRow(TypedDict, total=False):
    """One record as the model reads it (:func:`model_row` fills every column): the input of Splink, of the
    scorer and of the identity policy, stored as ``source_record.features``. ``unique_id`` is set where a
    table needs it; a row of a few columns (a birth certificate's child) is read with ``get``."""

    unique_id: int | None
    name_key: str | None
    name_sorted: str | None
    family: str | None
    family_ascii: str | None
    family_key: str | None
    middle_core: str | None
    middle_core_ascii: str | None
    given: str | None
    given_ascii: str | None
    given_key: str | None
    dob_date: str | None
    dob_year: int | None
    dob_year_text: str | None
    dob_month: int | None
    dob_day: int | None
    dob_time: str | None
    sex: int | None
    national_id: str | None
    national_id_kind: str | None
    bhxh_number: str | None
    phone: str | None
    province_code: str | None
    commune_code: str | None
    address_text: str | None


_ARROW: Final[dict[object, pa.DataType]] = {int: pa.int64(), str: pa.string()}
# Columns the model reads, with their Arrow types (from :class:`ModelRow`, the one list of them).
MODEL_COLUMNS: Final[dict[str, pa.DataType]] = {
    name: _ARROW[next(a for a in get_args(hint) if a is not type(None))]
    for name, hint in get_type_hints(ModelRow).items()
}

# Candidate generation (Splink `blocking_rules_to_generate_predictions`). The online path should use
# the same keys as indexed look-ups: see `linkage.scorer` docs.
BLOCKING_RULES: Final[tuple[tuple[str, ...], ...]] = (
    ("given_key", "dob_date"),
    ("family_key", "given_key", "dob_year"),
    ("family_key", "dob_date"),
    ("national_id",),
    ("bhxh_number",),
    ("phone",),
    ("given_key", "commune_code"),
    ("name_sorted", "dob_year"),
)
# Batch prediction over a whole store (`linkage.batch.predict_links` as `mpi relink` runs it): the same
# keys, three of them narrowed. Nguyễn is 38% of names, so blocks keyed on family + given name grow with
# the square of a commune's or a birth year's population: on 1M synthetic records (given, commune) made
# 183M of 224M comparisons and (family, given, year) and (family, given, commune) most of the rest.
# Narrowed as below, predict + cluster over 1M records fell from 275 s to 27 s with cluster precision /
# recall 0.977 / 0.987 -> 0.986 / 0.986 (`python -m bench.bench_relink`). Records with a year-only birth
# date or a dropped middle name still meet on the other keys. The order-invariant key (name_sorted, year)
# reopened the first of those blocks (same name and birth year: 8.6M of 15.3M pairs on the same 1M records,
# 6.3M of them same-order namesakes born in another month, 396 true); with the month added it keeps the
# names written in another order born in the same month: 15.3M -> 8.0M pairs, cluster precision / recall
# 0.975 / 0.989 -> 0.977 / 0.988. The online path keeps the wide keys, bounded by its per-key candidate caps.
_BATCH_NARROWER: Final[dict[tuple[str, ...], tuple[str, ...]]] = {
    ("family_key", "given_key", "dob_year"): ("family_key", "given_key", "dob_year", "dob_month"),
    ("given_key", "commune_code"): ("family_key", "given_key", "commune_code", "middle_core_ascii"),
    ("name_sorted", "dob_year"): ("name_sorted", "dob_year", "dob_month"),
}
BATCH_BLOCKING_RULES: Final[tuple[tuple[str, ...], ...]] = tuple(
    _BATCH_NARROWER.get(rule, rule) for rule in BLOCKING_RULES
)
# Keys that identify a person wherever they live: rules on them stay national in `within_province`.
IDENTIFIER_KEYS: Final = frozenset({"national_id", "bhxh_number", "phone"})


def within_province(rules: Iterable[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """`rules` for a national or multi-province batch run: every rule not keyed on an identifier (CCCD,
    BHXH number, phone) also requires the same `province_code`. Name and date blocks then grow with the
    square of a province's namesakes, not the nation's (`bench.bench_spark --within-province`); a person
    who moved between provinces still meets their other records on the identifiers. A record with no
    province code meets others on the identifier rules only (NULL never equals NULL in a blocking rule)."""
    return tuple(
        rule if IDENTIFIER_KEYS.intersection(rule) or "province_code" in rule else (*rule, "province_code")
        for rule in rules
    )


# EM passes: each comparison is estimated in at least one pass that does not block on it.
TRAINING_BLOCKING_RULES: Final[tuple[tuple[str, ...], ...]] = (
    ("dob_date",),
    ("given_key", "family_key"),
)
# Rules that admit almost no false positives, for probability_two_random_records_match.
DETERMINISTIC_RULES: Final[tuple[str, ...]] = (
    "l.national_id = r.national_id AND l.dob_date = r.dob_date",
    "l.bhxh_number = r.bhxh_number AND l.dob_date = r.dob_date",
    "l.name_key = r.name_key AND l.dob_date = r.dob_date AND l.commune_code = r.commune_code",
)

_TF_MIN_U: Final = 0.001
_GENDERED_ASCII: Final = frozenset({"THI", "VAN"})


def model_row(row: Mapping[str, Any]) -> ModelRow:
    """The model's input columns for one canonical row (`CanonicalRecord.to_row()` + `unique_id`).

    Derived columns: `given_key` / `family_key` are the ASCII name keys of `linkage.normalise.names`
    (terminal Y->I; Huỳnh=Hoàng and Võ=Vũ for the family name); `family_ascii` is the
    ASCII fold; `middle_core_ascii` the folded middle name without THI/VAN; `dob_date` is
    `YYYY-MM-DD` only when the day is known (a year-only date never equals a full one); `dob_time` the
    birth time `HH:MM` when the date carries one (newborns' records do; no comparison reads it, the
    identity policy does); `dob_year_text` the year's digits (for the digit-typo levels); `name_sorted` the
    order-invariant name key (`linkage.normalise.names.sorted_name_key`) of a name of at least two tokens.
    """
    family = row.get("family")
    given_ascii = row.get("given_ascii")
    middle = row.get("middle")
    dob_iso = row.get("dob_iso")
    family_ascii = fold_ascii(family).upper() if family else None
    out: dict[str, RowValue] = {name: row.get(name) for name in MODEL_COLUMNS}
    out["family_ascii"] = family_ascii
    # name_key groups surnames only on a multi-token name: a placeholder given name makes it one.
    out["family_key"] = name_key([family_ascii, "X"]).rsplit(" ", 1)[0] if family_ascii else None
    # Thị/Văn are dropped after folding too: the normaliser only knows them with their marks, and
    # an export without diacritics writes THI / VAN.
    core = [t for t in fold_ascii(middle).upper().split(" ") if t not in _GENDERED_ASCII] if middle else []
    out["middle_core_ascii"] = " ".join(core) or None
    out["given_key"] = name_key([given_ascii.upper()]) if given_ascii else None
    out["dob_date"] = dob_iso[:10] if dob_iso and row.get("dob_day") is not None else None
    out["dob_time"] = dob_iso[11:16] if dob_iso and out["dob_date"] and len(dob_iso) >= 16 else None
    year = row.get("dob_year")
    out["dob_year_text"] = f"{year:04d}" if isinstance(year, int) else None
    name_ascii = row.get("name_ascii")
    tokens = str(name_ascii).split(" ") if name_ascii else []
    out["name_sorted"] = (sorted_name_key(tokens) or None) if len(tokens) >= 2 else None
    return cast(ModelRow, out)


def model_table(records: pa.Table | Iterable[Mapping[str, Any]]) -> pa.Table:
    """Arrow table of `model_row` for every record, with the fixed `MODEL_COLUMNS` schema.

    Extra input columns (e.g. a ground-truth `person_id`) are dropped. A table that already has every
    model column (model rows, e.g. the store's `features`) is taken as is: `model_row` is not idempotent
    (it derives from canonical columns that model rows do not carry), and this path stays in Arrow.
    """
    schema = pa.schema(list(MODEL_COLUMNS.items()))
    if isinstance(records, pa.Table) and all(name in records.column_names for name in MODEL_COLUMNS):
        return records.select(list(MODEL_COLUMNS)).cast(schema)
    rows = records.to_pylist() if isinstance(records, pa.Table) else list(records)
    return pa.Table.from_pylist([model_row(row) for row in rows], schema=schema)


# ---- comparison builders -------------------------------------------------------------------------
def _q(column: str, side: str) -> str:
    return f'"{column}_{side}"'


def _null(*columns: str) -> str:
    return " OR ".join(f"{_q(c, s)} IS NULL" for c in columns for s in ("l", "r"))


def _eq(column: str) -> str:
    return f"{_q(column, 'l')} = {_q(column, 'r')}"


def _fn(fn: str, column: str) -> str:
    return f"{fn}({_q(column, 'l')}, {_q(column, 'r')})"


def _level(
    sql: str,
    label: str,
    *,
    tf: str | None = None,
    null: bool = False,
) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    if tf is not None:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
        level["tf_minimum_u_value"] = _TF_MIN_U
    return level


def _else() -> dict[str, Any]:
    return {"sql_condition": "ELSE", "label_for_charts": "All other comparisons"}


def _comparison(name: str, description: str, levels: list[dict[str, Any]]) -> dict[str, Any]:
    return {"output_column_name": name, "comparison_description": description, "comparison_levels": levels}


def _identifier(column: str, description: str) -> dict[str, Any]:
    return _comparison(
        column,
        description,
        [
            _level(_null(column), f"{column} is NULL", null=True),
            _level(_eq(column), "Exact match"),
            _level(f"{_fn('damerau_levenshtein', column)} <= 1", "One edit or transposition"),
            _else(),
        ],
    )


_SORTED_ONE_EDIT: Final = f"{_fn('damerau_levenshtein', 'name_sorted')} <= 1"


def _reordered() -> dict[str, Any]:
    """Family and middle name of a name written in another order: no evidence of their own.

    The given-name comparison scores a reordered name once ("Same name tokens in another order", or with
    one typo); the family and middle comparisons would otherwise count the same fact again, as a
    disagreement.
    """
    return _level(
        f"{_eq('name_sorted')} OR {_SORTED_ONE_EDIT}", "Same name tokens in another order (scored by given)", null=True
    )


def _given() -> dict[str, Any]:
    return _comparison(
        "given",
        "Given name (last token): exact, folded, Y/I key, Jaro-Winkler on the key",
        [
            _level(_null("given_key"), "given is NULL", null=True),
            _level(_eq("given"), "Exact match", tf="given"),
            _level(_eq("given_ascii"), "Exact match without diacritics", tf="given_ascii"),
            _level(_eq("given_key"), "Exact match on Y/I key", tf="given_key"),
            _level(_eq("name_sorted"), "Same name tokens in another order"),
            _level(f"{_fn('jaro_winkler_similarity', 'given_key')} >= 0.92", "Jaro-Winkler >= 0.92"),
            _level(f"{_fn('jaro_winkler_similarity', 'given_key')} >= 0.8", "Jaro-Winkler >= 0.8"),
            _level(_SORTED_ONE_EDIT, "Name tokens in any order, one edit"),
            _else(),
        ],
    )


def _family() -> dict[str, Any]:
    return _comparison(
        "family",
        "Family name: exact, folded, regional form (Hoàng=Huỳnh, Vũ=Võ), Jaro-Winkler",
        [
            _level(_null("family_key"), "family is NULL", null=True),
            _level(_eq("family"), "Exact match", tf="family"),
            _level(_eq("family_ascii"), "Exact match without diacritics", tf="family_ascii"),
            _level(_eq("family_key"), "Same surname group", tf="family_key"),
            _reordered(),
            _level(f"{_fn('jaro_winkler_similarity', 'family_key')} >= 0.88", "Jaro-Winkler >= 0.88"),
            _else(),
        ],
    )


def _middle() -> dict[str, Any]:
    return _comparison(
        "middle",
        "Middle name without Thị/Văn",
        [
            _level(_null("middle_core_ascii"), "middle (core) is NULL", null=True),
            _level(_eq("middle_core"), "Exact match"),
            _level(_eq("middle_core_ascii"), "Exact match without diacritics"),
            _reordered(),
            _level(f"{_fn('jaro_winkler_similarity', 'middle_core_ascii')} >= 0.88", "Jaro-Winkler >= 0.88"),
            _else(),
        ],
    )


def _dob() -> dict[str, Any]:
    y, m, d = ("dob_year", "dob_month", "dob_day")
    same_year = f"{_eq(y)}"
    partial = (
        f"{same_year} AND ({_q(m, 'l')} IS NULL OR {_q(m, 'r')} IS NULL OR "
        f"({_eq(m)} AND ({_q(d, 'l')} IS NULL OR {_q(d, 'r')} IS NULL)))"
    )
    transposed = f"{same_year} AND {_q(m, 'l')} = {_q(d, 'r')} AND {_q(d, 'l')} = {_q(m, 'r')}"
    rest_agrees = (
        f"({_q(m, 'l')} IS NULL OR {_q(m, 'r')} IS NULL OR {_eq(m)}) AND "
        f"({_q(d, 'l')} IS NULL OR {_q(d, 'r')} IS NULL OR {_eq(d)})"
    )
    year_swapped = f"{_fn('levenshtein', 'dob_year_text')} = 2 AND {_fn('damerau_levenshtein', 'dob_year_text')} = 1"
    return _comparison(
        "dob",
        "Date of birth, precision-aware (year-only and year-month dates are never padded)",
        [
            _level(_null(y), "dob is NULL", null=True),
            _level(_eq("dob_date"), "Exact match (day precision)", tf="dob_date"),
            _level(partial, "Agree at the precision both know (< day)"),
            _level(f"{same_year} AND {_eq(m)}", "Same year and month"),
            _level(f"{year_swapped} AND {rest_agrees}", "Two birth-year digits swapped, rest agrees"),
            _level(
                f"{_fn('levenshtein', 'dob_year_text')} = 1 AND {rest_agrees}",
                "One birth-year digit wrong, rest agrees",
            ),
            _level(f"{_fn('levenshtein', 'dob_date')} <= 1 OR ({transposed})", "One character or day/month swap"),
            _level(same_year, "Same year"),
            _level(f"abs({_q(y, 'l')} - {_q(y, 'r')}) <= 1", "Within one year"),
            _else(),
        ],
    )


def _sex() -> dict[str, Any]:
    return _comparison(
        "sex",
        "Sex (1 male, 2 female; 3 unknown is treated as missing)",
        [
            _level(f'{_null("sex")} OR "sex_l" = 3 OR "sex_r" = 3', "sex is NULL or unknown", null=True),
            _level(_eq("sex"), "Exact match"),
            _else(),
        ],
    )


def _national_id() -> dict[str, Any]:
    column = "national_id"
    return _comparison(
        column,
        "National ID (CCCD/CMND/passport); different kinds are not comparable",
        [
            _level(
                f'{_null(column)} OR "national_id_kind_l" <> "national_id_kind_r"',
                "national_id is NULL or of another kind",
                null=True,
            ),
            _level(_eq(column), "Exact match"),
            _level(f"{_fn('damerau_levenshtein', column)} <= 1", "One edit or transposition"),
            _else(),
        ],
    )


def _residence() -> dict[str, Any]:
    return _comparison(
        "residence",
        "Residence, post-2025 units: commune, else province",
        [
            _level(_null("province_code"), "province is NULL", null=True),
            _level(_eq("commune_code"), "Same commune"),
            _level(_eq("province_code"), "Same province"),
            _else(),
        ],
    )


def _address_text() -> dict[str, Any]:
    column = "address_text"
    return _comparison(
        column,
        "Free-text address (folded); only for data without commune codes",
        [
            _level(_null(column), "address is NULL", null=True),
            _level(_eq(column), "Exact match"),
            _level(f"{_fn('jaro_winkler_similarity', column)} >= 0.9", "Jaro-Winkler >= 0.9"),
            _level(f"{_fn('jaro_winkler_similarity', column)} >= 0.75", "Jaro-Winkler >= 0.75"),
            _else(),
        ],
    )


def _block(columns: tuple[str, ...]) -> dict[str, Any]:
    sql = " AND ".join(f'l."{c}" = r."{c}"' for c in columns)
    return {"blocking_rule": sql, "sql_dialect": "duckdb"}


def prediction_blocking_rules(rules: Iterable[tuple[str, ...]]) -> list[dict[str, Any]]:
    """The `blocking_rules_to_generate_predictions` entries of Splink settings for equality rules."""
    return [_block(rule) for rule in rules]


def build_settings(
    *,
    probability_two_random_records_match: float = 1e-4,
    address_text: bool = False,
    blocking_rules: Iterable[tuple[str, ...]] = BLOCKING_RULES,
) -> Settings:
    """Splink 5 settings (a plain dict, JSON-ready) for deduplicating canonical records.

    `address_text=True` adds a free-text address comparison: for data that has no commune codes
    (FEBRL); never together with codes derived from the same address, to keep comparisons independent.
    """
    comparisons = [
        _given(),
        _family(),
        _middle(),
        _dob(),
        _sex(),
        _national_id(),
        _identifier("bhxh_number", "Social insurance number (last 10 digits of the BHYT card)"),
        _identifier("phone", "Phone, national 10/11-digit form (often a relative's)"),
        _residence(),
    ]
    if address_text:
        comparisons.append(_address_text())
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": probability_two_random_records_match,
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": prediction_blocking_rules(blocking_rules),
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": False,
        "sql_dialect": "duckdb",
    }
