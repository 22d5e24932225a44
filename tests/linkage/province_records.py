"""Canonical records with ground truth from a synthetic province (`synth.generate_province`).

The data path of production, end to end: GIAMDINHHS files -> `mpi.xml130.parse_submission` -> XML1
summary raw fields -> `linkage.normalise_record` -> `to_row()`, joined to the truth table's person id
by (MA_CSKCB, MA_LK). Lives under tests because `linkage` must never import `mpi`.

Write training data for the shipped model:
    python -m tests.linkage.province_records --persons 20000 --seed 7 --out /tmp/province.parquet
    python -m linkage.training --records /tmp/province.parquet --out linkage/models/
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from linkage import normalise_record
from mpi.xml130 import parse_submission
from synth import generate_province

XML1_FIELDS = (
    "HO_TEN", "NGAY_SINH", "GIOI_TINH", "SO_CCCD", "MA_THE_BHYT", "DIEN_THOAI", "MATINH_CU_TRU",
    "MAHUYEN_CU_TRU", "MAXA_CU_TRU", "DIA_CHI", "MA_CSKCB", "MA_BN",
)  # fmt: skip


def province_records(*, persons: int, seed: int, workdir: Path | None = None) -> pa.Table:
    """One row per encounter: canonical columns, `unique_id` (0..n-1) and the true `person_id`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = workdir or Path(tmp)
        generate_province(persons=persons, seed=seed, out=out)
        truth = pq.read_table(out / "truth.parquet", columns=["facility_code", "ma_lk", "person_id"])
        person_of = {
            (f, lk): pid for f, lk, pid in zip(*(truth.column(c).to_pylist() for c in truth.column_names), strict=True)
        }
        rows: list[dict[str, str | int | None]] = []
        for path in sorted((out / "xml").rglob("*.xml")):
            submission = parse_submission(path.read_bytes())
            for encounter in submission.encounters:
                summary = encounter.summary
                if summary is None:
                    continue
                raw = {name: summary.text(name) for name in XML1_FIELDS}
                facility = raw["MA_CSKCB"] or encounter.facility_code or submission.facility_code
                row = normalise_record(raw).to_row()
                row["person_id"] = person_of.get((facility, encounter.ma_lk))
                if row["person_id"] is None:
                    continue
                row["unique_id"] = len(rows)
                rows.append(row)
    return pa.Table.from_pylist(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    table = province_records(persons=args.persons, seed=args.seed)
    pq.write_table(table, args.out)
    print(f"{table.num_rows} records of {len(set(table.column('person_id').to_pylist()))} persons -> {args.out}")


if __name__ == "__main__":
    main()
