"""``/fhir``: the longitudinal record as FHIR R4 — Patient read and search, ``$match`` (IHE PDQm style),
``$everything``, IHE PIXm ``$ihe-pix``, and the CapabilityStatement.

Reads of patient data take the same clinician key and ``X-Purpose-Of-Use`` as ``/api/v1/persons`` and write
one audit event each, in the read's transaction. Every error on these routes, including those raised by
the auth dependencies and request validation, is answered as an ``OperationOutcome`` (``FhirRoute``); the
JSON error shape of ``/api/v1`` is untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Form, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError
from sqlalchemy import Connection, Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import EngineDep, LinkerDep, ReaderDep
from api.params import MAX_DB_INT
from mpi.audit.log import Reader, record_read
from mpi.errors import MPIError, NotFound
from mpi.fhir import identifiers as sid
from mpi.fhir.bundle import Hit, collection, searchset
from mpi.fhir.capability import capability_statement
from mpi.fhir.everything import RESOURCE_TYPES, date_bounds, everything
from mpi.fhir.lookup import received_since
from mpi.fhir.outcome import operation_outcome
from mpi.fhir.patient import to_patient
from mpi.fhir.search import MatchInput, cross_reference, match, match_input, score, search_token
from mpi.identity.online import OnlineLinker
from mpi.records import DemographicQuery, QueryInvalid, SearchResult, encounter_detail, person_summary, person_timeline
from mpi.records.lookup import MAX_RESULTS, search_demographics
from mpi.records.timeline import MAX_PAGE

FHIR_JSON: Final = "application/fhir+json"


class FhirResponse(Response):
    media_type = FHIR_JSON

    def __init__(self, resource: Resource, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(content=resource.model_dump_json(exclude_none=True), status_code=status_code, headers=headers)


def outcome_response(status: int, code: str, message: str) -> FhirResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return FhirResponse(operation_outcome(status=status, code=code, message=message), status, headers)


class FhirRoute(APIRoute):
    """Answers errors of its route (auth dependencies and validation included) as OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except MPIError as exc:
                return outcome_response(exc.status, exc.code, exc.message)
            except RequestValidationError as exc:
                where = "; ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
                return outcome_response(422, "request_invalid", f"the request is not valid: {where}")
            except StarletteHTTPException as exc:
                return outcome_response(exc.status_code, "http_error", str(exc.detail))

        return fhir_handler


router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute, default_response_class=FhirResponse)
_STARTED: Final = datetime.now(UTC).date().isoformat()


def _person_id(value: str) -> int:
    """A Patient id is our person id: ASCII digits only (``'١'.isdigit()`` is true too), in the id range."""
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_DB_INT:
        raise NotFound("no Patient with that id", code="person_not_found")
    return int(value)


def _hits(conn: Connection, result: SearchResult) -> tuple[list[Hit], list[int]]:
    """Each candidate as its Patient, with score and grade; and the encounter ids those Patients disclose."""
    shared = len(result.candidates) > 1
    hits: list[Hit] = []
    encounter_ids: list[int] = []
    for candidate in result.candidates:
        summary = person_summary(conn=conn, person_id=candidate.person_id)
        encounter_ids += summary.encounter_ids
        hits.append(Hit(to_patient(summary), score=round(score(candidate, shared=shared), 6), grade=candidate.grade))
    return hits, encounter_ids


def _audit_search(
    conn: Connection, reader: Reader, action: str, resource: str, result: SearchResult, ids: list[int]
) -> None:
    persons = result.person_ids
    record_read(
        conn=conn, reader=reader, action=action, resource=resource,
        person_id=persons[0] if len(persons) == 1 else None, record_ids=ids,
        details={"kind": result.kind, "person_ids": persons},
    )  # fmt: skip


@router.get("/metadata", summary="CapabilityStatement")
def metadata(request: Request) -> FhirResponse:
    """What this server supports (no key needed)."""
    return FhirResponse(capability_statement(software_version=request.app.version, date=_STARTED))


@router.post("/Patient/$match", summary="Patient $match (IHE PDQm ITI-119)")
def patient_match(
    reader: ReaderDep, engine: EngineDep, linker: LinkerDep, body: Annotated[dict[str, Any], Body()]
) -> FhirResponse:
    """A Parameters resource with ``resource`` (a Patient), optional ``count`` and ``onlyCertainMatches``;
    answers a searchset Bundle of graded candidates (``search.score`` and the match-grade extension)."""
    query, count, only_certain = _match_parameters(body)
    with engine.begin() as conn:
        result = match(conn=conn, linker=linker, query=query, count=count)
        if only_certain:
            result = SearchResult(
                kind=result.kind, candidates=[c for c in result.candidates if c.grade == "certain"],
                truncated=result.truncated,
            )  # fmt: skip
        hits, ids = _hits(conn, result)
        _audit_search(conn, reader, "fhir.match", "POST /fhir/Patient/$match", result, ids)
    return FhirResponse(searchset(hits))


def _match_parameters(body: dict[str, Any]) -> tuple[MatchInput, int, bool]:
    if body.get("resourceType") != "Parameters":
        raise QueryInvalid("$match takes a Parameters resource")
    try:
        parameters = Parameters.model_validate(body)
    except ValidationError as exc:
        raise QueryInvalid(f"not a valid Parameters resource ({exc.error_count()} problems)") from exc
    patient: dict[str, Any] | None = None
    count, only_certain = MAX_RESULTS, False
    for p in parameters.parameter or ():
        if p.name == "resource" and isinstance(p.resource, Patient):
            patient = p.resource.model_dump(mode="json", exclude_none=True)
        elif p.name == "count" and p.valueInteger is not None:
            count = max(1, min(int(p.valueInteger), MAX_RESULTS))
        elif p.name == "onlyCertainMatches" and p.valueBoolean is not None:
            only_certain = bool(p.valueBoolean)
    if patient is None:
        raise QueryInvalid("$match needs a parameter 'resource' holding a Patient")
    return match_input(patient), count, only_certain


@router.get("/Patient/$ihe-pix", summary="IHE PIXm cross-reference (ITI-83)")
def patient_pix(
    reader: ReaderDep,
    engine: EngineDep,
    source_identifier: Annotated[str, Query(alias="sourceIdentifier", description="system|value")],
    target_system: Annotated[list[str] | None, Query(alias="targetSystem")] = None,
) -> FhirResponse:
    """The person ids and identifiers (CCCD, BHXH number, MA_BN per facility) cross-referenced to one."""
    return _pix(reader, engine, source_identifier, target_system or [], resource="GET /fhir/Patient/$ihe-pix")


@router.post("/Patient/$ihe-pix", summary="IHE PIXm cross-reference (ITI-83), parameters in the body")
def patient_pix_post(
    reader: ReaderDep,
    engine: EngineDep,
    source_identifier: Annotated[str, Form(alias="sourceIdentifier", description="system|value")],
    target_system: Annotated[list[str] | None, Form(alias="targetSystem")] = None,
) -> FhirResponse:
    """The same, form-encoded: the identifier stays out of URLs and access logs."""
    return _pix(reader, engine, source_identifier, target_system or [], resource="POST /fhir/Patient/$ihe-pix")


def _pix(reader: Reader, engine: Engine, source: str, targets: list[str], *, resource: str) -> FhirResponse:
    with engine.begin() as conn:
        xref = cross_reference(conn=conn, source=sid.Token.parse(source), target_systems=targets)
        record_read(
            conn=conn, reader=reader, action="fhir.pix", resource=resource,
            person_id=xref.person_ids[0] if len(xref.person_ids) == 1 else None, record_ids=xref.encounter_ids,
            details={"person_ids": xref.person_ids},
        )  # fmt: skip
    parameter: list[dict[str, Any]] = [{"name": "targetIdentifier", "valueIdentifier": i} for i in xref.identifiers]
    parameter += [{"name": "targetId", "valueReference": {"reference": f"Patient/{p}"}} for p in xref.person_ids]
    return FhirResponse(Parameters.model_validate({"resourceType": "Parameters", "parameter": parameter}))


@router.get("/Patient", summary="Patient search")
def patient_search(
    reader: ReaderDep,
    engine: EngineDep,
    linker: LinkerDep,
    identifier: Annotated[str | None, Query(description="[system|]value")] = None,
    family: str | None = None,
    given: str | None = None,
    birthdate: str | None = None,
) -> FhirResponse:
    """By identifier (any documented system, or none: any system), or by family + given + birthdate."""
    return _search(reader, engine, linker, identifier, family, given, birthdate, resource="GET /fhir/Patient")


@router.post("/Patient/_search", summary="Patient search (parameters in the body)")
def patient_search_post(
    reader: ReaderDep,
    engine: EngineDep,
    linker: LinkerDep,
    identifier: Annotated[str | None, Form(description="[system|]value")] = None,
    family: Annotated[str | None, Form()] = None,
    given: Annotated[str | None, Form()] = None,
    birthdate: Annotated[str | None, Form()] = None,
) -> FhirResponse:
    """The same search with ``application/x-www-form-urlencoded`` parameters, which keeps identifiers and
    names out of URLs and access logs (prefer it, as ``/api/v1/persons/search`` takes a body)."""
    return _search(reader, engine, linker, identifier, family, given, birthdate, resource="POST /fhir/Patient/_search")


def _search(
    reader: Reader,
    engine: Engine,
    linker: OnlineLinker,
    identifier: str | None,
    family: str | None,
    given: str | None,
    birthdate: str | None,
    *,
    resource: str,
) -> FhirResponse:
    with engine.begin() as conn:
        if identifier:
            result = search_token(conn=conn, token=sid.Token.parse(identifier))
        elif family and given and birthdate:
            query = DemographicQuery(name=f"{family} {given}", birth_date=birthdate)
            result = search_demographics(conn=conn, query=query, linker=linker)
        else:
            raise QueryInvalid("search Patient by identifier, or by family + given + birthdate")
        hits, ids = _hits(conn, result)
        _audit_search(conn, reader, "fhir.search", resource, result, ids)
    return FhirResponse(searchset(hits))


@router.get("/Patient/{patient_id}", summary="Patient read")
def patient_read(patient_id: str, reader: ReaderDep, engine: EngineDep) -> FhirResponse:
    """Every identifier and the demographics as each facility recorded them."""
    with engine.begin() as conn:
        summary = person_summary(conn=conn, person_id=_person_id(patient_id))
        record_read(
            conn=conn, reader=reader, action="fhir.read", resource="GET /fhir/Patient/{id}",
            person_id=summary.person.person_id, record_ids=summary.encounter_ids,
        )  # fmt: skip
    return FhirResponse(to_patient(summary))


@router.get("/Patient/{patient_id}/$everything", summary="Patient $everything")
def patient_everything(
    patient_id: str,
    reader: ReaderDep,
    engine: EngineDep,
    start: Annotated[str | None, Query(description="care from this date (YYYY[-MM[-DD]])")] = None,
    end: Annotated[str | None, Query(description="care up to this date, inclusive")] = None,
    since: Annotated[datetime | None, Query(alias="_since", description="received by the hub at or after")] = None,
    types: Annotated[str | None, Query(alias="_type", description="comma-separated resource types")] = None,
) -> FhirResponse:
    """Patient, Encounters and what they recorded (Condition, MedicationRequest, Procedure, Observation,
    ServiceRequest, Appointment) and the Organizations they name; newest encounter first."""
    try:
        date_from, date_to = date_bounds(start, end)
    except ValueError as exc:
        raise QueryInvalid(f"start/end: {exc}") from exc
    wanted = frozenset(t.strip() for t in types.split(",") if t.strip()) if types else None
    if wanted is not None and not wanted <= set(RESOURCE_TYPES):
        raise QueryInvalid(f"_type may name only: {', '.join(RESOURCE_TYPES)}")
    with engine.begin() as conn:
        summary = person_summary(conn=conn, person_id=_person_id(patient_id))
        person = summary.person.person_id
        entries, offset = [], 0
        while True:
            page = person_timeline(
                conn=conn, person_id=person, date_from=date_from, date_to=date_to, limit=MAX_PAGE, offset=offset
            )
            entries += page.entries
            offset += MAX_PAGE
            if offset >= page.total:
                break
        ids = [e.encounter_id for e in entries]
        if since is not None:
            recent = received_since(conn=conn, encounter_ids=ids, since=since)
            ids = [i for i in ids if i in recent]
        details = [encounter_detail(conn=conn, encounter_id=i) for i in ids]
        resources = everything(patient=to_patient(summary), details=details, types=wanted)
        record_read(
            conn=conn, reader=reader, action="fhir.everything", resource="GET /fhir/Patient/{id}/$everything",
            person_id=person, record_ids=ids,
        )  # fmt: skip
    return FhirResponse(collection(resources))


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def unsupported(path: str) -> FhirResponse:
    """Anything else under /fhir: an OperationOutcome too, not the /api/v1 error shape."""
    raise NotFound("this FHIR server does not support that resource or interaction", code="not_supported")
