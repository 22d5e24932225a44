"""The FastAPI application factory."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.routes import audit, encounters, fhir, persons, referrals, review, submissions
from api.web import clinician
from mpi.errors import MPIError
from mpi.identity.online import OnlineLinker
from mpi.records.sensitivity import SensitivityPolicy
from mpi.settings import Settings, get_settings
from mpi.store import open_store

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Provincial health-data hub (MPI)",
        version="0.1.0",
        description="Receives QĐ 130 XML submissions, links encounters to persons, serves longitudinal records.",
    )
    app.state.settings = settings
    app.state.engine = open_store(settings.database_url)
    app.state.linker = OnlineLinker.from_settings(settings)
    app.state.linker.warm(app.state.engine)
    app.state.sensitivity = SensitivityPolicy.from_settings(
        settings.sensitive_categories, settings.break_glass_purposes
    )
    app.include_router(submissions.router)
    app.include_router(encounters.router)
    app.include_router(persons.router)
    app.include_router(referrals.router)
    app.include_router(audit.router)
    app.include_router(clinician.router)
    app.include_router(review.router)
    app.include_router(fhir.router)
    _install_error_handlers(app)

    @app.middleware("http")
    async def access_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Method, path and status only: query strings can carry identifiers (FHIR token search)."""
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.1f ms", request.method, request.url.path, response.status_code, elapsed)
        return response

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _error(status: int, code: str, message: str, details: list[dict[str, object]] | None = None) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content={"error": body}, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MPIError)
    async def mpi_error(_: Request, exc: MPIError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return _error(422, "request_invalid", "the request is not valid", details)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error: %s", type(exc).__name__)  # type only: messages may quote data
        return _error(500, "internal", "internal error")
