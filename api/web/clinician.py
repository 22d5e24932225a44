"""``/web/clinician``: the clinician page — search, a person's summary and timeline, an encounter.

Sign in once with a clinician API key (kept as a signed session cookie, see :mod:`api.web.session`); the
purpose of use is chosen on the page and sent with every read. Every page showing patient data writes one
audit event, exactly like the REST routes. Templates autoescape everything; searches are POSTed so
identifiers never appear in URLs or access logs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from api.deps import CLINICAL_PURPOSES, EngineDep, LinkerDep, SettingsDep
from api.params import DbId, PageNumber
from api.principal import Principal
from api.web import session as web_session
from mpi.audit.log import Reader, record_read
from mpi.errors import MPIError
from mpi.keys import Role, verify_key
from mpi.records import encounter_detail, find_persons, person_summary, person_timeline
from mpi.records.detail import SECTIONS

router = APIRouter(prefix="/web/clinician", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
PAGE = 20


def _principal(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal | None:
    with Session(engine) as session:  # closed before the page's own transaction: one connection at a time
        principal = web_session.principal_from_cookie(
            session, settings.secret_key, request.cookies.get(web_session.COOKIE)
        )
    return principal if principal is not None and principal.role is Role.CLINICIAN else None


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("purposes", CLINICAL_PURPOSES)
    return templates.TemplateResponse(request, name, context, status_code=status)


def _reader(principal: Principal, purpose: str) -> Reader | None:
    if purpose not in CLINICAL_PURPOSES:
        return None
    return Reader(
        actor=principal.submitter_tag, role=principal.role.value, facility_code=principal.facility_code, purpose=purpose
    )


@router.get("", response_class=HTMLResponse)
def home(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "login.html")
    return _render(request, "search.html", principal=principal, form={}, purpose="TREAT")


@router.post("/login")
def login(request: Request, engine: EngineDep, settings: SettingsDep, api_key: Annotated[str, Form()]) -> Response:
    try:
        with Session(engine, expire_on_commit=False) as session:
            key = verify_key(session=session, plaintext=api_key, secret=settings.secret_key)
            session.commit()
    except MPIError:
        return _render(request, "login.html", status=401, error="This API key is not valid.")
    if key.role != Role.CLINICIAN.value or key.id is None:
        return _render(request, "login.html", status=403, error="This page is for clinician keys.")
    response = RedirectResponse("/web/clinician", status_code=303)
    response.set_cookie(
        web_session.COOKIE,
        web_session.issue(settings.secret_key, key.id),
        max_age=web_session.LIFETIME_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/web",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/web/clinician", status_code=303)
    response.delete_cookie(web_session.COOKIE, path="/web")
    return response


@router.post("/search", response_class=HTMLResponse)
def search(
    request: Request,
    settings: SettingsDep,
    engine: EngineDep,
    linker: LinkerDep,
    purpose: Annotated[str, Form()] = "",
    national_id: Annotated[str, Form()] = "",
    bhxh_number: Annotated[str, Form()] = "",
    facility_code: Annotated[str, Form()] = "",
    patient_code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    sex: Annotated[str, Form()] = "",
    commune_code: Annotated[str, Form()] = "",
) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "login.html", status=401)
    form = {
        "national_id": national_id.strip(), "bhxh_number": bhxh_number.strip(), "facility_code": facility_code.strip(),
        "patient_code": patient_code.strip(), "name": name.strip(), "birth_date": birth_date.strip(),
        "sex": sex.strip(), "commune_code": commune_code.strip(),
    }  # fmt: skip
    reader = _reader(principal, purpose)
    if reader is None:
        return _render(
            request, "search.html", status=403, principal=principal, form=form, purpose=purpose,
            error="Choose a purpose of use: reading patient data needs one.",
        )  # fmt: skip
    try:
        with engine.begin() as conn:
            result = find_persons(
                conn=conn, linker=linker, national_id=form["national_id"] or None,
                bhxh_number=form["bhxh_number"] or None, facility_code=form["facility_code"] or None,
                patient_code=form["patient_code"] or None, name=form["name"] or None,
                birth_date=form["birth_date"] or None, sex=int(form["sex"]) if form["sex"] in ("1", "2", "3") else None,
                commune_code=form["commune_code"] or None,
            )  # fmt: skip
            ids = result.person_ids
            record_read(
                conn=conn, reader=reader, action="search", resource="POST /web/clinician/search",
                person_id=ids[0] if len(ids) == 1 else None,
                record_ids=[c.record.encounter_id for c in result.candidates if c.record is not None],
                details={"kind": result.kind, "person_ids": ids},
            )  # fmt: skip
    except MPIError as exc:
        return _render(
            request, "search.html", status=422, principal=principal, form=form, purpose=purpose, error=exc.message
        )
    return _render(request, "search.html", principal=principal, form=form, purpose=purpose, result=result)


@router.get("/persons/{person_id}", response_class=HTMLResponse)
def person(
    request: Request,
    person_id: DbId,
    settings: SettingsDep,
    engine: EngineDep,
    purpose: Annotated[str, Query()] = "",
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
    page: PageNumber = 1,
) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "login.html", status=401)
    reader = _reader(principal, purpose)
    if reader is None:
        return _render(request, "search.html", status=403, principal=principal, form={}, purpose="",
                       error="Choose a purpose of use: reading patient data needs one.")  # fmt: skip
    try:
        with engine.begin() as conn:
            summary = person_summary(conn=conn, person_id=person_id)
            timeline = person_timeline(
                conn=conn, person_id=person_id, facility_code=facility, date_from=date_from, date_to=date_to,
                limit=PAGE, offset=(page - 1) * PAGE,
            )  # fmt: skip
            record_read(
                conn=conn, reader=reader, action="person_page", resource="GET /web/clinician/persons/{person_id}",
                person_id=summary.person.person_id, record_ids=summary.encounter_ids,
            )  # fmt: skip
    except MPIError as exc:
        return _render(request, "search.html", status=exc.status, principal=principal, form={}, purpose=purpose,
                       error=exc.message)  # fmt: skip
    return _render(
        request, "person.html", principal=principal, purpose=purpose, summary=summary, timeline=timeline,
        page=page, pages=max(1, -(-timeline.total // PAGE)),
        filters={"facility": facility or "", "date_from": date_from or "", "date_to": date_to or ""},
    )  # fmt: skip


@router.get("/persons/{person_id}/encounters/{encounter_id}", response_class=HTMLResponse)
def encounter(
    request: Request,
    person_id: DbId,
    encounter_id: DbId,
    settings: SettingsDep,
    engine: EngineDep,
    purpose: Annotated[str, Query()] = "",
) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "login.html", status=401)
    reader = _reader(principal, purpose)
    if reader is None:
        return _render(request, "search.html", status=403, principal=principal, form={}, purpose="",
                       error="Choose a purpose of use: reading patient data needs one.")  # fmt: skip
    try:
        with engine.begin() as conn:
            detail = encounter_detail(conn=conn, encounter_id=encounter_id, person_id=person_id)
            record_read(
                conn=conn, reader=reader, action="encounter",
                resource="GET /web/clinician/persons/{person_id}/encounters/{encounter_id}",
                person_id=detail.person_id, record_ids=[encounter_id],
            )  # fmt: skip
    except MPIError as exc:
        return _render(request, "search.html", status=exc.status, principal=principal, form={}, purpose=purpose,
                       error=exc.message)  # fmt: skip
    return _render(
        request, "encounter.html", principal=principal, purpose=purpose, person_id=person_id, detail=detail,
        sections=SECTIONS,
    )  # fmt: skip
