"""The field table: 481 official fields, their kinds, and the official tag order of the BHXH templates."""

from __future__ import annotations

import csv
from collections import Counter
from importlib import resources

import pytest

from mpi.xml130 import Kind, field_table, fields_by_name
from tests.builders import template_fields


def _csv_counts() -> Counter[str]:
    text = resources.files("mpi.xml130").joinpath("fields_qd4750.csv").read_text(encoding="utf-8")
    return Counter(row["table"] for row in csv.DictReader(text.splitlines(keepends=True)))


def test_481_fields() -> None:
    assert sum(len(fields) for fields in field_table().values()) == 481


def test_per_table_counts_equal_the_csv() -> None:
    counts = {table: len(fields) for table, fields in field_table().items()}
    assert counts == dict(_csv_counts())
    assert counts == {
        "XML0": 26, "XML1": 66, "XML2": 39, "XML3": 47, "XML4": 12, "XML5": 9, "XML6": 47, "XML7": 26,
        "XML8": 22, "XML9": 35, "XML10": 13, "XML11": 23, "XML12": 35, "XML13": 39, "XML14": 22, "XML15": 20,
    }


@pytest.mark.parametrize(
    ("table", "name", "kind", "max_length"),
    [
        ("XML1", "NGAY_SINH", Kind.DATETIME, 12),
        ("XML1", "NGAY_VAO", Kind.DATETIME, 12),
        ("XML1", "NAM_NAM_LIEN_TUC", Kind.DATETIME, 8),
        ("XML1", "T_TONGCHI_BV", Kind.DECIMAL, 15),
        ("XML2", "SO_LUONG", Kind.DECIMAL, 10),
        ("XML1", "GIOI_TINH", Kind.INTEGER, 1),
        ("XML1", "STT", Kind.INTEGER, 10),
        ("XML2", "TYLE_TT_BH", Kind.INTEGER, 3),
        ("XML1", "MA_BENH_KT", Kind.LIST, 100),
        ("XML1", "MA_THE_BHYT", Kind.LIST, None),
        ("XML15", "SO_CCCD", Kind.STRING, 15),
        ("XML1", "SO_CCCD", Kind.STRING, 15),
        ("XML1", "MA_LK", Kind.STRING, 100),
        ("XML1", "MA_LOAI_KCB", Kind.STRING, 2),
        ("XML1", "CAN_NANG", Kind.STRING, 6),
        ("XML14", "NGAY_HEN_KL", Kind.DATETIME, 12),
        ("XML7", "NGAY_CT", Kind.DATETIME, 8),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_kind_of_known_fields(table: str, name: str, kind: Kind, max_length: int | None) -> None:
    fdef = fields_by_name(table)[name]
    assert (fdef.kind, fdef.max_length) == (kind, max_length)


def test_ma_lk_opens_every_table_but_xml12() -> None:
    """XML12, the assessment entered on the portal, is the one table without the encounter key."""
    first = {table: fields[0].name for table, fields in field_table().items()}
    assert {t for t, name in first.items() if name != "MA_LK"} == {"XML12"}


@pytest.mark.parametrize("table", [f"XML{n}" for n in range(1, 16) if n != 12])
def test_order_matches_the_official_template(table: str) -> None:
    assert [f.name for f in field_table()[table]] == template_fields(table)


@pytest.mark.parametrize("table", [f"XML{n}" for n in range(16)])
def test_order_numbers_are_1_to_n(table: str) -> None:
    assert [f.order for f in field_table()[table]] == list(range(1, len(field_table()[table]) + 1))
