"""The matching engine: normalise person records, train the Splink model, score pairs, evaluate.

Pure functions plus Splink; knows nothing of HTTP or the ORM (`mpi` and `api` import this package,
never the reverse). The public surface is `__all__`; everything else is internal.
"""

from typing import TYPE_CHECKING, Any

from linkage.batch import cluster, predict_links, predict_pairs
from linkage.clusters import clusters_from_links
from linkage.metrics import (
    ClusterMetrics,
    LinkageEvaluation,
    PairwiseMetrics,
    cluster_metrics,
    evaluate_links,
    pairwise_from_assignment,
)
from linkage.model import build_settings, model_row, model_table
from linkage.normalise.address import AdminUnit, commune_name, fold_address, normalise_admin_codes
from linkage.normalise.dates import PartialDate, parse_partial_date
from linkage.normalise.insurance import InsuranceCard, bhxh_number, parse_insurance_cards
from linkage.normalise.mojibake import repair_mojibake
from linkage.normalise.names import NameParts, normalise_name
from linkage.normalise.national_id import NationalId, check_cccd, classify_national_id
from linkage.normalise.phone import Phone, normalise_phone
from linkage.normalise.record import IDENTITY_ELEMENTS, CanonicalRecord, normalise_record
from linkage.normalise.text import fold_ascii
from linkage.scorer import ComparisonExplanation, PairScore, Scorer, build_tf_tables, probability_from_weight

if TYPE_CHECKING:
    from linkage.febrl import evaluate_febrl
    from linkage.training import TrainedModel, load_model, save_model, train_model

_LAZY = {"TrainedModel", "load_model", "save_model", "train_model"}


def __getattr__(name: str) -> Any:
    # linkage.training is imported on first use, so that `python -m linkage.training` does not find
    # it already imported by the package (runpy warns about that).
    if name in _LAZY:
        from linkage import training

        return getattr(training, name)
    if name == "evaluate_febrl":  # a benchmark with a dev dependency: loaded on first use
        from linkage.febrl import evaluate_febrl

        return evaluate_febrl
    raise AttributeError(f"module 'linkage' has no attribute {name!r}")


__all__ = [
    "IDENTITY_ELEMENTS",
    "AdminUnit",
    "CanonicalRecord",
    "ClusterMetrics",
    "ComparisonExplanation",
    "InsuranceCard",
    "LinkageEvaluation",
    "NameParts",
    "NationalId",
    "PairScore",
    "PairwiseMetrics",
    "PartialDate",
    "Phone",
    "Scorer",
    "TrainedModel",
    "bhxh_number",
    "build_settings",
    "build_tf_tables",
    "check_cccd",
    "classify_national_id",
    "cluster",
    "cluster_metrics",
    "clusters_from_links",
    "commune_name",
    "evaluate_febrl",
    "evaluate_links",
    "fold_address",
    "fold_ascii",
    "load_model",
    "model_row",
    "model_table",
    "normalise_admin_codes",
    "normalise_name",
    "normalise_phone",
    "normalise_record",
    "pairwise_from_assignment",
    "parse_insurance_cards",
    "parse_partial_date",
    "predict_links",
    "predict_pairs",
    "probability_from_weight",
    "repair_mojibake",
    "save_model",
    "train_model",
]
