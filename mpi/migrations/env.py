"""Alembic environment: runs on the connection handed over by :func:`mpi.store.migrate.upgrade`."""

from __future__ import annotations

from alembic import context

from mpi.schema import metadata
from mpi.settings import get_settings
from mpi.store.db import create_db_engine

config = context.config
target_metadata = metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_db_engine(config.get_main_option("sqlalchemy.url") or get_settings().database_url)
    with engine.begin() as conn:
        _run_on(conn)


def _run_on(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode recreates tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
