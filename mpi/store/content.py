"""Tables holding the content of XML1..XML15, generated from the official field table.

One table per LOAIHOSO (``xml1`` .. ``xml15``), one row per record, one typed column per official field:
strings keep leading zeros, ``;``-lists are JSON arrays, money is exact decimal, and each date has a
companion ``<field>_precision`` column (year / month / day / minute). Every row also keeps ``raw``: the
text of each element exactly as sent, including elements the field table does not know.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel

from mpi.store.types import ExactDecimal
from mpi.xml130.fields import FieldDef, Kind, field_table

CONTENT_TABLES: Final = tuple(f"XML{n}" for n in range(1, 16))

# Indexes for the read paths that query content directly (mpi.records): referrals addressed to a
# facility (XML1 and XML13 MA_NOI_DEN).
EXTRA_INDEXES: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "XML1": (("ma_noi_den",),),
    "XML13": (("ma_noi_den",),),
}


def _column_type(fdef: FieldDef) -> TypeEngine[Any]:
    match fdef.kind:
        case Kind.INTEGER:
            return BigInteger()
        case Kind.DECIMAL:
            return ExactDecimal()
        case Kind.DATETIME:
            return DateTime()
        case Kind.LIST:
            return JSON()
        case Kind.STRING:
            # No length: an over-long value is a warning, and it is stored whole.
            return Text()
    raise AssertionError(fdef.kind)  # pragma: no cover


def _build(loaihoso: str) -> Table:
    columns: list[Column[Any]] = [
        Column("id", Integer, primary_key=True),
        Column("encounter_id", Integer, ForeignKey("encounter.id"), nullable=False, index=True),
        Column("row_no", Integer, nullable=False),
    ]
    for fdef in field_table()[loaihoso]:
        columns.append(Column(fdef.column, _column_type(fdef), nullable=True))
        if fdef.kind is Kind.DATETIME:
            columns.append(Column(f"{fdef.column}_precision", String(6), nullable=True))
    columns.append(Column("raw", JSON, nullable=False))
    name = loaihoso.lower()
    indexes = [Index(f"ix_{name}_{'_'.join(cols)}", *cols) for cols in EXTRA_INDEXES.get(loaihoso, ())]
    return Table(name, SQLModel.metadata, *columns, *indexes)


content_tables: Final[dict[str, Table]] = {name: _build(name) for name in CONTENT_TABLES}
