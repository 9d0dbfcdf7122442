"""`harness validate PATH...` and `harness schema`.

`validate` checks task files (`*.yaml`, `*.yml`) against the task spec, presets (YAML files in a folder
named `presets`, where `load_preset` finds them) against the preset model, and result files (`*.json`)
against the result schema and the plausibility checks, file by file: every file gets a status line (ok, ok with
warnings, or invalid with its one-line error) and one bad file never stops the others. The exit status
is non-zero when any file is invalid. Folders are searched recursively (hidden entries skipped).

`schema` writes the result file's JSON Schema, so tools in other languages can check result files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import typer

from harness.errors import HarnessError
from harness.results.schema import ResultFile
from harness.results.store import export_json_schema, load_valid_result
from harness.tasks.presets import load_preset
from harness.tasks.registry import TASK_FILE_SUFFIXES, load_task_file
from harness.tasks.spec import TaskSpec

RESULT_SUFFIX = ".json"


@dataclass(frozen=True)
class FileStatus:
    """The outcome for one file: `ok`, `warnings` (valid, with findings to read) or `invalid`."""

    path: Path
    kind: str  # "task", "preset", "result" or "unknown"
    status: str
    messages: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.status != "invalid"


def _visible_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path


def _kind_of(path: Path) -> str | None:
    if path.suffix in TASK_FILE_SUFFIXES:
        return "preset" if path.parent.name == "presets" else "task"
    if path.suffix == RESULT_SUFFIX:
        return "result"
    return None


def _check_task(path: Path, owners: dict[str, Path]) -> FileStatus:
    try:
        spec: TaskSpec = load_task_file(path)
    except HarnessError as error:
        return FileStatus(path, "task", "invalid", (str(error),))
    for name in spec.names:
        key = name.lower()
        if key in owners and owners[key] != path:
            return FileStatus(path, "task", "invalid", (f"{path}: the name {name!r} is also used by {owners[key]}",))
    for name in spec.names:
        owners[name.lower()] = path
    return FileStatus(path, "task", "ok")


def _check_preset(path: Path) -> FileStatus:
    try:
        load_preset(str(path))
    except HarnessError as error:
        return FileStatus(path, "preset", "invalid", (str(error),))
    return FileStatus(path, "preset", "ok")


def _check_result(path: Path) -> FileStatus:
    try:
        loaded = load_valid_result(path)
    except HarnessError as error:
        return FileStatus(path, "result", "invalid", (str(error),))
    warnings = tuple(f"{finding.name}: {finding.message}" for finding in loaded.findings)
    return FileStatus(path, "result", "warnings" if warnings else "ok", warnings)


def validate_paths(paths: list[Path]) -> list[FileStatus]:
    """A status for every task and result file named or found under the given paths, in order."""
    statuses: list[FileStatus] = []
    task_names: dict[str, Path] = {}  # task ids and aliases must be unique across the files checked together
    for root in paths:
        root = Path(root)
        if not root.exists():
            statuses.append(FileStatus(root, "unknown", "invalid", (f"{root}: no such file or folder",)))
            continue
        if root.is_dir():
            files = [path for path in _visible_files(root) if _kind_of(path)]
            if not files:
                statuses.append(FileStatus(root, "unknown", "invalid",
                                           (f"{root}: no task (.yaml) or result (.json) files found",)))
                continue
        else:
            files = [root]
        for path in files:
            kind = _kind_of(path)
            if kind == "task":
                statuses.append(_check_task(path, task_names))
            elif kind == "preset":
                statuses.append(_check_preset(path))
            elif kind == "result":
                statuses.append(_check_result(path))
            else:
                statuses.append(FileStatus(path, "unknown", "invalid", (
                    f"{path}: not a task or preset file (.yaml) or a result file (.json)",)))
    return statuses


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


def schema_text() -> str:
    """The result file's JSON Schema, formatted exactly as `export_json_schema` writes it."""
    return json.dumps(ResultFile.model_json_schema(), indent=2, sort_keys=True) + "\n"


def schema(
    out: Path = typer.Option(None, "--out", "-o", help="Write the schema to this file (default: print it)."),
) -> None:
    """Print or write the JSON Schema of result files."""
    if out is None:
        typer.echo(schema_text(), nl=False)
        return
    written = export_json_schema(out)
    typer.echo(f"wrote {written}", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("validate")(validate)
    app.command("schema")(schema)
