"""Batch prediction's cheap rewrite of the one-edit conditions: the same truth value, the same pairs and weights."""

from __future__ import annotations

import copy
import itertools
import random
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import linkage.batch
from linkage import load_model, model_table
from linkage.batch import guarded_settings, predict_links
from linkage.model import BATCH_BLOCKING_RULES
from tests.linkage.synthetic import synthetic_records


def _edits(word: str, alphabet: str) -> set[str]:
    """Every string one substitution, insertion, deletion or neighbour swap away from `word`."""
    out = set()
    for i in range(len(word) + 1):
        out.update(word[:i] + c + word[i:] for c in alphabet)
        if i < len(word):
            out.add(word[:i] + word[i + 1 :])
            out.update(word[:i] + c + word[i + 1 :] for c in alphabet)
        if i + 1 < len(word):
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    return out


def _string_pairs() -> list[tuple[str | None, str | None]]:
    rng = random.Random(3)
    alphabet = "AB1 "
    words = ["", "A", "AB", "ABA", "A B", "BAAB", "ABBA1", "AN NGUYEN", "079301001234"]
    words += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9))) for _ in range(40)]
    pairs: list[tuple[str | None, str | None]] = []
    for word in words:
        near = _edits(word, alphabet)
        pairs += [(word, other) for other in near]
        pairs += [(word, other) for other in itertools.chain.from_iterable(_edits(n, "B") for n in list(near)[:5])]
    pairs += [(a, b) for a in words[:12] for b in words[:12]]
    pairs += [(None, "A"), ("A", None), (None, None), ("", None)]
    return pairs


@pytest.mark.parametrize("fn", ["damerau_levenshtein", "levenshtein"])
def test_guarded_condition_has_the_truth_value_of_the_bare_one(fn: str) -> None:
    bare = f'{fn}("x_l", "x_r") <= 1'
    settings = {"comparisons": [{"comparison_levels": [{"sql_condition": bare}]}]}
    guarded = guarded_settings(settings)["comparisons"][0]["comparison_levels"][0]["sql_condition"]
    assert guarded != bare and bare in guarded
    pairs = _string_pairs()
    con = duckdb.connect()
    con.register("p", pa.table({"x_l": [a for a, _ in pairs], "x_r": [b for _, b in pairs]}))
    rows = con.sql(f"SELECT x_l, x_r, ({bare}) AS bare, ({guarded}) AS guarded FROM p").fetchall()
    assert sum(1 for row in rows if row[2]) > 1000, "most pairs are one edit apart: the test must exercise the rule"
    assert any(row[2] is False for row in rows) and any(row[2] is None for row in rows)
    assert [row for row in rows if row[2] is not row[3]] == []
    # inside a CASE, where Splink puts it, too
    differ = con.sql(
        f"SELECT count(*) FROM p WHERE (CASE WHEN {bare} THEN 1 ELSE 0 END) <> (CASE WHEN {guarded} THEN 1 ELSE 0 END)"
    ).fetchall()
    assert differ == [(0,)]


def test_guarded_settings_change_only_the_one_edit_conditions() -> None:
    model = load_model().model
    guarded = guarded_settings(model)
    assert model == load_model().model, "the model passed in is not modified"
    changed = 0
    for mine, theirs in zip(guarded["comparisons"], model["comparisons"], strict=True):
        for a, b in zip(mine["comparison_levels"], theirs["comparison_levels"], strict=True):
            assert {k: v for k, v in a.items() if k != "sql_condition"} == {
                k: v for k, v in b.items() if k != "sql_condition"
            }
            if a["sql_condition"] != b["sql_condition"]:
                changed += 1
                assert "<= 1" in b["sql_condition"] and "levenshtein(" in b["sql_condition"]
    assert changed >= 5  # name tokens (three comparisons), date, national id, BHXH, phone


def test_predict_links_gives_the_pairs_and_weights_of_the_unguarded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    records = model_table(synthetic_records(600, seed=11))
    model: dict[str, Any] = load_model().model
    guarded = predict_links(records, model, threshold_probability=0.01, blocking_rules=BATCH_BLOCKING_RULES)
    monkeypatch.setattr(linkage.batch, "guarded_settings", lambda settings: copy.deepcopy(dict(settings)))
    bare = predict_links(records, model, threshold_probability=0.01, blocking_rules=BATCH_BLOCKING_RULES)
    assert guarded.num_rows > 300
    assert guarded.equals(bare)
