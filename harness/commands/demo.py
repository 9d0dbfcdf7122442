"""`harness demo`: the whole pipeline on a laptop, in a minute, with no downloads.

Builds tiny random-weight models of real architectures (one per task kind, and a Llama with a chat template)
from configs, runs every task on them with the `demo` preset, writes real result files, prints their
headlines and builds the leaderboard of them, with other projects' published figures beside them as on the
published site (printing its `file://` address, so the first command ends on the site). The numbers are those of
tiny models on this machine: they show the method, not any model's cost.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from harness.commands.rendering import format_estimate


def default_models_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "ai-energy-harness" / "demo-models"


def demo(
    device: str = typer.Option("cpu", help="cpu, cuda or cuda:N."),
    models_dir: Path = typer.Option(None, help="Where the tiny models are built (default: a user cache folder)."),
    results_dir: Path = typer.Option(Path("demo-results"), help="Where the demo's result files are written."),
    site_dir: Path = typer.Option(Path("demo-site"), help="Where the leaderboard of the demo's results is built."),
    preset: str = typer.Option("demo", help="Run preset (configs/presets)."),
) -> None:
    """Build tiny models and run every task on them: a quick, offline tour of the harness."""
    from harness.engines import require_run_extra
    from harness.runner import RunRequest, execute

    require_run_extra()
    from harness.testing.demo_models import DEMO_TASK_SETTINGS, DEMO_TASKS, build_demo_model  # imports torch

    models_dir = models_dir or default_models_dir()
    console = Console(stderr=True)
    table = Table(title="Demo (tiny random-weight models: the method, not real models' costs)")
    for column in ("task", "GPU Wh / 1k queries", "CPU Wh / 1k queries", "latency p50"):
        table.add_column(column)
    written = []
    for kind in DEMO_TASKS:
        console.print(f"[bold]{kind}[/bold]: building the tiny model and running the workload")
        model_path = build_demo_model(kind, models_dir / kind)
        result, path = execute(RunRequest(task=kind, model=str(model_path), model_name=f"demo/tiny-random-{kind}",
                                          device=device, preset=preset, results_dir=results_dir,
                                          overrides=DEMO_TASK_SETTINGS.get(kind, {})))
        cpu = format_estimate(result.figures.cpu_energy_per_1k_queries_wh, "Wh")
        if result.figures.cpu_energy_estimated:
            cpu += " (estimated)"
        table.add_row(kind, format_estimate(result.figures.gpu_energy_per_1k_queries_wh, "Wh"), cpu,
                      format_estimate(result.figures.latency_p50_s, "s"))
        written.append(path)
    out = Console()
    out.print(table)
    for path in written:
        out.print(f"result: {path}", soft_wrap=True)
    from leaderboard.site import build_site

    report = build_site(results_dir, site_dir, published=True)  # others' published figures beside the demo's
    out.print(f"leaderboard of these results: {(report.out_dir / 'index.html').resolve().as_uri()}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
