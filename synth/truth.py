"""The ground truth, streamed: which encounter belongs to which person, and what noise it carries.

Two tables, each written as CSV and Parquet in batches (never all rows in memory):

* ``truth``: one row per encounter (MA_CSKCB + MA_LK) with the person id, the noise kinds applied, the
  person's hard-case tags, referral links and the file that holds it.
* ``persons``: one row per person with the true (clean) identity, for evaluation and debugging.

Everything in these files is synthetic.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

TRUTH_SCHEMA = pa.schema(
    [
        ("facility_code", pa.string()),
        ("ma_lk", pa.string()),
        ("person_id", pa.string()),
        ("household_id", pa.string()),
        ("encounter_date", pa.string()),
        ("ma_loai_kcb", pa.string()),
        ("is_referral_target", pa.bool_()),
        ("referral_source_facility", pa.string()),
        ("referral_source_ma_lk", pa.string()),
        ("referred_to", pa.string()),
        ("noise", pa.string()),
        ("person_tags", pa.string()),
        ("file", pa.string()),
    ]
)

PERSONS_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("household_id", pa.string()),
        ("full_name", pa.string()),
        ("sex", pa.int8()),
        ("birth_date", pa.string()),
        ("dob_year_only", pa.bool_()),
        ("cccd", pa.string()),
        ("cccd_known", pa.bool_()),
        ("cmnd", pa.string()),
        ("bhxh", pa.string()),
        ("card_group", pa.string()),
        ("phone", pa.string()),
        ("commune_code", pa.string()),
        ("ethnicity", pa.string()),
        ("mother_id", pa.string()),
        ("tags", pa.string()),
    ]
)


class TableWriter:
    """Writes rows to ``<stem>.csv`` and ``<stem>.parquet`` in batches of ``batch_rows``."""

    def __init__(self, stem: Path, schema: pa.Schema, batch_rows: int = 50_000) -> None:
        self.schema = schema
        self.names = schema.names
        self.batch_rows = batch_rows
        self._buffer: list[dict[str, Any]] = []
        self._csv_file = stem.with_suffix(".csv").open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._csv_file, lineterminator="\n")
        self._csv.writerow(self.names)
        self._parquet = pq.ParquetWriter(str(stem.with_suffix(".parquet")), schema, compression="zstd")
        self.rows = 0

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self._buffer.extend(rows)
        if len(self._buffer) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        names = self.names
        self._csv.writerows([[_csv_value(r[n]) for n in names] for r in self._buffer])
        self._parquet.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema))
        self.rows += len(self._buffer)
        self._buffer.clear()

    def close(self) -> None:
        self.flush()
        self._csv_file.close()
        self._parquet.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
