"""The ``mpi facilities`` commands: import the registry from CSV/XLSX, list it.

Prints facility codes, names and counts only (a facility is not a patient).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mpi.errors import InvalidInputFile, MPIError
from mpi.facilities import LEVELS, import_registry, list_facilities, read_registry_file
from mpi.facilities.certificates import add_certificate, list_certificates, read_certificate, remove_certificate
from mpi.settings import get_settings
from mpi.store import open_store, session_scope


def register(app: typer.Typer) -> None:
    """Add ``facilities import`` and ``facilities list`` to ``app``."""
    facilities_app = typer.Typer(help="The facility registry (name, level, commune, wave).", no_args_is_help=True)
    app.add_typer(facilities_app, name="facilities")
    err = Console(stderr=True)

    @facilities_app.command("import")
    def facilities_import_command(
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
    def facilities_list_command(
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

    certificates_app = typer.Typer(
        help="Signing certificates a facility's CHUKYDONVI signatures are checked against.", no_args_is_help=True
    )
    facilities_app.add_typer(certificates_app, name="certificates")

    @certificates_app.command("add")
    def facilities_certificates_add_command(
        facility_code: Annotated[str, typer.Argument(help="MA_CSKCB (5 digits)")],
        cert: Annotated[Path, typer.Argument(help="the facility's signing certificate (PEM or DER), no private key")],
    ) -> None:
        """Register a signing certificate for a facility (several may be active, e.g. during a renewal)."""
        if not cert.is_file():
            err.print(f"[red]not a file:[/] {cert}")
            raise typer.Exit(2)
        engine = open_store(get_settings().database_url)
        try:
            parsed = read_certificate(cert.read_bytes(), source=cert.name)
            with session_scope(engine) as session:
                info = add_certificate(session=session, facility_code=facility_code, cert=parsed)
        except MPIError as exc:
            err.print(f"[red]{exc.message}[/]")
            raise typer.Exit(2) from None
        typer.echo(
            f"certificate {info.id} registered for {info.facility_code}: {info.subject}, valid "
            f"{info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}, sha256 {info.fingerprint}"
        )

    @certificates_app.command("list")
    def facilities_certificates_list_command(
        facility_code: Annotated[str | None, typer.Argument(help="only this facility")] = None,
        removed: Annotated[bool, typer.Option("--removed", help="include removed certificates")] = False,
    ) -> None:
        """List registered signing certificates."""
        engine = open_store(get_settings().database_url)
        with session_scope(engine) as session:
            rows = list_certificates(session=session, facility_code=facility_code, include_removed=removed)
        table = Table("id", "facility", "subject", "issuer", "valid from", "valid to", "sha256", "removed")
        for c in rows:
            table.add_row(
                str(c.id), c.facility_code, c.subject, c.issuer, f"{c.not_before:%Y-%m-%d}",
                f"{c.not_after:%Y-%m-%d}", c.fingerprint[:16], f"{c.removed_at:%Y-%m-%d}" if c.removed_at else "",
            )  # fmt: skip
        Console(width=200 if not Console().is_terminal else None).print(table)

    @certificates_app.command("remove")
    def facilities_certificates_remove_command(
        facility_code: Annotated[str, typer.Argument(help="MA_CSKCB")],
        ref: Annotated[str, typer.Argument(help="the certificate's id, or 8+ hex digits of its sha256")],
    ) -> None:
        """Remove a facility's certificate: signatures made with it no longer verify (kept for history)."""
        engine = open_store(get_settings().database_url)
        try:
            with session_scope(engine) as session:
                info = remove_certificate(session=session, facility_code=facility_code, ref=ref)
        except MPIError as exc:
            err.print(f"[red]{exc.message}[/]")
            raise typer.Exit(2) from None
        typer.echo(f"certificate {info.id} of {info.facility_code} removed (sha256 {info.fingerprint})")
