"""Typed values: dates with their precision, numbers, ``;``-lists (docs/xml130.md §6)."""

from __future__ import annotations

from datetime import datetime

import pytest

from mpi.xml130 import PartialDateTime, Precision
from mpi.xml130.values import ValueProblem, parse_datetime, parse_decimal, parse_integer, parse_list

VALID_DATES = [
    pytest.param("202603010815", datetime(2026, 3, 1, 8, 15), Precision.MINUTE, 12, id="12-digits"),
    pytest.param("20260301", datetime(2026, 3, 1), Precision.DAY, 8, id="8-digits"),
    pytest.param("194700000000", datetime(1947, 1, 1), Precision.YEAR, 12, id="year-only-12"),
    pytest.param("19470000", datetime(1947, 1, 1), Precision.YEAR, 8, id="year-only-8"),
    pytest.param("194705000000", datetime(1947, 5, 1), Precision.MONTH, 12, id="month-only-12"),
    pytest.param("19470500", datetime(1947, 5, 1), Precision.MONTH, 8, id="month-only-8"),
    pytest.param("199005150000", datetime(1990, 5, 15), Precision.DAY, 12, id="time-0000-is-day-precision"),
    pytest.param("202602282359", datetime(2026, 2, 28, 23, 59), Precision.MINUTE, 12, id="last-minute"),
    pytest.param("202402290700", datetime(2024, 2, 29, 7, 0), Precision.MINUTE, 12, id="leap-day"),
]


@pytest.mark.parametrize(("text", "value", "precision", "digits"), VALID_DATES)
def test_parse_datetime(text: str, value: datetime, precision: Precision, digits: int) -> None:
    assert parse_datetime(text) == PartialDateTime(value, precision, digits)


@pytest.mark.parametrize(("text", "value", "precision", "digits"), VALID_DATES)
def test_partial_datetime_format_round_trips(text: str, value: datetime, precision: Precision, digits: int) -> None:
    assert parse_datetime(text).format() == text


INVALID_DATES = [
    pytest.param("202613010815", "date_invalid", id="month-13"),
    pytest.param("20260230", "date_invalid", id="feb-30"),
    pytest.param("202302290000", "date_invalid", id="feb-29-non-leap"),
    pytest.param("202603012400", "date_invalid", id="hour-24"),
    pytest.param("202603010860", "date_invalid", id="minute-60"),
    pytest.param("194700150000", "date_invalid", id="day-without-month"),
    pytest.param("194705001200", "date_invalid", id="time-without-day"),
    pytest.param("184912310000", "date_invalid", id="year-too-early"),
    pytest.param("garbage", "date_format", id="garbage"),
    pytest.param("2026030108", "date_format", id="10-digits"),
    pytest.param("2026-03-01", "date_format", id="iso-separators"),
    pytest.param("01/03/2026", "date_format", id="dd/mm/yyyy"),
    pytest.param("", "date_format", id="empty"),
    pytest.param("2026030108150", "date_format", id="13-digits"),
]


@pytest.mark.parametrize(("text", "code"), INVALID_DATES)
def test_parse_datetime_refuses(text: str, code: str) -> None:
    with pytest.raises(ValueProblem) as excinfo:
        parse_datetime(text)
    assert excinfo.value.code == code


@pytest.mark.parametrize("text", ["184912310000", "230001010000", "199913450000"])
def test_date_problem_never_quotes_the_value(text: str) -> None:
    """A birth date is patient data: the detail may describe it but must not repeat any part of it."""
    with pytest.raises(ValueProblem) as excinfo:
        parse_datetime(text)
    assert text[:4] not in excinfo.value.detail


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("127000.00", "127000.00", id="money"),
        pytest.param("0", "0", id="zero"),
        pytest.param("10.000", "10.000", id="quantity-3-decimals"),
        pytest.param("-2500.50", "-2500.50", id="negative"),
        pytest.param("007", "7", id="leading-zeros"),
    ],
)
def test_parse_decimal(text: str, shown: str) -> None:
    """Exact decimals: the scale the facility wrote is kept (no float rounding)."""
    assert str(parse_decimal(text)) == shown


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("12,000.00", id="thousands-comma"),
        pytest.param("12.000,50", id="european"),
        pytest.param("1e5", id="exponent"),
        pytest.param(".5", id="no-integer-part"),
        pytest.param("12.", id="trailing-dot"),
        pytest.param("+5", id="plus-sign"),
        pytest.param("12 000", id="space-separator"),
        pytest.param("NaN", id="nan"),
        pytest.param("abc", id="letters"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_decimal_refuses(text: str) -> None:
    with pytest.raises(ValueProblem) as excinfo:
        parse_decimal(text)
    assert excinfo.value.code == "not_number"


@pytest.mark.parametrize(
    ("text", "value"),
    [pytest.param("2", 2, id="digit"), pytest.param("-1", -1, id="negative"), pytest.param("01", 1, id="leading-zero")],
)
def test_parse_integer(text: str, value: int) -> None:
    assert parse_integer(text) == value


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1.0", id="decimal"),
        pytest.param("Nữ", id="text"),
        pytest.param("+1", id="plus-sign"),
        pytest.param("", id="empty"),
        pytest.param("1 ", id="trailing-space"),
    ],
)
def test_parse_integer_refuses(text: str) -> None:
    with pytest.raises(ValueProblem) as excinfo:
        parse_integer(text)
    assert excinfo.value.code == "not_integer"


@pytest.mark.parametrize(
    ("text", "items"),
    [
        pytest.param("J03;K30.1", ["J03", "K30.1"], id="two"),
        pytest.param("K18", ["K18"], id="one"),
        pytest.param("a;;b;", ["a", "b"], id="empty-items-dropped"),
        pytest.param(" K18 ; K01 ", ["K18", "K01"], id="spaces-trimmed"),
        pytest.param(";", [], id="only-separator"),
        pytest.param("", [], id="empty"),
    ],
)
def test_parse_list(text: str, items: list[str]) -> None:
    assert parse_list(text) == items
