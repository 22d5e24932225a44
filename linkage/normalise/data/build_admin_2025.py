"""Developer tool: regenerate the 2025 administrative-unit tables shipped beside this file.

Never imported at run time. It reads the data files of the PyPI package `vietnamadminunits`
(MIT licence, https://github.com/tranngocminhhieu/vietnamadminunits; built from danhmuchanhchinh.gso.gov.vn
and sapnhap.bando.com.vn) and writes two small CSV files keyed by code, so the linkage engine needs
neither that package nor its dependencies (shapely, geopy) at run time:

- `admin_2025_communes.csv`: every post-2025 commune (xã / phường / đặc khu): new_commune, new_province, name.
- `admin_2025_old_to_new.csv`: every pre-2025 commune: old_commune, old_district, old_province,
  new_commune, new_province, split_into (0 = wholly merged into one new commune; n > 1 = the old
  commune was divided among n new communes and new_commune is the package's "default" one, the
  one holding most of it).

Run:  python -m pip install vietnamadminunits==1.0.4 && python linkage/normalise/data/build_admin_2025.py
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import vietnamadminunits  # type: ignore[import-not-found,unused-ignore]

HERE = Path(__file__).parent


def main() -> None:
    root = Path(vietnamadminunits.__file__).parent / "data"
    conv = json.loads((root / "converter_2025.json").read_text(encoding="utf-8"))
    db = sqlite3.connect(root / "dataset.db")
    legacy = db.execute(
        "select provinceKey, districtKey, wardKey, provinceCode, districtCode, wardCode"
        " from admin_units_legacy"
    ).fetchall()
    new = db.execute("select provinceKey, wardKey, provinceCode, wardCode, ward from admin_units").fetchall()
    new_by_key = {(p, w): (pc, wc) for p, w, pc, wc, _ in new}
    no_divided: dict[str, tuple[str, str]] = {}
    for new_p, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_w, olds in wards.items():
            for old in olds:
                no_divided[old] = (new_p, new_w)
    divided: dict[str, tuple[str, str, int]] = {}
    for new_p, wards in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, parts in wards.items():
            default = next(x["newWardKey"] for x in parts if x["isDefaultNewWard"])
            divided[old] = (new_p, default, len(parts))
    rows = []
    for pk, dk, wk, pc, dc, wc in legacy:
        key = f"{pk}_{dk}_{wk}"
        split = 0
        if key in no_divided:
            target = no_divided[key]
        elif key in divided:
            new_p, new_w, split = divided[key]
            target = (new_p, new_w)
        else:
            continue  # a handful of legacy units (islands without communes) have no commune target
        if target not in new_by_key:
            continue
        new_pc, new_wc = new_by_key[target]
        rows.append((wc, dc, pc, new_wc, new_pc, split))
    rows.sort()
    with (HERE / "admin_2025_old_to_new.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        header = ["old_commune", "old_district", "old_province", "new_commune", "new_province", "split_into"]
        out.writerow(header)
        out.writerows(rows)
    with (HERE / "admin_2025_communes.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["new_commune", "new_province", "name"])
        out.writerows(sorted((wc, pc, name) for _, _, pc, wc, name in new))


if __name__ == "__main__":
    main()
