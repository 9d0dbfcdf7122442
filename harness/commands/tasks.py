"""`harness tasks`: the standard tasks and their settings, as a table or as JSON.

`harness tasks` lists every task in the tasks folder; `harness tasks NAME` shows one task in full, with
where each setting comes from. `--json` prints the validated specs for tools.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.tasks.inputs import builtin_set_name
from harness.tasks.registry import list_tasks, load_task
from harness.tasks.spec import TaskSpec


def input_set_label(spec: TaskSpec) -> str:
    """What a run of this task feeds the model by default: the built-in set's name or the dataset."""
    if spec.inputs == "builtin":
        return builtin_set_name(spec.kind)
    assert spec.dataset is not None
    revision = f"@{spec.dataset.revision[:12]}" if spec.dataset.revision else ""
    return f"{spec.dataset.path}{revision} [{spec.dataset.column_label}]"


def generation_label(spec: TaskSpec) -> str:
    settings = spec.generation.model_dump()
    if not settings:
        return "none (one forward pass)"
    if settings.get("mode") == "chat":
        thinking = {None: "", True: ", thinking on", False: ", thinking off"}[settings.get("enable_thinking")]
        return f"chat template, natural length up to {settings['max_new_tokens']} new tokens, greedy{thinking}"
    if {"min_new_tokens", "max_new_tokens"} <= settings.keys():
        return f"{settings['max_new_tokens']} new tokens, greedy"
    if "num_inference_steps" in settings:
        size = f"{settings['width']}x{settings['height']}" if settings["width"] and settings["height"] else None
        guidance = settings["guidance_scale"]
        if size is None and guidance is None:
            middle = "pipeline's own size and guidance"
        else:
            middle = (f"{size or 'pipeline size'}, guidance "
                      f"{guidance if guidance is not None else 'pipeline default'}")
        return f"{settings['num_inference_steps']} steps, {middle}, seed {settings['seed']}"
    if set(settings) == {"threshold"}:
        return f"one forward pass, boxes scored at least {settings['threshold']:g}"
    return ", ".join(f"{key}={value}" for key, value in settings.items())


def spec_json(spec: TaskSpec) -> dict:
    """The spec as JSON data, plus the default input set's name."""
    return {**spec.model_dump(mode="json"), "input_set": input_set_label(spec)}


def _table(specs: list[TaskSpec]) -> Table:
    table = Table(title="Tasks", title_justify="left")
    for header in ("id", "aliases", "kind", "version", "queries", "batch", "dtype", "generation", "inputs"):
        table.add_column(header, no_wrap=header == "id", overflow="fold")
    for spec in specs:
        table.add_row(
            spec.id, "\n".join(spec.aliases) or "-", spec.kind, spec.version, str(spec.num_queries),
            str(spec.batch_size), spec.dtype, generation_label(spec), input_set_label(spec),
        )
    return table


WIDE_TABLE_MIN_COLUMNS = 120
"""Below this terminal width the table's nine columns are unreadable; tasks are listed as short blocks instead."""


def _blocks(specs: list[TaskSpec]) -> Text:
    text = Text()
    for spec in specs:
        text.append(spec.id, style="bold")
        text.append(f"  version {spec.version}, kind {spec.kind}")
        if spec.aliases:
            text.append(f"\n    aliases: {', '.join(spec.aliases)}")
        tokens = f", inputs cut to {spec.max_input_tokens} tokens" if spec.max_input_tokens else ""
        text.append(f"\n    {spec.num_queries} queries, batch {spec.batch_size}, {spec.dtype}{tokens}")
        text.append(f"\n    generation: {generation_label(spec)}")
        text.append(f"\n    inputs: {input_set_label(spec)}\n")
    return text


def _details(spec: TaskSpec) -> Table:
    table = Table(title=f"{spec.id} (version {spec.version}): {spec.description}", title_justify="left",
                  show_header=True)
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    rows = {
        "kind": spec.kind, "aliases": ", ".join(spec.aliases) or "-", "inputs": input_set_label(spec),
        "num_queries": str(spec.num_queries), "batch_size": str(spec.batch_size), "dtype": spec.dtype,
        "max_input_tokens": str(spec.max_input_tokens),
    }
    rows.update({f"generation.{k}": str(v) for k, v in spec.generation.model_dump().items()})
    if spec.dataset is not None:
        rows.update({f"dataset.{k}": str(v) for k, v in spec.dataset.model_dump().items()})
    for key, value in rows.items():
        table.add_row(key, value)
    for key, source in spec.sources.items():
        table.add_row(f"source: {key}", source)
    return table


def tasks(
    name: str = typer.Argument(None, help="Show one task (id, alias or YAML path) in full."),
    as_json: bool = typer.Option(False, "--json", help="Print the specs as JSON."),
    tasks_dir: Path = typer.Option(
        None, help="Folder of task YAML files (default: $HARNESS_TASKS_DIR, a checkout's tasks/, or the shipped)."),
) -> None:
    """List the standard tasks and their settings."""
    specs = [load_task(name, tasks_dir)] if name else list_tasks(tasks_dir)
    if as_json:
        data = [spec_json(spec) for spec in specs]
        print(json.dumps(data[0] if name else data, indent=2, sort_keys=True))
        return
    console = Console()
    if name:
        console.print(_details(specs[0]))
    elif console.width >= WIDE_TABLE_MIN_COLUMNS:
        console.print(_table(specs))
    else:
        console.print(_blocks(specs))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("tasks")(tasks)
