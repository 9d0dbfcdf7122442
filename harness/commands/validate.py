"""`harness validate PATH...` and `harness schema`.

`validate` prints a status line per file (`harness.ops.validation` does the checking) and exits non-zero
when any file is invalid.

`schema` writes the result file's JSON Schema, so tools in other languages can check result files.
"""

from __future__ import annotations

from pathlib import Path

import typer

from harness.errors import HarnessError
from harness.files import new_output
from harness.ops.validation import validate_paths
from harness.results.store import export_json_schema, json_schema_text


def validate(
    paths: list[Path] = typer.Argument(..., help="Task YAML files, result JSON files, or folders of them."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only invalid files and the summary."),
) -> None:
    """Check task files and result files; exit non-zero if any is invalid."""
    statuses = validate_paths(paths)
    for status in statuses:
        if quiet and status.status != "invalid":
            continue
        if status.status == "invalid":
            typer.echo(f"invalid   {status.messages[0]}")
        elif status.status == "warnings":
            typer.echo(f"warnings  {status.path} ({status.kind})")
            for message in status.messages:
                typer.echo(f"          - {message}")
        else:
            typer.echo(f"ok        {status.path} ({status.kind})")
    invalid = sum(not status.valid for status in statuses)
    with_warnings = sum(status.status == "warnings" for status in statuses)
    ok = len(statuses) - invalid - with_warnings
    typer.echo(f"{len(statuses)} checked: {ok} ok, {with_warnings} with warnings, {invalid} invalid")
    if invalid:
        # A HarnessError (not typer.Exit) so the CLI prints one line on stderr and exits non-zero.
        raise HarnessError(f"{invalid} of {len(statuses)} checked files are invalid")


def schema(
    out: Path = typer.Option(None, "--out", "-o", help="Write the schema to this new file (default: print it)."),
) -> None:
    """Print or write the JSON Schema of result files."""
    if out is None:
        typer.echo(json_schema_text(), nl=False)
        return
    new_output(out)
    written = export_json_schema(out)
    typer.echo(f"wrote {written}", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("validate")(validate)
    app.command("schema")(schema)
