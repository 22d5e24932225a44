"""The queries behind ``$everything`` pages and the reads of resources derived from encounters.

``$everything`` walks a person's current encounter versions newest first, keeping those whose care period
(NGAY_VAO to NGAY_RA, or the day of NGAY_VAO when there is no NGAY_RA) overlaps ``start``/``end`` and, with
``_since``, those the hub received at or after it. A page position is (group, skip): group 0 is the
Patient, group *i* the resources of the *i*-th encounter; a page takes ``count`` resources from there and
includes (``search.mode = include``) the Organizations and Locations its encounters reference. Read-only,
keyword-only, on the caller's connection; never logs a value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.resource import Resource
from sqlalchemy import Connection, func, or_, select

from mpi.errors import NotFound
from mpi.facilities import describe_facilities, describe_facility
from mpi.fhir.bundle import Hit
from mpi.fhir.everything import encounter_of, encounter_resources, facilities_of, location, organization, pick
from mpi.fhir.lookup import mothers_names, received_at, recorded_identities
from mpi.fhir.patient import to_patient
from mpi.identity.links import ResolvedPerson
from mpi.identity.review import open_review_partners
from mpi.records import EncounterDetail, encounter_detail, person_summary
from mpi.records.person import current_encounters, encounters, read_current_encounters, xml1
from mpi.records.sensitivity import Segmented
from mpi.store.content import content_tables
from mpi.store.models import Facility

facility_table = Facility.__table__  # type: ignore[attr-defined]
_INCLUDED = ("Organization", "Location")


def person_patient(
    *,
    conn: Connection,
    person: ResolvedPerson,
    segmented: Segmented,
    identifier_systems: frozenset[str] | None = None,
    encounters: Sequence[Any] | None = None,
) -> tuple[dict[str, Any], tuple[int, ...]]:
    """A surviving person as this reader may see them (the Patient as FHIR JSON,
    :func:`mpi.fhir.patient.to_patient`), and the encounter ids the Patient draws on: encounters withheld
    from the reader (:mod:`mpi.records.sensitivity`) give nothing — no identifier, name, address or
    facility — and the Patient's ``meta.security`` says what it shows of sensitive data and that some was
    withheld (``REDACTED``). The one way every FHIR answer builds a Patient (read, search, ``$match``,
    ``$everything``). ``identifier_systems``: the identifier domains a search asked to see. ``encounters``:
    the current encounters of the person's cluster (:func:`mpi.records.person.current_encounters`), when
    the caller read them already; else they are read here, once."""
    withheld = segmented.withheld_ids
    rows = read_current_encounters(conn, person.cluster) if encounters is None else encounters
    summary = person_summary(conn=conn, person_id=person.person_id, exclude=withheld, person=person, encounters=rows)
    identities = [i for i in recorded_identities(conn=conn, cluster=person.cluster, encounters=rows)
                  if i.encounter_id not in withheld]  # fmt: skip
    patient = to_patient(
        summary,
        identities,
        open_review_partners(conn=conn, cluster=person.cluster),
        security=segmented.summary_labels(),
        mothers_names=mothers_names(conn=conn, encounter_ids=[i.encounter_id for i in identities]),
        identifier_systems=identifier_systems,
    )
    return patient, summary.encounter_ids


def care_encounters(
    *,
    conn: Connection,
    cluster: tuple[int, ...],
    date_from: date | None = None,
    date_to: date | None = None,
    since: datetime | None = None,
) -> list[int]:
    """Current encounter versions of the cluster whose care overlaps [date_from, date_to] (inclusive days)
    and, with ``since``, received at or after it; newest admission first."""
    query = current_encounters(cluster).with_only_columns(encounters.c.id, encounters.c.received_at)
    if date_to is not None:
        query = query.where(xml1.c.ngay_vao < datetime.combine(date_to + timedelta(days=1), time.min))
    if date_from is not None:
        query = query.where(func.coalesce(xml1.c.ngay_ra, xml1.c.ngay_vao) >= datetime.combine(date_from, time.min))
    rows = conn.execute(query.order_by(xml1.c.ngay_vao.desc(), encounters.c.id.desc())).all()
    ids = [int(r.id) for r in rows]
    if since is None:
        return ids
    arrived = received_at(conn=conn, encounter_ids=ids)
    cutoff = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    return [i for i in ids if arrived[i] >= cutoff]


def encounter_meta(conn: Connection, encounter_id: int, version: int, security: Sequence[dict[str, str]] = ()) -> Meta:
    """``meta`` of every resource derived from an encounter version: its version, when it arrived, and the
    security labels of its sensitive data (``mpi.records.sensitivity.security_labels``)."""
    arrived = received_at(conn=conn, encounter_ids=[encounter_id])[encounter_id]
    meta: dict[str, Any] = {"versionId": str(version), "lastUpdated": arrived.isoformat()}
    if security:
        meta["security"] = list(security)
    return Meta.model_validate(meta)


@dataclass(frozen=True, slots=True)
class EverythingPage:
    hits: list[Hit]
    next_position: tuple[int, int] | None
    encounter_ids: list[int]
    """The encounters whose content this page discloses."""


def everything_page(
    *,
    conn: Connection,
    patient: Resource,
    encounter_ids: Sequence[int],
    types: frozenset[str] | None,
    position: tuple[int, int],
    count: int,
    labels: Callable[[int], Sequence[dict[str, str]]] = lambda _: (),
) -> EverythingPage:
    """One page of ``$everything`` from ``position`` (see the module's docstring)."""
    group, skip = position
    wanted: list[Resource] = []
    used: list[int] = []
    details: list[EncounterDetail] = []
    next_position: tuple[int, int] | None = None
    pid = str(patient.id)
    while group <= len(encounter_ids):
        detail = None
        if group == 0:
            resources: list[Resource] = [patient]
        else:
            eid = encounter_ids[group - 1]
            detail = encounter_detail(conn=conn, encounter_id=eid)
            meta = encounter_meta(conn, eid, detail.entry.version, labels(eid))
            resources = encounter_resources(detail, pid, meta)
        available = [r for r in resources if types is None or r.get_resource_type() in types][skip:]
        room = count - len(wanted)
        taken = available[:room]
        if detail is not None and taken:
            used.append(detail.entry.encounter_id)
            details.append(detail)
        wanted += taken
        if len(available) > room:
            next_position = (group, skip + room)
            break
        group, skip = group + 1, 0
        if len(wanted) >= count and group <= len(encounter_ids):
            next_position = (group, 0)
            break
    hits = [Hit(r) for r in wanted]
    codes = facilities_of(details)
    if position[0] == 0:
        managing = patient.model_dump().get("managingOrganization") or {}
        ref = str(managing.get("reference") or "")
        if ref.startswith("Organization/") and ref.split("/", 1)[1] not in codes:
            codes.insert(0, ref.split("/", 1)[1])
    places = list(dict.fromkeys(d.entry.facility_code for d in details))
    facilities = describe_facilities(conn=conn, codes=[*codes, *places])
    if types is None or "Organization" in types:
        hits += [Hit(organization(facilities[c]), mode="include") for c in codes]
    if types is None or "Location" in types:
        hits += [Hit(location(facilities[c]), mode="include") for c in places]
    return EverythingPage(hits=hits, next_position=next_position, encounter_ids=used)


def everything_total(
    *, conn: Connection, patient: Resource, encounter_ids: Sequence[int], types: frozenset[str] | None
) -> int:
    """How many resources (not counting includes) the whole ``$everything`` has (``_summary=count``)."""
    total = 1 if types is None or "Patient" in types else 0
    for eid in encounter_ids:
        detail = encounter_detail(conn=conn, encounter_id=eid)
        total += sum(
            1 for r in encounter_resources(detail, str(patient.id)) if types is None or r.get_resource_type() in types
        )
    return total


@dataclass(frozen=True, slots=True)
class Found:
    resource: Resource
    person_id: int | None
    encounter_ids: list[int]


def read_resource(
    *, conn: Connection, resource_type: str, resource_id: str, security: Sequence[dict[str, str]] = ()
) -> Found:
    """A resource derived from a current encounter version, or a facility as Organization / Location;
    :class:`NotFound` otherwise (a superseded encounter version's resources included)."""
    if resource_type in _INCLUDED:
        if not facility_known(conn, resource_id):
            raise NotFound(f"no {resource_type} with that id", code="resource_not_found")
        build = organization if resource_type == "Organization" else location
        return Found(build(describe_facility(conn=conn, code=resource_id)), None, [])
    eid = encounter_of(resource_type, resource_id)
    current = (
        conn.execute(select(encounters.c.is_current).where(encounters.c.id == eid)).scalar_one_or_none()
        if eid is not None
        else None
    )
    if eid is None or not current:
        raise NotFound(f"no {resource_type} with that id", code="resource_not_found")
    detail = encounter_detail(conn=conn, encounter_id=eid)
    if detail.person_id is None:
        raise NotFound(f"no {resource_type} with that id", code="resource_not_found")
    meta = encounter_meta(conn, eid, detail.entry.version, security)
    resource = pick(encounter_resources(detail, str(detail.person_id), meta), resource_type, resource_id)
    if resource is None:
        raise NotFound(f"no {resource_type} with that id", code="resource_not_found")
    return Found(resource, detail.person_id, [eid])


def facility_known(conn: Connection, code: str) -> bool:
    """A facility that submitted, or that an encounter names as referring or receiving facility."""
    if conn.execute(select(facility_table.c.code).where(facility_table.c.code == code)).first() is not None:
        return True
    letters = content_tables["XML13"]
    named = select(xml1.c.encounter_id).where(or_(xml1.c.ma_noi_den == code, xml1.c.ma_noi_di == code)).limit(1)
    if conn.execute(named).first() is not None:
        return True
    return conn.execute(select(letters.c.encounter_id).where(letters.c.ma_noi_den == code).limit(1)).first() is not None
