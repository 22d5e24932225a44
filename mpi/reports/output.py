"""A report as CSV (UTF-8, machine column names), XLSX (Vietnamese header row under the machine names) or
Markdown."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any, Literal

from mpi.reports.report import Report

Format = Literal["csv", "xlsx", "md"]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


def to_csv(report: Report) -> str:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_text(row.get(c)) for c in report.columns])
    return buf.getvalue()


def to_markdown(report: Report) -> str:
    lines = [f"## {report.title_vi}", "", "| " + " | ".join(report.labels_vi) + " |"]
    lines.append("| " + " | ".join("---" for _ in report.columns) + " |")
    for row in report.rows:
        lines.append("| " + " | ".join(_text(row.get(c)).replace("|", "\\|") for c in report.columns) + " |")
    lines += [""] + [f"_{n}_" for n in report.notes]
    return "\n".join(lines) + "\n"


def to_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = report.name[:31]
    sheet.append(report.columns)
    sheet.append(report.labels_vi)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in report.rows:
        sheet.append([row.get(c) for c in report.columns])
    for note in report.notes:
        sheet.append([])
        sheet.append([note])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def render(report: Report, fmt: Format) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(report)
    return (to_csv(report) if fmt == "csv" else to_markdown(report)).encode("utf-8")


MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "md": "text/markdown; charset=utf-8",
}
