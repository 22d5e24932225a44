"""A store of N source records for the relink benchmark, written in bulk (the setup is not what is timed).

Every record gets an encounter (one synthetic submission holds them all), a person, its first link and
its events, as the online path would have left them. The online path is assumed to have found every
true link except for every `missed_every`-th record, which sits alone on a person of its own: those
are what relinking should find.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, insert

from mpi.identity import links as L
from mpi.store import Encounter, Submission, open_store

_BATCH = 20_000


def build_store(url: str, table: pa.Table, *, missed_every: int) -> tuple[Engine, float]:
    """A fresh store holding `table` (model rows + `person_id` truth) as source records; (engine, seconds)."""
    began = time.perf_counter()
    engine = open_store(url)
    now = datetime.now(UTC)
    encounters = Encounter.__table__  # type: ignore[attr-defined]
    submissions = Submission.__table__  # type: ignore[attr-defined]
    features_columns = [c for c in table.column_names if c not in ("unique_id", "person_id")]
    truth = table.column("person_id").to_pylist()
    person_of_truth: dict[Any, int] = {}
    with engine.begin() as conn:
        submission_id = conn.execute(
            insert(submissions),
            {"sha256": "0" * 64, "submitter": "bench", "size": 0, "raw_gzip": b"", "outcome": "accepted"},
        ).inserted_primary_key[0]
        next_person = 1
        for start in range(0, table.num_rows, _BATCH):
            batch = table.slice(start, _BATCH)
            rows = batch.select(features_columns).to_pylist()
            encounter_rows, person_rows, source_rows, link_rows, event_rows = [], [], [], [], []
            for offset, features in enumerate(rows):
                i = start + offset + 1  # ids: encounter = source record = i
                key = truth[i - 1]
                missed = i % missed_every == 0
                if missed or key not in person_of_truth:
                    person_id = next_person
                    next_person += 1
                    person_rows.append({"id": person_id, "created_at": now})
                    event_rows.append({"kind": "person_created", "person_id": person_id, "actor": "bench"})
                    if not missed:
                        person_of_truth[key] = person_id
                else:
                    person_id = person_of_truth[key]
                encounter_rows.append(
                    {
                        "id": i,
                        "facility_code": "79001",
                        "ma_lk": f"LK{i}",
                        "version": 1,
                        "is_current": True,
                        "submission_id": submission_id,
                        "hoso": i,
                        "content_sha256": f"{i:064d}",
                        "status": "accepted",
                        "tables": ["XML1"],
                        "received_at": now,
                    }
                )
                source_rows.append(
                    {
                        "id": i,
                        "encounter_id": i,
                        "facility_code": "79001",
                        "ma_lk": f"LK{i}",
                        "version": 1,
                        "person_id": person_id,
                        "link_state": "auto",
                        "given_key": features["given_key"],
                        "family_key": features["family_key"],
                        "dob_date": features["dob_date"],
                        "dob_year": features["dob_year"],
                        "national_id": features["national_id"],
                        "bhxh_number": features["bhxh_number"],
                        "phone": features["phone"],
                        "commune_code": features["commune_code"],
                        "features": json.loads(json.dumps(features)),
                        "created_at": now,
                    }
                )
                link_rows.append(
                    {
                        "id": i,
                        "source_record_id": i,
                        "person_id": person_id,
                        "state": "auto",
                        "rule": "model",
                        "actor": "bench",
                        "created_at": now,
                    }
                )
                event_rows.append(
                    {"kind": "linked", "source_record_id": i, "person_id": person_id, "link_id": i, "actor": "bench"}
                )
            conn.execute(insert(encounters), encounter_rows)
            conn.execute(insert(L.persons), person_rows)
            conn.execute(insert(L.sources), source_rows)
            conn.execute(insert(L.links), link_rows)
            # executemany takes its columns from the first row: give every event the same keys
            blank = {"source_record_id": None, "link_id": None, "created_at": now}
            conn.execute(insert(L.events), [{**blank, **e} for e in event_rows])
    return engine, time.perf_counter() - began
