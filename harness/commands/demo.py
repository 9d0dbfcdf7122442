"""`harness demo`: the whole pipeline on a laptop, in a minute, with no downloads.

Builds tiny random-weight models of real architectures (one per task kind, and a Llama with a chat template)
from configs, runs every task on them with the `demo` preset, writes real result files, prints their
headlines and builds the leaderboard of them, with other projects' published figures beside them as on the
published site (printing its `file://` address, so the first command ends on the site). The numbers are those of
tiny models on this machine: they show the method, not any model's cost, and the demo says so twice: under its
table (why one-repetition CPU numbers move 2-4x between runs) and on every page of its site (a demonstration banner,
each task described as shipped with the demo's cut-down settings named as the demo's). What is not the user's
concern (the libraries' load reports, fallbacks and truncation notices) is silenced.
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
    quiet_libraries()
    console = Console(stderr=True)
    table = Table(title="Demo (tiny random-weight models: the method, not real models' costs)")
    for column in ("task", "GPU Wh / 1k queries", "CPU Wh / 1k queries", "latency p50"):
        table.add_column(column)
    written, results = [], []
    for kind in DEMO_TASKS:
        console.print(f"[bold]{kind}[/bold]: building the tiny model and running the workload")
        model_path = build_demo_model(kind, models_dir / kind)
        result, path = execute(RunRequest(task=kind, model=str(model_path), model_name=f"demo/tiny-random-{kind}",
                                          device=device, preset=preset, results_dir=results_dir,
                                          overrides=DEMO_TASK_SETTINGS.get(kind, {})))
        cpu = format_estimate(result.figures.cpu_energy_per_1k_queries_wh, "Wh")  # estimated or not: the note says
        table.add_row(kind, format_estimate(result.figures.gpu_energy_per_1k_queries_wh, "Wh"), cpu,
                      format_estimate(result.figures.latency_p50_s, "s"))
        written.append(path)
        results.append(result)
    out = Console()
    out.print(table)
    out.print(numbers_note(results), soft_wrap=True)
    for path in written:
        out.print(f"result: {path}", soft_wrap=True)
    from leaderboard.site import build_site
    from leaderboard.views import Demo

    # Others' published figures beside the demo's; every page says it is a demonstration and what the real task is.
    report = build_site(results_dir, site_dir, published=True, demo=Demo(task_specs=real_task_specs(DEMO_TASKS)))
    out.print(f"leaderboard of these results: {(report.out_dir / 'index.html').resolve().as_uri()}", soft_wrap=True)


def quiet_libraries() -> None:
    """Silence what is not the demo user's concern: transformers' load reports (a tiny model built from a config
    has no weights for a head it never uses), image processors falling back to their PIL versions, notices that a
    prompt was cut to a tiny model's context (the task cuts it on purpose), progress bars. Errors still print."""
    import importlib

    for library in ("transformers", "diffusers"):
        try:
            logging_module = importlib.import_module(f"{library}.utils.logging")
        except ImportError:
            continue
        logging_module.set_verbosity_error()
        logging_module.disable_progress_bar()


def real_task_specs(task_ids) -> dict[str, dict]:
    """Each demo task as shipped (task id -> its spec as JSON): what the site describes, beside the demo's cut."""
    from harness.tasks.registry import load_task

    return {task_id: load_task(task_id).model_dump(mode="json") for task_id in task_ids}


def numbers_note(results) -> str:
    """Why the demo's numbers are not to be compared from one run to the next, in plain words."""
    single = all(len(r.repetitions) == 1 for r in results)
    estimated = any(r.figures.cpu_energy_estimated for r in results)
    gpu = any(r.figures.gpu_energy_per_1k_queries_wh is not None for r in results)
    how = "one repetition each" if single else "a few repetitions each"
    basis = ("CPU energy estimated from time and a typical power (no RAPL counter here)" if estimated
             else "CPU energy read from RAPL")
    return (f"Read these as a demonstration: {how} of a cut-down workload on tiny random-weight models, "
            f"{basis}{'' if gpu else ', no GPU'}. Other programs, CPU frequency and caches move such short runs 2-4x "
            "from one run to the next, so they show the method, not any model's cost. A GPU run repeats each pass "
            "(3 times by default), lasts at least 10 s per window, and prints a 95 % interval.")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
