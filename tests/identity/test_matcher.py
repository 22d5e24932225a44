"""The matcher's candidate search comes from the model's blocking rules, and every rule has its index."""

from __future__ import annotations

import pytest

from linkage.model import BATCH_BLOCKING_RULES, BLOCKING_RULES, build_settings
from mpi.identity.matching import blocking_keys
from mpi.identity.models import SourceRecord


def _indexes() -> list[tuple[str, ...]]:
    table = SourceRecord.__table__  # type: ignore[attr-defined]
    return [tuple(c.name for c in index.columns) for index in table.indexes]


def test_every_blocking_rule_has_an_index_led_by_its_columns() -> None:
    indexes = _indexes()
    for rule in BLOCKING_RULES:
        # an index whose leading columns are exactly the rule's (in any order) serves the equality look-up
        assert any(set(index[: len(rule)]) == set(rule) for index in indexes), rule
    # the batch rules only narrow the online ones (DuckDB needs no index): each starts from one of them
    for rule in BATCH_BLOCKING_RULES:
        assert any(set(online) <= set(rule) for online in BLOCKING_RULES), rule


def test_a_rule_that_is_not_an_equality_is_refused() -> None:
    settings = build_settings()
    assert [k.columns for k in blocking_keys(settings)] == list(BLOCKING_RULES)
    bad = {"blocking_rules_to_generate_predictions": [{"blocking_rule": "levenshtein(l.given, r.given) < 2"}]}
    with pytest.raises(ValueError, match="not an equality"):
        blocking_keys(bad)
