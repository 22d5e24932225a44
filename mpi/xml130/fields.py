"""The official QĐ 130 / 4750 field table, loaded from the CSV shipped beside this module.

The CSV is the field table of the QĐ 4750 appendix, verbatim (481 rows; what it does not say about the
format is in docs/xml130.md). Nothing here hand-copies a field: names, order, types and lengths come from
that file. What the CSV cannot say is added here in one place: which string fields hold dates, which hold ``;``-lists
that we query, and which "Số" fields are integers rather than decimals.

This module must never depend on the store or on HTTP.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final


class Kind(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    LIST = "list"


# `;`-separated fields (docs/xml130.md §6) that are queried as lists. Others stay strings with `;` inside.
LIST_FIELDS: Final = frozenset(
    {
        ("XML1", "MA_THE_BHYT"),
        ("XML1", "MA_DKBD"),
        ("XML1", "GT_THE_TU"),
        ("XML1", "GT_THE_DEN"),
        ("XML1", "MA_BENH_KT"),
        ("XML1", "MA_BENH_YHCT"),
        ("XML1", "MA_PTTT_QT"),
        ("XML1", "MA_KHOA"),
        ("XML1", "CAN_NANG_CON"),
        ("XML1", "NGAY_TAI_KHAM"),
        ("XML2", "MA_BAC_SI"),
        ("XML2", "MA_DICH_VU"),
        ("XML3", "MA_BAC_SI"),
        ("XML3", "NGUOI_THUC_HIEN"),
        ("XML3", "MA_GIUONG"),
        ("XML5", "NGUOI_THUC_HIEN"),
        ("XML6", "MA_TINH_TRANG_DK"),
        ("XML6", "MA_XU_TRI"),
        ("XML13", "MA_BENH_KT"),
        ("XML13", "MA_THE_BHYT"),
        ("XML14", "MA_BENH_KT"),
        ("XML14", "MA_THE_BHYT"),
    }
)

# The appendix lists XML15 SO_CCCD as "Số 15"; it is an identifier with leading zeros (docs/xml130.md §4).
STRING_OVERRIDES: Final = frozenset({("XML15", "SO_CCCD")})

# Dates the whole encounter is meaningless without: invalid -> the encounter is rejected.
MANDATORY_DATES: Final = frozenset({("XML1", "NGAY_SINH"), ("XML1", "NGAY_VAO"), ("XML1", "NGAY_RA")})

TABLE_NAMES: Final = tuple(f"XML{n}" for n in range(16))


@dataclass(frozen=True, slots=True)
class FieldDef:
    table: str
    """``XML0`` .. ``XML15``."""
    order: int
    name: str
    """The tag, exactly as the standard spells it (``MA_LK``)."""
    kind: Kind
    max_length: int | None
    """``None`` where the table says ``n`` (unbounded)."""
    official_type: str
    """``Chuỗi`` or ``Số`` as the QĐ 4750 table says."""
    description: str
    new_in_4750: bool
    amendment: str = ""
    """What the QĐ 4750 appendix changed or corrected for this field (its own words)."""

    @property
    def column(self) -> str:
        """The column name in the store: the tag in lower case."""
        return self.name.lower()

    @property
    def date_digits(self) -> int | None:
        return self.max_length if self.kind is Kind.DATETIME else None


def _kind(table: str, name: str, official_type: str, max_length: int | None) -> Kind:
    if (table, name) in LIST_FIELDS:
        return Kind.LIST
    if (table, name) in STRING_OVERRIDES:
        return Kind.STRING
    if official_type == "Số":
        # Codes, counts and percentages are integers; quantities and money carry decimals (docs/xml130.md §6).
        if name == "STT" or (max_length is not None and max_length < 10):
            return Kind.INTEGER
        return Kind.DECIMAL
    if max_length in (8, 12) and ("NGAY" in name or name.startswith("THOI") or name in _OTHER_DATES):
        return Kind.DATETIME
    return Kind.STRING


_OTHER_DATES: Final = frozenset({"BDDT_ARV", "NAM_NAM_LIEN_TUC", "TU_NGAY", "DEN_NGAY", "GT_THE_TU", "GT_THE_DEN"})


@cache
def field_table() -> MappingProxyType[str, tuple[FieldDef, ...]]:
    """All fields by table, in the official order."""
    text = resources.files(__package__).joinpath("fields_qd4750.csv").read_text(encoding="utf-8")
    by_table: dict[str, list[FieldDef]] = {t: [] for t in TABLE_NAMES}
    for row in csv.DictReader(text.splitlines(keepends=True)):
        raw_len = row["maxlen_effective_4750"].strip()
        max_length = None if raw_len in ("", "n") else int(raw_len)
        official_type = row["type_effective_4750"].strip()
        table, name = row["table"].strip(), row["field"].strip()
        by_table[table].append(
            FieldDef(
                table=table,
                order=int(row["order"]),
                name=name,
                kind=_kind(table, name, official_type, max_length),
                max_length=max_length,
                official_type=official_type,
                description=row["description_qd130"].strip(),
                new_in_4750=bool(row["new_in_4750"].strip()),
                amendment=row["amendment_qd4750"].strip(),
            )
        )
    return MappingProxyType({t: tuple(sorted(fs, key=lambda f: f.order)) for t, fs in by_table.items()})


@cache
def fields_by_name(table: str) -> MappingProxyType[str, FieldDef]:
    return MappingProxyType({f.name: f for f in field_table()[table]})
