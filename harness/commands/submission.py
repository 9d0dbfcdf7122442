"""`harness submit` (pack results, logs and a checksum manifest into a bundle) and `harness verify` (check one)."""

from __future__ import annotations

from pathlib import Path

import typer

from harness.errors import ResultFileError


def submit(
    results: list[Path] = typer.Argument(..., help="Result files, or folders of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle to create: NAME.tar.gz, or a new folder."),
    log: list[Path] = typer.Option([], "--log", help="A log file to include (repeatable)."),
) -> None:
    """Pack result files with their logs and a sha256 manifest into a submission bundle."""
    from harness.ops.submission import create_bundle, verify_bundle

    path = create_bundle(results, out, log)
    report = verify_bundle(path)
    typer.echo(f"{path}: {len(report.results)} results, {len(report.logs)} logs, checksums in MANIFEST.json")


def verify(bundle: Path = typer.Argument(..., help="A submission bundle: a .tar.gz or a folder.")) -> None:
    """Check a submission bundle: safe paths, checksums, result schema and plausibility."""
    from harness.ops.submission import verify_bundle

    report = verify_bundle(bundle)
    for item in report.results:
        result = item.result
        headline = result.figures.gpu_energy_per_1k_queries_wh
        figure = f"{headline.mean:.4g} Wh/1k queries" if headline is not None else "no GPU figure"
        typer.echo(f"ok  {item.path}: {result.task.id} {result.model.id} on {result.hardware_class}: {figure}")
        for finding in item.findings:
            typer.echo(f"    {finding.severity}: {finding.name}: {finding.message}")
    for name in report.logs:
        typer.echo(f"ok  {name}")
    for problem in report.problems:
        typer.echo(f"bad {problem}", err=True)
    if not report.ok:
        raise ResultFileError(f"{bundle}: bundle refused: {len(report.problems)} problems; first: {report.problems[0]}")
    manifest = report.manifest
    typer.echo(f"{bundle}: verified ({len(report.results)} results, {len(report.logs)} logs; packed by harness "
               f"{manifest.harness_version} at {manifest.created_at.isoformat()})")


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("verify")(verify)
