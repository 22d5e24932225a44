"""Hand-made GIAMDINHHS files for the reader tests: what ``tests/builders.py`` cannot express.

The builders there write well-formed envelopes from dicts; these helpers write envelopes with duplicate or
nameless FILEHOSO, NOIDUNGFILE that is not base64, and report what the reader found as comparable tuples.
Every value is invented.
"""

from __future__ import annotations

import base64

from mpi.xml130 import ParsedSubmission
from tests.builders import inner_document, summary

# XML1 totals for a HOSO that has no XML2/XML3: zero, so the cross-table sums agree.
ZERO_TOTALS = {
    name: "0.00"
    for name in (
        "T_THUOC", "T_VTYT", "T_TONGCHI_BV", "T_TONGCHI_BH", "T_BNTT", "T_BNCCT", "T_BHTT", "T_NGUONKHAC",
        "T_BHTT_GDV",
    )
}


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def summary_only(ma_lk: str = "LK26000001", facility: str = "74001", **overrides: str) -> dict[str, bytes]:
    """A HOSO holding only XML1, with zero totals (consistent without detail tables)."""
    return {"XML1": inner_document("XML1", [summary(ma_lk, facility, **{**ZERO_TOTALS, **overrides})])}


def raw_envelope(
    hosos: list[list[tuple[str, str]]],
    *,
    facility: str = "74001",
    declared: int | None = None,
    prolog: str = '<?xml version="1.0" encoding="utf-8"?>\n',
) -> bytes:
    """An envelope whose FILEHOSO are given verbatim as (LOAIHOSO, NOIDUNGFILE text)."""
    count = len(hosos) if declared is None else declared
    parts = [
        prolog,
        "<GIAMDINHHS>",
        f"<THONGTINDONVI><MACSKCB>{facility}</MACSKCB></THONGTINDONVI>",
        f"<THONGTINHOSO><NGAYLAP>20260301</NGAYLAP><SOLUONGHOSO>{count}</SOLUONGHOSO><DANHSACHHOSO>",
    ]
    for files in hosos:
        parts.append("<HOSO>")
        parts.extend(
            f"<FILEHOSO><LOAIHOSO>{kind}</LOAIHOSO><NOIDUNGFILE>{text}</NOIDUNGFILE></FILEHOSO>" for kind, text in files
        )
        parts.append("</HOSO>")
    parts.append("</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI/></GIAMDINHHS>")
    return "".join(parts).encode()


def found(sub: ParsedSubmission) -> list[tuple[str, str, str]]:
    """Every issue of the file as (severity, code, path), file-level first, in the order reported."""
    return [(i.severity.value, i.code, i.path) for i in sub.all_issues()]
