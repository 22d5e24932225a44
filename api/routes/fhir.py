"""``/fhir``: the longitudinal record as FHIR R4 — Patient read and search (IHE PDQm ITI-78), ``$match``
(ITI-119), ``$everything``, IHE PIXm ``$ihe-pix`` (ITI-83), reads of every resource a Patient's record
references, and the CapabilityStatement.

Reads of patient data take the same clinician key and ``X-Purpose-Of-Use`` as ``/api/v1/persons`` and write
one audit event each, in the read's transaction. Every error on these routes, including those raised by
the auth dependencies and request validation, is answered as an ``OperationOutcome`` (``FhirRoute``); the
JSON error shape of ``/api/v1`` is untouched. Links and ``fullUrl``s are absolute, from the request's base
(``X-Forwarded-Proto`` / ``-Host`` / ``-Port`` / ``-Prefix`` or ``Forwarded`` behind a proxy). Answers are
JSON, or XML for ``Accept: application/fhir+xml`` / ``_format=xml``; anything else is a 406.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.audited import ADMIN, CLINICAL, AuditedRead, ReadTransaction, audited_read
from api.deps import LinkerDep
from api.errors import OPERATION_OUTCOME_RESPONSES
from api.params import MAX_DB_INT
from mpi.audit.access import access_report
from mpi.errors import MPIError, NotFound
from mpi.fhir import identifiers as sid
from mpi.fhir import params as P
from mpi.fhir import pdq
from mpi.fhir.audit_event import to_audit_event
from mpi.fhir.bundle import Hit, searchset
from mpi.fhir.capability import capability_statement
from mpi.fhir.everything import RESOURCE_TYPES, date_bounds, encounter_of
from mpi.fhir.outcome import operation_outcome, warnings
from mpi.fhir.paging import read_cursor, sign_cursor
from mpi.fhir.patient import replaced_patient
from mpi.fhir.record import care_encounters, everything_page, everything_total, person_patient, read_resource
from mpi.fhir.search import (
    MatchInput,
    TooBroad,
    canonical_id,
    cross_reference,
    domains,
    holds_domain,
    match,
    match_input,
    score,
    search_ids,
    search_tokens,
)
from mpi.identity.links import ResolvedPerson, resolve_person
from mpi.records import Candidate, SearchResult
from mpi.records.lookup import MAX_RESULTS
from mpi.records.person import person_of_encounter
from mpi.records.sensitivity import Segmentation, security_labels
from mpi.store.db import read_only

FHIR_JSON: Final = "application/fhir+json"
FHIR_XML: Final = "application/fhir+xml"
_JSON_FORMATS: Final = frozenset({"json", "application/json", FHIR_JSON})
_XML_FORMATS: Final = frozenset({"xml", "text/xml", "application/xml", FHIR_XML})
_ANY: Final = frozenset({"*/*", "application/*"})
SEARCH_LIMIT: Final = 100
"""Patients a search lists at most (paged by ``_count``); ``total`` is given when all of them fit, else a
warning says the search should be narrowed."""
_HOST: Final = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_PREFIX: Final = re.compile(r"(/[A-Za-z0-9._~\-]+)*")


class NotAcceptable(MPIError):
    code = "format_not_acceptable"
    status = 406


class MethodNotAllowed(MPIError):
    code = "interaction_not_supported"
    status = 405


class BodyInvalid(MPIError):
    code = "body_invalid"
    status = 400


# --- HTTP: base URL, content negotiation, responses ---------------------------------------------------


def _first(value: str | None) -> str | None:
    return value.split(",")[0].strip() or None if value else None


def base_url(request: Request) -> str:
    """The server's FHIR base as the client sees it: proxy headers when they are well-formed, else the
    request's own scheme and host."""
    headers = request.headers
    proto, host = _first(headers.get("x-forwarded-proto")), _first(headers.get("x-forwarded-host"))
    forwarded = _first(headers.get("forwarded"))
    if forwarded:
        fields = dict(p.strip().split("=", 1) for p in forwarded.split(";") if "=" in p)
        proto = proto or fields.get("proto", "").strip('"') or None
        host = host or fields.get("host", "").strip('"') or None
    if proto not in ("http", "https"):
        proto = request.url.scheme
    if host is None or not _HOST.fullmatch(host):
        host = headers.get("host") or request.url.netloc
    port = _first(headers.get("x-forwarded-port"))
    default_port = (proto, port) in (("http", "80"), ("https", "443"))
    if port and port.isdigit() and ":" not in host.rsplit("]", 1)[-1] and not default_port:
        host = f"{host}:{port}"
    prefix = (_first(headers.get("x-forwarded-prefix")) or "").rstrip("/")
    if not _PREFIX.fullmatch(prefix):
        prefix = ""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{proto}://{host}{prefix}{root}/fhir"


def negotiate(request: Request) -> str:
    """``json`` or ``xml`` from ``_format`` (wins) or ``Accept``; :class:`NotAcceptable` otherwise."""
    fmt = request.query_params.get("_format")
    if fmt is not None:
        fmt = fmt.split(";")[0].strip().lower()
        if fmt in _JSON_FORMATS:
            return "json"
        if fmt in _XML_FORMATS:
            return "xml"
        raise NotAcceptable("_format must be json or xml (application/fhir+json, application/fhir+xml)")
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return "json"
    for part in accept.split(","):
        media, *options = (x.strip() for x in part.split(";"))
        if any(o.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for o in options):
            continue
        media = media.lower()
        if media in _JSON_FORMATS or media in _ANY:
            return "json"
        if media in _XML_FORMATS:
            return "xml"
    raise NotAcceptable(f"this server answers {FHIR_JSON} or {FHIR_XML}, not what Accept asks for")


FhirContent = Resource | dict[str, Any]
"""A resource as its ``fhir.resources`` model, or as FHIR JSON already (written as it is: building and
dumping the model of a resource costs more CPU than the read that fills it; tests check such JSON is
exactly what the model writes)."""


class FhirResponse(Response):
    media_type = FHIR_JSON

    def __init__(
        self,
        resource: FhirContent,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        fmt: str = "json",
        pretty: bool = False,
    ) -> None:
        if fmt == "xml":
            if isinstance(resource, dict):
                xml = get_fhir_model_class(resource["resourceType"]).model_validate(resource).model_dump_xml(
                    exclude_none=True, pretty_print=pretty
                )
            else:
                xml = resource.model_dump_xml(exclude_none=True, pretty_print=pretty)
            super().__init__(content=xml, status_code=status_code, headers=headers, media_type=FHIR_XML)
        elif isinstance(resource, dict):
            data = orjson.dumps(resource, option=orjson.OPT_INDENT_2 if pretty else None)
            super().__init__(content=data, status_code=status_code, headers=headers)
        else:
            body = resource.model_dump_json(exclude_none=True, indent=2 if pretty else None)
            super().__init__(content=body, status_code=status_code, headers=headers)


def _respond(
    request: Request, resource: FhirContent, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    pretty = request.query_params.get("_pretty") == "true"
    return FhirResponse(resource, status, headers, fmt=negotiate(request), pretty=pretty)


def outcome_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    issue_type: str | None = None,
    headers: dict[str, str] | None = None,
    severity: str = "error",
) -> Response:
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    if status == 405:
        headers["Allow"] = "GET, POST" if "/Patient/$" in request.url.path else "GET"
    try:
        fmt = negotiate(request)
    except NotAcceptable:
        fmt = "json"
    outcome = operation_outcome(status=status, code=code, message=message, issue_type=issue_type, severity=severity)
    return FhirResponse(outcome, status, headers or None, fmt=fmt)


class FhirRoute(APIRoute):
    """Answers errors of its route (auth dependencies and validation included) as OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except MPIError as exc:
                issue_type = getattr(exc, "issue_type", None)
                severity = getattr(exc, "severity", "error")
                return outcome_response(
                    request, exc.status, exc.code, exc.message, issue_type, exc.headers, severity=severity
                )
            except RequestValidationError as exc:
                where = "; ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
                return outcome_response(request, 400, "request_invalid", f"the request is not valid: {where}")
            except StarletteHTTPException as exc:
                return outcome_response(request, exc.status_code, "http_error", str(exc.detail))

        return fhir_handler


router = APIRouter(
    prefix="/fhir", tags=["fhir"], route_class=FhirRoute, default_response_class=FhirResponse,
    responses=OPERATION_OUTCOME_RESPONSES,
)  # fmt: skip
_STARTED: Final = datetime.now(UTC).date().isoformat()


# --- request parameters --------------------------------------------------------------------------------


def _strict(request: Request) -> bool:
    return "handling=strict" in request.headers.get("prefer", "").replace(" ", "")


async def _pairs(request: Request) -> list[tuple[str, str]]:
    """Query parameters, plus form fields for a form-encoded POST (FHIR allows both together)."""
    pairs = list(request.query_params.multi_items())
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await request.form()
        pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return pairs


def _json_body(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except json.JSONDecodeError as exc:
        raise BodyInvalid(f"the body is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise BodyInvalid("the body is not UTF-8") from exc
    if not isinstance(body, dict):
        raise BodyInvalid("the body must be a FHIR resource (a JSON object)")
    return body


Received = list[tuple[str, str]] | bytes
"""An operation's input as it arrived: its query and form pairs, or the bytes of a JSON body."""


async def _received(request: Request) -> Received:
    """Read on the event loop (where the body arrives); what is parsed from it, and everything a route then
    reads from the store, is done in a worker thread (``run_in_threadpool``): CPU work on the loop would
    hold up every other request of the process meanwhile."""
    if request.method == "POST" and _is_json(request):
        return await request.body()
    return await _pairs(request)


def _operation_pairs(request: Request, received: Received) -> list[tuple[str, str]]:
    """An operation's parameters: the query's, plus a Parameters body's (or the query and form pairs)."""
    if isinstance(received, bytes):
        return list(request.query_params.multi_items()) + _parameter_pairs(_parameters(_json_body(received)))
    return received


def _parameters(body: dict[str, Any]) -> Parameters:
    if body.get("resourceType") != "Parameters":
        raise BodyInvalid("the body must be a Parameters resource")
    try:
        return Parameters.model_validate(body)
    except ValidationError as exc:
        where = "; ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
        raise BodyInvalid(f"not a valid Parameters resource: {where}") from exc


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in _JSON_FORMATS


def _parameter_pairs(parameters: Parameters) -> list[tuple[str, str]]:
    """A Parameters body as name/value pairs (Identifier as system|value, primitives as text)."""
    pairs: list[tuple[str, str]] = []
    for p in parameters.parameter or ():
        data = p.model_dump(mode="json", exclude_none=True)
        value = next((v for k, v in data.items() if k.startswith("value")), None)
        if isinstance(value, dict) and "value" in value and ("system" in value or "use" in value):
            value = f"{value.get('system', '')}|{value['value']}"
        elif isinstance(value, bool):
            value = "true" if value else "false"
        if value is None:
            raise BodyInvalid(f"parameter '{p.name}' has no value")
        pairs.append((str(p.name), str(value)))
    return pairs


def _ignored(params: P.Params) -> list[tuple[str, str, str]]:
    return [("parameter_ignored", f"parameter '{n}' was ignored: not supported here", "not-supported")
            for n in params.ignored]  # fmt: skip


def _ignored_outcome(params: P.Params) -> Any:
    return warnings(_ignored(params)) if params.ignored else None


def _url(base: str, path: str, pairs: Sequence[tuple[str, str]]) -> str:
    return f"{base}/{path}" + (f"?{urlencode(list(pairs))}" if pairs else "")


def _cursor(request: Request, read: AuditedRead, state: dict[str, Any]) -> str:
    return sign_cursor(secret=request.app.state.settings.secret_key, actor=read.reader.actor, state=state)


def _uncursor(request: Request, read: AuditedRead, cursor: str, kind: str) -> dict[str, Any]:
    state = read_cursor(secret=request.app.state.settings.secret_key, actor=read.reader.actor, cursor=cursor)
    if state.get("k") != kind:
        raise P.ParamInvalid("_page belongs to another search")
    return state


# --- metadata --------------------------------------------------------------------------------------------


@router.get("/metadata", summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    """What this server supports (no key needed)."""
    statement = capability_statement(
        software_version=request.app.version, date=_STARTED, base=base_url(request),
        search_combinations=pdq.accepted_combinations(request.app.state.linker.matcher),
    )  # fmt: skip
    return _respond(request, statement)


# --- Patient: $match, $ihe-pix, search, read, $everything ------------------------------------------------


SearchRead = Annotated[AuditedRead, Depends(audited_read("fhir.search", CLINICAL))]
PatientRead = Annotated[AuditedRead, Depends(audited_read("fhir.read", CLINICAL))]
MatchRead = Annotated[AuditedRead, Depends(audited_read("fhir.match", CLINICAL))]
PixRead = Annotated[AuditedRead, Depends(audited_read("fhir.pix", CLINICAL))]
EverythingRead = Annotated[AuditedRead, Depends(audited_read("fhir.everything", CLINICAL))]
ResourceRead = Annotated[AuditedRead, Depends(audited_read("fhir.read", CLINICAL))]
"""The FHIR routes read through the one audited-read path (:mod:`api.audited`): one audit event per read,
refusals included, and a break-glass reveal audited as such."""


def _patient(
    tx: ReadTransaction,
    person_id: int,
    systems: frozenset[str] | None = None,
    resolved: ResolvedPerson | None = None,
) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The Patient of a (surviving) person as this reader may see it, and the encounter ids it discloses
    (``resolved``: the person, when this transaction resolved it already)."""
    seen = tx.person(person_id, resolved=resolved)
    return person_patient(
        conn=tx.conn, person=seen.person, segmented=seen.segmented, identifier_systems=systems,
        encounters=seen.encounters,
    )  # fmt: skip


def _hits(
    tx: ReadTransaction, ranked: Sequence[tuple[int, float, str]], systems: frozenset[str] | None = None
) -> tuple[list[Hit], list[int]]:
    hits: list[Hit] = []
    ids: list[int] = []
    for person_id, value, grade in ranked:
        patient, encounter_ids = _patient(tx, person_id, systems)
        ids += encounter_ids
        hits.append(Hit(patient, score=value, grade=grade))
    return hits, ids


def _ranked(result: SearchResult) -> list[tuple[int, float, str]]:
    """Candidates best first: (person id, score, grade)."""
    shared = len(result.candidates) > 1
    ranked = [(c.person_id, round(score(c, shared=shared), 6), c.grade) for c in result.candidates]
    return sorted(ranked, key=lambda r: (-r[1], r[0]))


@router.post("/Patient/$match", summary="Patient $match (IHE PDQm ITI-119)")
async def patient_match(request: Request, read: MatchRead, linker: LinkerDep) -> Response:
    """A Parameters resource with ``resource`` (a Patient), optional ``count`` and ``onlyCertainMatches`` —
    or a bare Patient as the body; answers a searchset Bundle of graded candidates (``search.score`` and
    the match-grade extension), best first."""
    return await run_in_threadpool(_match_answer, request, read, linker, await request.body())


def _match_answer(request: Request, read: AuditedRead, linker: Any, body: bytes) -> Response:
    query, count, only_certain = _match_parameters(_json_body(body))
    with read.transaction() as tx:
        result = match(conn=tx.conn, linker=linker, query=query, count=count, segmentation=read.segmentation)
        candidates = [c for c in result.candidates if c.grade == "certain"] if only_certain else result.candidates
        ranked = _ranked(SearchResult(kind=result.kind, candidates=candidates, truncated=False))[:count]
        hits, ids = _hits(tx, ranked)
        tx.disclosed(person_ids=[r[0] for r in ranked], record_ids=ids, details={"kind": result.kind})
    base = base_url(request)
    return _respond(request, searchset(hits, base=base, self_url=f"{base}/Patient/$match", total=len(hits)))


def _match_parameters(body: dict[str, Any]) -> tuple[MatchInput, int, bool]:
    if body.get("resourceType") == "Patient":
        body = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": body}]}
    parameters = _parameters(body)
    patient: dict[str, Any] | None = None
    count, only_certain = MAX_RESULTS, False
    for p in parameters.parameter or ():
        if p.name == "resource":
            if not isinstance(p.resource, Patient):
                raise BodyInvalid("$match: parameter 'resource' must hold a Patient")
            patient = p.resource.model_dump(mode="json", exclude_none=True)
        elif p.name == "count":
            if p.valueInteger is None or int(p.valueInteger) < 1:
                raise P.ParamInvalid("$match: 'count' must be a valueInteger of at least 1")
            count = min(int(p.valueInteger), MAX_RESULTS)
        elif p.name == "onlyCertainMatches":
            if p.valueBoolean is None:
                raise P.ParamInvalid("$match: 'onlyCertainMatches' must be a valueBoolean")
            only_certain = bool(p.valueBoolean)
        else:
            raise P.ParamInvalid(f"$match has no parameter '{p.name}' (resource, count, onlyCertainMatches)")
    if patient is None:
        raise P.ParamInvalid("$match needs a parameter 'resource' holding a Patient")
    return match_input(patient), count, only_certain


@router.get("/Patient/$ihe-pix", summary="IHE PIXm cross-reference (ITI-83)")
@router.post("/Patient/$ihe-pix", summary="IHE PIXm cross-reference (ITI-83), parameters in the body")
async def patient_pix(request: Request, read: PixRead) -> Response:
    """``sourceIdentifier=system|value`` (required) and ``targetSystem`` (repeatable): a Parameters with the
    person's other identifiers (``targetIdentifier``) and the Patient (``targetId``). POST takes the same
    form-encoded or as a Parameters body, which keeps the identifier out of URLs and access logs."""
    return await run_in_threadpool(_pix_answer, request, read, await _received(request))


def _pix_answer(request: Request, read: AuditedRead, received: Received) -> Response:
    pairs = _operation_pairs(request, received)
    params = P.parse(pairs, supported=("sourceIdentifier", "targetSystem"), strict=_strict(request), paged=False)
    sources = params.values.get("sourceIdentifier", [])
    if len(sources) != 1 or not sources[0].strip():
        raise P.ParamInvalid("$ihe-pix needs exactly one sourceIdentifier=system|value")
    targets = [t for v in params.values.get("targetSystem", []) for t in P.split_commas(v) if t]
    with read.transaction() as tx:
        xref = cross_reference(
            conn=tx.conn, source=sid.Token.parse(sources[0].strip()), target_systems=targets,
            segmentation=read.segmentation,
        )  # fmt: skip
        tx.disclosed(person_ids=xref.person_ids, record_ids=xref.encounter_ids)
    parameter: list[dict[str, Any]] = [{"name": "targetIdentifier", "valueIdentifier": i} for i in xref.identifiers]
    parameter += [{"name": "targetId", "valueReference": {"reference": f"Patient/{p}"}} for p in xref.person_ids]
    return _respond(request, Parameters.model_validate({"resourceType": "Parameters", "parameter": parameter}))


PATIENT_PARAMETERS: Final = ("_id", "identifier", *pdq.DEMOGRAPHIC_PARAMETERS)


@router.get("/Patient", summary="Patient search (IHE PDQm ITI-78)")
async def patient_search(request: Request, read: SearchRead, linker: LinkerDep) -> Response:
    """By ``_id``, ``identifier`` (``[system|]value``, comma-ORs; ``system|`` names the identifier domains to
    show) and the demographic parameters of :mod:`mpi.fhir.pdq` (``family``, ``given``, ``birthdate``,
    ``gender``, ``telecom``, ``address``, ``address-state``, ``address-country``, ``mothersMaidenName``,
    ``active``; ``:exact``) under its minimal-criteria rule; paged with ``_count`` and ``next`` / ``previous``
    links; ``_summary=count``."""
    return await run_in_threadpool(_search, request, read, linker, await _pairs(request))


@router.post("/Patient/_search", summary="Patient search (parameters in the body)")
async def patient_search_post(request: Request, read: SearchRead, linker: LinkerDep) -> Response:
    """The same search with ``application/x-www-form-urlencoded`` parameters, which keeps identifiers and
    names out of URLs and access logs (prefer it, as ``/api/v1/persons/search`` takes a body)."""
    return await run_in_threadpool(_search, request, read, linker, await _pairs(request))


def _find(
    conn: Connection, linker: Any, params: P.Params, segmentation: Segmentation
) -> tuple[SearchResult, frozenset[str] | None]:
    """Each criterion's persons, and the identifier domains to show (``identifier=system|``). Criteria
    together are AND: identifiers and ids intersect, demographic parameters narrow them, or search alone
    under the minimal-criteria rule (:mod:`mpi.fhir.pdq`); a domain keeps the persons holding one of its
    identifiers."""
    results: list[SearchResult] = []
    systems: frozenset[str] | None = None
    for value in params.values.get("_id", []):
        results.append(search_ids(conn=conn, ids=[v.strip() for v in P.split_commas(value)]))
    for value in params.values.get("identifier", []):
        alternatives = P.tokens(value, name="identifier")
        named = domains(alternatives)
        if named is not None:
            systems = named if systems is None else systems & named
            continue
        results.append(search_tokens(conn=conn, alternatives=alternatives, segmentation=segmentation))
    wanted = pdq.criteria(params)
    if not results and not wanted:
        if systems is not None:
            raise TooBroad("identifier=system| alone would list every holder of such identifiers: add a criterion")
        combinations = "; ".join(pdq.accepted_combinations(linker.matcher))
        raise P.ParamInvalid(f"search Patient by _id, identifier (system|value), or demographics: {combinations}")
    found = _combined(conn, linker, results, wanted, segmentation)
    if systems is None:
        return found, None
    kept = [
        c for c in found.candidates
        if holds_domain(conn=conn, person_id=c.person_id, systems=systems, segmentation=segmentation)
    ]  # fmt: skip
    return SearchResult(kind=found.kind, candidates=kept, truncated=found.truncated), systems


def _combined(
    conn: Connection, linker: Any, results: list[SearchResult], wanted: pdq.Criteria, segmentation: Segmentation
) -> SearchResult:
    if not results:
        return pdq.demographic_search(conn=conn, matcher=linker.matcher, wanted=wanted, segmentation=segmentation)
    keep = set(results[0].person_ids).intersection(*(r.person_ids for r in results[1:]))
    best: dict[int, Candidate] = {}
    for r in results:
        for c in r.candidates:
            if c.person_id in keep and c.person_id not in best:
                best[c.person_id] = c
    combined = SearchResult(
        kind=results[0].kind if len(results) == 1 else "combined",
        candidates=list(best.values()),
        truncated=any(r.truncated for r in results),
    )
    if not wanted:
        return combined
    return pdq.narrow(conn=conn, result=combined, wanted=wanted, segmentation=segmentation)


def _search(request: Request, read: AuditedRead, linker: Any, pairs: list[tuple[str, str]]) -> Response:
    params = P.parse(pairs, supported=PATIENT_PARAMETERS, strict=_strict(request), exact=pdq.STRING_PARAMETERS)
    base = base_url(request)
    outcome = _ignored_outcome(params)
    if params.page is not None:
        state = _uncursor(request, read, params.page, "Patient")
        ranked = [(int(p), float(s), str(g)) for p, s, g in state["r"]]
        offset, count, total = int(state["o"]), int(state["c"]), state.get("t")
        systems = frozenset(state["d"]) if state.get("d") is not None else None
    else:
        try:
            with read_only(read.engine).connect() as conn:  # on SQLite, never queues for the write lock
                result, systems = _find(conn, linker, params, read.segmentation)
        except MPIError as exc:  # a search refused (too broad, a bad value) is audited like any refused read
            read.refused(exc)
            raise
        ranked, offset, count = _ranked(result), 0, params.count
        truncated = result.truncated or len(ranked) > SEARCH_LIMIT
        ranked = ranked[:SEARCH_LIMIT]
        total = None if truncated else len(ranked)
        if truncated:
            note = f"more Patients match than the {SEARCH_LIMIT} best listed: narrow the search"
            outcome = warnings([*_ignored(params), ("search_truncated", note, "too-costly")])
    self_url = (
        _url(base, "Patient", params.used) if params.page is None else _url(base, "Patient", [("_page", params.page)])
    )
    if params.summary_count:
        with read.transaction() as tx:
            tx.disclosed(person_ids=[], details={"summary": "count"})
        return _respond(request, searchset([], base=base, self_url=self_url, total=total, outcome=outcome))
    page = ranked[offset : offset + count]

    def link(at: int) -> str:
        state = {"k": "Patient", "r": ranked, "o": at, "c": count, "t": total,
                 "d": sorted(systems) if systems is not None else None}  # fmt: skip
        return _url(base, "Patient", [("_page", _cursor(request, read, state))])

    next_url = link(offset + count) if offset + count < len(ranked) else None
    previous_url = link(max(offset - count, 0)) if offset > 0 else None
    with read.transaction() as tx:
        hits, ids = _hits(tx, page, systems)
        tx.disclosed(person_ids=[r[0] for r in page], record_ids=ids)
    bundle = searchset(
        hits, base=base, self_url=self_url, total=total, next_url=next_url, previous_url=previous_url, outcome=outcome
    )
    return _respond(request, bundle)


def _person_id(value: str) -> int:
    """A Patient id is our person id as we write it: ASCII digits, no leading zero, in the id range."""
    if not canonical_id(value) or int(value) > MAX_DB_INT:
        raise NotFound("no Patient with that id", code="person_not_found")
    return int(value)


def _validators(resource: FhirContent) -> dict[str, str]:
    headers: dict[str, str] = {}
    if isinstance(resource, dict):
        meta = resource.get("meta") or {}
        version, updated = meta.get("versionId"), meta.get("lastUpdated")
    else:
        version = resource.meta.versionId if resource.meta is not None else None
        updated = resource.meta.lastUpdated if resource.meta is not None else None
    if version is not None:
        headers["ETag"] = f'W/"{version}"'
    if updated is not None:
        when = updated if isinstance(updated, datetime) else datetime.fromisoformat(str(updated))
        headers["Last-Modified"] = format_datetime(when.astimezone(UTC), usegmt=True)
    return headers


def _not_modified(request: Request, headers: dict[str, str]) -> bool:
    """``If-None-Match`` (weak comparison) or ``If-Modified-Since`` says the client's copy is current."""
    tags = request.headers.get("if-none-match")
    if tags is not None and "ETag" in headers:
        theirs = {t.strip().removeprefix("W/") for t in tags.split(",")}
        return "*" in theirs or headers["ETag"].removeprefix("W/") in theirs
    since = request.headers.get("if-modified-since")
    if since is not None and "Last-Modified" in headers:
        try:
            return parsedate_to_datetime(headers["Last-Modified"]) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _read_response(request: Request, resource: FhirContent) -> Response:
    headers = _validators(resource)
    if _not_modified(request, headers):
        return Response(status_code=304, headers=headers)
    return _respond(request, resource, headers=headers)


@router.get("/Patient/{patient_id}", summary="Patient read")
def patient_read(request: Request, patient_id: str, read: PatientRead) -> Response:
    """Every identifier and the demographics as each facility recorded them; a person merged into another
    reads as an inactive Patient with ``link`` ``replaced-by`` the survivor."""
    if patient_id.startswith("$"):
        raise MethodNotAllowed(f"operation {patient_id} is not supported on Patient instances or with GET")
    negotiate(request)
    ids: Sequence[int] = ()
    patient: FhirContent
    with read.transaction() as tx:
        person = resolve_person(conn=tx.conn, person_id=_person_id(patient_id))
        if person.person_id != person.requested_id:
            patient, ids = replaced_patient(person.requested_id, person.person_id), ()
        else:
            patient, ids = _patient(tx, person.person_id, resolved=person)
        tx.disclosed(person_id=person.person_id, record_ids=ids)
    return _read_response(request, patient)


EVERYTHING_PARAMETERS: Final = ("start", "end", "_since", "_type")


@router.get("/Patient/{patient_id}/$everything", summary="Patient $everything")
@router.post("/Patient/{patient_id}/$everything", summary="Patient $everything (Parameters or form body)")
async def patient_everything(request: Request, patient_id: str, read: EverythingRead) -> Response:
    """A paged searchset: the Patient, then each encounter (newest first) with what it recorded (Condition,
    MedicationRequest, Procedure, Observation, ServiceRequest, Appointment); each page includes the
    Organizations and Locations it references. ``start``/``end``: care overlapping those days; ``_since``:
    received at or after; ``_type`` (comma-separated, repeatable); ``_count``. POST takes a Parameters."""
    return await run_in_threadpool(_everything, request, patient_id, read, await _received(request))


def _everything(request: Request, patient_id: str, read: AuditedRead, received: Received) -> Response:
    params = P.parse(_operation_pairs(request, received), supported=EVERYTHING_PARAMETERS, strict=_strict(request))
    requested = _person_id(patient_id)
    base = base_url(request)
    path = f"Patient/{patient_id}/$everything"
    if params.page is not None:
        state = _uncursor(request, read, params.page, "everything")
        if state["p"] != requested:
            raise P.ParamInvalid("_page belongs to another Patient's $everything")
        start, end, since_text = state["f"], state["t"], state["s"]
        types = frozenset(state["y"]) if state["y"] is not None else None
        position, count, history = (int(state["g"]), int(state["sk"])), int(state["c"]), state["h"]
    else:
        start, end, since_text = params.one("start"), params.one("end"), params.one("_since")
        types = P.types(params.values.get("_type", []), allowed=RESOURCE_TYPES)
        position, count, history = (0, 0), params.count, []
    try:
        date_from, date_to = date_bounds(start, end)
    except ValueError as exc:
        raise P.ParamInvalid(f"start/end: {exc}") from exc
    since = _instant(since_text) if since_text else None
    self_url = _url(base, path, params.used if params.page is None else [("_page", params.page)])
    outcome = _ignored_outcome(params)
    with read.transaction() as tx:
        conn = tx.conn
        seen = tx.person(requested)
        person, segmented = seen.person, seen.segmented
        data, _ = person_patient(conn=conn, person=person, segmented=segmented, encounters=seen.encounters)
        patient = Patient.model_validate(data)
        ids = care_encounters(conn=conn, cluster=person.cluster, date_from=date_from, date_to=date_to, since=since)
        withheld = segmented.withheld_ids
        if withheld:
            note = (
                f"{len(withheld)} encounters with sensitive data (HIV, TB...) are withheld from this reader; a "
                "break-glass read (header X-Break-Glass-Reason with a typed reason, purpose ETREAT or a granted "
                "category) reveals them"
            )
            outcome = warnings([*_ignored(params), ("sensitive_withheld", note, "suppressed")])
        ids = [i for i in ids if i not in withheld]
        if params.summary_count:
            total = everything_total(conn=conn, patient=patient, encounter_ids=ids, types=types)
            tx.disclosed(person_id=person.person_id, details={"summary": "count"})
            return _respond(request, searchset([], base=base, self_url=self_url, total=total, outcome=outcome))
        page = everything_page(
            conn=conn, patient=patient, encounter_ids=ids, types=types, position=position, count=count,
            labels=segmented.labels,
        )  # fmt: skip
        tx.disclosed(person_id=person.person_id, record_ids=page.encounter_ids)

    def link(at: tuple[int, int], trail: list[list[int]]) -> str:
        state = {
            "k": "everything", "p": requested, "f": start, "t": end, "s": since_text,
            "y": sorted(types) if types is not None else None, "g": at[0], "sk": at[1], "c": count, "h": trail,
        }  # fmt: skip
        return _url(base, path, [("_page", _cursor(request, read, state))])

    trail = [*history, list(position)]
    next_url = link(page.next_position, trail) if page.next_position is not None else None
    previous_url = None
    if history:
        before = history[-1]
        previous_url = link((before[0], before[1]), history[:-1])
    bundle = searchset(
        page.hits, base=base, self_url=self_url, next_url=next_url, previous_url=previous_url, outcome=outcome
    )
    return _respond(request, bundle)


def _instant(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise P.ParamInvalid("_since must be an instant, e.g. 2024-05-01T00:00:00Z") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# --- reads of the other resource types ---------------------------------------------------------------------


# --- the patient access report ---------------------------------------------------------------------------

AccessRead = Annotated[AuditedRead, Depends(audited_read("fhir.audit_event", ADMIN))]


@router.get("/AuditEvent", summary="AuditEvent search by patient (the patient access report, BALP-style)")
def audit_event_search(
    request: Request,
    read: AccessRead,
    patient: Annotated[str, Query(description="Patient/{id} or {id}")],
    count: Annotated[int, Query(alias="_count", ge=1, le=500)] = 100,
) -> Response:
    """Who read the patient's record: one AuditEvent per read (organisation, role, purpose, time, outcome),
    newest first; never a staff member. Administrators, with purpose HOPERAT, PATADMIN or PATRQT."""
    person_id = _person_id(patient.removeprefix("Patient/"))
    with read.transaction(reads_audit=True) as tx:
        report = access_report(conn=tx.conn, person_id=person_id, limit=count)
        tx.disclosed(person_id=report.person.person_id, details={"events": len(report.entries)})
    hits = [Hit(to_audit_event(a, patient_id=report.person.person_id)) for a in report.entries]
    base = base_url(request)
    bundle = searchset(hits, base=base, self_url=f"{base}/AuditEvent?patient=Patient/{person_id}", total=report.total)
    return _respond(request, bundle)


@router.get("/{resource_type}/{resource_id}", summary="Read a resource a Patient's record references")
def resource_read(request: Request, resource_type: str, resource_id: str, read: ResourceRead) -> Response:
    """Encounter, Condition, MedicationRequest, Procedure, Observation, ServiceRequest, Appointment (ids as
    ``$everything`` gives them), Organization and Location (id = MA_CSKCB)."""
    if resource_type not in RESOURCE_TYPES:
        raise NotFound(f"this server has no resource type '{resource_type}'", code="type_not_supported")
    if resource_id.startswith("$"):
        raise MethodNotAllowed(f"operation {resource_id} is not supported on {resource_type}")
    negotiate(request)
    with read.transaction() as tx:
        eid = encounter_of(resource_type, resource_id)
        decision = tx.encounter(eid, person_of_encounter(tx.conn, eid)) if eid is not None else None
        labels = security_labels(decision.categories) if decision is not None else []
        found = read_resource(conn=tx.conn, resource_type=resource_type, resource_id=resource_id, security=labels)
        persons = [found.person_id] if found.person_id is not None else []
        tx.disclosed(person_ids=persons, record_ids=found.encounter_ids)
    return _read_response(request, found.resource)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def unsupported(request: Request, path: str) -> Response:
    """Anything else under /fhir: 404 for a type this server does not have, 405 for an interaction or an
    operation it does not offer on a type it has."""
    parts = [p for p in path.split("/") if p]
    kind = parts[0] if parts else ""
    if kind not in RESOURCE_TYPES and not kind.startswith("$"):
        raise NotFound(f"this server has no resource type '{kind}'", code="type_not_supported")
    what = next((p for p in parts if p.startswith("$")), None)
    if what is not None:
        raise MethodNotAllowed(f"operation {what} is not supported here ({request.method})")
    raise MethodNotAllowed(f"{request.method} is not supported on {'/'.join(parts[:2])}: this server only reads")
