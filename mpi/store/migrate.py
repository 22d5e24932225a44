"""Schema management: Alembic migrations applied programmatically, for the app, the CLI and the tests."""

from __future__ import annotations

from functools import cache
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from mpi.store.db import read_only
from mpi.store.locks import named_lock


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("mpi").joinpath("migrations")))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Safe to call on every start: a current schema is left alone.

    Processes starting together (server workers, CLI commands) migrate once: the first takes the
    migration lock and upgrades, the others wait for it and then find the schema current.
    """
    if revision == "head" and is_current(engine):
        return
    config = alembic_config(engine)
    with engine.connect() as connection, named_lock(connection, "mpi:schema-migration"):
        if revision == "head" and is_current(engine):
            return
        with connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, revision)


@cache
def head_revision() -> str | None:
    """The newest migration of the installed package (read once per process: it cannot change under it)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_current(engine: Engine) -> bool:
    with read_only(engine).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head_revision()
