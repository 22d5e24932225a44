"""``/web/admin``: the administrator's access pages, Vietnamese first (``?lang=en``).

- ``/web/admin/access?person=ID&purpose=PATRQT`` — the patient access report, "who looked at my record":
  facility, role, purpose, time, outcome and any break-glass reason, from :func:`mpi.audit.access.access_report`
  (the same report the FHIR ``AuditEvent`` search answers). Staff are named only when the deployment's
  policy says so (``MPI_ACCESS_REPORT_STAFF``: the reading key's label). Viewing it is itself audited.
- ``/web/admin/sensitive-access`` — every break-glass reveal of withheld data, for the department, from the
  same query as ``GET /api/v1/audit/sensitive-access``.

Sign in with an administrator key (the server-side session of :mod:`api.web.session`).
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from api.audited import ADMIN, ADMIN_PURPOSES, BREAK_GLASS_ACTION, open_read, route_resource
from api.deps import EngineDep, SettingsDep
from api.params import MAX_DB_INT
from api.principal import Principal
from api.web import i18n
from api.web import session as web_session
from mpi.audit.access import access_report
from mpi.audit.log import search_audit
from mpi.audit.writer import writer_for
from mpi.errors import MPIError, NotFound
from mpi.facilities import describe_facilities
from mpi.keys import Role
from mpi.store.db import read_only
from mpi.store.models import ApiKey

router = APIRouter(prefix="/web/admin", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
i18n.install(templates)
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
_ROLES = frozenset({Role.ADMIN})
_ACTION_GROUPS = {"fhir.": "fhir", "steward_": "steward", "review_": "steward"}


def _principal(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal | None:
    return web_session.principal_of(request, engine, settings.secret_key, Role.ADMIN)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("purposes", list(ADMIN_PURPOSES))
    context.setdefault("action_key", action_key)
    context.setdefault("local", lambda t: t.astimezone(LOCAL).strftime("%d/%m/%Y %H:%M"))
    lang = i18n.language(request)
    context.setdefault("label", lambda *keys: _label(lang, *keys))
    context.setdefault("lang_href", "?" + urlencode({**request.query_params, "lang": "en" if lang == "vi" else "vi"}))
    response = templates.TemplateResponse(request, name, context, status_code=status)
    i18n.remember(request, response)
    return response


def _label(lang: str, *keys: str) -> str:
    """The first of ``keys`` the catalogue has, in ``lang``; else the last key's value part (a code)."""
    for key in keys:
        if key in i18n.MESSAGES:
            return i18n.gettext(lang, key)
    return keys[-1].rsplit(".", 1)[-1]


def action_key(action: str) -> str:
    """The catalogue key naming an audited action (``summary`` -> ``action.summary``; FHIR and steward
    actions by group)."""
    if f"action.{action}" in i18n.MESSAGES:
        return f"action.{action}"
    for prefix, group in _ACTION_GROUPS.items():
        if action.startswith(prefix):
            return f"action.{group}"
    return "action.other"


@router.get("", response_class=HTMLResponse)
def home(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "admin/login.html")
    return _render(request, "admin/access.html", principal=principal, purpose="PATRQT")


@router.post("/login")
def login(request: Request, engine: EngineDep, settings: SettingsDep, api_key: Annotated[str, Form()]) -> Response:
    try:
        token = web_session.sign_in(engine=engine, secret=settings.secret_key, plaintext=api_key, roles=_ROLES)
    except web_session.SignInRefused as refused:
        lang = i18n.language(request)
        error = i18n.gettext(lang, "admin.not_admin" if refused.status == 403 else "login.invalid")
        return _render(request, "admin/login.html", status=refused.status, error=error)
    return web_session.signed_in(request, "/web/admin", token)


@router.post("/logout")
def logout(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    return web_session.sign_out(request, engine=engine, secret=settings.secret_key, location="/web/admin")


@router.get("/access", response_class=HTMLResponse)
def access(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    person: Annotated[int, Query(ge=1, le=MAX_DB_INT)],
    purpose: Annotated[str, Query(max_length=16)] = "PATRQT",
) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "admin/login.html", status=401)
    lang = i18n.language(request)
    context: dict[str, Any] = {"principal": principal, "purpose": purpose, "person": person}
    try:
        read = open_read(
            engine=engine, principal=principal, purposes=ADMIN, claimed=purpose, action="access_report",
            resource=route_resource(request),
        )  # fmt: skip
        with read.transaction(reads_audit=True) as tx:
            report = access_report(conn=tx.conn, person_id=person, limit=500)
            tx.disclosed(person_id=report.person.person_id, details={"events": len(report.entries)})
            labels = describe_facilities(
                conn=tx.conn, codes={a.facility_code for a in report.entries if a.facility_code}
            )
            staff = _staff(tx.conn, report.entries) if settings.access_report_staff else None
    except NotFound:
        return _render(
            request,
            "admin/access.html",
            status=404,
            error=i18n.gettext(lang, "admin.no_person", person=person),
            **context,
        )
    except MPIError as exc:
        return _render(request, "admin/access.html", status=exc.status, error=exc.message, **context)
    merged = [p for p in report.person.cluster if p != report.person.person_id]
    return _render(request, "admin/access.html", report=report, labels=labels, staff=staff, merged=merged, **context)


def _staff(conn: Any, entries: list[Any]) -> dict[str, str]:
    """``key:<id>`` -> the key's label (who holds it), for a deployment whose policy names staff."""
    ids = {int(a.actor.removeprefix("key:")) for a in entries if a.actor.startswith("key:")}
    table = ApiKey.__table__  # type: ignore[attr-defined]
    rows = conn.execute(select(table.c.id, table.c.label).where(table.c.id.in_(ids))) if ids else []
    return {f"key:{r.id}": r.label or f"key:{r.id}" for r in rows}


@router.get("/sensitive-access", response_class=HTMLResponse)
def sensitive_access(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    facility: Annotated[str, Query(pattern=r"^(\d{5})?$")] = "",
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "admin/login.html", status=401)
    start = datetime.combine(since, time(), LOCAL) if since else None
    end = datetime.combine(until, time(), LOCAL) if until else None
    writer_for(engine).flush()  # this process's events still waiting are part of the page
    with read_only(engine).connect() as conn:
        page = search_audit(
            conn=conn, action=BREAK_GLASS_ACTION, facility_code=facility or None, since=start, until=end,
            limit=200, offset=offset,
        )  # fmt: skip
        labels = describe_facilities(conn=conn, codes={e.facility_code for e in page.entries if e.facility_code})
    return _render(
        request, "admin/sensitive.html", principal=principal, page=page, labels=labels, facility=facility,
        since=since, until=until, offset=offset,
    )  # fmt: skip
