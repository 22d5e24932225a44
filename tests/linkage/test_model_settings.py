"""The model specification: derived columns, comparison levels (table-driven), settings accepted by Splink."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from linkage import build_settings, model_row, model_table, normalise_record
from linkage.model import BATCH_BLOCKING_RULES, BLOCKING_RULES, IDENTIFIER_KEYS, MODEL_COLUMNS, within_province
from linkage.scorer import compile_condition


def row(**raw: str) -> dict[str, object]:
    return model_row(normalise_record(raw).to_row())


def test_model_row_derived_columns() -> None:
    r = row(HO_TEN="Huỳnh Thị Mỹ Vy", NGAY_SINH="199002150000")
    assert (r["family_ascii"], r["family_key"], r["given_key"], r["middle_core_ascii"], r["dob_date"]) == (
        "HUYNH",
        "HOANG",
        "VI",
        "MY",
        "1990-02-15",
    )


def test_model_row_drops_folded_thi_van_and_keeps_partial_dates_apart() -> None:
    r = row(HO_TEN="NGUYEN VAN MINH AN", NGAY_SINH="195600000000")
    assert (r["middle_core_ascii"], r["dob_date"], r["dob_year"]) == ("MINH", None, 1956)


def test_model_table_has_the_fixed_schema() -> None:
    table = model_table([{**normalise_record({"HO_TEN": "Lê An"}).to_row(), "unique_id": 1, "person_id": 9}])
    assert table.column_names == list(MODEL_COLUMNS)
    assert table.column("given_key").to_pylist() == ["AN"]


def _field(name: str) -> Callable[[str], dict[str, str]]:
    return lambda value: {name: value}


n, d, sx, cid, card, tel = map(_field, ("HO_TEN", "NGAY_SINH", "GIOI_TINH", "SO_CCCD", "MA_THE_BHYT", "DIEN_THOAI"))
NEW = "Exact match without diacritics"


def _levels(comparison: str) -> list[dict[str, object]]:
    settings = build_settings()
    (found,) = [c for c in settings["comparisons"] if c["output_column_name"] == comparison]
    return list(found["comparison_levels"])


def _level_taken(comparison: str, left: dict[str, object], right: dict[str, object]) -> str:
    for level in _levels(comparison):
        sql = str(level["sql_condition"])
        if sql == "ELSE" or compile_condition(sql)(left, right) is True:
            return str(level["label_for_charts"])
    raise AssertionError("no level taken")


CASES = [
    ("given-exact", "given", n("Trần Thị Vy"), n("TRẦN VY"), "Exact match"),
    ("given-folded", "given", n("Trần Thị Vỹ"), n("TRAN THI VY"), NEW),
    ("given-yi", "given", n("Trần Thị Vy"), n("Trần Thị Vi"), "Exact match on Y/I key"),
    ("given-jw", "given", n("Lê Phương"), n("Lê Phuongg"), "Jaro-Winkler >= 0.92"),
    ("given-null", "given", n("Lê An"), dict(), "given is NULL"),
    ("given-else", "given", n("Lê An"), n("Lê Tuyết"), "All other comparisons"),
    ("given-reversed", "given", n("Nguyễn Văn An"), n("An Văn Nguyễn"), "Same name tokens in another order"),
    ("given-family-last", "given", n("Nguyễn Văn An"), n("Văn An Nguyễn"), "Same name tokens in another order"),
    ("given-first-middle-dropped", "given", n("Nguyễn Văn An"), n("An Nguyen"), "Same name tokens in another order"),
    (
        "family-reversed",
        "family",
        n("Nguyễn Văn An"),
        n("An Văn Nguyễn"),
        "Same name tokens in another order (scored by given)",
    ),
    ("given-other-namesake-tokens", "given", n("Nguyễn Văn An"), n("An Văn Bình"), "All other comparisons"),
    ("family-folded", "family", n("Nguyễn An"), n("NGUYEN AN"), NEW),
    ("family-group", "family", n("Huỳnh An"), n("Hoàng An"), "Same surname group"),
    ("family-single-token", "family", n("Nguyễn An"), n("An"), "family is NULL"),
    ("middle-thi-dropped", "middle", n("Lê Thị Mỹ An"), n("LE MY AN"), NEW),
    ("middle-none", "middle", n("Lê Thị An"), n("Lê Mỹ An"), "middle (core) is NULL"),
    ("dob-exact", "dob", d("199002150000"), d("199002150830"), "Exact match (day precision)"),
    ("dob-year-only", "dob", d("195600000000"), d("195603070000"), "Agree at the precision both know (< day)"),
    ("dob-year-month", "dob", d("199002150000"), d("199002160000"), "Same year and month"),
    ("dob-swap", "dob", d("199002050000"), d("199005020000"), "One character or day/month swap"),
    ("dob-lev1-year", "dob", d("199002150000"), d("199102150000"), "One birth-year digit wrong, rest agrees"),
    (
        "dob-year-digits-swapped",
        "dob",
        d("197603150000"),
        d("196703150000"),
        "Two birth-year digits swapped, rest agrees",
    ),
    (
        "dob-year-only-swapped",
        "dob",
        d("197600000000"),
        d("196703150000"),
        "Two birth-year digits swapped, rest agrees",
    ),
    ("dob-year-digit-day-differs", "dob", d("197603150000"), d("197803160000"), "All other comparisons"),
    ("dob-same-year", "dob", d("199002150000"), d("199011300000"), "Same year"),
    ("dob-within-year", "dob", d("199002150000"), d("199111300000"), "Within one year"),
    ("dob-else", "dob", d("199002150000"), d("198011300000"), "All other comparisons"),
    ("dob-year-only-one-digit", "dob", d("195600000000"), d("195800000000"), "One birth-year digit wrong, rest agrees"),
    ("dob-missing-month-year-differs", "dob", d("195600000000"), d("196200000000"), "All other comparisons"),
    ("sex-unknown", "sex", sx("3"), sx("1"), "sex is NULL or unknown"),
    ("sex-differs", "sex", sx("2"), sx("1"), "All other comparisons"),
    ("id-exact", "national_id", cid("079190001234"), cid("079 190 001 234"), "Exact match"),
    ("id-transposed", "national_id", cid("079190001234"), cid("079190002134"), "One edit or transposition"),
    ("id-kinds", "national_id", cid("079190001234"), cid("123456789"), "national_id is NULL or of another kind"),
    ("id-else", "national_id", cid("079190001234"), cid("079190004321"), "All other comparisons"),
    ("bhxh-card-prefix", "bhxh_number", card("DN4797912345678"), card("HT3797912345678"), "Exact match"),
    ("phone-old-format", "phone", tel("0168 234 5678"), tel("0382345678"), "Exact match"),
    (
        "residence-province",
        "residence",
        {"MATINH_CU_TRU": "79", "MAXA_CU_TRU": "26734"},
        {"MATINH_CU_TRU": "79"},
        "Same province",
    ),
]


@pytest.mark.parametrize(("comparison", "left", "right", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_comparison_level(comparison: str, left: dict[str, str], right: dict[str, str], expected: str) -> None:
    assert _level_taken(comparison, row(**left), row(**right)) == expected


def test_every_comparison_ends_with_else_and_starts_with_a_null_level() -> None:
    for comparison in build_settings(address_text=True)["comparisons"]:
        levels = comparison["comparison_levels"]
        assert levels[0].get("is_null_level") is True, comparison["output_column_name"]
        assert levels[-1]["sql_condition"] == "ELSE", comparison["output_column_name"]


def test_tf_adjustments_on_given_family_and_dob() -> None:
    tf = {
        c["output_column_name"]
        for c in build_settings()["comparisons"]
        for level in c["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    assert tf == {"given", "family", "dob"}


def test_blocking_rules_only_use_model_columns() -> None:
    assert {column for rule in BLOCKING_RULES for column in rule} <= set(MODEL_COLUMNS)


def test_within_province_keeps_identifier_rules_and_adds_the_province_to_the_others() -> None:
    scoped = within_province(BATCH_BLOCKING_RULES)
    assert len(scoped) == len(BATCH_BLOCKING_RULES)
    identifier_rules = 0
    for rule, narrowed in zip(BATCH_BLOCKING_RULES, scoped, strict=True):
        if IDENTIFIER_KEYS.intersection(rule):
            identifier_rules += 1
            assert narrowed == rule
        else:
            assert narrowed == (*rule, "province_code")
    assert identifier_rules == 3  # CCCD, BHXH number, phone
    assert within_province(scoped) == scoped  # applying it twice changes nothing


def test_settings_are_accepted_by_splink() -> None:
    import duckdb
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(duckdb.connect())
    sdf = db_api.register(model_table([{"unique_id": 1}, {"unique_id": 2}]), dataset_display_name="t")
    linker = Linker(sdf, build_settings(), log_level=40)
    assert len(linker.misc.save_model_to_json()["comparisons"]) == 9
