"""Dates of the record as the facility knew them: ISO 8601 cut to the precision that was sent.

``19560000`` stays ``1956``; a time of ``0000`` (unknown) stays a day. FHIR ``date``/``dateTime`` accept
the same partial forms, so a FHIR layer can pass these through.
"""

from __future__ import annotations

from datetime import datetime


def partial_iso(value: datetime | None, precision: str | None) -> str | None:
    if value is None:
        return None
    if precision == "year":
        return f"{value.year:04d}"
    if precision == "month":
        return f"{value.year:04d}-{value.month:02d}"
    if precision == "minute":
        return value.strftime("%Y-%m-%dT%H:%M")
    return value.strftime("%Y-%m-%d")
