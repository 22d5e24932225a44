"""``/web/reports``: the health department's dashboard (analysts and admins).

Sign in with an analyst or admin key (a signed session cookie, :mod:`api.web.session`). The page shows
aggregates only — the pilot's tables, charts rendered on the server as SVG (:mod:`api.web.charts`, no
script, nothing fetched at run time), surveillance alerts, data quality and referral flows — and offers
every table as CSV, XLSX and Markdown. No page here ever shows a patient. Vietnamese first (``?lang=en``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from api.deps import EngineDep, SettingsDep
from api.principal import Principal
from api.routes.reports import DEPARTMENT
from api.web import i18n
from api.web import session as web_session
from api.web.charts import bar_chart, line_chart
from mpi.facilities import describe_facilities
from mpi.reports import GROUPS, MEDIA_TYPES, TABLES, Period, ReportOptions, build_report, render
from mpi.store.db import read_only

router = APIRouter(prefix="/web/reports", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_MONTH = r"^(\d{4}-(0[1-9]|1[0-2]))?$"
"""A month, or empty: the page's form sends empty month fields."""
Lang = Literal["vi", "en"]


def _t(lang: Lang) -> Mapping[str, str]:
    return i18n.section(lang, "reports")


def _principal(request: Request, engine: EngineDep, settings: SettingsDep) -> Principal | None:
    """The signed-in analyst or admin; the session is closed before reports open their own connection."""
    with Session(read_only(engine)) as session:
        principal = web_session.principal_from_cookie(
            session, settings.secret_key, request.cookies.get(web_session.COOKIE)
        )
    return principal if principal is not None and principal.role in DEPARTMENT else None


def _render(request: Request, name: str, lang: Lang, status: int = 200, **context: Any) -> HTMLResponse:
    context.update(t=_t(lang), lang=lang)
    return templates.TemplateResponse(request, name, context, status_code=status)


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request,
    settings: SettingsDep,
    engine: EngineDep,
    start: Annotated[str | None, Query(alias="from", pattern=_MONTH)] = None,
    end: Annotated[str | None, Query(alias="to", pattern=_MONTH)] = None,
    by: Annotated[Literal["visit", "received"], Query()] = "visit",
    lang: Annotated[Lang, Query()] = "vi",
) -> Response:
    principal = _principal(request, engine, settings)
    if principal is None:
        return _render(request, "reports_login.html", lang)
    options = ReportOptions(period=Period(start or None, end or None), by=by)
    t = _t(lang)
    months = build_report(engine=engine, name="months", options=options)
    waves = build_report(engine=engine, name="waves", options=options)
    levels = build_report(engine=engine, name="levels", options=options)
    facilities = build_report(engine=engine, name="facilities", options=options)
    quality = build_report(engine=engine, name="quality", options=options)
    referral_levels = build_report(engine=engine, name="referral_levels", options=options)
    surveillance = build_report(engine=engine, name="surveillance", options=options)

    month_labels = [r["month"] for r in months.rows]
    month_chart = bar_chart(
        t["by_month"], month_labels,
        {t["records"]: [r["records"] for r in months.rows], t["patients"]: [r["patients"] for r in months.rows]},
        "chart-months",
    )  # fmt: skip
    level_names = [r["level_vi"] if lang == "vi" else (r["level"] or "unregistered") for r in levels.rows]
    level_chart = bar_chart(t["levels"], level_names, {t["records"]: [r["records"] for r in levels.rows]},
                            "chart-levels")  # fmt: skip
    province = [r for r in surveillance.rows if r["commune_code"] == "all"]
    weeks = sorted({r["week"] for r in surveillance.rows})
    series: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(weeks))
    marks: dict[str, list[bool]] = defaultdict(lambda: [False] * len(weeks))
    position = {w: i for i, w in enumerate(weeks)}
    alert_weeks = {(r["week"], r["group"]) for r in surveillance.rows if r["alert"]}
    for r in province:
        vi, en, _ = GROUPS[r["group"]]
        label = vi if lang == "vi" else en
        series[label][position[r["week"]]] = r["persons"] or 0
        marks[label][position[r["week"]]] = (r["week"], r["group"]) in alert_weeks
    surveillance_chart = line_chart(t["surveillance"], weeks, dict(series), "chart-surveillance", dict(marks))
    alerts = [r for r in surveillance.rows if r["alert"]]

    codes = {r["facility_code"] for r in facilities.rows} | {r["facility_code"] for r in quality.rows}
    with engine.connect() as conn:
        labels = describe_facilities(conn=conn, codes=codes)
    worst = sorted(quality.rows, key=lambda r: (-r["warnings"], r["facility_code"], r["month"]))[:15]
    unregistered = [labels[r["facility_code"]] for r in facilities.rows if not r["registered"]]
    (totals,) = build_report(engine=engine, name="totals", options=options).rows or [{}]
    return _render(
        request, "reports.html", lang, principal=principal, options=options, start=start or "", end=end or "",
        by=by, month_chart=month_chart, level_chart=level_chart, surveillance_chart=surveillance_chart,
        waves=waves, referral_levels=referral_levels, alerts=alerts, worst=worst, labels=labels,
        unregistered=unregistered, totals=totals, tables=list(TABLES), groups=GROUPS,
    )  # fmt: skip


@router.get("/download/{table}.{fmt}")
def download(
    request: Request,
    settings: SettingsDep,
    engine: EngineDep,
    table: str,
    fmt: Literal["csv", "xlsx", "md"],
    start: Annotated[str | None, Query(alias="from", pattern=_MONTH)] = None,
    end: Annotated[str | None, Query(alias="to", pattern=_MONTH)] = None,
    by: Annotated[Literal["visit", "received"], Query()] = "visit",
) -> Response:
    if _principal(request, engine, settings) is None:
        return RedirectResponse("/web/reports", status_code=303)
    options = ReportOptions(period=Period(start or None, end or None), by=by)
    report = build_report(engine=engine, name=table, options=options)
    return Response(
        render(report, fmt), media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{report.name}.{fmt}"'},
    )  # fmt: skip


@router.post("/login")
def login(
    request: Request, engine: EngineDep, settings: SettingsDep, api_key: Annotated[str, Form()],
    lang: Annotated[Lang, Query()] = "vi",
) -> Response:  # fmt: skip
    try:
        token = web_session.sign_in(engine=engine, secret=settings.secret_key, plaintext=api_key, roles=DEPARTMENT)
    except web_session.SignInRefused as refused:
        error = _t(lang)["wrong_role" if refused.status == 403 else "bad_key"]
        return _render(request, "reports_login.html", lang, status=refused.status, error=error)
    return web_session.signed_in(request, f"/web/reports?lang={lang}", token)


@router.post("/logout")
def logout(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    return web_session.sign_out(request, engine=engine, secret=settings.secret_key, location="/web/reports")
