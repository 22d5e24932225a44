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

from fastapi import APIRouter, Body, Depends, Form, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError
from sqlalchemy import Connection
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.audited import ADMIN, CLINICAL, AuditedRead, ReadTransaction, audited_read
from api.deps import LinkerDep
from api.params import MAX_DB_INT
from mpi.audit.access import access_report
from mpi.errors import MPIError, NotFound
from mpi.fhir import identifiers as sid
from mpi.fhir.audit_event import to_audit_event
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


MatchRead = Annotated[AuditedRead, Depends(audited_read("fhir.match", CLINICAL))]
PixRead = Annotated[AuditedRead, Depends(audited_read("fhir.pix", CLINICAL))]
SearchRead = Annotated[AuditedRead, Depends(audited_read("fhir.search", CLINICAL))]
PatientRead = Annotated[AuditedRead, Depends(audited_read("fhir.read", CLINICAL))]
EverythingRead = Annotated[AuditedRead, Depends(audited_read("fhir.everything", CLINICAL))]


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


def _audit_search(tx: ReadTransaction, result: SearchResult, ids: list[int]) -> None:
    tx.disclosed(person_ids=result.person_ids, record_ids=ids, details={"kind": result.kind})


@router.get("/metadata", summary="CapabilityStatement")
def metadata(request: Request) -> FhirResponse:
    """What this server supports (no key needed)."""
    return FhirResponse(capability_statement(software_version=request.app.version, date=_STARTED))


@router.post("/Patient/$match", summary="Patient $match (IHE PDQm ITI-119)")
def patient_match(read: MatchRead, linker: LinkerDep, body: Annotated[dict[str, Any], Body()]) -> FhirResponse:
    """A Parameters resource with ``resource`` (a Patient), optional ``count`` and ``onlyCertainMatches``;
    answers a searchset Bundle of graded candidates (``search.score`` and the match-grade extension)."""
    query, count, only_certain = _match_parameters(body)
    with read.transaction() as tx:
        result = match(conn=tx.conn, linker=linker, query=query, count=count)
        if only_certain:
            result = SearchResult(
                kind=result.kind, candidates=[c for c in result.candidates if c.grade == "certain"],
                truncated=result.truncated,
            )  # fmt: skip
        hits, ids = _hits(tx.conn, result)
        _audit_search(tx, result, ids)
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
    read: PixRead,
    source_identifier: Annotated[str, Query(alias="sourceIdentifier", description="system|value")],
    target_system: Annotated[list[str] | None, Query(alias="targetSystem")] = None,
) -> FhirResponse:
    """The person ids and identifiers (CCCD, BHXH number, MA_BN per facility) cross-referenced to one."""
    return _pix(read, source_identifier, target_system or [])


@router.post("/Patient/$ihe-pix", summary="IHE PIXm cross-reference (ITI-83), parameters in the body")
def patient_pix_post(
    read: PixRead,
    source_identifier: Annotated[str, Form(alias="sourceIdentifier", description="system|value")],
    target_system: Annotated[list[str] | None, Form(alias="targetSystem")] = None,
) -> FhirResponse:
    """The same, form-encoded: the identifier stays out of URLs and access logs."""
    return _pix(read, source_identifier, target_system or [])


def _pix(read: AuditedRead, source: str, targets: list[str]) -> FhirResponse:
    with read.transaction() as tx:
        xref = cross_reference(conn=tx.conn, source=sid.Token.parse(source), target_systems=targets)
        tx.disclosed(person_ids=xref.person_ids, record_ids=xref.encounter_ids)
    parameter: list[dict[str, Any]] = [{"name": "targetIdentifier", "valueIdentifier": i} for i in xref.identifiers]
    parameter += [{"name": "targetId", "valueReference": {"reference": f"Patient/{p}"}} for p in xref.person_ids]
    return FhirResponse(Parameters.model_validate({"resourceType": "Parameters", "parameter": parameter}))


@router.get("/Patient", summary="Patient search")
def patient_search(
    read: SearchRead,
    linker: LinkerDep,
    identifier: Annotated[str | None, Query(description="[system|]value")] = None,
    family: str | None = None,
    given: str | None = None,
    birthdate: str | None = None,
) -> FhirResponse:
    """By identifier (any documented system, or none: any system), or by family + given + birthdate."""
    return _search(read, linker, identifier, family, given, birthdate)


@router.post("/Patient/_search", summary="Patient search (parameters in the body)")
def patient_search_post(
    read: SearchRead,
    linker: LinkerDep,
    identifier: Annotated[str | None, Form(description="[system|]value")] = None,
    family: Annotated[str | None, Form()] = None,
    given: Annotated[str | None, Form()] = None,
    birthdate: Annotated[str | None, Form()] = None,
) -> FhirResponse:
    """The same search with ``application/x-www-form-urlencoded`` parameters, which keeps identifiers and
    names out of URLs and access logs (prefer it, as ``/api/v1/persons/search`` takes a body)."""
    return _search(read, linker, identifier, family, given, birthdate)


def _search(
    read: AuditedRead,
    linker: OnlineLinker,
    identifier: str | None,
    family: str | None,
    given: str | None,
    birthdate: str | None,
) -> FhirResponse:
    with read.transaction() as tx:
        if identifier:
            result = search_token(conn=tx.conn, token=sid.Token.parse(identifier))
        elif family and given and birthdate:
            query = DemographicQuery(name=f"{family} {given}", birth_date=birthdate)
            result = search_demographics(conn=tx.conn, query=query, linker=linker)
        else:
            raise QueryInvalid("search Patient by identifier, or by family + given + birthdate")
        hits, ids = _hits(tx.conn, result)
        _audit_search(tx, result, ids)
    return FhirResponse(searchset(hits))


@router.get("/Patient/{patient_id}", summary="Patient read")
def patient_read(patient_id: str, read: PatientRead) -> FhirResponse:
    """Every identifier and the demographics as each facility recorded them."""
    with read.transaction() as tx:
        summary = person_summary(conn=tx.conn, person_id=_person_id(patient_id))
        tx.disclosed(person_id=summary.person.person_id, record_ids=summary.encounter_ids)
    return FhirResponse(to_patient(summary))


@router.get("/Patient/{patient_id}/$everything", summary="Patient $everything")
def patient_everything(
    patient_id: str,
    read: EverythingRead,
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
    with read.transaction() as tx:
        conn = tx.conn
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
        tx.disclosed(person_id=person, record_ids=ids)
    return FhirResponse(collection(resources))


AccessRead = Annotated[AuditedRead, Depends(audited_read("fhir.audit_event", ADMIN))]


@router.get("/AuditEvent", summary="AuditEvent search by patient (the patient access report, BALP-style)")
def audit_event_search(
    read: AccessRead,
    patient: Annotated[str, Query(description="Patient/{id} or {id}")],
    count: Annotated[int, Query(alias="_count", ge=1, le=500)] = 100,
) -> FhirResponse:
    """Who read the patient's record: one AuditEvent per read (organisation, role, purpose, time, outcome);
    never a staff member's name. Administrators, with purpose HOPERAT, PATADMIN or PATRQT."""
    person_id = _person_id(patient.removeprefix("Patient/"))
    with read.transaction() as tx:
        report = access_report(conn=tx.conn, person_id=person_id, limit=count)
        tx.disclosed(person_id=report.person.person_id, details={"events": len(report.entries)})
    hits = [Hit(to_audit_event(a, patient_id=report.person.person_id)) for a in report.entries]
    return FhirResponse(searchset(hits))


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def unsupported(path: str) -> FhirResponse:
    """Anything else under /fhir: an OperationOutcome too, not the /api/v1 error shape."""
    raise NotFound("this FHIR server does not support that resource or interaction", code="not_supported")
