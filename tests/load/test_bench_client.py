"""The load benchmark's re-sent files: new encounters of the same persons, nothing else changed."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from bench.bench_load import _Resendable

FILE = Path(__file__).parents[1] / "fixtures" / "SYNTHETIC_outpatient_GIAMDINHHS.xml"
CONTENT = re.compile(rb"<NOIDUNGFILE>(.*?)</NOIDUNGFILE>", re.S)


def _tables(data: bytes) -> list[bytes]:
    return [base64.b64decode(m.group(1)) for m in CONTENT.finditer(data)]


def test_every_ma_lk_is_suffixed_and_nothing_else_changes() -> None:
    data = FILE.read_bytes()
    sent = _Resendable(data).unique("run7")
    before, after = _tables(data), _tables(sent)
    assert len(after) == len(before) > 1
    for old, new in zip(before, after, strict=True):
        values = re.findall(rb"<MA_LK>([^<]*)</MA_LK>", old)
        assert values, "every table of the fixture names its encounter"
        assert re.findall(rb"<MA_LK>([^<]*)</MA_LK>", new) == [v + b"-run7" for v in values]
        assert re.sub(rb"<MA_LK>[^<]*</MA_LK>", b"", new) == re.sub(rb"<MA_LK>[^<]*</MA_LK>", b"", old)
    assert CONTENT.sub(b"", sent) == CONTENT.sub(b"", data)


def test_a_long_ma_lk_is_cut_to_the_field_length() -> None:
    data = FILE.read_bytes()
    tag = "t" * 95
    for table in _tables(_Resendable(data).unique(tag)):
        for value in re.findall(rb"<MA_LK>([^<]*)</MA_LK>", table):
            assert len(value) == 100 and value.endswith(b"-" + tag.encode())
