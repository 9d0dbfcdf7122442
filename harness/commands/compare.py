"""`harness compare RESULT`: our figure beside what others published for the same model, with the ratio and what
differs. `harness.published.compare` finds and converts; this renders."""

from __future__ import annotations

from pathlib import Path

import typer

SHOWN = 12
"""Lines shown per collection unless --all."""


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _pair(pair) -> str:
    figure = pair.figure
    unit = figure.unit_as_written or f"no unit written, read as {figure.unit_read_as}"
    ratio = f"{pair.ratio:.3g}" if pair.ratio is not None else "n/a"
    return (f"{figure.name} = {figure.as_written} ({unit}) = {_number(figure.value)} {figure.unit}, ours "
            f"{_number(pair.ours)}, ours/theirs {ratio}")


def compare_result(
    result_path: Path = typer.Argument(..., help="A result file written by `harness run`."),
    published: Path | None = typer.Option(None, "--published", help="Folder of published records (default: the "
                                                                    "ones shipped with the harness)."),
    show_all: bool = typer.Option(False, "--all", help=f"Show every published figure, not the first {SHOWN} of each "
                                                       "source."),
) -> None:
    """Print this result's GPU energy beside other projects' published figures for the same model."""
    from harness.published.catalogue import COLLECTIONS
    from harness.published.compare import compare_result_file

    comparison = compare_result_file(result_path, published)
    result = comparison.result
    ours = ", ".join(f"{_number(value)} {unit}" for unit, value in comparison.ours.items()) or "no GPU figure"
    typer.echo(f"ours: {result.model.id} | {result.task.id} v{result.task.version} ({result.task.kind}) | "
               f"{result.hardware_class} | {ours}")
    if not comparison.matched:
        typer.echo(f"no published figure for {result.model.id} (model ids compared without regard to case; "
                   f"{comparison.searched} published records searched)")
        return
    if not comparison.collections:
        typer.echo(f"no published figure for {result.model.id} in a task of kind {result.task.kind}")
    for group in comparison.collections:
        collection = COLLECTIONS[group.collection]
        typer.echo(f"\n{collection.title} [{group.collection}], published {collection.published} "
                   f"(another project's measurement, its own protocol):")
        lines = group.lines if show_all else group.lines[:SHOWN]
        for line in lines:
            record, protocol = line.record, line.record.protocol
            hardware = f"{record.hardware.num_gpus or '?'}x {record.hardware.gpu or '?'}"
            setting = (f"batch cap {protocol.max_concurrency}" if protocol.batching == "serving"
                       else f"batch {protocol.batch_size}" if protocol.batch_size else "batch not stated")
            if protocol.mean_output_tokens is not None:
                setting += f", mean output {protocol.mean_output_tokens:.0f} tokens"
            stars = f" | {record.rating.stars} stars ({record.rating.scope})" if record.rating else ""
            figures = "; ".join(_pair(pair) for pair in line.pairs)
            typer.echo(f"  {record.task.source_task} | {record.model} | {hardware} | {setting}{stars} | {figures}")
        if len(lines) < len(group.lines):
            typer.echo(f"  ... and {len(group.lines) - len(lines)} more (--all)")
        typer.echo("  what differs (ours | theirs):")
        for fact, mine, theirs in group.differences:
            typer.echo(f"    {fact}: {mine} | {theirs}")
    if comparison.other_tasks:
        others = ", ".join(f"{key} ({n})" for key, n in comparison.other_tasks.items())
        typer.echo(f"\nalso published for this model, in tasks not of kind {result.task.kind}: {others}")


def register(app: typer.Typer) -> None:
    """Add `harness compare` to the app."""
    app.command("compare")(compare_result)
