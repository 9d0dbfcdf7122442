"""`harness import SOURCE PATH...`: another project's published files -> typed records in the published folder.

`harness.published.importing` reads, checks and writes; this renders what it did.
"""

from __future__ import annotations

from pathlib import Path

import typer


def import_published(
    source: str = typer.Argument(..., help="mlenergy-v3, mlenergy-v2 (v2 and legacy v1), aies-v1 or aies-2025."),
    paths: list[Path] = typer.Argument(..., help="The source's files, or folders holding them (a checkout of its "
                                                 "repository, or published/raw/<source>)."),
    out: Path = typer.Option(Path("published"), "--out", "-o", help="The published folder: <collection>.jsonl and "
                                                                    "raw/<source>/ are written there."),
    commit: str | None = typer.Option(None, "--commit", help="The source repository's commit the files are from "
                                                             "(default: the one pinned for the source)."),
) -> None:
    """Import another project's published measurements as typed records (never as harness results)."""
    from harness.published.importing import import_into

    done = import_into(source, paths, out, commit=commit)
    result = done.result
    counts = ", ".join(f"{collection} {len(records)}" for collection, records in result.records.items())
    typer.echo(f"{source}: {sum(len(r) for r in result.records.values())} records ({counts}) from "
               f"{len(result.sources)} files; {len(done.written)} files written, {len(done.unchanged)} unchanged in "
               f"{out}" + (f"; {len(result.skipped)} other files skipped" if result.skipped else ""))


def register(app: typer.Typer) -> None:
    """Add `harness import` to the app."""
    app.command("import")(import_published)
