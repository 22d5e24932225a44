"""The ``mpi facilities`` commands: import the registry from CSV/XLSX, list it.

Prints facility codes, names and counts only (a facility is not a patient).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mpi.errors import InvalidInputFile
from mpi.facilities import LEVELS, import_registry, list_facilities, read_registry_file
from mpi.settings import get_settings
from mpi.store import open_store, session_scope


def register(app: typer.Typer) -> None:
    """Add ``facilities import`` and ``facilities list`` to ``app``."""
    facilities_app = typer.Typer(help="The facility registry (name, level, commune, wave).", no_args_is_help=True)
    app.add_typer(facilities_app, name="facilities")
    err = Console(stderr=True)

    @facilities_app.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="CSV (UTF-8, header) or XLSX with the registry columns")],
    ) -> None:
        """Register or update facilities from FILE (columns facility_code, name, level, commune_code, wave,
        onboarded_on; optional active). All or nothing: a file with any problem imports nothing."""
        if not file.is_file():
            err.print(f"[red]not a file:[/] {file}")
            raise typer.Exit(2)
        try:
            rows = read_registry_file(file)
        except InvalidInputFile as exc:
            err.print(f"[red]{exc.message}[/]")
            for problem in exc.problems:
                err.print(f"  {problem}")
            raise typer.Exit(2) from None
        engine = open_store(get_settings().database_url)
        with session_scope(engine) as session:
            report = import_registry(session=session, rows=rows)
        typer.echo(
            f"{len(rows)} facilities in {file.name}: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )

    @facilities_app.command("list")
    def list_(
        unregistered: Annotated[
            bool, typer.Option("--unregistered", help="Only facilities that submitted but are not registered")
        ] = False,
    ) -> None:
        """List the facilities known to the store."""
        engine = open_store(get_settings().database_url)
        with session_scope(engine) as session:
            rows = list_facilities(session=session, registered=False if unregistered else None)
            table = Table("code", "name", "level", "commune", "wave", "onboarded", "active", "registered")
            for f in rows:
                table.add_row(
                    f.code, f.name or "", LEVELS[f.level][1] if f.level in LEVELS else (f.level or ""),
                    f.commune_code or "", str(f.wave or ""), f.onboarded_on.isoformat() if f.onboarded_on else "",
                    "yes" if f.active else "no", "yes" if f.registered_at else "no",
                )  # fmt: skip
        Console().print(table)
