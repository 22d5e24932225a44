"""Hostile and broken input: XXE, entity expansion, bad base64, truncation, wrong encodings, size limits.

The reader must refuse each one with the right code, quickly, without reading local files or the
network, and without raising.
"""

from __future__ import annotations

import time

import pytest

from mpi.xml130 import Limits, ParsedSubmission, parse_submission
from tests.builders import envelope, inner_document, lab, outpatient, summary
from tests.xml130.files import b64, found, raw_envelope, summary_only

LK = "LK26000001"
GOOD = envelope([outpatient()])
BODY = GOOD.split(b"?>", 1)[1].lstrip()  # the envelope without its XML declaration
XML4 = inner_document("XML4", [lab(LK, 1)])
XML4_BODY = XML4.replace(b"<MA_CHI_SO>H17</MA_CHI_SO>", b"<MA_CHI_SO>&xxe;</MA_CHI_SO>")


def _everything(sub: ParsedSubmission) -> str:
    """All the reader kept and said: the dataclass tree (with decoded contents) and every message."""
    messages = [i.message_vi + i.message_en for i in sub.all_issues()]
    return repr(sub) + "".join(messages)


def _with_xml4(content: bytes) -> bytes:
    return envelope([{**outpatient(), "XML4": content}])


def _with_xml1(content: bytes) -> bytes:
    return envelope([{**outpatient(), "XML1": content}])


XXE_DTDS = {
    "file": b'<!DOCTYPE R [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    "http": b'<!DOCTYPE R [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/xxe.txt">]>',
    "parameter-entity-http": b'<!DOCTYPE R [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>',
    "public-dtd": b'<!DOCTYPE R PUBLIC "-//X//DTD X//EN" "http://127.0.0.1:9/x.dtd">',
}
# What may come before a DOCTYPE in the prolog; markup-like text in a comment must not hide it.
PROLOGS = {
    "bare": b"",
    "declaration": b'<?xml version="1.0" encoding="utf-8"?>\n',
    "bom": b"\xef\xbb\xbf",
    "comment-with-markup": b'<?xml version="1.0"?><!-- <GIAMDINHHS> --> \n',
    "processing-instruction": b'<?xml version="1.0"?><?xml-stylesheet href="<a>"?>',
}


@pytest.mark.parametrize("prolog", PROLOGS.values(), ids=PROLOGS.keys())
@pytest.mark.parametrize("dtd", XXE_DTDS.values(), ids=XXE_DTDS.keys())
def test_xxe_in_the_envelope_is_refused(dtd: bytes, prolog: bytes) -> None:
    data = prolog + dtd + BODY.replace(b"<MACSKCB>74001</MACSKCB>", b"<MACSKCB>&xxe;</MACSKCB>")
    sub = parse_submission(data)
    assert found(sub) == [("error", "dtd_forbidden", "/")]
    assert sub.encounters == []
    assert "root:" not in _everything(sub)


@pytest.mark.parametrize("prolog", PROLOGS.values(), ids=PROLOGS.keys())
@pytest.mark.parametrize("dtd", XXE_DTDS.values(), ids=XXE_DTDS.keys())
def test_xxe_inside_an_inner_table_is_refused(dtd: bytes, prolog: bytes) -> None:
    sub = parse_submission(_with_xml4(prolog + dtd + XML4_BODY))
    assert found(sub) == [("error", "dtd_forbidden", "HOSO[1]/XML4")]
    assert "XML4" not in sub.encounters[0].tables
    assert "root:" not in _everything(sub)


def test_xxe_in_xml1_rejects_only_that_encounter() -> None:
    xml1 = XXE_DTDS["file"] + inner_document("XML1", [summary(HO_TEN="&xxe;")]).replace(b"&amp;xxe;", b"&xxe;")
    sub = parse_submission(envelope([{**outpatient(), "XML1": xml1}, outpatient("LK26000002")]))
    assert found(sub) == [("error", "dtd_forbidden", "HOSO[1]/XML1"), ("error", "xml1_missing", "HOSO[1]")]
    assert [e.rejected for e in sub.encounters] == [True, False]
    assert "root:" not in _everything(sub)


def _laughs(levels: int = 10) -> bytes:
    entities = [b'<!ENTITY lol0 "lol">']
    entities += [b"<!ENTITY lol%d \"%s\">" % (n, b"&lol%d;" % (n - 1) * 10) for n in range(1, levels)]
    return b"<!DOCTYPE R [" + b"".join(entities) + b"]>"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("prolog", PROLOGS.values(), ids=PROLOGS.keys())
def test_billion_laughs_in_the_envelope(prolog: bytes) -> None:
    data = prolog + _laughs() + BODY.replace(b"<MACSKCB>74001</MACSKCB>", b"<MACSKCB>&lol9;</MACSKCB>")
    started = time.perf_counter()
    sub = parse_submission(data)
    assert found(sub) == [("error", "dtd_forbidden", "/")]
    assert time.perf_counter() - started < 1.0


@pytest.mark.timeout(10)
def test_billion_laughs_inside_an_inner_table() -> None:
    xml4 = _laughs() + XML4.replace(b"<MA_CHI_SO>H17</MA_CHI_SO>", b"<MA_CHI_SO>&lol9;</MA_CHI_SO>")
    started = time.perf_counter()
    sub = parse_submission(_with_xml4(xml4))
    assert found(sub) == [("error", "dtd_forbidden", "HOSO[1]/XML4")]
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "doctype",
    [
        pytest.param(b"<!DOCTYPE GIAMDINHHS>", id="plain"),
        pytest.param(b'<!DOCTYPE GIAMDINHHS SYSTEM "giamdinhhs.dtd">', id="system"),
        pytest.param(b"<!DOCTYPE GIAMDINHHS []>", id="empty-subset"),
        pytest.param(b"<!doctype GIAMDINHHS>", id="lower-case"),
    ],
)
def test_a_doctype_without_entities_is_refused_too(doctype: bytes) -> None:
    sub = parse_submission(b'<?xml version="1.0"?>' + doctype + BODY)
    assert found(sub) == [("error", "dtd_forbidden", "/")]


@pytest.mark.timeout(10)
def test_deep_nesting_is_refused_quickly() -> None:
    data = b"<GIAMDINHHS>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</GIAMDINHHS>"
    assert found(parse_submission(data)) == [("error", "xml_syntax", "/")]


def test_comments_and_processing_instructions_are_harmless() -> None:
    data = b'<?xml version="1.0" encoding="utf-8"?>\n<?xml-stylesheet type="text/xsl" href="x.xsl"?>\n'
    data += b"<!-- xuat tu HIS, <DOCTYPE> khong co -->" + BODY.replace(
        b"<THONGTINHOSO>", b"<!-- ghi chu --><?pi x?><THONGTINHOSO>"
    )
    xml1 = inner_document("XML1", [summary()]).replace(b"<MA_BN>", b"<!-- BN --><?his v2?><MA_BN>")
    xml1 = b"<!-- bang 1 --><?his xml1?>" + xml1
    xml2 = outpatient()["XML2"].replace(b"<CHI_TIET_THUOC>", b"<!-- dong --><CHI_TIET_THUOC>")
    data = data.replace(b64(outpatient()["XML1"]).encode(), b64(xml1).encode())
    data = data.replace(b64(outpatient()["XML2"]).encode(), b64(xml2).encode())
    sub = parse_submission(data)
    assert found(sub) == []
    (enc,) = sub.encounters
    assert enc.tables["XML1"].rows[0].values["MA_BN"] == "BN000123"
    assert len(enc.tables["XML2"].rows) == 2
    assert sub.facility_code == "74001"


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("không phải base64", id="non-ascii"),
        pytest.param("PFRPTkdfSE9QPjwvVE9OR19IT1A+!", id="bad-character"),
        pytest.param("abc", id="bad-padding"),
        pytest.param("PD94bWw-_w==", id="url-safe-alphabet"),
        pytest.param("====", id="only-padding"),
        pytest.param("   ", id="blank"),
    ],
)
def test_bad_base64(payload: str) -> None:
    files = [(k, b64(v)) for k, v in outpatient().items() if k != "XML4"] + [("XML4", payload)]
    sub = parse_submission(raw_envelope([files]))
    assert found(sub) == [("error", "base64_invalid", "HOSO[1]/XML4/NOIDUNGFILE")]
    assert not sub.encounters[0].tables.get("XML4")


@pytest.mark.parametrize("cut", [1, 40, len(GOOD) // 2, len(GOOD) - 20, len(GOOD) - 1])
def test_truncated_envelope(cut: int) -> None:
    assert found(parse_submission(GOOD[:cut])) == [("error", "xml_syntax", "/")]


@pytest.mark.parametrize("cut", [5, len(XML4) // 2, len(XML4) - 1])
def test_truncated_inner_table(cut: int) -> None:
    assert found(parse_submission(_with_xml4(XML4[:cut]))) == [("error", "xml_syntax", "HOSO[1]/XML4")]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<TONG_HOP><MA_LK>LK26000001</MA_LK></TONG_HOP>", id="inner-document-sent-alone"),
        pytest.param(b"<html><body>502 Bad Gateway</body></html>", id="html"),
        pytest.param(b'<x:GIAMDINHHS xmlns:x="urn:x"/>', id="namespaced"),
    ],
)
def test_wrong_root(data: bytes) -> None:
    assert found(parse_submission(data)) == [("error", "wrong_root", "/")]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            b'<?xml version="1.0" encoding="windows-1258"?>'
            + BODY.replace(b"<CHUKYDONVI/>", "<CHUKYDONVI>Câ\u0300n Thơ</CHUKYDONVI>".encode("cp1258")),
            id="windows-1258",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="iso-8859-1"?>'
            + BODY.replace(b"<CHUKYDONVI/>", "<CHUKYDONVI>Hôpital</CHUKYDONVI>".encode("latin-1")),
            id="latin-1",
        ),
        pytest.param(GOOD.decode().replace("utf-8", "utf-16").encode("utf-16"), id="utf-16"),
    ],
)
def test_non_utf8_file(data: bytes) -> None:
    assert found(parse_submission(data)) == [("error", "file_encoding", "/")]


def test_inner_table_in_latin1() -> None:
    xml4 = XML4.replace(b"Hemoglobin", "Hémoglobine".encode("latin-1"))
    assert found(parse_submission(_with_xml4(xml4))) == [("error", "inner_encoding", "HOSO[1]/XML4")]


@pytest.mark.parametrize("data", [b"", b" ", b"\n\r\n\t  \n"], ids=["empty", "space", "whitespace"])
def test_empty_file(data: bytes) -> None:
    sub = parse_submission(data)
    assert found(sub) == [("error", "file_empty", "/")]
    assert sub.size == len(data)


def test_file_over_the_limit() -> None:
    limits = Limits(max_file_bytes=1_000, max_table_bytes=1_000)
    sub = parse_submission(GOOD, limits=limits)
    assert found(sub) == [("error", "file_too_large", "/")]
    assert sub.issues[0].message_en == "The file exceeds the limit of 1000 bytes"
    assert found(parse_submission(GOOD[:1_000], limits=limits)) == [("error", "xml_syntax", "/")]  # at the limit


@pytest.mark.parametrize(("slack", "expected"), [(0, []), (-1, [("error", "table_too_large", "HOSO[1]/XML1"),
                                                                ("error", "xml1_missing", "HOSO[1]")])])
def test_table_limit_is_exact(slack: int, expected: list[tuple[str, str, str]]) -> None:
    hoso = summary_only()
    for size in (len(hoso["XML1"]) + pad for pad in range(3)):  # every base64 padding: none, "=", "=="
        xml1 = hoso["XML1"].replace(b"</TONG_HOP>", b" " * (size - len(hoso["XML1"])) + b"</TONG_HOP>")
        limits = Limits(max_table_bytes=len(xml1) + slack)
        assert found(parse_submission(envelope([{"XML1": xml1}]), limits=limits)) == expected, size


# --- scale --------------------------------------------------------------------------------------------------

ROWS = 100_000
_ROW = (
    "<CHI_TIET_THUOC><MA_LK>LK26000001</MA_LK><STT>{}</STT><THANH_TIEN_BV>1.00</THANH_TIEN_BV>"
    "<THANH_TIEN_BH>1.00</THANH_TIEN_BH></CHI_TIET_THUOC>"
)


@pytest.fixture(scope="module")
def big_file() -> tuple[bytes, int]:
    rows = "".join(_ROW.format(n) for n in range(1, ROWS + 1))
    xml2 = f"<CHITIEU_CHITIET_THUOC><DSACH_CHI_TIET_THUOC>{rows}</DSACH_CHI_TIET_THUOC></CHITIEU_CHITIET_THUOC>"
    total = f"{ROWS}.00"
    hoso = {**summary_only(T_THUOC=total, T_TONGCHI_BV=total, T_TONGCHI_BH=total), "XML2": xml2.encode()}
    return envelope([hoso]), len(xml2)


@pytest.mark.slow
def test_100k_row_table_over_10mb_is_refused_with_default_limits(big_file: tuple[bytes, int]) -> None:
    data, table_bytes = big_file
    assert table_bytes > Limits().max_table_bytes
    assert len(data) < Limits().max_file_bytes
    sub = parse_submission(data, limits=Limits())
    assert found(sub) == [
        ("error", "table_too_large", "HOSO[1]/XML2"),
        ("warning", "total_mismatch", "HOSO[1]/XML1/T_THUOC"),
        ("warning", "total_mismatch", "HOSO[1]/XML1/T_TONGCHI_BV"),
        ("warning", "total_mismatch", "HOSO[1]/XML1/T_TONGCHI_BH"),
    ]


@pytest.mark.slow
def test_100k_row_table_is_read_whole_with_raised_limits(big_file: tuple[bytes, int]) -> None:
    data, _ = big_file
    sub = parse_submission(data, limits=Limits(max_file_bytes=64 << 20, max_table_bytes=32 << 20))
    assert found(sub) == []
    rows = sub.encounters[0].tables["XML2"].rows
    assert len(rows) == ROWS
    assert (rows[0].values["STT"], rows[-1].values["STT"]) == (1, ROWS)


@pytest.mark.slow  # builds, encodes and parses an 8 MB table of 60,000 rows
def test_a_table_near_the_default_limit_fits_in_the_envelope() -> None:
    """A NOIDUNGFILE is one text node, 4/3 of its table: over libxml2's default 10 MB node cap at ~7.5 MB."""
    rows = "".join(_ROW.format(n) for n in range(1, 60_001))
    xml2 = f"<CHITIEU_CHITIET_THUOC><DSACH_CHI_TIET_THUOC>{rows}</DSACH_CHI_TIET_THUOC></CHITIEU_CHITIET_THUOC>"
    assert 8_000_000 < len(xml2) < Limits().max_table_bytes
    hoso = {**summary_only(T_THUOC="60000.00", T_TONGCHI_BV="60000.00", T_TONGCHI_BH="60000.00"), "XML2": xml2.encode()}
    sub = parse_submission(envelope([hoso]), limits=Limits())
    assert found(sub) == []
    assert len(sub.encounters[0].tables["XML2"].rows) == 60_000
