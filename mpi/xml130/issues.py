"""Validation issues: one catalogue of codes with their severity and messages in Vietnamese and English.

An issue names where (HOSO index, LOAIHOSO, row, field), what (a stable code) and why (a message). A
message may quote the *shape* of a value (its length, its kind) but never the value itself: values can
be patient data, and issues are returned to submitters and written to logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from linkage.pickling import by_fields


class Severity(StrEnum):
    ERROR = "error"
    """The encounter (or, at file level, the whole file) is rejected."""
    WARNING = "warning"
    """Stored and flagged."""


@dataclass(frozen=True, slots=True)
class Rule:
    severity: Severity
    vi: str
    en: str


E, W = Severity.ERROR, Severity.WARNING

# code -> rule. Placeholders are filled from Issue.params.
RULES: Final[dict[str, Rule]] = {
    # --- whole file ---
    "file_empty": Rule(E, "Tệp rỗng", "The file is empty"),
    "file_too_large": Rule(E, "Tệp vượt quá {limit} byte", "The file exceeds the limit of {limit} bytes"),
    "file_encoding": Rule(E, "Tệp không phải UTF-8 ({detail})", "The file is not UTF-8 ({detail})"),
    "dtd_forbidden": Rule(
        E,
        "Không chấp nhận DOCTYPE/ENTITY trong tệp (nguy cơ XXE)",
        "DOCTYPE and ENTITY declarations are refused (XXE / entity-expansion risk)",
    ),
    "xml_syntax": Rule(E, "XML không hợp lệ: {detail}", "Malformed XML: {detail}"),
    "wrong_root": Rule(
        E, "Thẻ gốc phải là GIAMDINHHS, gặp {found}", "The root element must be GIAMDINHHS, found {found}"
    ),
    "checkin_not_accepted": Rule(
        E,
        "Tệp check-in (XML0) được gửi tới điểm nhận riêng, không nhận ở đây",
        "A check-in (XML0) file goes to its own endpoint; it is not accepted here",
    ),
    "envelope_missing": Rule(E, "Thiếu thẻ {element} trong phong bì", "The envelope lacks {element}"),
    "no_hoso": Rule(E, "Không có HOSO nào trong DANHSACHHOSO", "DANHSACHHOSO holds no HOSO"),
    "too_many_hoso": Rule(E, "Quá {limit} HOSO trong một tệp", "More than {limit} HOSO in one file"),
    # --- envelope warnings ---
    "soluonghoso_mismatch": Rule(
        W,
        "SOLUONGHOSO = {declared} nhưng có {found} HOSO",
        "SOLUONGHOSO says {declared} but the file holds {found} HOSO",
    ),
    "ngaylap_format": Rule(W, "NGAYLAP không đúng dạng yyyymmdd", "NGAYLAP is not a yyyymmdd date"),
    "macskcb_mismatch": Rule(
        W,
        "MA_CSKCB của XML1 khác MACSKCB của phong bì",
        "XML1 MA_CSKCB differs from the envelope MACSKCB",
    ),
    "signature_invalid": Rule(
        W,
        "Chữ ký số CHUKYDONVI không hợp lệ ({ly_do}); hồ sơ vẫn được lưu theo chính sách hiện hành",
        "The CHUKYDONVI digital signature is invalid ({why}); stored under the current policy",
    ),
    "signature_rejected": Rule(
        E,
        "Chữ ký số CHUKYDONVI không hợp lệ ({ly_do}); tệp bị từ chối, không lưu hồ sơ nào",
        "The CHUKYDONVI digital signature is invalid ({why}); the file is rejected and no encounter is stored",
    ),
    # --- one HOSO / inner document ---
    "loaihoso_missing": Rule(E, "FILEHOSO thiếu LOAIHOSO", "FILEHOSO has no LOAIHOSO"),
    "loaihoso_unknown": Rule(
        W,
        "LOAIHOSO {found} không thuộc XML1..XML15; đã lưu nguyên bản",
        "LOAIHOSO {found} is not XML1..XML15; kept raw",
    ),
    "table_duplicate": Rule(
        E, "{table} xuất hiện {count} lần trong một HOSO", "{table} appears {count} times in one HOSO"
    ),
    "base64_invalid": Rule(E, "NOIDUNGFILE không phải base64 hợp lệ", "NOIDUNGFILE is not valid base64"),
    "table_too_large": Rule(
        E, "Bảng {table} vượt quá {limit} byte sau giải mã", "Table {table} exceeds {limit} bytes once decoded"
    ),
    "inner_encoding": Rule(E, "Nội dung {table} không phải UTF-8", "The content of {table} is not UTF-8"),
    "inner_root": Rule(
        E, "{table}: thẻ gốc {found} không đúng, cần {expected}", "{table}: root element {found}, expected {expected}"
    ),
    "inner_empty": Rule(W, "{table} không có bản ghi nào", "{table} holds no record"),
    "xml1_missing": Rule(E, "HOSO thiếu bảng XML1 (tổng hợp)", "The HOSO has no XML1 (summary) table"),
    "xml12_present": Rule(
        W, "XML12 do cơ quan giám định nhập trên cổng; đã nhận", "XML12 is normally entered on the portal; accepted"
    ),
    "legacy_4210": Rule(
        W, "{table} theo định dạng QĐ 4210 cũ; đã chuyển đổi", "{table} uses the old QĐ 4210 layout; mapped"
    ),
    # --- keys ---
    "ma_lk_missing": Rule(E, "Thiếu MA_LK", "MA_LK is missing"),
    "ma_lk_mismatch": Rule(
        E, "MA_LK của {table} khác MA_LK của XML1", "MA_LK in {table} differs from the MA_LK of XML1"
    ),
    "ma_lk_too_long": Rule(E, "MA_LK dài {length} ký tự, tối đa 100", "MA_LK has {length} characters, at most 100"),
    "facility_missing": Rule(E, "Thiếu mã cơ sở KCB (MA_CSKCB)", "The facility code (MA_CSKCB) is missing"),
    "facility_from_envelope": Rule(
        W, "XML1 thiếu MA_CSKCB; dùng MACSKCB của phong bì", "XML1 lacks MA_CSKCB; the envelope MACSKCB is used"
    ),
    "facility_shape": Rule(W, "Mã cơ sở KCB không gồm 5 chữ số", "The facility code is not 5 digits"),
    "facility_scope": Rule(
        E,
        "Khóa gửi dữ liệu chỉ được gửi hồ sơ của cơ sở {allowed}",
        "This submitter key may only submit encounters of facility {allowed}",
    ),
    # --- values ---
    "date_mandatory": Rule(
        E, "{field} bắt buộc và phải là ngày hợp lệ: {detail}", "{field} is required and must be a valid date: {detail}"
    ),
    "date_invalid": Rule(W, "{field} không phải ngày hợp lệ: {detail}", "{field} is not a valid date: {detail}"),
    "date_short": Rule(
        W,
        "{field} có {found} chữ số, chuẩn quy định {expected}",
        "{field} has {found} digits, the standard says {expected}",
    ),
    "not_number": Rule(E, "{field} phải là số: {detail}", "{field} must be a number: {detail}"),
    "not_integer": Rule(E, "{field} phải là số nguyên", "{field} must be a whole number"),
    "undefined_literal": Rule(
        W, "{field} chứa giá trị rỗng kiểu phần mềm ('{found}')", "{field} holds a software placeholder ('{found}')"
    ),
    "too_long": Rule(
        W, "{field} dài {length} ký tự, tối đa {limit}", "{field} has {length} characters, at most {limit}"
    ),
    "code_shape": Rule(W, "{field}: {detail}", "{field}: {detail}"),
    "unknown_field": Rule(
        W,
        "Thẻ {field} không có trong bảng chỉ tiêu; đã lưu nguyên bản",
        "Element {field} is not in the field table; kept raw",
    ),
    "total_mismatch": Rule(
        W,
        "{field} = {declared} khác tổng {source} = {computed}",
        "{field} = {declared} but the sum of {source} is {computed}",
    ),
    "cccd_shape": Rule(W, "SO_CCCD có dạng không hợp lệ: {detail}", "SO_CCCD has an impossible shape: {detail}"),
    "required_missing": Rule(W, "Thiếu {field}", "{field} is missing"),
}


@by_fields
@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    hoso: int | None = None
    """1-based index of the HOSO in the file; ``None`` for file-level issues."""
    table: str | None = None
    row: int | None = None
    """1-based record index inside the table."""
    field: str | None = None
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def rule(self) -> Rule:
        return RULES[self.code]

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def path(self) -> str:
        parts = []
        if self.hoso is not None:
            parts.append(f"HOSO[{self.hoso}]")
        if self.table is not None:
            parts.append(self.table)
        if self.row is not None:
            parts.append(f"[{self.row}]")
        if self.field is not None:
            parts.append(self.field)
        return "/".join(parts).replace("/[", "[") or "/"

    def _fill(self, template: str) -> str:
        values = {"field": self.field, "table": self.table, **dict(self.params)}
        return template.format(**values)

    @property
    def message_vi(self) -> str:
        return self._fill(self.rule.vi)

    @property
    def message_en(self) -> str:
        return self._fill(self.rule.en)

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "path": self.path,
            "hoso": self.hoso,
            "table": self.table,
            "row": self.row,
            "field": self.field,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
        }


def issue(code: str, /, **kwargs: Any) -> Issue:
    """Build an issue; location keywords (hoso, table, row, field) are split from message params."""
    if code not in RULES:
        raise KeyError(f"unknown issue code {code!r}")
    loc = {k: kwargs.pop(k) for k in ("hoso", "table", "row", "field") if k in kwargs}
    return Issue(code, params=tuple(sorted(kwargs.items())), **loc)
