"""``/api/v1/reports/{table}``: the department's report tables as JSON, CSV, XLSX or Markdown.

Analysts and admins read every table (aggregates only: no table carries a patient). A facility's own
submitter key reads its own data-quality scorecard (``quality`` and ``issues``, restricted to its
facility) and nothing else: the feedback loop to the facility.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from api.deps import EngineDep, PrincipalDep
from api.principal import Principal
from api.schemas import ErrorOut
from mpi.errors import NotFound, PermissionDenied
from mpi.keys import Role
from mpi.reports import MEDIA_TYPES, TABLES, Period, ReportOptions, build_report, render
from mpi.reports.report import Report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                                               404: {"model": ErrorOut}}  # fmt: skip
DEPARTMENT = frozenset({Role.ANALYST, Role.ADMIN})
FACILITY_SCORECARDS = frozenset({"quality", "issues"})
_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class ReportOut(BaseModel):
    name: str
    title_vi: str
    title_en: str
    columns: list[str]
    labels_vi: list[str]
    rows: list[dict[str, Any]]
    notes: list[str]
    period: dict[str, str | None]
    by: str
    facility: str | None
    suppressed: bool


def report_options(
    principal: Principal,
    table: str,
    *,
    start: str | None,
    end: str | None,
    by: Literal["visit", "received"],
    facility: str | None,
    suppress: bool,
) -> ReportOptions:
    """Who may read ``table`` and how: the department reads all; a submitter only its own scorecard."""
    if principal.role in DEPARTMENT:
        return ReportOptions(period=Period(start, end), by=by, facility=facility, suppress=suppress)
    if principal.role == Role.SUBMITTER and table in FACILITY_SCORECARDS:
        if facility is not None and facility != principal.facility_code:
            raise PermissionDenied("a facility's key reads its own scorecard only", code="facility_forbidden")
        return ReportOptions(period=Period(start, end), by=by, facility=principal.facility_code, suppress=True)
    raise PermissionDenied(
        "reports are for the health department (analyst, admin); a facility's submitter key reads its own "
        "quality scorecard",
        code="role_forbidden",
    )


def _report(
    principal: PrincipalDep,
    engine: EngineDep,
    table: str,
    start: Annotated[str | None, Query(alias="from", pattern=_MONTH, description="First month YYYY-MM")] = None,
    end: Annotated[str | None, Query(alias="to", pattern=_MONTH, description="Last month YYYY-MM")] = None,
    by: Annotated[Literal["visit", "received"], Query()] = "visit",
    facility: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    suppress: Annotated[bool, Query(description="Hide counts of 1-4 (publishing outside the department)")] = False,
) -> tuple[Report, ReportOptions]:
    if table not in TABLES:
        raise NotFound(f"no report {table!r}; reports: {', '.join(TABLES)}", code="report_unknown")
    options = report_options(principal, table, start=start, end=end, by=by, facility=facility, suppress=suppress)
    return build_report(engine=engine, name=table, options=options), options


ReportDep = Annotated[tuple[Report, ReportOptions], Depends(_report)]


@router.get("", response_model=list[str])
def tables(_: PrincipalDep) -> list[str]:
    """The report tables there are (``/api/v1/reports/{table}``, ``…/{table}.csv|xlsx|md``)."""
    return list(TABLES)


@router.get("/{table}.{fmt}", responses={**_ERRORS, 200: {"content": {v: {} for v in MEDIA_TYPES.values()}}})
def download(result: ReportDep, fmt: Literal["csv", "xlsx", "md"]) -> Response:
    """One table as a file: CSV (UTF-8), XLSX or Markdown."""
    rep, _ = result
    return Response(
        render(rep, fmt), media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{rep.name}.{fmt}"'},
    )  # fmt: skip


@router.get("/{table}", response_model=ReportOut, responses=_ERRORS)
def report(result: ReportDep) -> ReportOut:
    """One table as JSON: machine column names, Vietnamese labels, rows (counts, codes, dates only)."""
    rep, o = result
    return ReportOut(
        name=rep.name, title_vi=rep.title_vi, title_en=rep.title_en, columns=rep.columns, labels_vi=rep.labels_vi,
        rows=[{c: (v.isoformat() if isinstance(v, date) else v) for c, v in r.items()} for r in rep.rows],
        notes=rep.notes, period={"from": o.period.start, "to": o.period.end}, by=o.by, facility=o.facility,
        suppressed=o.suppress,
    )  # fmt: skip
