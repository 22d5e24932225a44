"""Reading one ``GIAMDINHHS`` file: the hardened XML parse, the envelope, and each HOSO's tables.

Hardening (docs/xml130.md §2.1): no DTD is loaded and any ``DOCTYPE`` is refused before parsing, so
neither external entities (XXE) nor entity expansion (billion laughs) can happen; no network access; the
file and each decoded inner table are size-bounded before they are decoded or parsed.

This module never raises on bad input and never touches the store: every problem becomes an
:class:`~mpi.xml130.issues.Issue`, and a bad HOSO never affects the good HOSOs of the same file.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from lxml import etree

from linkage.pickling import by_fields
from mpi.settings import Settings, get_settings
from mpi.xml130.fields import TABLE_NAMES, fields_by_name
from mpi.xml130.issues import Issue, Severity, issue
from mpi.xml130.layouts import LAYOUTS, LEGACY_RENAMES, LEGACY_XML1_MARKERS, Layout
from mpi.xml130.rows import ParsedRow, sum_field, type_row
from mpi.xml130.signature import SignatureCheck

_BOM: Final = b"\xef\xbb\xbf"
_DECLARATIONS: Final = (b"<!DOCTYPE", b"<!ENTITY")
_WHITESPACE: Final = re.compile(rb"\s+")
_FACILITY: Final = re.compile(r"\d{5}")
_ERROR: Final = etree.ErrorLevels.ERROR


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_bytes: int = 50 * 1024 * 1024
    max_table_bytes: int = 10 * 1024 * 1024
    max_hoso_per_file: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        s = settings or get_settings()
        return cls(s.max_file_bytes, s.max_table_bytes, s.max_hoso_per_file)


@by_fields
@dataclass(slots=True)
class ParsedTable:
    name: str
    """``XML1`` .. ``XML15``."""
    rows: list[ParsedRow]
    content: bytes
    """The decoded inner document, exactly as sent."""
    legacy: bool = False


@by_fields
@dataclass(slots=True)
class ParsedEncounter:
    hoso: int
    """1-based position of the HOSO in the file."""
    facility_code: str | None = None
    ma_lk: str | None = None
    tables: dict[str, ParsedTable] = field(default_factory=dict)
    unknown_tables: dict[str, bytes] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    content_sha256: str = ""
    """Hash of the decoded tables: two sends of the same encounter content hash alike."""
    store_rows: dict[str, list[tuple[Any, ...]]] | None = None
    """Each table's records as the store's database driver takes them, when the reading process made them
    (``mpi.ingest.stage``, in the ingest's parsing workers). The tables then keep only the records the
    identity step reads (XML1, XML9), as text (``raw``, no typed ``values``), and no decoded documents,
    sparing the transfer to the storing process. ``None``: the store types ``tables`` itself."""
    derived: dict[str, Any] = field(default_factory=dict)
    """What the reading process computed from the content for a later step of the store, by step (e.g. the
    identity step's normalised demographics, ``mpi.identity.online.prepare``); a step computes what is
    missing here itself."""

    @property
    def rejected(self) -> bool:
        return any(i.severity is Severity.ERROR for i in self.issues)

    @property
    def summary(self) -> ParsedRow | None:
        table = self.tables.get("XML1")
        return table.rows[0] if table and table.rows else None


@by_fields
@dataclass(slots=True)
class ParsedSubmission:
    sha256: str
    size: int
    facility_code: str | None = None
    """Envelope ``MACSKCB``."""
    created_on: str | None = None
    """Envelope ``NGAYLAP`` as sent."""
    declared_count: int | None = None
    signature: bytes | None = None
    """The serialised ``CHUKYDONVI`` element when it has content (checked by :mod:`mpi.xml130.signature`)."""
    signature_check: SignatureCheck | None = None
    """Set by ingest, which knows the facility's registered certificates."""
    issues: list[Issue] = field(default_factory=list)
    """File-level issues. Encounter issues live on each encounter."""
    encounters: list[ParsedEncounter] = field(default_factory=list)
    raw_gzip: bytes | None = None
    """The file compressed as the store keeps it, when the reader already did it (``mpi.ingest``'s parsing
    workers do, sparing the process that stores); else the store compresses it."""

    @property
    def rejected(self) -> bool:
        return any(i.severity is Severity.ERROR for i in self.issues)

    @property
    def signature_present(self) -> bool:
        return self.signature is not None

    def all_issues(self) -> list[Issue]:
        return [*self.issues, *(i for e in self.encounters for i in e.issues)]


_PARSERS = threading.local()
"""Parsers are reused (building one costs more than parsing a small table) but never shared between threads."""


def _parser(*, huge: bool) -> etree.XMLParser:
    cache: dict[bool, etree.XMLParser] | None = getattr(_PARSERS, "by_size", None)
    if cache is None:
        cache = _PARSERS.by_size = {}
    parser = cache.get(huge)
    if parser is None:
        parser = cache[huge] = etree.XMLParser(
            recover=True,  # errors are read from the log below: a document with any real error is refused
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=huge,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
            encoding="utf-8",
        )
    return parser


def _declares_dtd(data: bytes) -> bool:
    """Whether the prolog (everything before the root element) holds a DOCTYPE or ENTITY declaration.

    Comments and processing instructions are skipped whole, so markup-like text inside them neither hides
    a declaration that follows nor counts as the root.
    """
    pos = 0
    while True:
        space = _WHITESPACE.match(data, pos)
        pos = space.end() if space else pos
        for opener, closer in ((b"<?", b"?>"), (b"<!--", b"-->")):
            if data.startswith(opener, pos):
                end = data.find(closer, pos + len(opener))
                if end < 0:
                    return False  # unterminated: the parser reports it
                pos = end + len(closer)
                break
        else:
            return data[pos : pos + 9].upper().startswith(_DECLARATIONS)


def _parse_xml(data: bytes, *, huge: bool = False) -> tuple[etree._Element | None, str | None, str | None]:
    """Parse hardened. Returns (root, error code, detail).

    ``huge`` lifts libxml2's 10 MB cap on one text node. The envelope needs it: each NOIDUNGFILE is one text
    node, 4/3 the size of a table that may legally reach ``Limits.max_table_bytes``. It is safe there because
    DTDs are refused (nothing expands) and the file is already bounded by ``Limits.max_file_bytes``.

    The document is read once in libxml2's recover mode and accepted only when its error log holds nothing
    at error level but one complaint: real exports declare
    ``xmlns:xsi="http://www.w3.org/2001/XMLSchema instance"`` (docs/xml130.md §2.2), which libxml2 >= 2.14 reports as
    an error (``WAR_NS_URI``) although no element uses the prefix. Any other error (a fatal one such as a
    tag mismatch, an undefined entity, a truncated document) refuses the document with libxml2's first
    message, as a strict parse would.
    """
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, "encoding", f"invalid byte at offset {exc.start}"
    if _declares_dtd(data):
        return None, "dtd_forbidden", None
    parser = _parser(huge=huge)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:  # nothing recoverable at all (an empty document)
        return None, "xml_syntax", (exc.msg or "unreadable")[:200]
    for entry in parser.error_log:
        if entry.level >= _ERROR and entry.type_name != "WAR_NS_URI":
            return None, "xml_syntax", f"{entry.message}, line {entry.line}, column {entry.column}"[:200]
    if root is None:
        return None, "xml_syntax", "unreadable"
    return root, None, None


def _child(parent: etree._Element | None, *tags: str) -> etree._Element | None:
    """The first child of ``parent`` named one of ``tags``: ``parent.find(tag)`` without lxml's
    ElementPath machinery (written in Python, it costs more than the look-up on these hot paths)."""
    if parent is None:
        return None
    for child in parent.iterchildren(*tags):
        return child
    return None


def _child_text(parent: etree._Element | None, tag: str) -> str | None:
    child = _child(parent, tag)
    if child is None:
        return None
    return (child.text or "").strip()


def parse_submission(data: bytes, *, limits: Limits | None = None) -> ParsedSubmission:
    """Read and validate one GIAMDINHHS file. Never raises on bad input."""
    limits = limits or Limits.from_settings()
    sub = ParsedSubmission(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    if not data.strip():
        sub.issues.append(issue("file_empty"))
        return sub
    if len(data) > limits.max_file_bytes:
        sub.issues.append(issue("file_too_large", limit=limits.max_file_bytes))
        return sub
    root, problem, detail = _parse_xml(data, huge=True)
    if root is None:
        code = {"encoding": "file_encoding"}.get(problem or "", problem or "xml_syntax")
        sub.issues.append(issue(code, detail=detail) if detail else issue(code))
        return sub
    if root.tag == "CHI_TIEU_TRANG_THAI_KCB":
        sub.issues.append(issue("checkin_not_accepted"))
        return sub
    if root.tag != "GIAMDINHHS":
        sub.issues.append(issue("wrong_root", found=str(root.tag)[:60]))
        return sub

    sub.facility_code = _child_text(_child(root, "THONGTINDONVI"), "MACSKCB") or None
    if sub.facility_code is None:
        sub.issues.append(issue("required_missing", field="MACSKCB"))
    elif not _FACILITY.fullmatch(sub.facility_code):
        sub.issues.append(issue("facility_shape", field="MACSKCB"))
    info = _child(root, "THONGTINHOSO")
    hoso_list = _child(info, "DANHSACHHOSO")
    if info is None or hoso_list is None:
        sub.issues.append(issue("envelope_missing", element="THONGTINHOSO/DANHSACHHOSO"))
        return sub
    sub.created_on = _child_text(info, "NGAYLAP")
    if sub.created_on is not None and not re.fullmatch(r"\d{8}", sub.created_on):
        sub.issues.append(issue("ngaylap_format", field="NGAYLAP"))
    declared = _child_text(info, "SOLUONGHOSO")
    sub.declared_count = int(declared) if declared and declared.isdigit() else None
    signature = _child(root, "CHUKYDONVI")
    if signature is not None and (len(signature) or (signature.text or "").strip()):
        sub.signature = etree.tostring(signature)

    hosos = list(hoso_list.iterchildren("HOSO"))
    if not hosos:
        sub.issues.append(issue("no_hoso"))
        return sub
    if len(hosos) > limits.max_hoso_per_file:
        sub.issues.append(issue("too_many_hoso", limit=limits.max_hoso_per_file))
        return sub
    if sub.declared_count != len(hosos):
        sub.issues.append(issue("soluonghoso_mismatch", declared=declared or "∅", found=len(hosos)))
    for index, hoso in enumerate(hosos, start=1):
        sub.encounters.append(_read_hoso(hoso, index, sub.facility_code, limits))
    return sub


def _read_hoso(hoso: etree._Element, index: int, envelope_facility: str | None, limits: Limits) -> ParsedEncounter:
    enc = ParsedEncounter(hoso=index)
    digest = hashlib.sha256()
    seen: dict[str, int] = {}
    for filehoso in hoso.iterchildren("FILEHOSO"):
        kind_element, content_element = _filehoso_parts(filehoso)
        kind = (kind_element.text or "").strip().upper() if kind_element is not None else ""
        if not kind:
            enc.issues.append(issue("loaihoso_missing", hoso=index))
            continue
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] == 2:
            enc.issues.append(issue("table_duplicate", hoso=index, table=kind, count=2))
        if seen[kind] > 1:
            continue
        content = _decode(content_element, kind, index, limits, enc.issues)
        if content is None:
            continue
        digest.update(kind.encode() + b"\0" + content + b"\0")
        if kind not in TABLE_NAMES or kind == "XML0":
            enc.issues.append(issue("loaihoso_unknown", hoso=index, found=kind[:20]))
            enc.unknown_tables[kind[:20]] = content
            continue
        table = _read_table(kind, content, index, enc.issues)
        if table is not None:
            enc.tables[kind] = table
    enc.content_sha256 = digest.hexdigest()
    _check_encounter(enc, envelope_facility)
    return enc


def _filehoso_parts(filehoso: etree._Element) -> tuple[etree._Element | None, etree._Element | None]:
    """The first LOAIHOSO and the first NOIDUNGFILE child of a FILEHOSO, in one pass over its children (what
    :func:`_child` finds for each, without building lxml's tag matcher twice per table)."""
    kind = content = None
    for child in filehoso:
        tag = child.tag
        if tag == "LOAIHOSO":
            if kind is None:
                kind = child
        elif tag == "NOIDUNGFILE" and content is None:
            content = child
    return kind, content


def _decode(element: etree._Element | None, kind: str, hoso: int, limits: Limits, issues: list[Issue]) -> bytes | None:
    """The decoded table of a NOIDUNGFILE ``element``, or None with its issue."""
    payload = ((element.text if element is not None else None) or "").encode("ascii", "replace")
    if b"\n" in payload or b" " in payload or b"\r" in payload or b"\t" in payload:  # wrapped base64
        payload = _WHITESPACE.sub(b"", payload)
    if len(payload) * 3 // 4 - payload[-2:].count(b"=") > limits.max_table_bytes:  # the exact decoded size
        issues.append(issue("table_too_large", hoso=hoso, table=kind, limit=limits.max_table_bytes))
        return None
    try:
        content = binascii.a2b_base64(payload, strict_mode=True)  # what base64.b64decode(validate=True) runs
    except (binascii.Error, ValueError):
        issues.append(issue("base64_invalid", hoso=hoso, table=kind, field="NOIDUNGFILE"))
        return None
    if not content.strip():
        issues.append(issue("base64_invalid", hoso=hoso, table=kind, field="NOIDUNGFILE"))
        return None
    return content


def _match_layout(kind: str, root: etree._Element) -> Layout | None:
    for layout in LAYOUTS[kind]:
        if root.tag == layout.root and (layout.container is None or _child(root, layout.container) is not None):
            return layout
    for layout in LAYOUTS[kind]:
        if root.tag == layout.root:
            return layout
    return None


def _read_table(kind: str, content: bytes, hoso: int, issues: list[Issue]) -> ParsedTable | None:
    root, problem, detail = _parse_xml(content)
    if root is None:
        if problem == "encoding":
            issues.append(issue("inner_encoding", hoso=hoso, table=kind))
        elif problem == "dtd_forbidden":
            issues.append(issue("dtd_forbidden", hoso=hoso, table=kind))
        else:
            issues.append(issue("xml_syntax", hoso=hoso, table=kind, detail=detail or ""))
        return None
    layout = _match_layout(kind, root)
    if layout is None:
        expected = " | ".join(layout.expected for layout in LAYOUTS[kind])
        issues.append(issue("inner_root", hoso=hoso, table=kind, found=str(root.tag)[:80], expected=expected))
        return None
    if kind == "XML12":
        issues.append(issue("xml12_present", hoso=hoso, table=kind))
    if layout.record is None:
        records = [root]
    else:
        parent = _child(root, layout.container) if layout.container else root
        records = list(parent.iterchildren(layout.record)) if parent is not None else []
    legacy = layout.legacy or (kind == "XML1" and _child(root, *LEGACY_XML1_MARKERS) is not None)
    if legacy:
        issues.append(issue("legacy_4210", hoso=hoso, table=kind))
    renames = LEGACY_RENAMES.get(kind, {}) if legacy else None
    rows = [
        type_row(record, table=kind, index=n, hoso=hoso, renames=renames, issues=issues)
        for n, record in enumerate(records, start=1)
    ]
    if not rows:
        issues.append(issue("inner_empty", hoso=hoso, table=kind))
    return ParsedTable(name=kind, rows=rows, content=content, legacy=legacy)


_TOTALS: Final = (
    # (XML1 total, the detail tables it sums, the line field summed) — docs/xml130.md §3 rows 45-51
    ("T_THUOC", ("XML2",), "THANH_TIEN_BV"),
    ("T_TONGCHI_BV", ("XML2", "XML3"), "THANH_TIEN_BV"),
    ("T_TONGCHI_BH", ("XML2", "XML3"), "THANH_TIEN_BH"),
    ("T_BNCCT", ("XML2", "XML3"), "T_BNCCT"),
    ("T_BHTT", ("XML2", "XML3"), "T_BHTT"),
)


def _check_encounter(enc: ParsedEncounter, envelope_facility: str | None) -> None:
    summary = enc.summary
    if summary is None:  # absent, unreadable, or without a record
        enc.issues.append(issue("xml1_missing", hoso=enc.hoso))
        return
    enc.ma_lk = summary.text("MA_LK")
    if enc.ma_lk is None:
        enc.issues.append(issue("ma_lk_missing", hoso=enc.hoso, table="XML1", field="MA_LK"))
    elif len(enc.ma_lk) > 100:
        enc.issues.append(issue("ma_lk_too_long", hoso=enc.hoso, table="XML1", field="MA_LK", length=len(enc.ma_lk)))
    for name, table in enc.tables.items():
        # XML12 (entered on the portal) is the one table without MA_LK: nothing to compare there
        if name == "XML1" or enc.ma_lk is None or "MA_LK" not in fields_by_name(name):
            continue
        for row in table.rows:
            if row.text("MA_LK") != enc.ma_lk:
                enc.issues.append(issue("ma_lk_mismatch", hoso=enc.hoso, table=name, row=row.index, field="MA_LK"))

    facility = summary.text("MA_CSKCB")
    if facility is None and envelope_facility:
        enc.issues.append(issue("facility_from_envelope", hoso=enc.hoso, table="XML1", field="MA_CSKCB"))
        facility = envelope_facility
    elif facility is None:
        enc.issues.append(issue("facility_missing", hoso=enc.hoso, table="XML1", field="MA_CSKCB"))
    elif envelope_facility and facility != envelope_facility:
        enc.issues.append(issue("macskcb_mismatch", hoso=enc.hoso, table="XML1", field="MA_CSKCB"))
    enc.facility_code = facility
    for name in ("HO_TEN", "MA_BN", "GIOI_TINH"):
        if summary.text(name) is None:
            enc.issues.append(issue("required_missing", hoso=enc.hoso, table="XML1", field=name))

    for total, sources, line_field in _TOTALS:
        declared = summary.values.get(total)
        if declared is None:
            continue
        computed = sum(
            (sum_field(enc.tables[t].rows, line_field) for t in sources if t in enc.tables), start=Decimal(0)
        )
        if abs(declared - computed) > Decimal(get_settings().total_tolerance_vnd):
            enc.issues.append(
                issue(
                    "total_mismatch",
                    hoso=enc.hoso,
                    table="XML1",
                    field=total,
                    declared=f"{declared:.2f}",
                    computed=f"{computed:.2f}",
                    source="+".join(f"{t}.{line_field}" for t in sources),
                )
            )
