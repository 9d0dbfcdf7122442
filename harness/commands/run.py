"""`harness run`: measure one model on one task's standard workload and write a result file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.commands.rendering import default_folder_line, headline_lines
from harness.engines import ENGINES
from harness.engines.served import ServedEngine
from harness.errors import ConfigError


class ProgressReporter:
    """A rich progress bar per phase: queries done, elapsed time and the sampler's live GPU power.

    Implements `harness.runner.Reporter`.
    """

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[power]}"), console=console, transient=False,
        )
        self.started = False

    def phase(self, description: str, total_queries: int | None = None):
        if not self.started:  # started with the first phase, so an early error prints alone
            self.progress.start()
            self.started = True
        task_id = self.progress.add_task(description, total=total_queries, power="")

        def update(done: int, power_w: float | None) -> None:
            power = f"{power_w:.0f} W" if power_w is not None else ""
            self.progress.update(task_id, completed=done, power=power)

        return update

    def done(self) -> None:
        if self.started:
            self.progress.stop()
            self.started = False


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`--set key=value` pairs; a pair without `=` is a one-line ConfigError."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def served_batch_size(engine: str | None, endpoint: str | None, concurrency: str | None,
                      batch_size: str | None) -> str | None:
    """A served run's concurrency is its batch size (requests in flight); an in-process engine takes no
    concurrency. One ConfigError line for a mix-up, before anything loads."""
    if concurrency is None:
        return batch_size
    if batch_size is not None:
        raise ConfigError("--concurrency and --batch-size name the same setting for a served engine: give one")
    name = engine or ("endpoint" if endpoint else None)
    if name is None or name not in ENGINES or not issubclass(ENGINES[name], ServedEngine):
        served = ", ".join(sorted(n for n, cls in ENGINES.items() if issubclass(cls, ServedEngine)))
        raise ConfigError(f"--concurrency is for engines behind a server ({served}, or --endpoint); an in-process "
                          "engine batches queries with --batch-size")
    return concurrency


def parse_gpu_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--measure-gpus expects comma-separated GPU indices, got {text!r}") from None


def run(
    task: str = typer.Option(..., "--task", "-t", help="Task id or alias (see `harness tasks`), or a task YAML file."),
    model: str = typer.Option(..., "--model", "-m", help="Hugging Face hub id or local model directory."),
    engine: str | None = typer.Option(None, "--engine", help=f"What loads and runs the model: one of "
                                      f"{', '.join(sorted(ENGINES))} (default: the task kind's)."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Measure a server already running on this machine "
                                        "(http://127.0.0.1:PORT/v1; --model is the name it serves, --gpus the GPUs "
                                        "it uses)."),
    concurrency: str | None = typer.Option(None, "--concurrency", help="Engines behind a server: requests kept in "
                                           "flight (the server's batch cap is set to match); a comma list sweeps "
                                           "it (1,8,64,256)."),
    model_id: str | None = typer.Option(None, "--model-id", help="Name shown for a local model (default: "
                                        "its config's hub id, else the folder name)."),
    device: str = typer.Option("cuda", help="cuda, cuda:N or cpu."),
    dtype: str | None = typer.Option(None, help="float32, float16 or bfloat16 (default: the task's); a comma "
                                     "list (float16,bfloat16) sweeps it."),
    num_queries: str | None = typer.Option(None, help="Queries per repetition (default: the task's, 1000); a comma "
                                           "list sweeps it."),
    batch_size: str | None = typer.Option(None, help="Queries per batch (default: the task's, 1); a comma list "
                                          "(1,4,16) sweeps it: one result per value."),
    repeats: str | None = typer.Option(None, help="Measured repetitions (default 3 on GPU, 1 on CPU); with "
                                       "--target-ci, the least. A comma list sweeps it."),
    target_ci: float | None = typer.Option(None, "--target-ci", help="Repeat until the GPU headline's 95 % interval "
                                           "is within ±PCT % of its mean (default 1 with --preset full or aies)."),
    max_repeats: int | None = typer.Option(None, help="With --target-ci: the most repetitions (default 20)."),
    min_window_s: float | None = typer.Option(None, help="Repeat each measured pass within its window until it "
                                              "lasts this long (default 10 s on GPU: counter-edge error <= 1 %)."),
    idle_settle_s: float | None = typer.Option(None, help="Longest wait for GPU power to settle before each idle "
                                               "measurement (default 30 s on GPU)."),
    warmup_queries: int | None = typer.Option(None, help="Unmeasured warm-up queries (default 10)."),
    idle_seconds: float | None = typer.Option(None, help="Idle baseline length in seconds (default 5 on GPU)."),
    sample_hz: float | None = typer.Option(
        None, help="Power sampler rate in Hz for the timeline and cross-check (default 20)."),
    revision: str | None = typer.Option(None, help="Model revision (branch, tag or commit)."),
    random_weights: bool = typer.Option(False, "--random-weights", help="Build from config with random weights."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model repo's own code."),
    device_map: str | None = typer.Option(None, help="accelerate device_map (e.g. auto) to spread over GPUs."),
    measure_gpus: str | None = typer.Option(None, "--measure-gpus", "--gpus", help="GPU indices to measure "
                                            "(default: those the model uses)."),
    preset: str | None = typer.Option(None, help="Run preset from configs/presets (e.g. smoke, full); a comma list "
                                      "sweeps it."),
    set_: list[str] = typer.Option([], "--set", help="Override any task setting: key=value (dotted keys); "
                                   "key=[a,b] sweeps it."),
    strict: bool = typer.Option(False, "--strict", help="Refuse to measure when other processes use the GPU, and to "
                                "write a result under non-standard conditions (power limit, persistence, MIG, "
                                "throttling)."),
    results_dir: Path | None = typer.Option(None, help="Where result files are filed (default: results/ for a "
                                            "real GPU's measurement, cpu-results/ for a CPU-only or simulated-GPU "
                                            "run: results/ holds GPU measurements only)."),
    output: Path | None = typer.Option(None, help="Result file path (.json) or folder (default: --results-dir)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run a task's standard workload on a model, measure its energy, and write a result file (one per point when
    a setting lists several values)."""
    from harness.runner import RunRequest, execute  # imports torch: only when a run is asked for
    from harness.sweep import run_sweep, sweep_requests, sweep_settings

    batch_size = served_batch_size(engine, endpoint, concurrency, batch_size)
    settings = sweep_settings({"dtype": dtype, "num_queries": num_queries, "batch_size": batch_size,
                               "repeats": repeats, "preset": preset}, parse_assignments(set_))
    base = RunRequest(
        task=task, model=model, engine=engine, endpoint=endpoint, model_name=model_id, device=device,
        target_ci_pct=target_ci,
        max_repeats=max_repeats, min_window_s=min_window_s, idle_settle_s=idle_settle_s,
        warmup_queries=warmup_queries, idle_seconds=idle_seconds, sample_hz=sample_hz, revision=revision,
        random_weights=random_weights, trust_remote_code=trust_remote_code, device_map=device_map,
        measure_gpus=parse_gpu_list(measure_gpus), strict=strict, results_dir=results_dir, output=output,
    )
    requests = sweep_requests(base, settings)
    console = Console(stderr=True)
    reporter = None if quiet else ProgressReporter(console)
    try:
        if len(requests) == 1:
            result, path = execute(requests[0], reporter)
        else:
            outcomes = run_sweep(requests, reporter, on_point=lambda outcome: _echo_point(outcome, reporter))
    finally:
        if reporter is not None:
            reporter.done()
    if len(requests) == 1:
        for line in headline_lines(result):
            typer.echo(line)
        typer.echo(f"result: {path}")
        _echo_where(results_dir, output, [result])
        return
    failed = [o for o in outcomes if o.error is not None]
    typer.echo(f"sweep: {len(outcomes) - len(failed)} of {len(outcomes)} points measured")
    _echo_where(results_dir, output, [o.result for o in outcomes if o.error is None])
    if failed:
        first = failed[0]
        raise type(first.error)(f"{len(failed)} of {len(outcomes)} sweep points failed ({first.label}: "
                                f"{first.error}); the other points' results are written")


def _echo_where(results_dir: Path | None, output: Path | None, results: list) -> None:
    """One line when the default folder was not `results/`, so nobody looks for a CPU run there."""
    line = default_folder_line(results) if results_dir is None and output is None else None
    if line:
        typer.echo(line)


def _echo_point(outcome, reporter: ProgressReporter | None) -> None:
    """One sweep point's headline (or its failure) as soon as it ends."""
    if reporter is not None:
        reporter.done()
    typer.echo(f"== {outcome.label}")
    if outcome.error is not None:
        typer.echo(f"failed: {outcome.error}")
        return
    for line in headline_lines(outcome.result):
        typer.echo(line)
    typer.echo(f"result: {outcome.path}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
