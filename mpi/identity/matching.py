"""The matcher: one trained model, its term frequencies, the thresholds and the candidate search, shared by
online linking (:mod:`mpi.identity.online`), person search (``mpi.records.lookup``) and FHIR search.

Candidate search is generated from the model's own blocking rules (``blocking_rules_to_generate_predictions``
of the model JSON, equality rules such as ``l."given_key" = r."given_key" AND l."dob_date" = r."dob_date"``):
each rule becomes one indexed equality look-up on ``source_record`` (one index per rule,
:mod:`mpi.identity.models`; a test holds them together), capped (:data:`BLOCKING_CAPS`), and the look-ups
are one UNION statement compiled once. The caps bound the work for very common values — a given name in a
big commune, a shared household phone, a placeholder ID — and so the p95 latency.

Thread-safe: the scorer is immutable, term frequencies swap snapshots atomically (:mod:`mpi.identity.tf`).
Never logs a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, Select, Text, and_, bindparam, select, union
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from linkage import PairScore, Scorer, load_model, probability_from_weight
from linkage.model import ModelRow
from mpi.identity import links as L
from mpi.identity.policy import Thresholds
from mpi.identity.tf import TermFrequencies
from mpi.settings import Settings
from mpi.store.bulk import Prepared
from mpi.store.db import json_loads

__all__ = ["BLOCKING_CAPS", "BlockingKey", "CandidateRow", "Matcher", "blocking_keys", "explanation"]

BLOCKING_CAPS: Final[dict[tuple[str, ...], int]] = {
    ("given_key", "dob_date"): 100,
    ("family_key", "given_key", "dob_year"): 30,
    ("family_key", "dob_date"): 100,
    ("national_id",): 50,
    ("bhxh_number",): 50,
    ("phone",): 30,
    ("given_key", "commune_code"): 15,
    ("name_sorted", "dob_year"): 50,
}
"""Records fetched per blocking key at most; a rule not listed here gets :data:`DEFAULT_CAP`.

A cut block keeps the first records its index returns (on SQLite the oldest), so a cap trades recall inside very
common blocks for latency. The two broadest keys are cut hardest: family + given name + birth year (the same
name born in another month) and given name + commune hold most namesakes and almost no true match no other
key finds. On 1M synthetic persons (``python -m bench.bench_linking --persons 1000000``, 2,000 held-out
records), 100 -> 30 and 30 -> 15 took the candidates of the p95 record from 167 to 105 and its CPU from
12.8 to 8.8 ms; every record linked before was linked to the same person, and 9 review items became new
persons (each a namesake: the true person was not among the candidates at the old caps either). The keys
that carry a birth date or an identifier keep wide caps: their blocks are small and nearly all true.
"""
DEFAULT_CAP: Final = 30
IDENTIFIER_CAP: Final = 50
"""Records fetched for one identifier searched on its own (CCCD, BHXH number, MA_BN)."""
_RULE_PART: Final = re.compile(r'^l\."?(\w+)"?\s*=\s*r\."?(\w+)"?$')


@dataclass(frozen=True, slots=True)
class BlockingKey:
    columns: tuple[str, ...]
    cap: int


def blocking_keys(model: Mapping[str, Any]) -> tuple[BlockingKey, ...]:
    """The model's equality blocking rules as ``source_record`` look-ups with their caps.

    Raises ValueError for a rule that is not a conjunction of ``l.x = r.x`` (it cannot be an index look-up).
    """
    keys: list[BlockingKey] = []
    for rule in model.get("blocking_rules_to_generate_predictions", []):
        sql = rule["blocking_rule"] if isinstance(rule, Mapping) else str(rule)
        columns: list[str] = []
        for part in re.split(r"\s+AND\s+", sql.strip(), flags=re.IGNORECASE):
            found = _RULE_PART.match(part.strip())
            if found is None or found.group(1) != found.group(2):
                raise ValueError(f"blocking rule is not an equality on one column per side: {sql}")
            columns.append(found.group(1))
        key = tuple(columns)
        keys.append(BlockingKey(key, BLOCKING_CAPS.get(key, DEFAULT_CAP)))
    return tuple(keys)


class CandidateRow(NamedTuple):
    """A candidate ``source_record`` as the candidate search reads it."""

    id: int
    person_id: int
    encounter_id: int
    features: ModelRow
    facility_code: str
    patient_code: str | None
    ma_lk: str


class _FeaturesText(FunctionElement[Any]):
    """A JSON column's text as the driver reads it most cheaply: the UTF-8 bytes on SQLite (``CAST(x AS
    BLOB)`` is the stored text as it is; fetched ≈ 40 % and decoded by orjson ≈ 30 % faster than a Python
    str, which the driver first decodes from UTF-8 and orjson encodes back), the text elsewhere."""

    type = Text()
    inherit_cache = True
    name = "features_text"


@compiles(_FeaturesText)
def _features_text(element: _FeaturesText, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


@compiles(_FeaturesText, "sqlite")
def _features_bytes(element: _FeaturesText, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS BLOB)"


def _rows(found: list[tuple[Any, ...]]) -> list[CandidateRow]:
    """A candidate search's rows (``Matcher._lookup``'s columns, the features as JSON text or its UTF-8
    bytes: :class:`_FeaturesText`) as candidates."""
    return [
        CandidateRow(row_id, person_id, encounter_id, json_loads(features), facility_code, patient_code, ma_lk)
        for row_id, person_id, encounter_id, features, facility_code, patient_code, ma_lk in found
    ]


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate record with the model's weight and probability against the incoming row."""

    row: Any
    """``source_record`` columns: id, person_id, encounter_id, features, facility_code, patient_code, ma_lk."""
    match_weight: float
    match_probability: float


class Matcher:
    """Scorer + term frequencies + thresholds + candidate search for one model."""

    def __init__(self, *, scorer: Scorer, model: Mapping[str, Any], model_id: str, thresholds: Thresholds) -> None:
        self.scorer = scorer
        self.model_id = model_id
        self.thresholds = thresholds
        self.tf = TermFrequencies(scorer.tf_columns)
        self.keys = blocking_keys(model)
        self.key_columns: tuple[str, ...] = tuple(sorted({c for key in self.keys for c in key.columns}))
        self._query = Prepared(self._lookup(self.keys, patient_code=True))
        self._national_id = next((key for key in self.keys if key.columns == ("national_id",)), None)
        self._national_id_query = Prepared(self._lookup([self._national_id], patient_code=False))

    @classmethod
    def from_settings(cls, settings: Settings) -> Matcher:
        trained = load_model(Path(settings.model_path) if settings.model_path else None)
        return cls(
            scorer=Scorer.compiled(trained.model, trained.model_id),
            model=trained.model,
            model_id=trained.model_id,
            thresholds=Thresholds(auto=settings.link_auto_probability, review=settings.link_review_probability),
        )

    @staticmethod
    def _lookup(keys: Sequence[BlockingKey | None], *, patient_code: bool) -> Select[Any]:
        """One statement: a UNION of indexed look-ups, one per blocking key, plus the facility's own keys
        (its patient code when ``patient_code``, and the encounter's MA_LK: earlier versions).

        A key whose value is missing is bound to NULL, and ``column = NULL`` matches nothing, so the same
        statement serves every record.
        """
        s = L.sources
        branches = [
            select(s.c.id).where(and_(*(s.c[c] == bindparam(f"k_{c}") for c in key.columns))).limit(key.cap)
            for key in keys
            if key is not None
        ]
        same_facility = s.c.facility_code == bindparam("k_facility_code")
        if patient_code:
            branches.append(select(s.c.id).where(same_facility, s.c.patient_code == bindparam("k_patient_code")))
        branches.append(select(s.c.id).where(same_facility, s.c.ma_lk == bindparam("k_ma_lk")))
        ids = union(*(branch.subquery().select() for branch in branches)).subquery()
        # the features' JSON as the driver reads it cheapest (_FeaturesText), decoded by _rows, one call per record
        features = _FeaturesText(s.c.features)
        return select(
            s.c.id, s.c.person_id, s.c.encounter_id, features, s.c.facility_code, s.c.patient_code, s.c.ma_lk
        ).where(s.c.id.in_(select(ids.c.id)))

    def search_keys(
        self,
        values: Mapping[str, Any],
        *,
        facility_code: str | None = None,
        patient_code: str | None = None,
        ma_lk: str | None = None,
    ) -> frozenset[tuple[Any, ...]]:
        """The look-ups of :meth:`candidates` that can find a record with these values, one tuple each
        (the look-up and its values; a value bound to NULL finds nothing): two records have one in common
        exactly when a search with one's values can find the other."""
        keys = [
            (at, *(values.get(c) for c in key.columns))
            for at, key in enumerate(self.keys)
            if all(values.get(c) is not None for c in key.columns)
        ]
        if facility_code is not None and patient_code is not None:
            keys.append(("patient_code", facility_code, patient_code))
        if facility_code is not None and ma_lk is not None:
            keys.append(("ma_lk", facility_code, ma_lk))
        return frozenset(keys)

    def can_block(self, values: Mapping[str, Any]) -> bool:
        """Whether at least one blocking key is complete in ``values`` (else a search would find nothing)."""
        return any(all(values.get(c) is not None for c in key.columns) for key in self.keys)

    def candidates(
        self,
        conn: Connection,
        values: Mapping[str, Any],
        *,
        facility_code: str | None = None,
        patient_code: str | None = None,
        ma_lk: str | None = None,
    ) -> list[CandidateRow]:
        """Source records sharing a blocking key with ``values`` (the source_record columns of a record)."""
        params: dict[str, Any] = {f"k_{c}": values.get(c) for c in self.key_columns}
        params.update(k_facility_code=facility_code, k_patient_code=patient_code, k_ma_lk=ma_lk)
        return _rows(self._query.rows(conn, params))

    def national_id_candidates(
        self, conn: Connection, values: Mapping[str, Any], *, facility_code: str, ma_lk: str
    ) -> list[CandidateRow] | None:
        """Every source record carrying the national ID of ``values``, with the earlier versions of the same
        encounter (``facility_code``, ``ma_lk``): the records :func:`mpi.identity.policy.decide_by_national_id`
        reads, all found by :meth:`candidates` too. None when the list could be incomplete or empty of
        purpose: no national ID in ``values``, no national-ID blocking key in the model, or as many records
        carry the number as the key's cap (the look-up was cut).
        """
        number = values.get("national_id")
        if number is None or self._national_id is None:
            return None
        params = {"k_national_id": number, "k_facility_code": facility_code, "k_ma_lk": ma_lk}
        rows = _rows(self._national_id_query.rows(conn, params))
        # the features' national_id is the source_record column's value (mpi.identity.online.source_values)
        if sum(1 for r in rows if r.features.get("national_id") == number) >= self._national_id.cap:
            return None
        return rows

    def scorer_for(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> Scorer:
        """The scorer with the current term frequencies of these rows' values."""
        self.tf.ensure_fresh(conn)
        return self.scorer.with_tf_tables(self.tf.tables_for(list(rows)))

    def score(self, conn: Connection, features: Mapping[str, Any], rows: Sequence[Any]) -> list[Scored]:
        """Every candidate row scored against ``features``."""
        weights = self.weights(conn, features, rows)
        return [Scored(r, w, probability_from_weight(w)) for r, w in zip(rows, weights, strict=True)]

    def weights(self, conn: Connection, features: Mapping[str, Any], rows: Sequence[Any]) -> list[float]:
        """The model's match weight of every candidate row against ``features``, in the rows' order (the
        record's columns read once for all: :meth:`linkage.Scorer.match_weights`)."""
        others = [r.features for r in rows]
        self.tf.ensure_fresh(conn)
        with self.tf.frequencies() as tf_tables:  # only the values a TF-adjusted level meets are looked up
            return self.scorer.with_tf_tables(tf_tables).match_weights(features, others)

    def explain(self, conn: Connection, left: Mapping[str, Any], right: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Why the model scored a pair as it did: each comparison's level, weight and term-frequency adjustment."""
        return explanation(self.scorer_for(conn, [left, right]).score(left, right))


def explanation(score: PairScore) -> list[dict[str, Any]]:
    """A pair score as a review item's evidence: each comparison's level, weight and TF adjustment."""
    return [
        {
            "comparison": c.comparison,
            "level": c.label,
            "match_weight": round(c.match_weight, 3),
            "tf_adjustment": round(c.tf_adjustment, 3),
        }
        for c in score.comparisons
    ]
