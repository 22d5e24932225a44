"""A report table: its columns (stable machine names), Vietnamese labels, rows and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Report:
    name: str
    title_vi: str
    title_en: str
    columns: list[str]
    labels_vi: list[str]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
