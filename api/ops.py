"""Operations endpoints' logic: readiness touches the database, liveness does not."""

from __future__ import annotations

import logging

from fastapi import Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from mpi.store.db import read_only

log = logging.getLogger(__name__)


def ready(engine: Engine) -> Response:
    try:
        with read_only(engine).connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("not ready: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
