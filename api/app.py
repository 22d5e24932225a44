"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import error_response
from api.heap import freeze_start_up
from api.intake import Intake
from api.middleware import RequestGuard
from api.ops import ready
from api.ratelimit import ReadLimiter
from api.routes import (
    audit,
    encounters,
    facilities,
    fhir,
    keys,
    persons,
    referrals,
    reports,
    review,
    steward,
    submissions,
)
from api.routing import HubAPI
from api.web import admin as admin_web
from api.web import clinician
from api.web import reports as reports_page
from api.web import steward as steward_web
from mpi.audit.writer import attach as attach_audit_writer
from mpi.errors import MPIError
from mpi.identity.online import OnlineLinker
from mpi.records.sensitivity import SensitivityPolicy
from mpi.reports.facts import warm_in_background
from mpi.settings import Settings, get_settings
from mpi.store import create_db_engine, open_store

log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # As many request threads as connections: a handler holds at most one connection at a time.
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
    if settings.env != "test":  # tests build many short-lived apps: their reports read facts on demand
        app.state.reports_warm = warm_in_background(app.state.engine)
    app.state.intake.warm()
    if getattr(app.state, "freeze_heap", False):  # set by create_app (tests may replace the state)
        freeze_start_up()
    yield
    app.state.intake.close()  # files received are stored (and answered) before the process ends
    app.state.audit.close()  # the events still waiting are written before the process ends


def create_app(settings: Settings | None = None, *, freeze: bool = False) -> FastAPI:
    """The application. ``freeze``: once started, its start-up objects are frozen out of the garbage
    collector (:func:`api.heap.freeze_start_up`) — for a server process, which lives as long as its app."""
    app = HubAPI(
        title="Provincial health-data hub (MPI)",
        version="0.1.0",
        description="Receives QĐ 130 XML submissions, links encounters to persons, serves longitudinal records.",
        lifespan=_lifespan,
    )
    app.state.freeze_heap = freeze
    attach_store(app, settings or get_settings())
    app.include_router(submissions.router)
    app.include_router(encounters.router)
    app.include_router(persons.router)
    app.include_router(referrals.router)
    app.include_router(audit.router)
    app.include_router(clinician.router)
    app.include_router(steward_web.router)
    app.include_router(admin_web.router)
    app.include_router(review.router)
    app.include_router(steward.router)
    app.include_router(steward.events_router)
    app.include_router(fhir.router)
    app.include_router(facilities.router)
    app.include_router(reports.router)
    app.include_router(reports_page.router)
    app.include_router(keys.router)
    app.mount("/web/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="web-static")
    _install_error_handlers(app)
    app.add_middleware(RequestGuard)  # outermost: bodies, clean 500s, access log

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (it does not touch the database): a coroutine, answered on the event
        loop without a worker thread."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "the database does not answer"}})
    def readyz() -> Response:
        """Readiness: the database answers a query within the pool's limits."""
        return ready(app.state.engine)

    app.match_first("/api/v1/persons", "/fhir", "/healthz")  # what clinicians read, and the liveness probe
    return app


def serve_app() -> FastAPI:
    """The application of a server process (``mpi serve``, or ``uvicorn api.app:serve_app --factory``)."""
    return create_app(freeze=True)


def attach_store(app: FastAPI, settings: Settings) -> None:
    """What the application holds besides its routes, on the store of ``settings`` (migrated first): the
    settings the routes, the middleware and the lifespan read, the engine, the audit writer, the online
    linker, the read limiter, the intake and the sensitivity policy. ``create_app`` calls it; tests that
    want a fresh store per test attach one to an application whose routes are already built (building
    them is most of what a short test costs)."""
    app.state.settings = settings
    open_store(settings.database_url).dispose()  # migrate (once, under a lock) with a throwaway engine
    app.state.engine = create_db_engine(settings.database_url, pool_size=settings.db_pool_size)
    app.state.audit = attach_audit_writer(app.state.engine, durable=not settings.audit_write_behind)
    app.state.linker = OnlineLinker.from_settings(settings)
    app.state.read_limiter = ReadLimiter(
        per_minute=settings.read_rate_per_minute, burst=settings.read_burst, alert_per_hour=settings.read_alert_per_hour
    )
    app.state.linker.warm(app.state.engine)
    app.state.intake = Intake(app.state.engine, app.state.linker, processes=settings.intake_processes)
    app.state.sensitivity = SensitivityPolicy.from_settings(
        settings.sensitive_categories, settings.break_glass_purposes, settings.sensitive_grants
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MPIError)
    async def mpi_error(request: Request, exc: MPIError) -> Response:
        return error_response(request.url.path, exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request.url.path, exc.status_code, "http_error", str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return error_response(request.url.path, 422, "request_invalid", "the request is not valid", details=details)
