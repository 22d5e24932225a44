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
# # Training the linkage model
#
# The Fellegi-Sunter model of `linkage.model` trained with Splink on DuckDB, on a small synthetic province
# (`synth`): what the m and u probabilities and the match weights of each comparison level come out as,
# and how stable EM is across its blocking passes.
#
# Small data by default (CI executes this notebook): `MPI_NB_PERSONS` (default 300) and `MPI_NB_SEED` (7)
# choose the province. The shipped model (`linkage/models/default.json`) is trained the same way on a larger
# province (see `linkage/training.py`). Only parameters and aggregates are shown, never a record.

# %%
import logging
import os
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from linkage import build_settings, load_model, model_table, train_model
from linkage.model import DETERMINISTIC_RULES, TRAINING_BLOCKING_RULES
from mpi.identity.online import canonical_from_encounter
from synth import generate_province
from mpi.xml130 import parse_submission

PERSONS = int(os.environ.get("MPI_NB_PERSONS", "300"))
SEED = int(os.environ.get("MPI_NB_SEED", "7"))
QUIET = logging.WARNING + 5  # Splink's progress messages are counts, but noise here

# %% [markdown]
# ## Data: a synthetic province, read the way ingest reads it
# GIAMDINHHS files -> `mpi.xml130.parse_submission` -> the XML1 identity fields -> `linkage.normalise_record`.

# %%
work = Path(tempfile.mkdtemp(prefix="nb-training-"))
summary = generate_province(persons=PERSONS, seed=SEED, out=work)
rows = []
for path in sorted((work / "xml").rglob("*.xml")):
    for encounter in parse_submission(path.read_bytes()).encounters:
        if encounter.summary is not None:
            row = canonical_from_encounter(encounter).to_row()
            row["unique_id"] = len(rows)
            rows.append(row)
records = pa.Table.from_pylist(rows)
print(f"{records.num_rows:,} encounters of {summary.persons:,} persons")

# %% [markdown]
# ## Train
# `linkage.train_model`: the prior from deterministic rules, u by random sampling, m by EM on two blocking
# passes, unobserved levels spelled out and m floored (see its docstring). The result is the model JSON
# that both Splink and the online scorer read.

# %%
trained = train_model(records, seed=42, data_description=f"notebook: synth {PERSONS} persons, seed {SEED}")
provenance = trained.provenance
print("model", trained.model_id, "| records", provenance["training_records"])
print("prior (probability two random records match):", f"{trained.model['probability_two_random_records_match']:.3g}")
print("levels never observed in training:", len(provenance["unobserved_levels"]))
print("levels whose m was floored:", len(provenance["m_floored_levels"]))

# %% [markdown]
# ## EM across its passes
# The same recipe step by step on a Linker, to chart each comparison's m estimates per EM pass: a level
# whose estimates disagree between passes is one the data does not pin down.

# %%
con = duckdb.connect()
con.sql("SET threads TO 1")
db_api = DuckDBAPI(con)
table = model_table(records)
em_linker = Linker(db_api.register(table, dataset_display_name="records"), build_settings(), log_level=QUIET)
em_linker.training.estimate_probability_two_random_records_match(list(DETERMINISTIC_RULES), recall=0.7)
em_linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=42)
for rule in TRAINING_BLOCKING_RULES:
    blocking = " AND ".join(f'l."{c}" = r."{c}"' for c in rule)
    em_linker.training.estimate_parameters_using_expectation_maximisation(blocking, max_pairs=2e6)
em_linker.visualisations.parameter_estimate_comparisons_chart()

# %% [markdown]
# ## The trained model's parameters
# m and u per comparison level, then the match weight (log2 of m/u) each level contributes.

# %%
linker = Linker(db_api.register(table, dataset_display_name="records_model"), trained.model, log_level=QUIET)
linker.visualisations.m_u_parameters_chart()

# %%
linker.visualisations.match_weights_chart()

# %% [markdown]
# ## The shipped model, for comparison
# `linkage/models/default.json`, trained on a larger synthetic province (its provenance says which).

# %%
shipped = load_model()
print("shipped model", shipped.model_id, "| trained on", f"{shipped.provenance['training_records']:,}", "records")
shipped_linker = Linker(db_api.register(table, dataset_display_name="records_shipped"), shipped.model, log_level=QUIET)
shipped_linker.visualisations.match_weights_chart()
