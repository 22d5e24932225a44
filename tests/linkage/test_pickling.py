"""Dataclasses pickled by their fields (linkage.pickling.by_fields): equal after the round trip."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import datetime

import pytest

from linkage import normalise_record
from linkage.normalise.dates import PartialDate
from linkage.pickling import by_fields
from mpi.xml130 import parse_submission
from mpi.xml130.signature import SignatureCheck
from mpi.xml130.values import PartialDateTime, Precision
from tests.builders import envelope, outpatient


def _round_trip(obj: object) -> object:
    return pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def test_parsed_files_and_their_parts_round_trip_equal() -> None:
    parsed = parse_submission(envelope([outpatient("LKPK0001"), outpatient("LKPK0002", HO_TEN="")]))
    encounter = parsed.encounters[0]
    encounter.derived["step"] = normalise_record({"HO_TEN": "Nguyễn Văn A", "NGAY_SINH": "19800102"})
    parsed.signature_check = SignatureCheck("unsigned")
    assert parsed.encounters[1].issues and encounter.tables["XML1"].rows[0].values
    back = _round_trip(parsed)
    assert back == parsed
    assert type(back.encounters[0].tables["XML1"].rows[0]) is type(encounter.tables["XML1"].rows[0])
    for obj in (
        PartialDate(1980, 1, 2),
        PartialDateTime(datetime(2025, 3, 9, 7, 5), Precision.MINUTE, 12),
        parsed.encounters[1].issues[0],
    ):
        assert _round_trip(obj) == obj
        assert type(obj).__reduce__ is not object.__reduce__


def test_only_dataclasses_whose_fields_init_takes() -> None:
    class Plain:
        pass

    @dataclasses.dataclass
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    @dataclasses.dataclass
    class Checked:
        a: int

        def __post_init__(self) -> None:
            self.a += 1

    for cls in (Plain, Derived, Checked):
        with pytest.raises(TypeError):
            by_fields(cls)


@by_fields
@dataclasses.dataclass(frozen=True, slots=True)
class _One:
    value: int


def test_a_dataclass_of_one_field() -> None:
    assert _round_trip(_One(3)) == _One(3)
