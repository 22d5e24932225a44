"""Serialise encounters as QĐ 130/4750 submissions: inner table documents and the GIAMDINHHS envelope.

Inner documents are built from strings (much faster than lxml trees at millions of records) with the tag
order taken from the official field table (``mpi/xml130/fields_qd4750.csv``), roots per docs/xml130.md §2.3, no XML
declaration, UTF-8, then base64 into ``NOIDUNGFILE``. Every value is checked against its field's maximum
length: a value that does not fit is a bug in the generator and raises, it is never truncated silently.
"""

from __future__ import annotations

import base64
import csv
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

# The XML 130 field table the reader validates against (shipped with `mpi.xml130`): the generator writes
# exactly the fields, order and lengths the hub expects.
FIELDS_CSV = resources.files("mpi.xml130").joinpath("fields_qd4750.csv")

# Table -> (root, container, record). Single-record tables have their fields directly under the root.
LAYOUTS: dict[str, tuple[str, str | None, str | None]] = {
    "XML1": ("TONG_HOP", None, None),
    "XML2": ("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
    "XML3": ("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
    "XML4": ("CHITIEU_CHITIET_DICHVUCANLAMSANG", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
    "XML5": ("CHITIEU_CHITIET_DIENBIENLAMSANG", "DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH"),
    "XML6": (
        "CHI_TIEU_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
        "DSACH_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
        "HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
    ),
    "XML7": ("CHI_TIEU_DU_LIEU_GIAY_RA_VIEN", None, None),
    "XML8": ("CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN", None, None),
    "XML9": ("CHI_TIEU_DU_LIEU_GIAY_CHUNG_SINH", "DSACH_GIAYCHUNGSINH", "DU_LIEU_GIAY_CHUNG_SINH"),
    "XML13": ("CHI_TIEU_GIAYCHUYENTUYEN", None, None),
    "XML14": ("CHI_TIEU_GIAYHEN_KHAMLAI", None, None),
    "XML15": ("CHI_TIEU_DIEUTRI_BENHLAO", "DSACH_CHITIET_DIEUTRI_BENHLAO", "CHITIET_DIEUTRI_BENHLAO"),
}

# Namespace declarations a .NET serialiser puts on ~half of real inner roots (docs/xml130.md §2.2; prefixes unused).
INNER_XMLNS = ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
# The variant docs/xml130.md §2.2 reports from real files, with a space in the xsi URI. libxml2 (lxml) refuses it as
# a fatal namespace error unless parsing with recover=True, so it is only written on request.
INNER_XMLNS_MALFORMED = INNER_XMLNS.replace("XMLSchema-instance", "XMLSchema instance")

ENVELOPE_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<GIAMDINHHS xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    max_length: int | None
    numeric: bool


@cache
def table_fields() -> Mapping[str, tuple[FieldSpec, ...]]:
    """Fields of every table in the official order, from the field table."""
    out: dict[str, list[tuple[int, FieldSpec]]] = {}
    for row in csv.DictReader(FIELDS_CSV.read_text(encoding="utf-8").splitlines(keepends=True)):
        raw = row["maxlen_effective_4750"].strip()
        spec = FieldSpec(
            row["field"].strip(),
            None if raw in ("", "n") else int(raw),
            row["type_effective_4750"].strip() == "Số",
        )
        out.setdefault(row["table"].strip(), []).append((int(row["order"]), spec))
    return {t: tuple(s for _, s in sorted(v, key=lambda x: x[0])) for t, v in out.items()}


# The literal some HIS exports write for a missing value (an export deviation we reproduce on purpose).
UNDEFINED = "undefined"


class FieldTooLong(ValueError):
    """A generated value exceeds its field's maximum length: a generator bug."""


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Per table: (name, opening tag, closing tag, empty element, max length), and the set of names.
_Compiled = tuple[tuple[tuple[str, str, str, str, int | None], ...], frozenset[str]]


@cache
def _compiled(table: str) -> _Compiled:
    specs = table_fields()[table]
    return (
        tuple((s.name, f"<{s.name}>", f"</{s.name}>", f"<{s.name} />", s.max_length) for s in specs),
        frozenset(s.name for s in specs),
    )


def _record_xml(table: str, record: Mapping[str, str]) -> str:
    compiled, names = _compiled(table)
    if not record.keys() <= names:
        raise KeyError(f"{table}: unknown fields {sorted(set(record) - names)}")
    parts: list[str] = []
    append = parts.append
    get = record.get
    for name, open_tag, close_tag, empty, max_length in compiled:
        value = get(name)
        if not value:
            append(empty)
            continue
        if max_length is not None and len(value) > max_length and value != UNDEFINED:
            raise FieldTooLong(f"{table}.{name}: {len(value)} > {max_length}")
        if "&" in value or "<" in value or ">" in value:
            value = _escape(value)
        append(open_tag + value + close_tag)
    return "".join(parts)


def render_table(table: str, records: Sequence[Mapping[str, str]], *, xmlns: str = "") -> str:
    """The inner document of ``table`` holding ``records``; ``xmlns`` is put verbatim on the root."""
    root, container, element = LAYOUTS[table]
    attrs = xmlns
    if container is None:
        if len(records) != 1:
            raise ValueError(f"{table} holds exactly one record, got {len(records)}")
        return f"<{root}{attrs}>{_record_xml(table, records[0])}</{root}>"
    body = "".join(f"<{element}>{_record_xml(table, r)}</{element}>" for r in records)
    return f"<{root}{attrs}><{container}>{body}</{container}></{root}>"


def render_hoso(documents: Sequence[tuple[str, str]]) -> str:
    """One HOSO: ``(LOAIHOSO, inner document)`` pairs, base64 of the UTF-8 bytes in NOIDUNGFILE."""
    files = "".join(
        f"<FILEHOSO><LOAIHOSO>{loai}</LOAIHOSO><NOIDUNGFILE>"
        f"{base64.b64encode(doc.encode('utf-8')).decode('ascii')}</NOIDUNGFILE></FILEHOSO>"
        for loai, doc in documents
    )
    return f"<HOSO>{files}</HOSO>"


def render_envelope(*, facility_code: str, ngaylap: str, hosos: Sequence[str]) -> bytes:
    """The GIAMDINHHS file (docs/xml130.md §2.1) holding the already rendered HOSO elements."""
    return (
        f"{ENVELOPE_HEAD}<THONGTINDONVI><MACSKCB>{facility_code}</MACSKCB></THONGTINDONVI>"
        f"<THONGTINHOSO><NGAYLAP>{ngaylap}</NGAYLAP><SOLUONGHOSO>{len(hosos)}</SOLUONGHOSO>"
        f"<DANHSACHHOSO>{''.join(hosos)}</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI /></GIAMDINHHS>"
    ).encode()


class SubmissionSink:
    """Writes HOSO to ``<out>/<MA_CSKCB>/``: one file per HOSO (``<MA_LK>.xml``), or ``batch`` per file.

    Batches are per facility (an envelope carries one MACSKCB); at most ``batch - 1`` HOSO per facility
    wait in memory. :meth:`add` returns the path, relative to ``out``, of the file that will hold the HOSO.
    """

    _MAX_IN_FLIGHT = 512

    def __init__(self, out: Path, batch: int = 1, writers: int = 2) -> None:
        if batch < 1:
            raise ValueError("batch must be >= 1")
        self.out = out
        self.batch = batch
        self.files = 0
        # File creation dominates one-file-per-HOSO runs; threads overlap it with generation (the GIL is
        # released during I/O). At most _MAX_IN_FLIGHT files wait, so memory stays bounded.
        self._pool = ThreadPoolExecutor(max_workers=writers) if writers > 0 else None
        self._in_flight: deque[Future[int]] = deque()
        self._pending: dict[str, list[str]] = {}
        self._ngaylap: dict[str, str] = {}
        self._sequence: dict[str, int] = {}
        self._dirs: set[str] = set()

    def _dir(self, facility_code: str) -> Path:
        path = self.out / facility_code
        if facility_code not in self._dirs:
            path.mkdir(parents=True, exist_ok=True)
            self._dirs.add(facility_code)
        return path

    def add(self, *, facility_code: str, ma_lk: str, ngaylap: str, hoso: str) -> str:
        if self.batch == 1:
            name = f"{ma_lk}.xml"
            data = render_envelope(facility_code=facility_code, ngaylap=ngaylap, hosos=[hoso])
            self._write(self._dir(facility_code) / name, data)
            return f"{facility_code}/{name}"
        pending = self._pending.setdefault(facility_code, [])
        pending.append(hoso)
        self._ngaylap[facility_code] = max(ngaylap, self._ngaylap.get(facility_code, ""))
        name = f"{facility_code}_{self._sequence.get(facility_code, 0) + 1:06d}.xml"
        if len(pending) >= self.batch:
            self._flush(facility_code)
        return f"{facility_code}/{name}"

    def _flush(self, facility_code: str) -> None:
        pending = self._pending.pop(facility_code, [])
        if not pending:
            return
        seq = self._sequence.get(facility_code, 0) + 1
        self._sequence[facility_code] = seq
        data = render_envelope(facility_code=facility_code, ngaylap=self._ngaylap.pop(facility_code), hosos=pending)
        self._write(self._dir(facility_code) / f"{facility_code}_{seq:06d}.xml", data)

    def _write(self, path: Path, data: bytes) -> None:
        self.files += 1
        if self._pool is None:
            path.write_bytes(data)
            return
        self._in_flight.append(self._pool.submit(path.write_bytes, data))
        while len(self._in_flight) > self._MAX_IN_FLIGHT:
            self._in_flight.popleft().result()

    def close(self) -> None:
        for code in sorted(self._pending):
            self._flush(code)
        while self._in_flight:
            self._in_flight.popleft().result()  # re-raises a failed write
        if self._pool is not None:
            self._pool.shutdown()
