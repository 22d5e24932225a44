"""Bounded numeric parameters for every route: a value the store cannot hold is a 422, never a 500.

Database ids are INTEGER columns: 32-bit signed on PostgreSQL (SQLite's are 64-bit), so an id above
2^31-1 names nothing and is refused before it reaches a query (PostgreSQL would fail on it, SQLite
overflows above 2^63-1). Offsets have the same bound, so ``offset + limit`` cannot overflow either.
Non-ASCII digits (``'١'``, ``'²'``) are not integers to the request parser, so they are refused too.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Path, Query

MAX_DB_INT: Final = 2**31 - 1
MAX_OFFSET: Final = 2**31 - 1

DbId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_OFFSET // 1000)]
