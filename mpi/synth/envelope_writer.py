"""Serialise encounters as QĐ 130/4750 submissions: inner table documents and the GIAMDINHHS envelope.

Inner documents are built from strings (much faster than lxml trees at millions of records) with the tag
order taken from the official field table (``mpi/xml130/fields_qd4750.csv``), roots per SPEC §2.3, no XML
declaration, UTF-8, then base64 into ``NOIDUNGFILE``. Every value is checked against its field's maximum
length: a value that does not fit is a bug in the generator and raises, it is never truncated silently.
"""

from __future__ import annotations

import base64
import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FIELDS_CSV = Path(__file__).resolve().parent.parent / "xml130" / "fields_qd4750.csv"

# Table -> (root, container, record). Single-record tables have their fields directly under the root.
LAYOUTS: dict[str, tuple[str, str | None, str | None]] = {
    "XML1": ("TONG_HOP", None, None),
    "XML2": ("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
    "XML3": ("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
    "XML4": ("CHITIEU_CHITIET_DICHVUCANLAMSANG", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
    "XML5": ("CHITIEU_CHITIET_DIENBIENLAMSANG", "DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH"),
    "XML6": ("CHI_TIEU_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
             "DSACH_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS", "HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS"),
    "XML7": ("CHI_TIEU_DU_LIEU_GIAY_RA_VIEN", None, None),
    "XML8": ("CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN", None, None),
    "XML9": ("CHI_TIEU_DU_LIEU_GIAY_CHUNG_SINH", "DSACH_GIAYCHUNGSINH", "DU_LIEU_GIAY_CHUNG_SINH"),
    "XML13": ("CHI_TIEU_GIAYCHUYENTUYEN", None, None),
    "XML14": ("CHI_TIEU_GIAYHEN_KHAMLAI", None, None),
    "XML15": ("CHI_TIEU_DIEUTRI_BENHLAO", "DSACH_CHITIET_DIEUTRI_BENHLAO", "CHITIET_DIEUTRI_BENHLAO"),
}

# The .NET serialiser artefact seen on ~half of real inner roots (note the space in the xsi URI).
INNER_XMLNS = ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema instance"'

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
    with FIELDS_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            raw = row["maxlen_effective_4750"].strip()
            spec = FieldSpec(row["field"].strip(), None if raw in ("", "n") else int(raw),
                             row["type_effective_4750"].strip() == "Số")
            out.setdefault(row["table"].strip(), []).append((int(row["order"]), spec))
    return {t: tuple(s for _, s in sorted(v, key=lambda x: x[0])) for t, v in out.items()}


class FieldTooLong(ValueError):
    """A generated value exceeds its field's maximum length: a generator bug."""


def _escape(value: str) -> str:
    if "&" in value or "<" in value or ">" in value:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _record_xml(table: str, record: Mapping[str, str]) -> str:
    specs = table_fields()[table]
    parts: list[str] = []
    seen = 0
    for spec in specs:
        value = record.get(spec.name, "")
        if value:
            seen += 1
            if spec.max_length is not None and len(value) > spec.max_length:
                raise FieldTooLong(f"{table}.{spec.name}: {len(value)} > {spec.max_length}")
            parts.append(f"<{spec.name}>{_escape(value)}</{spec.name}>")
        else:
            if spec.name in record:
                seen += 1
            parts.append(f"<{spec.name} />")
    if seen != len(record):
        unknown = sorted(set(record) - {s.name for s in specs})
        raise KeyError(f"{table}: unknown fields {unknown}")
    return "".join(parts)


def render_table(table: str, records: Sequence[Mapping[str, str]], *, xmlns: bool = False) -> str:
    """The inner document of ``table`` holding ``records`` (one record for single-record tables)."""
    root, container, element = LAYOUTS[table]
    attrs = INNER_XMLNS if xmlns else ""
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
    """The GIAMDINHHS file (SPEC §2.1) holding the already rendered HOSO elements."""
    return (
        f"{ENVELOPE_HEAD}<THONGTINDONVI><MACSKCB>{facility_code}</MACSKCB></THONGTINDONVI>"
        f"<THONGTINHOSO><NGAYLAP>{ngaylap}</NGAYLAP><SOLUONGHOSO>{len(hosos)}</SOLUONGHOSO>"
        f"<DANHSACHHOSO>{''.join(hosos)}</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI /></GIAMDINHHS>"
    ).encode("utf-8")
