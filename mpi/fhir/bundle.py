"""``searchset`` Bundles for searches, ``$match`` (with score and match grade) and ``$everything``: absolute
``fullUrl``s from the request's base, ``self`` / ``next`` / ``previous`` links, ``total`` where it is known,
and an ``OperationOutcome`` entry (``search.mode = outcome``) for warnings such as ignored parameters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.resource import Resource

from mpi.fhir.identifiers import MATCH_GRADE


@dataclass(frozen=True, slots=True)
class Hit:
    resource: Resource | dict[str, Any]
    """The resource as its ``fhir.resources`` model, or as FHIR JSON already (a Patient as
    :func:`mpi.fhir.record.person_patient` writes it)."""
    score: float | None = None
    grade: str | None = None
    """``certain`` | ``probable`` | ``possible``."""
    mode: str = "match"
    """``match`` (a result) or ``include`` (referenced by a result)."""


def full_url(base: str, resource: Resource | dict[str, Any]) -> str:
    if isinstance(resource, dict):
        return f"{base}/{resource['resourceType']}/{resource['id']}"
    return f"{base}/{resource.get_resource_type()}/{resource.id}"


def searchset(
    hits: Sequence[Hit],
    *,
    base: str,
    self_url: str,
    total: int | None = None,
    next_url: str | None = None,
    previous_url: str | None = None,
    outcome: OperationOutcome | None = None,
) -> Bundle | dict[str, Any]:
    """A page of results. ``total`` is the number of matches of the whole search (None: not known).

    When every resource is FHIR JSON already and there is no outcome, the Bundle is FHIR JSON too, written
    as it is (validating a page of Patients into ``fhir.resources`` models and dumping them again costs
    more CPU than the search that found them; tests check such Bundles against the R4 schema and
    ``fhir.resources``); else the Bundle's model."""
    entries: list[dict[str, Any]] = []
    for hit in hits:
        search: dict[str, Any] = {"mode": hit.mode}
        if hit.score is not None:
            search["score"] = hit.score
        if hit.grade is not None:
            search["extension"] = [{"url": MATCH_GRADE, "valueCode": hit.grade}]
        entries.append({"fullUrl": full_url(base, hit.resource), "resource": hit.resource, "search": search})
    if outcome is not None:
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": outcome, "search": {"mode": "outcome"}})
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    if previous_url is not None:
        links.append({"relation": "previous", "url": previous_url})
    data: dict[str, Any] = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset", "link": links}
    if total is not None:
        data["total"] = total
    if entries:
        data["entry"] = entries
    if outcome is None and all(isinstance(hit.resource, dict) for hit in hits):
        return data
    return Bundle.model_validate(data)
