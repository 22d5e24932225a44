"""Export the store for a data lake as Parquet (`mpi export parquet --out DIR`): the input of Spark runs.

Layout under ``DIR`` (Hive-style partitions, readable by Spark, DuckDB, pandas, Trino as they are):

- ``persons/part-0.parquet`` — every person: ``person_id``, ``created_at``, ``merged_into_id`` and
  ``current_person_id`` (merge redirects followed: where the person's records are now).
- ``source_records/part-0.parquet`` — the linkage input: one row per current source record, ``unique_id``
  (the source record id), ``person_id`` and the model columns (``linkage.model.MODEL_COLUMNS``), exactly
  what ``mpi relink`` hands to Splink (`mpi.identity.relink.read_source_records`). This file holds
  normalised demographics and identifiers: keep it where patient data may be kept.
- ``links/part-0.parquet`` — every link row ever written (links are immutable): ``link_id``,
  ``source_record_id``, ``person_id``, ``state``, ``rule``, ``match_weight``, ``match_probability``,
  ``model_id``, ``actor``, ``created_at``.
- ``encounters/month=YYYY-MM/part-0.parquet`` — one row per stored encounter version: keys, version,
  current flag, status, submission, received time, its source record and current person, and the XML1
  summary used for analysis (admission / discharge time, visit type, main diagnosis, total cost).
  ``month`` is the admission month (NGAY_VAO), or the month received when NGAY_VAO is missing.

Rows are streamed from the store in batches; each file is written as it fills. ``DIR`` must not exist or
be empty: an export is never mixed with an older one. Values are written, never logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, Select, select

from mpi.identity import links as L
from mpi.identity.links import person_resolver
from mpi.identity.relink import read_source_records
from mpi.store.content import content_tables
from mpi.store.models import Encounter

__all__ = ["ENCOUNTER_SCHEMA", "LINK_SCHEMA", "PERSON_SCHEMA", "LakeExport", "export_parquet"]

_BATCH: Final = 50_000
_TS: Final = pa.timestamp("us")
PERSON_SCHEMA: Final = pa.schema(
    [
        ("person_id", pa.int64()),
        ("created_at", _TS),
        ("merged_into_id", pa.int64()),
        ("current_person_id", pa.int64()),
    ]
)
LINK_SCHEMA: Final = pa.schema(
    [
        ("link_id", pa.int64()),
        ("source_record_id", pa.int64()),
        ("person_id", pa.int64()),
        ("state", pa.string()),
        ("rule", pa.string()),
        ("match_weight", pa.float64()),
        ("match_probability", pa.float64()),
        ("model_id", pa.string()),
        ("actor", pa.string()),
        ("created_at", _TS),
    ]
)
ENCOUNTER_SCHEMA: Final = pa.schema(
    [
        ("encounter_id", pa.int64()),
        ("facility_code", pa.string()),
        ("ma_lk", pa.string()),
        ("version", pa.int32()),
        ("is_current", pa.bool_()),
        ("status", pa.string()),
        ("submission_id", pa.int64()),
        ("received_at", _TS),
        ("source_record_id", pa.int64()),
        ("person_id", pa.int64()),
        ("ngay_vao", _TS),
        ("ngay_ra", _TS),
        ("ma_loai_kcb", pa.string()),
        ("ma_benh_chinh", pa.string()),
        ("t_tongchi_bv", pa.string()),  # exact decimal text, as stored
    ]
)
_encounters = Encounter.__table__  # type: ignore[attr-defined]
_xml1 = content_tables["XML1"]


@dataclass(slots=True)
class LakeExport:
    """Rows written per dataset, and the encounter months."""

    out: Path
    persons: int = 0
    source_records: int = 0
    links: int = 0
    encounters: int = 0
    months: dict[str, int] = field(default_factory=dict)


def _rows(engine: Engine, query: Select[Any]) -> Iterator[list[Any]]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(query)
        for rows in result.partitions():
            yield list(rows)


def _write(path: Path, schema: pa.Schema, batches: Iterator[list[dict[str, Any]]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            rows += len(batch)
    return rows


def _persons(engine: Engine) -> Iterator[list[dict[str, Any]]]:
    p = L.persons
    with engine.connect() as conn:
        resolve = person_resolver(conn)
    for rows in _rows(engine, select(p.c.id, p.c.created_at, p.c.merged_into_id).order_by(p.c.id)):
        yield [
            {
                "person_id": r.id,
                "created_at": r.created_at,
                "merged_into_id": r.merged_into_id,
                "current_person_id": resolve(r.id),
            }
            for r in rows
        ]


def _links(engine: Engine) -> Iterator[list[dict[str, Any]]]:
    lk = L.links
    query = select(
        lk.c.id,
        lk.c.source_record_id,
        lk.c.person_id,
        lk.c.state,
        lk.c.rule,
        lk.c.match_weight,
        lk.c.match_probability,
        lk.c.model_id,
        lk.c.actor,
        lk.c.created_at,
    ).order_by(lk.c.id)
    for rows in _rows(engine, query):
        yield [{"link_id": r.id, **{k: v for k, v in r._mapping.items() if k != "id"}} for r in rows]


def _encounter_query() -> Select[Any]:
    e, s, x = _encounters, L.sources, _xml1
    first_row = (
        select(x.c.encounter_id, x.c.ngay_vao, x.c.ngay_ra, x.c.ma_loai_kcb, x.c.ma_benh_chinh, x.c.t_tongchi_bv)
        .where(x.c.row_no == 1)
        .subquery("xml1")
    )
    return (
        select(
            e.c.id,
            e.c.facility_code,
            e.c.ma_lk,
            e.c.version,
            e.c.is_current,
            e.c.status,
            e.c.submission_id,
            e.c.received_at,
            s.c.id.label("source_record_id"),
            s.c.person_id,
            first_row.c.ngay_vao,
            first_row.c.ngay_ra,
            first_row.c.ma_loai_kcb,
            first_row.c.ma_benh_chinh,
            first_row.c.t_tongchi_bv,
        )
        .select_from(e)
        .outerjoin(s, s.c.encounter_id == e.c.id)
        .outerjoin(first_row, first_row.c.encounter_id == e.c.id)
        .order_by(e.c.id)
    )


def _month(row: Any) -> str:
    when = row.ngay_vao or row.received_at
    return f"{when.year:04d}-{when.month:02d}"


def _write_encounters(engine: Engine, folder: Path, report: LakeExport) -> None:
    with engine.connect() as conn:
        resolve = person_resolver(conn)
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for rows in _rows(engine, _encounter_query()):
            by_month: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                record = dict(r._mapping)
                record["encounter_id"] = record.pop("id")
                record["person_id"] = resolve(r.person_id)
                if r.t_tongchi_bv is not None:
                    record["t_tongchi_bv"] = format(r.t_tongchi_bv, "f")
                by_month.setdefault(_month(r), []).append(record)
            for month, records in by_month.items():
                writer = writers.get(month)
                if writer is None:
                    path = folder / f"month={month}" / "part-0.parquet"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    writer = writers[month] = pq.ParquetWriter(path, ENCOUNTER_SCHEMA)
                writer.write_table(pa.Table.from_pylist(records, schema=ENCOUNTER_SCHEMA))
                report.months[month] = report.months.get(month, 0) + len(records)
                report.encounters += len(records)
    finally:
        for writer in writers.values():
            writer.close()


def export_parquet(*, engine: Engine, out: Path) -> LakeExport:
    """Write persons, source records, links and encounters (by month) under ``out``; see the module doc."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty directory: export into a new one")
    out.mkdir(parents=True, exist_ok=True)
    report = LakeExport(out=out)
    report.persons = _write(out / "persons" / "part-0.parquet", PERSON_SCHEMA, _persons(engine))
    records = read_source_records(engine)
    (out / "source_records").mkdir()
    pq.write_table(records, out / "source_records" / "part-0.parquet")
    report.source_records = records.num_rows
    del records
    report.links = _write(out / "links" / "part-0.parquet", LINK_SCHEMA, _links(engine))
    _write_encounters(engine, out / "encounters", report)
    report.months = dict(sorted(report.months.items()))
    return report
