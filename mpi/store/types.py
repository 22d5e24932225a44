"""Column types that keep values exact on both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def _canonical_text(value: Decimal | None) -> str | None:
    """An amount as SQLite keeps it: its exact decimal text (no exponent)."""
    return None if value is None else format(value, "f")


class ExactDecimal(TypeDecorator[Decimal]):
    """Decimal stored exactly: NUMERIC on PostgreSQL, canonical text on SQLite.

    SQLite has no decimal type; SQLAlchemy's Numeric there goes through a float and would lose the
    last digits of a 15-digit amount with 3 decimals. Money must round-trip to the đồng.
    """

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(28, 6))
        return dialect.type_descriptor(String(40))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return value
        return _canonical_text(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, :func:`_canonical_text` itself (the text column takes it as it is): the same value as
        ``process_bind_param``, without the generic processor's two calls around it, for every amount an
        ingest writes (a few dozen per encounter)."""
        if dialect.name == "postgresql" or self.impl_instance.bind_processor(dialect) is not None:
            return super().bind_processor(dialect)
        return _canonical_text

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))
