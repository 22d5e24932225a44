"""Typing the records of one inner table against the field table, collecting every value problem.

A row keeps two things: ``values`` (typed, by tag) and ``raw`` (the exact text of every element,
including elements the field table does not know). Storing ``raw`` is what makes ingest lossless.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any, Final

from lxml import etree

from linkage.pickling import by_fields
from mpi.xml130.fields import MANDATORY_DATES, FieldDef, Kind, fields_by_name
from mpi.xml130.issues import Issue, issue
from mpi.xml130.values import (
    UNDEFINED_LITERALS,
    ValueProblem,
    parse_datetime,
    parse_decimal,
    parse_integer,
    parse_list,
)

# Shape rules for code fields (docs/xml130.md §5, §7). A mismatch is a warning: real exports deviate
# (docs/xml130.md §10).
_CODE_SHAPES: Final[dict[str, tuple[re.Pattern[str], str]]] = {
    "MA_CSKCB": (re.compile(r"\d{5}"), "expected 5 digits"),
    "MA_NOI_DI": (re.compile(r"\d{5}"), "expected 5 digits"),
    "MA_NOI_DEN": (re.compile(r"\d{5}"), "expected 5 digits"),
    "MA_NGHE_NGHIEP": (re.compile(r"\d{5}"), "expected 5 digits (00000 when none)"),
    "MA_DANTOC": (re.compile(r"\d{2}"), "expected 2 digits"),
    "MA_QUOCTICH": (re.compile(r"\d{3}"), "expected 3 digits"),
    "MA_LOAI_KCB": (re.compile(r"\d{2}"), "expected 2 digits"),
    "MA_TTDV": (re.compile(r"\d{10}"), "expected a 10-digit BHXH number"),
}
_SHAPED: Final = frozenset({*_CODE_SHAPES, "SO_CCCD"})
_DECIMAL_TEXT: Final = re.compile(r"-?\d+(\.\d+)?", re.ASCII)
"""What :func:`mpi.xml130.values.parse_decimal` accepts, in ASCII digits only (others take the full path)."""
_CARD: Final = re.compile(r"[A-Z]{2}[1-5]\d{12}|\d{10}")
_CCCD: Final = re.compile(r"\d{9}|\d{12}|[A-Z]\d{7}")


@by_fields
@dataclass(slots=True)
class ParsedRow:
    index: int
    """1-based position of the record in its table."""
    values: dict[str, Any] = field(default_factory=dict)
    """Typed values by official tag; absent or empty elements are absent here."""
    raw: dict[str, str] = field(default_factory=dict)
    """Every element's text exactly as sent (after legacy renaming, keyed by the current tag)."""

    def text(self, name: str) -> str | None:
        value = self.raw.get(name, "").strip()
        return value or None


_MANDATORY_BY_TABLE: Final[dict[str, tuple[str, ...]]] = {
    table: tuple(name for t, name in sorted(MANDATORY_DATES) if t == table) for table, _ in MANDATORY_DATES
}


_SLOW: Final = object()
"""What a field's fast converter answers when the value needs the full check (it may raise an issue)."""
_Converter = Callable[[str], Any]


def _fast_converter(fdef: FieldDef) -> _Converter:
    """The typed value of a well-formed value in one step, or ``_SLOW``: then :func:`_typed` decides, with
    its issues. Each converter accepts only what :func:`_typed` would type without any issue, to the same
    value, so the result never depends on which path ran."""
    limit = fdef.max_length
    kind = fdef.kind
    if kind is Kind.STRING and fdef.name not in _SHAPED:
        if limit is None:
            return lambda text: text if text not in UNDEFINED_LITERALS else _SLOW
        return lambda text: text if len(text) <= limit and text not in UNDEFINED_LITERALS else _SLOW
    bound = limit if limit is not None else 1 << 30
    if kind is Kind.STRING:  # a code with a shape rule (or SO_CCCD)
        shape = _CCCD.fullmatch if fdef.name == "SO_CCCD" else _CODE_SHAPES[fdef.name][0].fullmatch

        def code(text: str) -> Any:
            return text if len(text) <= bound and text not in UNDEFINED_LITERALS and shape(text) else _SLOW

        return code
    if kind is Kind.LIST and fdef.name != "MA_THE_BHYT":  # (card codes have a shape rule: the full path)

        def items(text: str) -> Any:
            if len(text) > bound or text in UNDEFINED_LITERALS:
                return _SLOW
            return [text] if ";" not in text else parse_list(text)

        return items
    if kind is Kind.INTEGER:

        def integer(text: str) -> Any:
            return int(text) if len(text) <= bound and text.isascii() and text.isdigit() else _SLOW

        return integer
    if kind is Kind.DECIMAL:
        number = _DECIMAL_TEXT.fullmatch

        def decimal(text: str) -> Any:
            return Decimal(text) if len(text) <= bound and number(text) is not None else _SLOW

        return decimal
    if kind is Kind.DATETIME and limit is not None and fdef.name != "NGAY_MIEN_CCT":
        # the field's own length, all ASCII digits; legacy tables take the full path (8 or 12 both legal)
        def date(text: str) -> Any:
            if len(text) != limit or not (text.isascii() and text.isdigit()):
                return _SLOW
            try:
                return parse_datetime(text)
            except ValueProblem:
                return _SLOW

        return date
    return lambda text: _SLOW


_PLAIN: Final = 0
"""A string field without a shape rule: well-formed when not over-long and not an undefined literal."""
_MEMO: Final = 1
"""A field typed by its fast converter, whose results are remembered (they are immutable values)."""
_EACH: Final = 2
"""A field typed by its fast converter every time (its values are mutable: lists)."""
_MEMO_SIZE: Final = 4096
"""Values remembered per field at most (dates, amounts and codes repeat across the rows of a file)."""


@dataclass(slots=True)
class _Field:
    """How the fast path types one field: see :func:`_fast_converter`."""

    fdef: FieldDef
    convert: _Converter
    mode: int
    limit: int
    memo: dict[str, Any]


@cache
def _converters(table: str) -> dict[str, _Field]:
    """Per field of ``table``: its definition, fast converter and typing mode, built once from the field table."""
    out = {}
    for name, fdef in fields_by_name(table).items():
        plain = fdef.kind is Kind.STRING and name not in _SHAPED
        # lists are mutable: never shared between rows, so never remembered
        mode = _PLAIN if plain else _MEMO if fdef.kind is not Kind.LIST else _EACH
        limit = fdef.max_length if fdef.max_length is not None else 1 << 30
        out[name] = _Field(fdef, _fast_converter(fdef), mode, limit, {})
    return out


def type_row(
    record: etree._Element,
    *,
    table: str,
    index: int,
    hoso: int,
    renames: dict[str, str] | None,
    issues: list[Issue],
) -> ParsedRow:
    """Type one record element. Problems are appended to ``issues``; nothing is dropped.

    The usual record (current field names, no namespace, each field once and holding only text) takes one
    pass over its children; anything else takes :func:`_type_row_general`, which gives the same result.
    """
    if renames is not None:
        return _type_row_general(record, table=table, index=index, hoso=hoso, renames=renames, issues=issues)
    elements = list(record.iter())  # the record, then its descendants: all children when it has no grandchild
    if len(elements) != len(record) + 1:
        return _type_row_general(record, table=table, index=index, hoso=hoso, renames=renames, issues=issues)
    del elements[0]
    raw: dict[str, str] = {e.tag: e.text for e in elements}  # type: ignore[misc]
    converters = _converters(table)
    # a field sent twice, an unknown field or a namespaced tag
    if len(raw) != len(elements) or not converters.keys() >= raw.keys():
        return _type_row_general(record, table=table, index=index, hoso=hoso, renames=renames, issues=issues)
    values: dict[str, Any] = {}
    undefined = UNDEFINED_LITERALS
    for tag, text in raw.items():
        spec = converters[tag]
        if text is None:
            raw[tag] = ""
            continue
        stripped = text.strip()
        if not stripped:
            continue
        mode = spec.mode
        if mode == _PLAIN:
            if len(stripped) <= spec.limit and stripped not in undefined:
                values[tag] = stripped
                continue
        elif mode == _MEMO:
            value = spec.memo.get(stripped)
            if value is not None:
                values[tag] = value
                continue
            value = spec.convert(stripped)
            if value is not _SLOW:
                if len(spec.memo) >= _MEMO_SIZE:
                    spec.memo.clear()
                spec.memo[stripped] = values[tag] = value
                continue
        else:
            value = spec.convert(stripped)
            if value is not _SLOW:
                values[tag] = value
                continue
        value = _typed(spec.fdef, stripped, legacy=False, hoso=hoso, row=index, issues=issues)
        if value is not None:
            values[tag] = value
    _check_mandatory(raw, table=table, index=index, hoso=hoso, issues=issues)
    return ParsedRow(index, values, raw)


def _type_row_general(
    record: etree._Element,
    *,
    table: str,
    index: int,
    hoso: int,
    renames: dict[str, str] | None,
    issues: list[Issue],
) -> ParsedRow:
    """:func:`type_row` for any record: legacy names, namespaces, unknown or repeated fields, nested elements."""
    converters = _converters(table)
    raw: dict[str, str] = {}
    values: dict[str, Any] = {}
    legacy = renames is not None
    for element in record:  # the parser drops comments and PIs: every child is an element
        tag: str = element.tag
        if tag[0] == "{":
            tag = tag.rsplit("}", 1)[1]
        if renames is not None:
            tag = renames.get(tag, tag)
        text = element.text
        if len(element):
            text = "".join(str(part) for part in element.itertext())
        elif text is None:
            text = ""
        raw[tag] = text
        found = converters.get(tag)
        if found is None:
            issues.append(issue("unknown_field", hoso=hoso, table=table, row=index, field=tag))
            continue
        stripped = text.strip()
        if stripped:
            value = _SLOW if legacy else found.convert(stripped)
            if value is _SLOW:
                value = _typed(found.fdef, stripped, legacy=legacy, hoso=hoso, row=index, issues=issues)
            if value is not None:
                values[tag] = value
    _check_mandatory(raw, table=table, index=index, hoso=hoso, issues=issues)
    return ParsedRow(index, values, raw)


def _check_mandatory(raw: dict[str, str], *, table: str, index: int, hoso: int, issues: list[Issue]) -> None:
    for name in _MANDATORY_BY_TABLE.get(table, ()):
        if not raw.get(name, "").strip():
            issues.append(issue("date_mandatory", hoso=hoso, table=table, row=index, field=name, detail="missing"))


def _typed(fdef: FieldDef, text: str, *, legacy: bool, hoso: int, row: int, issues: list[Issue]) -> Any:
    """Type a non-empty, stripped value. The well-formed case builds no issue location."""
    kind = fdef.kind
    if (
        kind is Kind.STRING
        and fdef.name not in _SHAPED
        and (fdef.max_length is None or len(text) <= fdef.max_length)
        and text not in UNDEFINED_LITERALS
    ):
        return text
    loc: dict[str, Any] = {"hoso": hoso, "table": fdef.table, "row": row, "field": fdef.name}
    if text in UNDEFINED_LITERALS:
        issues.append(issue("undefined_literal", found=text, **loc))
        return None
    if fdef.max_length is not None and len(text) > fdef.max_length and kind is not Kind.DATETIME:
        issues.append(issue("too_long", length=len(text), limit=fdef.max_length, **loc))
    try:
        match kind:
            case Kind.STRING:
                _check_shape(fdef, text, loc, issues)
                return text
            case Kind.LIST:
                items = parse_list(text)
                if fdef.name == "MA_THE_BHYT":
                    bad = sum(1 for card in items if not _CARD.fullmatch(card))
                    if bad:
                        issues.append(issue("code_shape", detail=f"{bad} card code(s) of unexpected shape", **loc))
                return items
            case Kind.INTEGER:
                return parse_integer(text)
            case Kind.DECIMAL:
                return parse_decimal(text)
            case Kind.DATETIME:
                parsed = parse_datetime(text)
                expected = fdef.max_length
                lenient = legacy or fdef.name == "NGAY_MIEN_CCT"  # 8 or 12 are both legal there
                if expected is not None and parsed.digits != expected and not lenient:
                    issues.append(issue("date_short", found=parsed.digits, expected=expected, **loc))
                return parsed
    except ValueProblem as problem:
        if kind is Kind.DATETIME:
            code = "date_mandatory" if (fdef.table, fdef.name) in MANDATORY_DATES else "date_invalid"
            issues.append(issue(code, detail=problem.detail, **loc))
        else:
            issues.append(issue(problem.code, detail=problem.detail, **loc))
        return None
    raise AssertionError(f"unhandled kind {kind}")  # pragma: no cover


def _check_shape(fdef: FieldDef, text: str, loc: dict[str, Any], issues: list[Issue]) -> None:
    if fdef.name == "SO_CCCD":
        if not _CCCD.fullmatch(text):
            detail = f"{len(text)} characters, expected 9 or 12 digits or a passport number"
            issues.append(issue("cccd_shape", detail=detail, **loc))
        return
    shape = _CODE_SHAPES.get(fdef.name)
    if shape is not None and not shape[0].fullmatch(text):
        issues.append(issue("code_shape", detail=shape[1], **loc))


def sum_field(rows: Iterable[ParsedRow], name: str) -> Any:
    """Sum a decimal field over rows; rows without the value count as zero."""
    total = Decimal(0)
    for row in rows:
        value = row.values.get(name)
        if value is not None:
            total += value
    return total
