"""Dataclasses pickled as their fields' values, in order.

Parsed files cross a process boundary on the ingest path (``mpi ingest``'s parsing workers and a server's
intake process hand them to the process that stores them). A frozen dataclass with slots pickles through
:mod:`dataclasses`' own ``__getstate__``/``__setstate__``, which look up the class's fields for every object
and set each attribute apart; a dataclass decorated with :func:`by_fields` pickles as a call of its class
with its field values in order, which costs both ends a fraction of that (``tests/linkage/test_pickling.py``
checks every such class round-trips equal).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["by_fields"]

T = TypeVar("T")


def by_fields(cls: type[T]) -> type[T]:
    """Pickle instances of dataclass ``cls`` as ``cls(*field values)`` (apply it above ``@dataclass``).
    Every field must be an ``__init__`` parameter, and ``__init__`` must take the stored values as they are
    (no ``__post_init__`` that changes them)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    fields = dataclasses.fields(cls)
    if not all(f.init for f in fields) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: every field must be given to __init__, unchanged")
    names = [f.name for f in fields]
    values: Callable[[Any], Any] = operator.attrgetter(*names)
    if len(names) == 1:
        one = values
        values = lambda obj: (one(obj),)  # noqa: E731 - attrgetter of one name answers the value alone

    def __reduce__(self: T) -> tuple[type[T], tuple[Any, ...]]:
        return cls, values(self)

    setattr(cls, "__reduce__", __reduce__)  # noqa: B010 - assigned to the class that @dataclass made
    return cls
