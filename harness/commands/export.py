"""`harness export RESULTS... --format parquet|csv|jsonl|emissions|dataset --out PATH`: result files as one table,
or as a Hugging Face dataset folder (whole records and a card declaring their types).

`harness.ops.export` gathers and writes; the grid intensity for `emissions` (CodeCarbon's emissions.csv)
comes from the leaderboard's grid table, the one owner of carbon intensities.
"""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_OUT = {"parquet": "results.parquet", "csv": "results.csv", "jsonl": "results.jsonl",
               "emissions": "emissions.csv", "dataset": "results-dataset"}


def export(
    sources: list[str] = typer.Argument(..., help="Result files, folders, globs or submission bundles."),
    fmt: str = typer.Option("parquet", "--format", "-f", help="parquet, csv, jsonl, emissions (CodeCarbon) or "
                                                            "dataset (a Hugging Face dataset folder)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="File to write (default: results.<format>, "
                                                            "emissions.csv or, for dataset, a new folder "
                                                            "results-dataset, in the working directory)."),
    grid: str = typer.Option("WORLD", "--grid", help="emissions: grid for CO2e (WORLD, FR, DE, ...)."),
    pue: str = typer.Option("1.0", "--pue", help="emissions: PUE (1.0-3.0) or preset (hyperscale, ...)."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Leave invalid files out instead of failing."),
) -> None:
    """Write result files as one table (one row per run, units in the column names), or as a dataset folder."""
    from harness.errors import ConfigError
    from harness.ops.export import FORMATS
    from harness.ops.export import export as write_table
    from leaderboard.carbon import resolve_grid, resolve_pue

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    grid_intensity = resolve_grid(grid)
    path, gathered = write_table(sources, out or Path(DEFAULT_OUT[fmt]), fmt,
                                 g_co2e_per_kwh=grid_intensity.g_co2e_per_kwh, region=grid_intensity.code,
                                 pue=resolve_pue(pue), skip_invalid=skip_invalid)
    for skipped in gathered.skipped:
        typer.echo(f"skipped {skipped}", err=True)
    typer.echo(f"wrote {path}: {len(gathered.results)} runs ({fmt})")


def register(app: typer.Typer) -> None:
    """Add `harness export` to the app."""
    app.command("export")(export)
