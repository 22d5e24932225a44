"""Dates of birth with precision, from XML 130 `yyyymmddHHMM` with 0000 parts."""

import pytest

from linkage.normalise.dates import PartialDate, parse_partial_date


@pytest.mark.parametrize(
    ("raw", "expected", "precision", "iso"),
    [
        pytest.param("198503070000", PartialDate(1985, 3, 7), "day", "1985-03-07", id="day-unknown-time"),
        pytest.param(
            "202405010830", PartialDate(2024, 5, 1, 8, 30), "minute", "2024-05-01T08:30", id="newborn-time"
        ),
        pytest.param("195600000000", PartialDate(1956), "year", "1956", id="year-only"),
        pytest.param("194807000000", PartialDate(1948, 7), "month", "1948-07", id="month-only"),
        pytest.param("19850307", PartialDate(1985, 3, 7), "day", "1985-03-07", id="eight-digits"),
        pytest.param("19560000", PartialDate(1956), "year", "1956", id="eight-digits-year-only"),
        pytest.param(" 200002290000 ", PartialDate(2000, 2, 29), "day", "2000-02-29", id="leap-day-stripped"),
    ],
)
def test_parse_partial_date(raw: str, expected: PartialDate, precision: str, iso: str) -> None:
    parsed = parse_partial_date(raw)
    assert parsed == expected
    assert parsed is not None
    assert (parsed.precision, parsed.iso()) == (precision, iso)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("1985-03-07", id="iso-separators"),
        pytest.param("198513070000", id="month-13"),
        pytest.param("190002290000", id="not-a-leap-year"),
        pytest.param("198503072460", id="time-24"),
        pytest.param("198500070000", id="day-without-month"),
        pytest.param("198503000830", id="time-without-day"),
        pytest.param("180001010000", id="year-too-early"),
        pytest.param("19850307000", id="eleven-digits"),
        pytest.param("１９８５０３０７", id="fullwidth-digits"),
    ],
)
def test_parse_partial_date_rejects(raw: str | None) -> None:
    assert parse_partial_date(raw) is None


@pytest.mark.parametrize(
    ("a", "b", "compatible"),
    [
        pytest.param(PartialDate(1956), PartialDate(1956, 4, 2), True, id="year-only-vs-full"),
        pytest.param(PartialDate(1956, 4), PartialDate(1956, 5, 2), False, id="month-differs"),
        pytest.param(PartialDate(2024, 5, 1, 8, 30), PartialDate(2024, 5, 1), True, id="time-vs-day"),
        pytest.param(PartialDate(1957), PartialDate(1956), False, id="year-differs"),
    ],
)
def test_compatible_uses_only_known_parts(a: PartialDate, b: PartialDate, compatible: bool) -> None:
    assert a.compatible(b) is compatible
    assert b.compatible(a) is compatible


def test_sort_key_and_placeholder_flag() -> None:
    dates = [PartialDate(1956, 4, 2), PartialDate(1956), PartialDate(1955, 12, 31)]
    assert sorted(dates, key=PartialDate.sort_key) == [PartialDate(1955, 12, 31), PartialDate(1956), dates[0]]
    assert PartialDate(1960, 1, 1).is_january_first is True
    assert PartialDate(1960).is_january_first is False
