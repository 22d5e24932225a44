"""The ``mpi train``, ``mpi relink`` and ``mpi export`` commands (registered on the main app by :func:`register`).

``train`` estimates the Splink model on the store's current source records (their ``features``: the
model rows the online path compares) and writes ``<name>.json`` plus ``<name>.provenance.json``.
``relink`` runs :func:`mpi.identity.relink.relink` with the configured model and thresholds.
``export links`` writes the linkage decisions as CSV (:mod:`mpi.identity.export`, the input of
``mpi evaluate``); ``export parquet`` the store as Parquet (:mod:`mpi.lake`, the input of
``relink --engine spark`` on a cluster).

Both print counts, ids of models and timings only: never a name, an identifier or a phone number.
"""

from __future__ import annotations

import contextlib
import enum
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from linkage import load_model, save_model, train_model
from linkage.model import BATCH_BLOCKING_RULES, within_province
from linkage.training import TrainingDataTooSmall
from mpi.identity.policy import Thresholds
from mpi.identity.relink import RelinkReport, read_source_records, relink
from mpi.settings import get_settings
from mpi.store import open_store

DEFAULT_MODEL_OUT = Path("data/models")
MIN_TRAINING_RECORDS = 1_000
"""Below this, EM has too few pairs to estimate m reliably: training is refused."""


class Engine_(enum.StrEnum):
    """Where Splink runs for ``train`` and ``relink``."""

    duckdb = "duckdb"
    spark = "spark"


_ENGINE_HELP = "Where Splink runs: duckdb (this process) or spark"
_MASTER_HELP = "Spark master with --engine spark: local[*] (this machine) or a cluster URL (spark://…, yarn)"
_PROVINCE_HELP = (
    "Name and date blocking rules within a province (national or multi-province stores: their blocks grow "
    "with the square of the nation's namesakes otherwise); CCCD, BHXH number and phone still match across"
)


@contextlib.contextmanager
def _spark(master: str) -> Iterator[Any]:
    """A Spark session for one command: local mode with Splink's jar, or the given cluster master."""
    from linkage.spark import local_session

    if master.startswith("local"):
        cores = master.removeprefix("local").strip("[]") or "*"
        session = local_session(cores=cores if cores == "*" else int(cores))
    else:
        session = local_session(master=master)
    try:
        yield session
    finally:
        session.stop()


def register(app: typer.Typer) -> None:
    """Add ``train``, ``relink`` and ``export links|parquet`` to ``app``."""

    @app.command("train")
    def train_command(
        out: Annotated[Path, typer.Option("--out", help="Directory for the model JSON and its provenance")] = (
            DEFAULT_MODEL_OUT
        ),
        max_pairs: Annotated[float, typer.Option("--max-pairs", min=1e4, help="Pairs per EM pass (cap)")] = 2e6,
        seed: Annotated[int, typer.Option("--seed", help="Seed of u sampling (same data + seed = same model)")] = 42,
        name: Annotated[str | None, typer.Option("--name", help="File name stem (default: model-<id>)")] = None,
        engine: Annotated[Engine_, typer.Option("--engine", help=_ENGINE_HELP)] = Engine_.duckdb,
        spark_master: Annotated[str, typer.Option("--spark-master", help=_MASTER_HELP)] = "local[*]",
    ) -> None:
        """Train the linkage model on the store's source records (u by sampling, m by EM)."""
        settings = get_settings()
        store = open_store(settings.database_url)
        records = read_source_records(store)
        store.dispose()
        if records.num_rows < MIN_TRAINING_RECORDS:
            Console(stderr=True).print(
                f"[red]{records.num_rows} source records: training needs at least {MIN_TRAINING_RECORDS}[/]"
            )
            raise typer.Exit(2)
        description = f"mpi store: {records.num_rows} current source records"
        try:
            if engine is Engine_.spark:
                from linkage.spark import train_model_spark

                with _spark(spark_master) as spark:
                    trained = train_model_spark(
                        records, spark=spark, seed=seed, max_pairs=max_pairs, data_description=description
                    )
            else:
                trained = train_model(records, seed=seed, max_pairs=max_pairs, data_description=description)
        except TrainingDataTooSmall as exc:
            Console(stderr=True).print(
                f"[red]mpi train: cannot train on the store's {records.num_rows:,} source records: {exc}[/] "
                "No model was written."
            )
            raise typer.Exit(2) from exc
        path = save_model(trained, out, name=name or f"model-{trained.model_id}")
        typer.echo(f"model {trained.model_id} trained on {records.num_rows} source records -> {path}")
        typer.echo(f"use it: MPI_MODEL_PATH={path} (ingest, serve and relink read it; restart running servers)")

    @app.command("relink")
    def relink_command(
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and report, change nothing")] = False,
        engine: Annotated[Engine_, typer.Option("--engine", help=_ENGINE_HELP)] = Engine_.duckdb,
        spark_master: Annotated[str, typer.Option("--spark-master", help=_MASTER_HELP)] = "local[*]",
        province: Annotated[bool, typer.Option("--within-province", help=_PROVINCE_HELP)] = False,
    ) -> None:
        """Batch relinking: Splink over all source records; merges and reviews what the online path missed."""
        rules = within_province(BATCH_BLOCKING_RULES) if province else BATCH_BLOCKING_RULES
        settings = get_settings()
        trained = load_model(Path(settings.model_path) if settings.model_path else None)
        store = open_store(settings.database_url)
        thresholds = Thresholds(auto=settings.link_auto_probability, review=settings.link_review_probability)
        try:
            if engine is Engine_.spark:
                from linkage.spark import predict_links_spark

                with _spark(spark_master) as spark:
                    predictor = functools.partial(predict_links_spark, spark=spark)
                    report = relink(
                        engine=store,
                        model=trained,
                        thresholds=thresholds,
                        dry_run=dry_run,
                        predictor=predictor,
                        blocking_rules=rules,
                    )
            else:
                report = relink(
                    engine=store, model=trained, thresholds=thresholds, dry_run=dry_run, blocking_rules=rules
                )
        finally:
            store.dispose()
        print_report(report)

    export_app = typer.Typer(help="Export the MPI's decisions for checking from outside.", no_args_is_help=True)
    app.add_typer(export_app, name="export")

    @export_app.command("links")
    def export_links_command(
        out: Annotated[Path, typer.Option("--out", help="CSV file to write", dir_okay=False)],
    ) -> None:
        """One row per stored encounter version: facility_code, ma_lk, version, person_id (after merges),
        link_state, match_probability, model_id, rule, review_person_id, current."""
        from mpi.identity.export import export_links

        engine = open_store(get_settings().database_url)
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = export_links(engine=engine, out=out)
        engine.dispose()
        Console(stderr=True).print(f"{rows:,} encounter versions -> {out}")

    @export_app.command("parquet")
    def export_parquet_command(
        out: Annotated[Path, typer.Option("--out", help="New (or empty) directory to write", file_okay=False)],
    ) -> None:
        """Persons, source records (the linkage input), links and encounters by month, as Parquet: the
        input of `mpi relink --engine spark` on a cluster."""
        from mpi.lake import export_parquet

        engine = open_store(get_settings().database_url)
        try:
            report = export_parquet(engine=engine, out=out)
        except FileExistsError as exc:
            Console(stderr=True).print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        finally:
            engine.dispose()
        Console(stderr=True).print(
            f"{report.persons:,} persons, {report.source_records:,} source records, {report.links:,} links,"
            f" {report.encounters:,} encounter versions in {len(report.months)} months -> {out}"
        )


def print_report(report: RelinkReport) -> None:
    title = f"Relink with model {report.model_id}" + (" (dry run: nothing changed)" if report.dry_run else "")
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in (
        ("source records", report.records),
        (f"pairs scored (p >= {report.thresholds['review']})", report.pairs_scored),
        ("  on different persons", report.cross_person_pairs),
        ("  distinct pairs of persons", report.proposals),
        ("merges", report.merges),
        ("  records moved", report.records_moved),
        ("reviews opened", report.reviews_opened),
        ("  of which auto-band, both persons pinned by a steward", report.pinned_to_review),
        ("  of which auto-band, same CCCD with conflicting demographics", report.conflicts_to_review),
        ("  of which auto-band, another record of one person contradicts the other", report.cluster_contradicted),
        ("  of which auto-band, a record of one person unsupported by the other's", report.cluster_unsupported),
        ("not reviewed: review band, a record of one person contradicts the other", report.band_contradicted),
        ("skipped: steward said different person", report.skipped_different_person),
        ("skipped: review already open or resolved", report.skipped_reviewed),
        ("skipped: mother and child by birth certificate", report.mother_and_child),
        ("already joined earlier in this run", report.already_together),
    ):
        table.add_row(label, f"{value:,}")
    console = Console()
    console.print(table)
    console.print(
        f"{report.seconds:.1f} s (read {report.read_seconds:.1f}, predict {report.predict_seconds:.1f},"
        f" apply {report.apply_seconds:.1f})"
    )
