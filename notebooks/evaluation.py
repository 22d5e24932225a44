# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Evaluation and threshold calibration
#
# The online linker's precision and recall against the ground truth of a synthetic province, as a function
# of the match-probability thresholds, and the thresholds read from that curve (`mpi.evaluation.calibration`).
#
# Recipe: ingest the province with the thresholds *open* (auto 1.0, review 0.01), so that every record the
# model would link at any threshold in between waits in review against its best candidate with its
# probability; export the links; sweep. Then, at the chosen thresholds, the full evaluation
# (`mpi.evaluation.report`, what `mpi evaluate` prints) beside the CCCD-exact and default-Splink baselines.
#
# Small data by default (CI executes this notebook): `MPI_NB_PERSONS` (300), `MPI_NB_SEED` (7). To draw
# the curve of a big run instead, point `MPI_NB_LINKS` and `MPI_NB_TRUTH` at an export of an open-threshold
# store and its truth table. `MPI_NB_FIGURES` = a folder to save the figure in. Aggregates only.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from mpi.evaluation.calibration import choose_thresholds, threshold_curve  # noqa: E402
from mpi.evaluation.report import evaluate_export, noise_rows, summary_rows  # noqa: E402
from mpi.identity.export import export_links  # noqa: E402
from mpi.identity.online import OnlineLinker  # noqa: E402
from mpi.ingest import ingest_file  # noqa: E402
from mpi.settings import Settings  # noqa: E402
from mpi.store import open_store  # noqa: E402
from synth import generate_province  # noqa: E402

PERSONS = int(os.environ.get("MPI_NB_PERSONS", "300"))
SEED = int(os.environ.get("MPI_NB_SEED", "7"))
FIGURES = Path(os.environ["MPI_NB_FIGURES"]) if os.environ.get("MPI_NB_FIGURES") else None
work = Path(tempfile.mkdtemp(prefix="nb-evaluation-"))


def linked_store(name: str, *, auto: float, review: float, xml: Path) -> Path:
    """Ingest every file of `xml` into a new SQLite store with these thresholds; export its links."""
    settings = Settings(
        database_url=f"sqlite:///{work / name}.sqlite3", link_auto_probability=auto, link_review_probability=review
    )
    engine = open_store(settings.database_url)
    linker = OnlineLinker.from_settings(settings)
    linker.warm(engine)
    for path in sorted(xml.rglob("*.xml")):
        ingest_file(engine=engine, data=path.read_bytes(), submitter="notebook", linker=linker)
    links = work / f"{name}.csv"
    export_links(engine=engine, out=links)
    engine.dispose()
    return links


# %%
if os.environ.get("MPI_NB_LINKS") and os.environ.get("MPI_NB_TRUTH"):
    open_links, truth = Path(os.environ["MPI_NB_LINKS"]), Path(os.environ["MPI_NB_TRUTH"])
    province = None
else:
    province = generate_province(persons=PERSONS, seed=SEED, out=work / "synth")
    truth = work / "synth" / "truth.parquet"
    open_links = linked_store("open", auto=1.0, review=0.01, xml=work / "synth" / "xml")
curve = threshold_curve(open_links, truth)
print(f"{curve.records:,} records; {curve.rule_reviews:,} in review whatever the thresholds (rule conflicts)")

# %% [markdown]
# ## The curve
# Left: had the auto-link threshold been *p*, the pairwise precision and recall of what the MPI holds. The
# same curve read as a review threshold gives auto + review recall. Right: the records in review for an
# auto threshold of 0.99 and a review threshold of *p*.

# %%
points = pd.DataFrame(
    {
        "threshold": [p.threshold for p in curve.points],
        "precision": [p.linked.precision for p in curve.points],
        "recall": [p.linked.recall for p in curve.points],
        "false pairs": [p.linked.false_positives for p in curve.points],
        "band records": [p.band_records for p in curve.points],
    }
)
AUTO = 0.99
points["review rate (auto 0.99)"] = [
    curve.review_rate(auto=AUTO, review=t) if t < AUTO else float("nan") for t in points["threshold"]
]
choice = choose_thresholds(curve)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.plot(points["threshold"], points["precision"], marker="o", label="precision")
left.plot(points["threshold"], points["recall"], marker="s", label="recall")
left.axhline(0.999, color="grey", linestyle=":", linewidth=1, label="precision target 0.999")
left.axhline(0.99, color="grey", linestyle="--", linewidth=1, label="recall target 0.99")
if choice.auto is not None:
    left.axvline(choice.auto, color="tab:red", linewidth=1, label=f"lowest auto threshold meeting it: {choice.auto:g}")
left.set_xscale("logit")
left.set_xlabel("match probability threshold")
left.set_ylabel("pairwise")
left.set_title("Links at threshold p (synthetic province)")
left.legend(fontsize=8, loc="lower left")
below = points[points["threshold"] < AUTO]
right.plot(below["threshold"], 100 * below["review rate (auto 0.99)"], marker="o", color="tab:purple")
right.axhline(2, color="grey", linestyle=":", linewidth=1, label="review budget 2%")
right.set_xscale("logit")
right.set_xlabel("review threshold (auto 0.99)")
right.set_ylabel("records in review (%)")
right.set_title("Steward workload")
right.legend(fontsize=8)
fig.tight_layout()
if FIGURES is not None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "threshold_curve.svg")
    fig.savefig(FIGURES / "threshold_curve.png", dpi=110)
points.round(5)

# %%
print(choice)

# %% [markdown]
# ## Evaluation at the settings' thresholds
# The province linked again at the thresholds of `mpi.settings` (the defaults unless overridden), then
# `mpi evaluate` with its baselines: CCCD exact, and Splink with default settings (`linkage.baselines`).

# %%
if province is not None:
    settings = Settings()
    links = linked_store(
        "default", auto=settings.link_auto_probability, review=settings.link_review_probability, xml=work / "synth" / "xml"
    )
    store = open_store(f"sqlite:///{work / 'default'}.sqlite3")
    report = evaluate_export(
        links,
        truth,
        auto_threshold=settings.link_auto_probability,
        review_threshold=settings.link_review_probability,
        baselines_from=store,
    )
    store.dispose()
    header, rows = summary_rows(report)
    display(pd.DataFrame(rows, columns=header).set_index("method"))  # noqa: F821 - IPython's display
    header, rows = noise_rows(report)
    display(pd.DataFrame(rows, columns=header).set_index("noise kind"))  # noqa: F821
