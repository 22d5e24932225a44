"""The ``mpi synth`` command: generate a synthetic province from the command line.

``mpi.cli`` registers it; the generator itself is imported when the command runs, so the hub's command
line does not load it otherwise. Prints counts only: never a name, identifier or phone number.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from synth.config import PROFILES, SynthConfig, profile_config


def register(app: typer.Typer) -> None:
    """Add the ``synth`` command to ``app``."""

    @app.command("synth")
    def synth_command(
        persons: int = typer.Option(10_000, "--persons", min=1, help="Number of persons to generate."),
        seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives byte-identical output."),
        out: Path = typer.Option(Path("data/synth"), "--out", help="Output directory."),
        batch: int = typer.Option(1, "--batch", min=1, help="HOSO per GIAMDINHHS file (1 = like real exports)."),
        noise_scale: float = typer.Option(
            1.0, "--noise-scale", min=0.0, help="Multiply every record-level noise rate (0 = clean)."
        ),
        profile: str = typer.Option(
            "default",
            "--profile",
            help=f"Preset of noise rates and facility habits: {', '.join(PROFILES)} (see synth/README.md).",
        ),
        config_file: Path | None = typer.Option(
            None,
            "--config",
            exists=True,
            dir_okay=False,
            help="JSON file with SynthConfig fields, applied on top of --profile (see synth/README.md).",
        ),
        outbreak: list[str] = typer.Option(
            [],
            "--outbreak",
            help="Inject an outbreak: GROUP:COMMUNE|auto:YYYY-MM-DD:PERSONS[:WEEKS] (GROUP: dengue, hfmd, "
            "measles, influenza, diarrhoea, chickenpox, tb); repeatable. See synth/outbreak.py.",
        ),
        sign: bool = typer.Option(
            False,
            "--sign",
            help="Sign every file (CHUKYDONVI) with a generated test CA's per-facility certificate; "
            "certificates in OUT/certificates/ for `mpi facilities certificates add`.",
        ),
    ) -> None:
        """Generate a synthetic province: XML 130 files plus the ground-truth table."""
        from synth.outbreak import Outbreak
        from synth.province import generate_province

        try:
            base = profile_config(profile)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--profile") from exc
        config: SynthConfig = SynthConfig.from_file(config_file, base) if config_file else base
        if noise_scale != 1.0:
            config = config.scaled(noise_scale)
        try:
            outbreaks = [Outbreak.parse(o) for o in outbreak]
            summary = generate_province(
                persons=persons, seed=seed, out=out, config=config, batch=batch, outbreaks=outbreaks
            )
        except ValueError as exc:
            Console(stderr=True).print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        console = Console()
        if sign:
            from synth.signing import sign_province

            signed = sign_province(summary.out)
            console.print(
                f"signed {signed.files:,} files of {signed.facilities} facilities; "
                f"certificates in {signed.certificates}"
            )
        table = Table(title=f"Synthetic province in {summary.out}")
        table.add_column("what")
        table.add_column("count", justify="right")
        for label, value in (
            ("persons", summary.persons),
            ("households", summary.households),
            ("encounters", summary.encounters),
            ("files", summary.files),
            ("referral pairs", summary.referrals),
        ):
            table.add_row(label, f"{value:,}")
        console.print(table)
        rate = summary.persons / summary.seconds if summary.seconds else 0.0
        console.print(f"{summary.seconds:.1f} s, {rate:,.0f} persons/s")
