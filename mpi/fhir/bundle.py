"""Bundles: ``searchset`` for searches and ``$match`` (with score and match grade), ``collection`` for
``$everything``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from mpi.fhir.identifiers import MATCH_GRADE


@dataclass(frozen=True, slots=True)
class Hit:
    resource: Resource
    score: float | None = None
    grade: str | None = None
    """``certain`` | ``probable`` | ``possible``."""


def _full_url(resource: Resource) -> str:
    return f"{resource.get_resource_type()}/{resource.id}"


def searchset(hits: Sequence[Hit]) -> Bundle:
    entries: list[dict[str, Any]] = []
    for hit in hits:
        search: dict[str, Any] = {"mode": "match"}
        if hit.score is not None:
            search["score"] = hit.score
        if hit.grade is not None:
            search["extension"] = [{"url": MATCH_GRADE, "valueCode": hit.grade}]
        entries.append({"fullUrl": _full_url(hit.resource), "resource": hit.resource, "search": search})
    return Bundle.model_validate({"resourceType": "Bundle", "type": "searchset", "total": len(hits), "entry": entries})


def collection(resources: Iterable[Resource]) -> Bundle:
    entries = [{"fullUrl": _full_url(r), "resource": r} for r in resources]
    return Bundle.model_validate({"resourceType": "Bundle", "type": "collection", "entry": entries})
