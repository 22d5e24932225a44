"""The facts' vectorised CCCD check agrees with linkage's, case by case."""

from __future__ import annotations

import duckdb
import pytest

from linkage import PartialDate, classify_national_id
from mpi.reports.facts import _cccd_valid_sql

# (SO_CCCD as sent, GIOI_TINH, birth year)
CASES = [
    ("001090012345", 1, 1990),  # valid, male 1900s
    ("001190012345", 2, 1990),  # valid, female 1900s
    ("001205012345", 1, 2005),  # valid, male 2000s
    ("001305012345", 2, 2005),  # valid, female 2000s
    ("001 090 012 345", 1, 1990),  # separators
    ("001.090.012.345", 1, 1990),
    ("999090012345", 1, 1990),  # province code not assigned
    ("001490012345", 1, 1990),  # century 2100
    ("001190012345", 1, 1990),  # sex digit says female
    ("001090012345", 3, 1990),  # sex 3: not checked
    ("001090012345", None, 1990),
    ("001290012345", 1, 1990),  # century 2000s, born 1990
    ("001091012345", 1, 1990),  # year 91 vs 1990
    ("001090012345", 1, None),  # no birth year: not checked
    ("111111111111", 1, 1990),  # placeholder
    ("000000000000", None, None),
    ("00109001234", 1, 1990),  # 11 digits
    ("0010900123456", 1, 1990),
    ("123456789", 1, 1990),  # CMND
    ("B1234567", 1, 1990),  # passport
    ("undefined", 1, 1990),
    ("034185001234", 2, 1985),
]


@pytest.mark.parametrize(("raw", "sex", "year"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_vectorised_cccd_check_equals_linkage(raw: str, sex: int | None, year: int | None) -> None:
    nid = classify_national_id(raw, sex=sex, dob=PartialDate(year) if year else None)
    expected = nid is not None and nid.kind == "CCCD" and not nid.issues
    con = duckdb.connect()
    got = con.execute(
        f"SELECT coalesce({_cccd_valid_sql()}, false) FROM (SELECT upper(regexp_replace(?, '[\\s.\\-]', '', 'g')) "
        "AS v, ?::INTEGER AS sex, ?::INTEGER AS birth_year)",
        [raw, sex, year],
    ).fetchone()
    assert got is not None and got[0] is expected
