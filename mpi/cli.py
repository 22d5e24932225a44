"""The ``mpi`` command line: ingest, keys, db, serve here; the commands of each capability from its package.

Finds the store through ``MPI_DATABASE_URL``, like the server. Prints counts and codes, never patient data.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column, Table

from mpi.errors import MPIError
from mpi.evaluation.commands import register as register_evaluation
from mpi.facilities.commands import register as register_facilities
from mpi.identity.commands import register as register_identity
from mpi.identity.online import OnlineLinker
from mpi.identity.online import prepare as prepare_identity
from mpi.ingest import ingest_many, parse_paths
from mpi.keys import Role, create_key, grant_key, list_keys, revoke_key, rotate_key
from mpi.receipts import EncounterStatus, Outcome, Receipt
from mpi.reports.commands import register as register_reports
from mpi.settings import get_settings
from mpi.store import open_store, session_scope
from mpi.store.models import utcnow
from mpi.xml130 import Limits, ParsedSubmission
from mpi.xml130.issues import Severity

app = typer.Typer(help="Provincial health-data hub: XML 130 ingest and master patient index.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (stored hashed; a new key is printed once).", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
err = Console(stderr=True)


def _xml_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")
        else:
            yield path


@app.command("ingest")
def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="XML files and folders (searched recursively for *.xml)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report on stdout")] = False,
    facility: Annotated[str | None, typer.Option(help="Accept only encounters of this MA_CSKCB")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes parsing files while one stores them")] = 2,
) -> None:
    """Validate and store GIAMDINHHS files. Exits 1 if anything was rejected."""
    files = list(_xml_files(paths))
    missing = [p for p in files if not p.is_file()]
    if missing:
        err.print(f"[red]not a file or folder:[/] {', '.join(map(str, missing[:5]))}")
        raise typer.Exit(2)
    engine = open_store(get_settings().database_url)
    receipts: list[tuple[Path, Receipt]] = []
    with Progress(
        TextColumn("ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=as_json or not err.is_terminal,
    ) as progress:
        task = progress.add_task("ingest", total=len(files))
        settings = get_settings()
        linker = OnlineLinker.from_settings(settings)
        linker.warm(engine)
        limits = Limits.from_settings(settings)
        order: list[Path] = []

        def parsed_files() -> Iterator[tuple[bytes, ParsedSubmission]]:
            for path, data, parsed in parse_paths(
                files,
                limits=limits,
                workers=min(workers, len(files) or 1),
                store_dialect=engine.dialect.name,
                prepare=prepare_identity,
            ):
                order.append(path)
                yield data, parsed

        # Group commit: receipts come back once durable, in file order.
        for receipt in ingest_many(
            engine=engine, files=parsed_files(), submitter="cli", allowed_facility=facility, linker=linker
        ):
            receipts.append((order[len(receipts)], receipt))
            progress.advance(task)
    totals = summarise(r for _, r in receipts)
    if as_json:
        report = {"totals": totals, "files": [{"path": str(p), **r.model_dump(mode="json")} for p, r in receipts]}
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    else:
        _print_summary(totals)
    if totals["files_rejected"] or totals["encounters"]["rejected"]:
        raise typer.Exit(1)


def summarise(receipts: Iterator[Receipt] | list[Receipt]) -> dict[str, Any]:
    enc: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    signatures: Counter[str] = Counter()
    files = files_rejected = files_duplicate = 0
    for receipt in receipts:
        files += 1
        signatures[receipt.signature.status if receipt.signature else "unchecked"] += 1
        files_rejected += receipt.outcome is Outcome.REJECTED and not receipt.encounters
        files_duplicate += receipt.duplicate
        for i in receipt.issues:
            (errors if i.severity is Severity.ERROR else warnings)[i.code] += 1
        for e in receipt.encounters:
            # A file received before answers its original receipt: what it stored then is stored already.
            again = receipt.duplicate and e.status is EncounterStatus.ACCEPTED
            status = EncounterStatus.DUPLICATE if again else e.status
            enc[status] += 1
            enc["with_warnings"] += status is EncounterStatus.ACCEPTED and e.warnings > 0
            enc["new_version"] += status is EncounterStatus.ACCEPTED and e.new_version
            for i in e.issues:
                (errors if i.severity is Severity.ERROR else warnings)[i.code] += 1
    keys = ("accepted", "with_warnings", "rejected", "duplicate", "new_version")
    return {
        "files": files,
        "files_rejected": files_rejected,
        "files_duplicate": files_duplicate,
        "encounters": {k: enc[k] for k in keys},
        "warnings_by_code": dict(warnings.most_common()),
        "errors_by_code": dict(errors.most_common()),
        "signatures": dict(signatures.most_common()),
    }


def _print_summary(totals: dict[str, Any]) -> None:
    out = Console()
    table = Table(title="Ingest summary", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("files", str(totals["files"]))
    table.add_row("files rejected whole", str(totals["files_rejected"]))
    table.add_row("files already received", str(totals["files_duplicate"]))
    for key, label in (
        ("accepted", "encounters accepted"),
        ("with_warnings", "  of which with warnings"),
        ("new_version", "  of which new versions"),
        ("rejected", "encounters rejected"),
        ("duplicate", "encounters already stored"),
    ):
        table.add_row(label, str(totals["encounters"][key]))
    out.print(table)
    by_code = (("errors by code", totals["errors_by_code"]), ("warnings by code", totals["warnings_by_code"]))
    for title, counts in by_code:
        if counts:
            t = Table(title=title)
            t.add_column("code")
            t.add_column("count", justify="right")
            for code, n in counts.items():
                t.add_row(code, str(n))
            out.print(t)


@keys_app.command("create")
def keys_create_command(
    role: Annotated[Role, typer.Option(help="submitter, clinician, steward, subscriber, analyst or admin")],
    facility: Annotated[str | None, typer.Option(help="MA_CSKCB the key is bound to (submitter, clinician)")] = None,
    label: Annotated[str | None, typer.Option(help="Who or what holds the key")] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Refuse the key after N days")] = None,
    grant: Annotated[
        str | None, typer.Option(help="Sensitive categories a clinician key may reveal with a typed reason: hiv,tb")
    ] = None,
) -> None:
    """Create a key. The key is printed once, alone on the last line."""
    engine = open_store(get_settings().database_url)
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    try:
        with session_scope(engine) as session:
            key, plaintext = create_key(
                session=session, role=role, facility_code=facility, label=label, expires_at=expires, grants=grant
            )
            key_id = key.id
    except MPIError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    typer.echo(
        f"created key {key_id} role={role.value} facility={facility or '-'}; store it now, it is not shown again:"
    )
    typer.echo(plaintext)


@keys_app.command("list")
def keys_list_command() -> None:
    """List keys (never the keys themselves)."""
    engine = open_store(get_settings().database_url)
    with session_scope(engine) as session:
        # The prefix is how an operator finds the row of a leaked key: never shortened to fit the terminal.
        prefix = Column("prefix", no_wrap=True, min_width=12)
        table = Table("id", prefix, "role", "facility", "label", "created", "expires", "last used", "revoked",
                      "grants")
        for k in list_keys(session=session):
            table.add_row(str(k.id), k.prefix, k.role, k.facility_code or "", k.label or "",
                          *(t.isoformat(timespec="seconds") if t else "" for t in
                            (k.created_at, k.expires_at, k.last_used_at, k.revoked_at)), k.sensitive_grants or "")
        # Piped or captured output is read by scripts: wide enough that no value is cut to fit 80 columns.
        Console(width=None if sys.stdout.isatty() else 240).print(table)


@keys_app.command("rotate")
def keys_rotate_command(
    key_id: int,
    grace_hours: Annotated[float, typer.Option(min=0, max=720, help="How long the old key keeps working")] = 24,
) -> None:
    """Replace a key: a new key (printed once, alone on the last line) with the same role, facility and
    lifetime; the old one expires after the grace period."""
    engine = open_store(get_settings().database_url)
    try:
        with session_scope(engine) as session:
            new, plaintext = rotate_key(session=session, key_id=key_id, grace=timedelta(hours=grace_hours))
            new_id = new.id
    except MPIError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    typer.echo(f"key {key_id} replaced by key {new_id}; the old key stops working in {grace_hours:g} h")
    typer.echo(plaintext)


@keys_app.command("grant")
def keys_grant_command(
    key_id: int,
    categories: Annotated[
        str, typer.Argument(help="hiv, tb, mental_health, reproductive_health (comma-separated); '' = none")
    ],
) -> None:
    """Set the sensitive categories a clinician key may reveal with a typed reason (each reveal audited)."""
    engine = open_store(get_settings().database_url)
    try:
        with session_scope(engine) as session:
            key = grant_key(session=session, key_id=key_id, categories=categories)
            granted = key.sensitive_grants
    except MPIError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    typer.echo(f"key {key_id} grants: {granted or 'none'}")


@keys_app.command("revoke")
def keys_revoke_command(key_id: int) -> None:
    engine = open_store(get_settings().database_url)
    try:
        with session_scope(engine) as session:
            revoke_key(session=session, key_id=key_id)
    except MPIError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    typer.echo(f"revoked key {key_id}")


@db_app.command("upgrade")
def db_upgrade_command() -> None:
    """Create or migrate the schema to the current version."""
    open_store(get_settings().database_url)
    typer.echo("schema is current")


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes")] = 1,
) -> None:
    """Serve the REST API (OpenAPI at /docs), in ``--workers`` processes.

    The schema is migrated once, here, before any worker starts; the workers share
    ``MPI_DB_MAX_CONNECTIONS`` database connections (each gets its share as its pool and request threads).
    """
    import uvicorn

    settings = get_settings()
    open_store(settings.database_url).dispose()
    if workers > 1:
        os.environ["MPI_DB_POOL_SIZE"] = str(max(4, settings.db_max_connections // workers))
    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)
    # No uvicorn access log: it prints query strings, and FHIR token searches carry identifiers there.
    # api.middleware logs method, route template and status instead.
    uvicorn.run(
        "api.app:serve_app", factory=True, host=host, port=port, workers=workers, log_level="info",
        access_log=False, timeout_graceful_shutdown=10, timeout_keep_alive=75, log_config=_log_config(),
    )  # fmt: skip


_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _log_config() -> dict[str, Any]:
    """uvicorn's logging plus the hub's own loggers (``api.access``, ``api.errors``...) at INFO on stderr.
    uvicorn applies it in every worker process: with ``--workers N`` a worker is a new interpreter, and
    ``logging.basicConfig`` of this process does not reach it."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["hub"] = {"format": _LOG_FORMAT}
    config["handlers"]["hub"] = {"formatter": "hub", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    config["root"] = {"handlers": ["hub"], "level": "INFO"}
    return config


def _register_synth(app: typer.Typer) -> None:
    """``mpi synth``: the generator is its own top-level package (``synth``), installed with the hub but not
    part of it; an installation without it still has every other command, and ``mpi synth`` says why."""
    try:
        from synth.cli import register
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "synth":
            raise

        @app.command("synth", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
        def synth_command() -> None:
            """Generate a synthetic province (needs the `synth` package, installed with the hub)."""
            err.print("[red]mpi synth: the generator package `synth` is not installed here; reinstall the hub "
                      "(pip install -e . in its checkout)[/]")
            raise typer.Exit(2)

        return
    register(app)


# Every command is declared as `@<group>.command("<name>")` on a function named `<group>_<name>_command`;
# the commands of a capability live in its package's `commands.py`, which adds them with `register(app)`.
register_identity(app)
register_evaluation(app)
register_facilities(app)
register_reports(app)
_register_synth(app)
