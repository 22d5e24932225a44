"""``/web/clinician``: the clinician page — search, a person's summary and timeline, an encounter.

Sign in once with a clinician API key (kept as a signed session cookie, see :mod:`api.web.session`); the
purpose of use is chosen on the page and sent with every read. Every page showing patient data writes one
audit event, exactly like the REST routes. Templates autoescape everything; searches are POSTed so
identifiers never appear in URLs or access logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection, Engine

from api.audited import CLINICAL, CLINICAL_PURPOSES, AuditedRead, open_read, route_resource
from api.deps import EngineDep, LinkerDep, SettingsDep
from api.params import DbId, PageNumber
from api.principal import Principal
from api.web import i18n
from api.web import session as web_session
from api.web.charts import sparkline
from api.web.i18n import gettext, language
from mpi.errors import MPIError, PermissionDenied
from mpi.facilities import FacilityLabel, describe_facilities
from mpi.keys import Role
from mpi.records import (
    PersonSummary,
    encounter_detail,
    find_persons,
    incoming_referrals,
    person_summary,
    person_timeline,
    upcoming_appointments,
)
from mpi.records.clinical import lab_series, medications
from mpi.records.codes import SEX, field_code_labels, route_label
from mpi.records.detail import SECTIONS
from mpi.records.icd10 import icd10_label
from mpi.records.sensitivity import BreakGlassInvalid
from mpi.settings import Settings

router = APIRouter(prefix="/web/clinician", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
i18n.install(templates)
PAGE = 20


def _principal(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal | None:
    return web_session.principal_of(request, engine, settings.secret_key, Role.CLINICIAN)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("purposes", CLINICAL_PURPOSES)
    context.setdefault("sex_labels", SEX)
    response = templates.TemplateResponse(request, name, context, status_code=status)
    i18n.remember(request, response)
    return response


def _t(request: Request, key: str, **fields: Any) -> str:
    return gettext(language(request), key, **fields)


def _read(
    request: Request, engine: Engine, principal: Principal, purpose: str, action: str, reason: str = ""
) -> AuditedRead | None:
    """The page's audited read, or None (the refusal audited) when no valid purpose of use was chosen;
    :class:`BreakGlassInvalid` (audited) for a break-glass reason too short or too long."""
    try:
        return open_read(
            engine=engine, principal=principal, purposes=CLINICAL, claimed=purpose, action=action,
            resource=route_resource(request), policy=request.app.state.sensitivity, break_glass_reason=reason,
        )  # fmt: skip
    except PermissionDenied:
        return None


@router.get("", response_class=HTMLResponse)
def home(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "login.html")
    return _render(request, "search.html", principal=principal, form={}, purpose="TREAT")


@router.post("/login")
def login(request: Request, engine: EngineDep, settings: SettingsDep, api_key: Annotated[str, Form()]) -> Response:
    try:
        token = web_session.sign_in(
            engine=engine, secret=settings.secret_key, plaintext=api_key, roles=frozenset({Role.CLINICIAN})
        )
    except web_session.SignInRefused as refused:
        error = "login.not_clinician" if refused.status == 403 else "login.invalid"
        return _render(request, "login.html", status=refused.status, error=_t(request, error))
    return web_session.signed_in(request, "/web/clinician", token)


@router.post("/logout")
def logout(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    return web_session.sign_out(request, engine=engine, secret=settings.secret_key, location="/web/clinician")


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
    read = _read(request, engine, principal, purpose, "search")
    if read is None:
        return _render(
            request, "search.html", status=403, principal=principal, form=form, purpose=purpose,
            error=_t(request, "error.purpose"),
        )  # fmt: skip
    try:
        with read.transaction() as tx:
            result = find_persons(
                conn=tx.conn, linker=linker, national_id=form["national_id"] or None,
                bhxh_number=form["bhxh_number"] or None, facility_code=form["facility_code"] or None,
                patient_code=form["patient_code"] or None, name=form["name"] or None,
                birth_date=form["birth_date"] or None, sex=int(form["sex"]) if form["sex"] in ("1", "2", "3") else None,
                commune_code=form["commune_code"] or None,
            )  # fmt: skip
            tx.disclosed(
                person_ids=result.person_ids, details={"kind": result.kind},
                record_ids=[c.record.encounter_id for c in result.candidates if c.record is not None],
            )  # fmt: skip
    except MPIError as exc:
        return _render(
            request, "search.html", status=422, principal=principal, form=form, purpose=purpose, error=exc.message
        )
    return _render(request, "search.html", principal=principal, form=form, purpose=purpose, result=result)


def _open_page(
    request: Request, engine: Engine, settings: Settings, purpose: str, action: str, reason: str
) -> tuple[Principal, AuditedRead] | Response:
    """The signed-in clinician and the page's audited read, or the page answering why not (sign in, choose
    a purpose, a break-glass reason too short)."""
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "login.html", status=401)
    try:
        read = _read(request, engine, principal, purpose, action, reason)
    except BreakGlassInvalid as exc:
        return _render(request, "search.html", status=422, principal=principal, form={}, purpose=purpose,
                       error=exc.message)  # fmt: skip
    if read is None:
        return _render(request, "search.html", status=403, principal=principal, form={}, purpose="",
                       error=_t(request, "error.purpose"))  # fmt: skip
    return principal, read


def _facilities(conn: Connection, codes: Iterable[str | None]) -> dict[str, FacilityLabel]:
    return describe_facilities(conn=conn, codes=[c for c in codes if c])


def _banner(summary: PersonSummary, visits: list[str | None]) -> dict[str, Any]:
    """The patient banner: newest name, date of birth at its precision and age, sex, identifiers."""
    newest = summary.demographics[0] if summary.demographics else None
    birth = newest.birth_date if newest else None
    age = None
    if birth:
        year = int(birth[:4])
        today = date.today()
        if len(birth) == 10:
            born = date.fromisoformat(birth)
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        else:
            age = today.year - year
    return {
        "name": newest.name if newest else None, "birth": birth, "age": age,
        "sex": SEX.get(newest.sex) if newest and newest.sex is not None else None,
        "last_visit": max((v for v in visits if v), default=None),
    }  # fmt: skip


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
    return _person_page(request, person_id, settings, engine, purpose, facility, date_from, date_to, page, "")


@router.post("/persons/{person_id}", response_class=HTMLResponse)
def person_break_glass(
    request: Request,
    person_id: DbId,
    settings: SettingsDep,
    engine: EngineDep,
    purpose: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Break-glass: the same page with withheld data revealed when the purpose and reason allow it."""
    return _person_page(request, person_id, settings, engine, purpose, None, None, None, 1, reason)


def _person_page(
    request: Request, person_id: int, settings: Settings, engine: Engine, purpose: str, facility: str | None,
    date_from: date | None, date_to: date | None, page: int, reason: str,
) -> Response:  # fmt: skip
    opened = _open_page(request, engine, settings, purpose, "person_page", reason)
    if isinstance(opened, Response):
        return opened
    principal, read = opened
    try:
        with read.transaction() as tx:
            conn = tx.conn
            seen = tx.person(person_id)
            seg = seen.segmented
            summary = person_summary(
                conn=conn, person_id=person_id, exclude=seg.withheld_ids, person=seen.person,
                encounters=seen.encounters,
            )  # fmt: skip
            timeline = person_timeline(
                conn=conn, person_id=person_id, facility_code=facility, date_from=date_from, date_to=date_to,
                limit=PAGE, offset=(page - 1) * PAGE, exclude=seg.withheld_ids, person=seen.person,
            )  # fmt: skip
            meds = medications(conn=conn, encounter_ids=summary.encounter_ids)
            labs = lab_series(conn=conn, encounter_ids=summary.encounter_ids)
            codes = [f.facility_code for f in summary.facilities] + [m.facility_code for m in meds]
            codes += [c for e in timeline.entries for c in (e.facility_code, e.referred_from, e.referred_to) if c]
            facilities = _facilities(conn, codes)
            tx.disclosed(person_id=summary.person.person_id, record_ids=summary.encounter_ids)
    except MPIError as exc:
        return _render(request, "search.html", status=exc.status, principal=principal, form={}, purpose=purpose,
                       error=exc.message)  # fmt: skip
    lang = language(request)
    return _render(
        request, "person.html", principal=principal, purpose=purpose, summary=summary, timeline=timeline,
        page=page, pages=max(1, -(-timeline.total // PAGE)), segmented=seg, reason_given=bool(reason.strip()),
        banner=_banner(summary, [f.last for f in summary.facilities]), meds=meds, labs=labs,
        fac=lambda code: facilities[code].text(lang) if code in facilities else code, sex=SEX, icd=icd10_label,
        sparkline=sparkline,
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
    return _encounter_page(request, person_id, encounter_id, settings, engine, purpose, "")


@router.post("/persons/{person_id}/encounters/{encounter_id}", response_class=HTMLResponse)
def encounter_break_glass(
    request: Request,
    person_id: DbId,
    encounter_id: DbId,
    settings: SettingsDep,
    engine: EngineDep,
    purpose: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    return _encounter_page(request, person_id, encounter_id, settings, engine, purpose, reason)


def _encounter_page(
    request: Request, person_id: int, encounter_id: int, settings: Settings, engine: Engine, purpose: str, reason: str
) -> Response:
    opened = _open_page(request, engine, settings, purpose, "encounter", reason)
    if isinstance(opened, Response):
        return opened
    principal, read = opened
    try:
        with read.transaction() as tx:
            detail = encounter_detail(conn=tx.conn, encounter_id=encounter_id, person_id=person_id)
            decision = tx.encounter(encounter_id, detail.person_id)
            e = detail.entry
            facilities = _facilities(tx.conn, [e.facility_code, e.referred_from, e.referred_to])
            tx.disclosed(person_id=detail.person_id, record_ids=[encounter_id])
    except MPIError as exc:
        return _render(request, "search.html", status=exc.status, principal=principal, form={}, purpose=purpose,
                       error=exc.message)  # fmt: skip
    lang = language(request)
    return _render(
        request, "encounter.html", principal=principal, purpose=purpose, person_id=person_id, detail=detail,
        sections=SECTIONS, decision=decision, icd=icd10_label, route=route_label, labels=field_code_labels,
        fac=lambda code: facilities[code].text(lang) if code in facilities else code,
    )  # fmt: skip


@router.get("/referrals", response_class=HTMLResponse)
def referrals_page(
    request: Request, settings: SettingsDep, engine: EngineDep, purpose: Annotated[str, Query()] = "COC"
) -> Response:
    """Referrals addressed to the clinician's facility: pending, received, overdue."""
    opened = _open_page(request, engine, settings, purpose, "referrals", "")
    if isinstance(opened, Response):
        return opened
    principal, read = opened
    assert principal.facility_code is not None  # clinician keys are bound to a facility
    with read.transaction() as tx:
        result = incoming_referrals(conn=tx.conn, facility_code=principal.facility_code, limit=200)
        facilities = _facilities(tx.conn, [r.sender for r in result.entries])
        tx.disclosed(person_ids=result.person_ids, record_ids=[r.encounter_id for r in result.entries])
    lang = language(request)
    return _render(
        request, "referrals.html", principal=principal, purpose=purpose, result=result, icd=icd10_label,
        fac=lambda code: facilities[code].text(lang) if code in facilities else code,
    )  # fmt: skip


@router.get("/appointments", response_class=HTMLResponse)
def appointments_page(
    request: Request, settings: SettingsDep, engine: EngineDep, purpose: Annotated[str, Query()] = "TREAT"
) -> Response:
    """Upcoming re-visit appointments at the clinician's facility, soonest first."""
    opened = _open_page(request, engine, settings, purpose, "appointments", "")
    if isinstance(opened, Response):
        return opened
    principal, read = opened
    assert principal.facility_code is not None
    with read.transaction() as tx:
        result = upcoming_appointments(conn=tx.conn, facility_code=principal.facility_code, limit=200)
        tx.disclosed(person_ids=result.person_ids, record_ids=[a.encounter_id for a in result.entries])
    return _render(request, "appointments.html", principal=principal, purpose=purpose, result=result, icd=icd10_label)
