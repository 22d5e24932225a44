"""The ``mpi report TABLE`` command: a report table as CSV (stdout by default), XLSX or Markdown."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mpi.errors import MPIError
from mpi.reports import TABLES, Period, ReportOptions, build_report, render
from mpi.reports.output import Format
from mpi.reports.tables import By
from mpi.settings import get_settings
from mpi.store import open_store

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""
    err = Console(stderr=True)

    @app.command("report")
    def report_command(
        table: Annotated[str, typer.Argument(help=f"One of: {', '.join(TABLES)}")],
        from_: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM")] = None,
        to: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM")] = None,
        by: Annotated[str, typer.Option("--by", help="visit (NGAY_VAO) or received (day the hub received it)")] = (
            "visit"
        ),
        fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or md")] = "csv",
        out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout")] = None,
        facility: Annotated[str | None, typer.Option("--facility", help="Only this MA_CSKCB")] = None,
        suppress: Annotated[
            bool, typer.Option("--suppress", help="Hide counts of 1-4 (for readers outside the department)")
        ] = False,
    ) -> None:
        """Print a report table (CSV to stdout unless --out)."""
        problems = []
        if table not in TABLES:
            problems.append(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        for name, value in (("--from", from_), ("--to", to)):
            if value is not None and not _MONTH.fullmatch(value):
                problems.append(f"{name} {value!r} is not a month YYYY-MM")
        if by not in ("visit", "received"):
            problems.append(f"--by {by!r} is not visit or received")
        if fmt not in ("csv", "xlsx", "md"):
            problems.append(f"--format {fmt!r} is not csv, xlsx or md")
        if fmt == "xlsx" and out is None:
            problems.append("--format xlsx needs --out FILE (a workbook is not printed)")
        if from_ and to and from_ > to:
            problems.append(f"--from {from_} is after --to {to}")
        if problems:
            for p in problems:
                err.print(f"[red]{p}[/]")
            raise typer.Exit(2)
        by_: By = "visit" if by == "visit" else "received"
        engine = open_store(get_settings().database_url)
        try:
            result = build_report(
                engine=engine, name=table,
                options=ReportOptions(period=Period(from_, to), by=by_, facility=facility, suppress=suppress),
            )  # fmt: skip
        except MPIError as exc:
            err.print(f"[red]{exc.message}[/]")
            raise typer.Exit(2) from None
        fmt_: Format = "xlsx" if fmt == "xlsx" else "md" if fmt == "md" else "csv"
        data = render(result, fmt_)
        if out is None:
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()
        else:
            out.write_bytes(data)
            err.print(f"{result.name}: {len(result.rows)} rows -> {out}")
