"""``/web/steward``: the data steward's workbench — queue, item page with the evidence, person tools, bulk
decisions, metrics.

Sign in with a steward key (the signed session cookie of :mod:`api.web.session`). The purpose of use is
always ``HOPERAT``: every page and every action is an audited read of :mod:`api.audited` naming its route,
like the REST routes (an action's event commits with the change; a page signed in with another role gets
the sign-in form and its refusal is audited). A decision is one keystroke (1/S, 2/D, 3/N; U undoes the last
one) and the next item opens after it. Vietnamese labels by default, English with ``?lang=en`` (kept in a cookie).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection

from api.audited import STEWARD, AuditedRead, open_read, route_resource
from api.deps import EngineDep, LinkerDep, SettingsDep
from api.params import DbId
from api.principal import Principal
from api.web import i18n
from api.web import session as web_session
from api.web.i18n import LANGUAGES as LANGS
from mpi.errors import MPIError, PermissionDenied
from mpi.facilities import Lang, describe_facilities
from mpi.identity import links as L
from mpi.identity import stewardship as S
from mpi.identity.review import (
    QueueFilter,
    Reason,
    Verdict,
    action_of_review,
    get_review,
    next_review,
    preview_decision,
    queue,
    resolve_review,
    skip_review,
)
from mpi.keys import Role
from mpi.records import find_persons

router = APIRouter(prefix="/web/steward", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LANG_COOKIE = "mpi_lang"
PAGE = 50


def _lang(request: Request) -> Lang:
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "vi"
    return wanted if wanted in LANGS else "vi"


PURPOSE = "HOPERAT"


def _principal(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal | None:
    return web_session.principal_of(request, engine, settings.secret_key, Role.STEWARD)


def _page(action: str) -> Any:
    """The dependency of a page or action that reads identities: its audited read (purpose ``HOPERAT``,
    resource the route), or None when nobody is signed in or the signed-in key is not a steward's (that
    refusal is audited as denied)."""

    def dependency(request: Request, engine: EngineDep, settings: SettingsDep) -> AuditedRead | None:
        principal = web_session.principal_of(request, engine, settings.secret_key)  # any role: a refusal is audited
        if principal is None:
            return None
        try:
            return open_read(
                engine=engine, principal=principal, purposes=STEWARD, claimed=PURPOSE, action=action,
                resource=route_resource(request),
            )  # fmt: skip
        except PermissionDenied:
            return None

    dependency.__name__ = f"steward_page_{action}"
    return Depends(dependency)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    context.update(t=i18n.section(lang, "steward"), lang=lang, reasons=[r.value for r in Reason])
    response = templates.TemplateResponse(request, f"steward/{name}", context, status_code=status)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, samesite="strict", path="/web", httponly=True)
    return response


def _facilities(conn: Connection, codes: list[str], lang: Lang) -> dict[str, str]:
    return {code: label.text(lang) for code, label in describe_facilities(conn=conn, codes=codes).items()}


def _login_page(request: Request, status: int = 401, error: str | None = None) -> HTMLResponse:
    return _render(request, "login.html", status=status, error=error)


# ---- sign in ----------------------------------------------------------------------------------------
@router.post("/login")
def login(request: Request, engine: EngineDep, settings: SettingsDep, api_key: Annotated[str, Form()]) -> Response:
    t = i18n.section(_lang(request), "steward")
    try:
        token = web_session.sign_in(
            engine=engine, secret=settings.secret_key, plaintext=api_key, roles=frozenset({Role.STEWARD})
        )
    except web_session.SignInRefused as refused:
        return _login_page(request, refused.status, t["key_not_steward" if refused.status == 403 else "key_invalid"])
    return web_session.signed_in(request, "/web/steward", token)


@router.post("/logout")
def logout(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    return web_session.sign_out(request, engine=engine, secret=settings.secret_key, location="/web/steward")


# ---- queue and items -----------------------------------------------------------------------------------
def _filters(
    reason: str | None, facility: str | None, min_p: float | None, max_p: float | None, older: int | None
) -> QueueFilter:
    return QueueFilter(
        reason=reason or None,
        facility_code=facility or None,
        min_probability=min_p,
        max_probability=max_p,
        older_than_days=older,
    )


@router.get("", response_class=HTMLResponse)
def queue_page(
    request: Request,
    read: Annotated[AuditedRead | None, _page("steward_queue_page")],
    reason: Annotated[str | None, Query(max_length=40)] = None,
    facility: Annotated[str | None, Query(pattern=r"^(\d{5})?$")] = None,
    min_p: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_p: Annotated[float | None, Query(ge=0, le=1)] = None,
    older: Annotated[int | None, Query(ge=0, le=36500)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    if read is None:
        return _login_page(request, 200)
    filters = _filters(reason, facility, min_p, max_p, older)
    with read.transaction() as tx:
        result = queue(conn=tx.conn, filters=filters, limit=PAGE, offset=(page - 1) * PAGE)
        names = _facilities(tx.conn, [e.facility_code for e in result.entries], _lang(request))
        tx.disclosed(details={"items": [e.id for e in result.entries]})
    query = {k: v for k, v in request.query_params.items() if k not in ("page", "lang")}
    return _render(
        request,
        "queue.html",
        principal=read.principal,
        queue=result,
        names=names,
        filters=filters,
        page=page,
        pages=max(1, -(-result.total // PAGE)),
        query=urlencode(query),
    )


@router.get("/items/{review_id}", response_class=HTMLResponse)
def item_page(
    request: Request,
    review_id: DbId,
    read: Annotated[AuditedRead | None, _page("steward_item_page")],
    linker: LinkerDep,
    done: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    if read is None:
        return _login_page(request)
    try:
        with read.transaction(review_id=review_id) as tx:
            seen_seq = L.last_seq(tx.conn)  # first: anything committed later is newer than this page
            view = get_review(conn=tx.conn, review_id=review_id)
            evidence = S.item_evidence(
                tx.conn,
                source_record_id=view.source_record_id,
                candidate_person_id=view.candidate_person_id,
                scorer=linker.scorer,
                tf_tables_for=linker.tf.tables_for,
            )
            previews = {v: preview_decision(conn=tx.conn, view=view, verdict=v) for v in Verdict}
            codes = [evidence.record.facility_code, *(c.record.facility_code for c in evidence.candidates)]
            names = _facilities(tx.conn, codes, _lang(request))
            tx.disclosed(
                person_id=view.candidate_person_id,
                record_ids=[evidence.record.encounter_id, *(c.record.encounter_id for c in evidence.candidates)],
            )
            decided_action = action_of_review(tx.conn, review_id) if view.status != "open" else None
    except MPIError as exc:
        return _render(request, "message.html", status=exc.status, principal=read.principal, error=exc.message)
    return _render(
        request,
        "item.html",
        principal=read.principal,
        view=view,
        evidence=evidence,
        previews=previews,
        names=names,
        seen_seq=seen_seq,
        done=done,
        decided_action=decided_action,
        error=error,
        fields=S.IDENTITY_FIELDS,
    )


@router.post("/items/{review_id}/decide")
def decide(
    request: Request,
    review_id: DbId,
    read: Annotated[AuditedRead | None, _page("steward_decision")],
    verdict: Annotated[str, Form(pattern="^(same_person|different_person|not_sure)$")],
    seen_seq: Annotated[int, Form(ge=0, le=2**62)],
) -> Response:
    if read is None:
        return _login_page(request)
    try:
        with read.transaction(writes=True, review_id=review_id, verdict=verdict) as tx:
            if verdict == "not_sure":
                skip_review(conn=tx.conn, review_id=review_id)
                action = None
            else:
                resolve_review(
                    conn=tx.conn, review_id=review_id, verdict=Verdict(verdict), actor=read.reader.actor,
                    seen_seq=seen_seq,
                )  # fmt: skip
                action = action_of_review(tx.conn, review_id)
            tx.disclosed(details={"action_id": action})
            following = next_review(conn=tx.conn, exclude=review_id)
    except MPIError as exc:
        return RedirectResponse(f"/web/steward/items/{review_id}?{urlencode({'error': exc.message})}", status_code=303)
    if following is None:
        return RedirectResponse("/web/steward" + (f"?done={action}" if action else ""), status_code=303)
    return RedirectResponse(f"/web/steward/items/{following}" + (f"?done={action}" if action else ""), status_code=303)


@router.post("/actions/{action_id}/undo")
def undo(
    request: Request,
    action_id: DbId,
    read: Annotated[AuditedRead | None, _page("steward_undo")],
    back: Annotated[str, Form(pattern=r"^/web/steward(/[a-z0-9/_-]*)?$")] = "/web/steward",
) -> Response:
    if read is None:
        return _login_page(request)
    try:
        with read.transaction(writes=True, action_id=action_id) as tx:
            action = L.get_action(tx.conn, action_id)
            undo_id = L.undo_action(tx.conn, action_id=action_id, actor=read.reader.actor)
            tx.disclosed(details={"undo_action_id": undo_id})
            review_ids = (action.details or {}).get("review_ids") or []
    except MPIError as exc:
        return _render(request, "message.html", status=exc.status, principal=read.principal, error=exc.message)
    if action.kind == "decision" and len(review_ids) == 1:
        back = f"/web/steward/items/{review_ids[0]}"
    return RedirectResponse(back + "?undone=1", status_code=303)


# ---- persons -------------------------------------------------------------------------------------
@router.get("/persons", response_class=HTMLResponse)
def persons_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    person_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _login_page(request)
    if person_id is not None:
        return RedirectResponse(f"/web/steward/persons/{person_id}", status_code=303)
    return _render(request, "persons.html", principal=principal, form={}, result=None)


@router.post("/persons", response_class=HTMLResponse)
def search_persons(
    request: Request,
    read: Annotated[AuditedRead | None, _page("steward_search")],
    linker: LinkerDep,
    national_id: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Searches are POSTed: identifiers never appear in URLs or access logs."""
    if read is None:
        return _login_page(request)
    form = {"national_id": national_id.strip(), "name": name.strip(), "birth_date": birth_date.strip()}
    try:
        with read.transaction() as tx:
            result = find_persons(
                conn=tx.conn,
                linker=linker,
                national_id=form["national_id"] or None,
                name=form["name"] or None,
                birth_date=form["birth_date"] or None,
            )
            tx.disclosed(
                record_ids=[c.record.encounter_id for c in result.candidates if c.record is not None],
                person_ids=result.person_ids,
                details={"kind": result.kind},
            )
    except MPIError as exc:
        return _render(
            request, "persons.html", status=422, principal=read.principal, form=form, result=None, error=exc.message
        )
    return _render(request, "persons.html", principal=read.principal, form=form, result=result)


@router.get("/persons/{person_id}", response_class=HTMLResponse)
def person_page(
    request: Request,
    person_id: DbId,
    read: Annotated[AuditedRead | None, _page("steward_person_page")],
    into: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    done: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    if read is None:
        return _login_page(request)
    try:
        details: dict[str, Any] = {"merge_preview_into": into} if into else {}
        with read.transaction(**details) as tx:
            view = S.person_view(tx.conn, person_id)
            preview = S.preview_merge(tx.conn, from_person_id=person_id, into_person_id=into) if into else None
            names = _facilities(tx.conn, [r.facility_code for r in view.records], _lang(request))
            tx.disclosed(person_id=view.links.survivor, record_ids=[r.encounter_id for r in view.records])
    except MPIError as exc:
        return _render(request, "message.html", status=exc.status, principal=read.principal, error=exc.message)
    return _render(
        request,
        "person.html",
        principal=read.principal,
        person_id=person_id,
        links=view.links,
        records=view.records,
        history=view.history,
        preview=preview,
        into=into,
        names=names,
        done=done,
        fields=S.IDENTITY_FIELDS,
    )


@router.post("/persons/{person_id}/merge")
def merge(
    request: Request,
    person_id: DbId,
    read: Annotated[AuditedRead | None, _page("steward_merge")],
    into: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> Response:
    if read is None:
        return _login_page(request)
    try:
        with read.transaction(writes=True) as tx:
            action = S.merge_persons(tx.conn, from_person_id=person_id, into_person_id=into, actor=read.reader.actor)
            survivor = L.current_person(tx.conn, into)
            tx.disclosed(person_id=survivor, details={"from": person_id, "into": survivor, "action_id": action})
    except MPIError as exc:
        return _render(request, "message.html", status=exc.status, principal=read.principal, error=exc.message)
    return RedirectResponse(f"/web/steward/persons/{survivor}?done={action}", status_code=303)


@router.post("/records/{source_record_id}/move")
def move(
    request: Request,
    source_record_id: DbId,
    read: Annotated[AuditedRead | None, _page("steward_move")],
    to_person: Annotated[str, Form(pattern=r"^\d{0,10}$")] = "",
) -> Response:
    if read is None:
        return _login_page(request)
    try:
        with read.transaction(writes=True, source_record_id=source_record_id) as tx:
            action, target = S.move_record(
                tx.conn, source_record_id=source_record_id, to_person_id=int(to_person) if to_person else None,
                actor=read.reader.actor,
            )  # fmt: skip
            tx.disclosed(person_id=target, details={"action_id": action})
    except MPIError as exc:
        return _render(request, "message.html", status=exc.status, principal=read.principal, error=exc.message)
    return RedirectResponse(f"/web/steward/persons/{target}?done={action}", status_code=303)


# ---- bulk and metrics -----------------------------------------------------------------------------
@router.get("/bulk", response_class=HTMLResponse)
def bulk_page(
    request: Request,
    read: Annotated[AuditedRead | None, _page("steward_bulk_preview")],
    rule: Annotated[str, Query(max_length=60)] = "cccd_birth_year_one_side",
    done: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    if read is None:
        return _login_page(request)
    try:
        with read.transaction(rule=rule) as tx:
            preview = S.preview_bulk(tx.conn, rule=rule)
            tx.disclosed(details={"items": len(preview.review_ids)})
    except MPIError as exc:
        return _render(request, "message.html", status=exc.status, principal=read.principal, error=exc.message)
    return _render(
        request, "bulk.html", principal=read.principal, preview=preview, rules=S.BULK_RULES, rule=rule, done=done
    )


@router.post("/bulk")
def bulk_apply(
    request: Request,
    read: Annotated[AuditedRead | None, _page("steward_bulk")],
    rule: Annotated[str, Form(max_length=60)],
    review_ids: Annotated[str, Form(pattern=r"^[\d,]*$", max_length=200_000)],
) -> Response:
    if read is None:
        return _login_page(request)
    expected = [int(i) for i in review_ids.split(",") if i]
    try:
        with read.transaction(writes=True, rule=rule) as tx:
            action = S.apply_bulk(tx.conn, rule=rule, actor=read.reader.actor, expected=expected)
            tx.disclosed(details={"action_id": action, "items": len(expected)})
    except MPIError as exc:
        return _render(request, "message.html", status=exc.status, principal=read.principal, error=exc.message)
    return RedirectResponse(f"/web/steward/bulk?{urlencode({'rule': rule, 'done': action})}", status_code=303)


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(request: Request, read: Annotated[AuditedRead | None, _page("steward_metrics")]) -> Response:
    if read is None:
        return _login_page(request)
    with read.transaction() as tx:
        m = S.metrics(tx.conn)
        tx.disclosed()
    return _render(request, "metrics.html", principal=read.principal, m=m, buckets=[b for b, _ in S.AGE_BUCKETS])
