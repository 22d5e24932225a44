"""FHIR search and operation parameters: what each interaction accepts, what it ignores (answered as a
warning), and the shapes FHIR gives them (token with ``system|value`` and comma-ORs, dates with prefixes,
``_count``, ``_summary``).

Errors in a parameter the interaction supports are 400 (``ParamInvalid``) with where and why; parameters
it does not support are ignored and listed, so the answer can say so (an ``OperationOutcome`` warning in
the Bundle), unless the client asked for ``Prefer: handling=strict``, which makes them a 400 too.
Never logs a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from mpi.errors import MPIError

DEFAULT_COUNT: Final = 20
MAX_COUNT: Final = 200
RESULT_PARAMETERS: Final = frozenset({"_count", "_summary", "_format", "_page", "_pretty"})
"""Accepted by every search and paged operation."""
_FHIR_DATE: Final = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")
_PREFIXES: Final = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


class ParamInvalid(MPIError):
    """A supported parameter with a value it cannot take (HTTP 400)."""

    code = "parameter_invalid"
    status = 400


class ParamUnsupported(MPIError):
    """A parameter the interaction does not support, refused because the client asked for strict handling."""

    code = "parameter_unsupported"
    status = 400


@dataclass(frozen=True, slots=True)
class TokenQuery:
    """One ``[system|]value`` alternative of a token parameter.

    ``system`` None with ``any_system`` True: a bare value, any system. ``system`` None with ``any_system``
    False: ``|value``, identifiers without a system. ``value`` None: ``system|``, any value of that system.
    """

    system: str | None
    value: str | None
    any_system: bool


@dataclass(slots=True)
class Params:
    values: dict[str, list[str]] = field(default_factory=dict)
    """Supported parameters (other than the result parameters) -> their values, repeats kept in order."""
    ignored: list[str] = field(default_factory=list)
    """Names of parameters that were ignored (unsupported, or not applicable)."""
    count: int = DEFAULT_COUNT
    summary_count: bool = False
    page: str | None = None
    used: list[tuple[str, str]] = field(default_factory=list)
    """The parameters that shaped the answer, as given (for the Bundle's self link)."""

    def one(self, name: str) -> str | None:
        """The value of a parameter that may appear once (a repeat is a 400: AND of two values is empty)."""
        values = self.values.get(name, [])
        if len(values) > 1:
            raise ParamInvalid(f"parameter '{name}' may appear only once")
        return values[0] if values else None


def parse(
    pairs: Iterable[tuple[str, str]],
    *,
    supported: Iterable[str],
    strict: bool = False,
    paged: bool = True,
    exact: Iterable[str] = (),
) -> Params:
    """Sort a request's parameters into supported, result and ignored ones. ``exact``: the supported string
    parameters that also take the ``:exact`` modifier (kept under ``name:exact``); other modifiers are
    ignored like unsupported parameters."""
    allowed = frozenset(supported)
    exact_ok = frozenset(exact)
    params = Params()
    for name, value in pairs:
        base = name.split(":", 1)[0]
        if (base in allowed and ":" not in name) or (base in exact_ok and name == f"{base}:exact"):
            params.values.setdefault(name, []).append(value)
            params.used.append((name, value))
        elif paged and name == "_count":
            params.count = _count(value)
            params.used.append((name, value))
        elif paged and name == "_summary":
            if value == "count":
                params.summary_count = True
                params.used.append((name, value))
            elif value != "false":
                _ignore(params, name, strict, why="only _summary=count is supported")
            else:
                params.used.append((name, value))
        elif paged and name == "_page":
            params.page = value
        elif name in ("_format", "_pretty"):
            continue  # content negotiation, handled by the HTTP layer
        else:
            _ignore(params, name, strict, why="not supported here")
    if params.count == 0:
        params.summary_count = True
    return params


def _ignore(params: Params, name: str, strict: bool, *, why: str) -> None:
    if strict:
        raise ParamUnsupported(f"parameter '{name}' is {why} (Prefer: handling=strict)")
    params.ignored.append(name)


def _count(value: str) -> int:
    if not value.strip().isdigit():
        raise ParamInvalid("_count must be a whole number (0 for the total only)")
    return min(int(value), MAX_COUNT)


def split_commas(value: str) -> list[str]:
    """A parameter value's comma-separated alternatives, with FHIR's ``\\,`` escape honoured."""
    parts, current, escaped = [], [], False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def tokens(value: str, *, name: str) -> list[TokenQuery]:
    """The alternatives (OR) of one token parameter value."""
    out = []
    for part in split_commas(value):
        system, bar, code = part.partition("|")
        if not bar:
            if not part.strip():
                raise ParamInvalid(f"parameter '{name}' has an empty value")
            out.append(TokenQuery(system=None, value=part.strip(), any_system=True))
        elif not system and not code.strip():
            raise ParamInvalid(f"parameter '{name}': '|' alone names neither a system nor a value")
        else:
            out.append(TokenQuery(system=system or None, value=code.strip() or None, any_system=False))
    return out


def date_prefixed(value: str, *, name: str) -> tuple[str, str]:
    """A date parameter's prefix (``eq`` when none) and FHIR date; ``ap`` is not supported (what is
    "approximately" a birth date is the matcher's business: ``$match``)."""
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    text = value[2:] if value[:2] in _PREFIXES else value
    if prefix == "ap":
        raise ParamInvalid(f"parameter '{name}': the 'ap' prefix is not supported (use $match for approximate)")
    if not _FHIR_DATE.fullmatch(text):
        raise ParamInvalid(f"parameter '{name}' must be a date YYYY, YYYY-MM or YYYY-MM-DD, optionally prefixed")
    return prefix, text


def types(values: Sequence[str], *, allowed: Sequence[str]) -> frozenset[str] | None:
    """``_type``: every value's comma-separated types together (repeats are a union, not the last one)."""
    if not values:
        return None
    wanted = frozenset(t.strip() for v in values for t in split_commas(v) if t.strip())
    unknown = sorted(wanted - set(allowed))
    if unknown:
        raise ParamInvalid(f"_type names types this operation does not return: {', '.join(unknown)}")
    return wanted
