"""One benchmark run: resolve the task, load inputs and model, warm up, measure idle, repeat, write.

The order matters for the numbers. Cheap checks (task, preset, overrides, inputs) come before the model
is loaded; warm-up batches run before the idle baseline so the idle reading sees a warm card with the
model resident; each repetition is one meter window around the whole pass (never a sum of per-query
windows, which the ~100 ms counter resolution would blur); generative tasks then run a prefill-only pass
in its own window. Nothing is written until the result has passed its own plausibility checks.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness import __version__
from harness.energy import EnergyMeter, open_meter
from harness.errors import ConfigError, MeasurementError
from harness.figures import derive_figures
from harness.inputs import load_inputs
from harness.models import load_model, local_model_name
from harness.presets import load_preset
from harness.results.checks import run_checks
from harness.results.schema import IdleBaseline, Repetition, ResultFile
from harness.results.store import default_result_path, write_result
from harness.task_spec import TaskSpec, applicable_overrides, apply_overrides, load_task
from harness.workloads import WORKLOADS, Workload

log = logging.getLogger(__name__)

DEFAULT_REPEATS_GPU = 3
DEFAULT_REPEATS_CPU = 1
DEFAULT_IDLE_S_GPU = 5.0
DEFAULT_IDLE_S_CPU = 1.0
DEFAULT_WARMUP_QUERIES = 10
DEFAULT_SAMPLE_HZ = 20.0


@dataclass
class RunRequest:
    """Everything `harness run` was asked for; None means "task file or preset decides"."""

    task: str
    model: str
    model_name: str | None = None
    device: str = "cuda"
    dtype: str | None = None
    num_queries: int | None = None
    batch_size: int | None = None
    repeats: int | None = None
    warmup_queries: int | None = None
    idle_seconds: float | None = None
    sample_hz: float = DEFAULT_SAMPLE_HZ
    revision: str | None = None
    random_weights: bool = False
    trust_remote_code: bool = False
    device_map: str | None = None
    measure_gpus: Sequence[int] | None = None
    preset: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    strict: bool = False
    results_dir: Path = Path("results")
    output: Path | None = None


def _with_name(info: dict, request: RunRequest) -> dict:
    """The model info plus a readable `name` (`--model-id`, else a local folder's config hub id) when known."""
    name = request.model_name or local_model_name(request.model)
    return {**info, "name": name} if name else info


@dataclass(frozen=True)
class ResolvedRun:
    """The task spec after preset and overrides, and the run settings that are not part of the task."""

    spec: TaskSpec
    repeats: int
    warmup_queries: int
    idle_seconds: float
    preset: str | None
    overrides: dict[str, str]


_TASK_FIELDS = ("num_queries", "batch_size", "dtype")
"""Run settings that are task settings too: a preset or an option sets them as overrides of the task."""


def _task_fields_set(source: object) -> dict[str, str]:
    return {name: str(getattr(source, name)) for name in _TASK_FIELDS if getattr(source, name) is not None}


def resolve(request: RunRequest) -> ResolvedRun:
    """Apply precedence task file < preset < command line, and validate the result."""
    spec = load_task(request.task)
    preset = load_preset(request.preset) if request.preset else None
    overrides: dict[str, str] = {}
    if preset is not None:
        overrides.update({k: str(v) for k, v in (preset.set or {}).items()})
        overrides.update(_task_fields_set(preset))
    overrides.update(request.overrides)
    overrides.update(_task_fields_set(request))
    spec = apply_overrides(spec, overrides)

    on_gpu = request.device.startswith("cuda")

    def pick(name: str, gpu_default: float, cpu_default: float):
        explicit = getattr(request, name)
        if explicit is not None:
            return explicit
        from_preset = getattr(preset, name, None) if preset is not None else None
        return from_preset if from_preset is not None else (gpu_default if on_gpu else cpu_default)

    repeats = int(pick("repeats", DEFAULT_REPEATS_GPU, DEFAULT_REPEATS_CPU))
    warmup = int(pick("warmup_queries", DEFAULT_WARMUP_QUERIES, DEFAULT_WARMUP_QUERIES))
    idle_s = float(pick("idle_seconds", DEFAULT_IDLE_S_GPU, DEFAULT_IDLE_S_CPU))
    if repeats < 1:
        raise ConfigError(f"--repeats must be at least 1 (got {repeats})")
    if warmup < 0 or idle_s < 0:
        raise ConfigError("warm-up queries and idle seconds cannot be negative")
    return ResolvedRun(spec, repeats, warmup, idle_s, request.preset, applicable_overrides(spec.kind, overrides))


def batches(items: Sequence[str], batch_size: int) -> list[Sequence[str]]:
    """Consecutive batches; the last one may be smaller (its queries still count once each)."""
    return [items[i : i + batch_size] for i in range(0, len(items), batch_size)]


ProgressCallback = Callable[[int, float | None], None]
"""Called after each batch with (queries done in this pass, live GPU power in W or None)."""


@dataclass
class PassOutcome:
    num_queries: int
    query_latencies_s: list[float]
    input_tokens: int | None
    output_tokens: int | None
    images: int | None


def run_pass(
    run_batch: Callable[[Sequence[str]], object],
    items: Sequence[str],
    batch_size: int,
    on_batch: ProgressCallback | None = None,
    live_power_w: Callable[[], float | None] = lambda: None,
) -> PassOutcome:
    """Run every query once, timing each batch (the workload synchronises CUDA before returning)."""
    latencies: list[float] = []
    totals = {"input_tokens": 0, "output_tokens": 0, "images": 0}
    seen = {"input_tokens": False, "output_tokens": False, "images": False}
    done = 0
    for batch in batches(items, batch_size):
        start = time.perf_counter()
        output = run_batch(batch)
        elapsed = time.perf_counter() - start
        latencies.extend([elapsed] * len(batch))
        for name in totals:
            value = getattr(output, name, None)
            if value is not None:
                totals[name] += value
                seen[name] = True
        done += len(batch)
        if on_batch is not None:
            on_batch(done, live_power_w())
    return PassOutcome(
        num_queries=done,
        query_latencies_s=latencies,
        **{name: (totals[name] if seen[name] else None) for name in totals},
    )


def _git_sha() -> str | None:
    """The harness checkout's commit, with `-dirty` when it has uncommitted changes (None outside git).

    `HARNESS_GIT_SHA` gives it where there is no checkout (the Docker image is built from one).
    """
    if os.environ.get("HARNESS_GIT_SHA"):
        return os.environ["HARNESS_GIT_SHA"]
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique without coordination: `20261122T101500Z-1a2b3c4d`."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def _warning_dicts(warnings, repetition: int | None = None) -> list[dict]:
    return [
        {"code": w.code, "message": w.message, "severity": w.severity, "gpu_index": w.gpu_index,
         "repetition": repetition}
        for w in warnings
    ]


class Reporter:
    """What a run tells the person watching; the CLI passes a rich progress bar, tests pass nothing.

    `phase` starts a phase and returns the callback to call after each batch (or None).
    """

    def phase(self, description: str, total_queries: int | None = None) -> ProgressCallback | None:
        return None

    def done(self) -> None:
        pass


def _silence_library_progress_bars() -> None:
    """A quiet run prints nothing but its result: transformers' and diffusers' own loading bars included."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    diffusers_logging.disable_progress_bar()


def execute(request: RunRequest, reporter: Reporter | None = None) -> tuple[ResultFile, Path]:
    """Run the benchmark and write its result file; returns the result and where it was written."""
    if reporter is None:
        _silence_library_progress_bars()
    reporter = reporter or Reporter()
    resolved = resolve(request)
    spec = resolved.spec
    inputs = load_inputs(spec, spec.num_queries)
    loaded = load_model(
        spec.kind, request.model, revision=request.revision, dtype=spec.dtype, device=request.device,
        random_weights=request.random_weights, trust_remote_code=request.trust_remote_code,
        device_map=request.device_map,
    )
    workload: Workload = WORKLOADS[spec.kind](loaded, spec)
    # `loaded.gpu_indices` are NVML indices already (matched by UUID in harness.models).
    gpu_indices = list(request.measure_gpus) if request.measure_gpus is not None else list(loaded.gpu_indices)

    started_at = datetime.now(timezone.utc)
    run_warnings: list[dict] = []
    with open_meter(gpu_indices, sample_hz=request.sample_hz, strict=request.strict) as meter:
        environment = meter.environment()
        if resolved.warmup_queries:
            warm_items = [inputs.items[i % len(inputs.items)] for i in range(resolved.warmup_queries)]
            run_pass(workload.run_batch, warm_items, spec.batch_size,
                     reporter.phase("warm-up (not measured)", len(warm_items)))
        idle = meter.measure_idle(resolved.idle_seconds) if resolved.idle_seconds > 0 else None
        repetitions = [
            _measured_repetition(meter, workload, inputs.items, spec.batch_size, index, resolved.repeats, reporter,
                                 run_warnings)
            for index in range(resolved.repeats)
        ]
        run_warnings.extend(_warning_dicts(meter.run_warnings()))
        timelines = meter.timeline(started_at.timestamp())
    reporter.done()
    finished_at = datetime.now(timezone.utc)

    idle_model = IdleBaseline.model_validate(idle.as_dict()) if idle is not None else None
    repetition_models = [Repetition.model_validate(rep) for rep in repetitions]
    figures, figure_warnings = derive_figures(repetition_models, idle_model)
    result = ResultFile.model_validate({
        "run_id": new_run_id(started_at),
        "created_at": finished_at,
        "started_at": started_at,
        "finished_at": finished_at,
        "harness_version": __version__,
        "git_sha": _git_sha(),
        "task": {"id": spec.id, "version": spec.version, "kind": spec.kind, "spec": spec.model_dump(mode="json")},
        "input_set": inputs.info,
        "model": _with_name(loaded.info, request),
        "settings": {
            "num_queries": spec.num_queries, "batch_size": spec.batch_size, "repeats": resolved.repeats,
            "warmup_queries": resolved.warmup_queries, "idle_seconds": resolved.idle_seconds,
            "sample_hz": request.sample_hz, "preset": resolved.preset, "overrides": resolved.overrides,
            "strict": request.strict,
        },
        "environment": environment,
        "idle": idle_model,
        "repetitions": repetition_models,
        "timelines": timelines,
        "warnings": run_warnings + [w.model_dump() for w in figure_warnings],
        "figures": figures,
    })
    errors = [f for f in run_checks(result) if f.severity == "error"]
    if errors:
        raise MeasurementError(f"the run's own result failed a plausibility check, nothing written: "
                               f"{errors[0].name}: {errors[0].message}")
    path = request.output if request.output is not None else default_result_path(request.results_dir, result)
    if path.suffix != ".json":
        path = default_result_path(path, result)
    return result, write_result(result, path)


def _measured_repetition(
    meter: EnergyMeter, workload: Workload, items: Sequence[str], batch_size: int, index: int, repeats: int,
    reporter: Reporter, run_warnings: list[dict],
) -> dict:
    """One measured pass over every query, then (generative tasks) a prefill-only pass in its own window."""
    label = f"repetition {index + 1}/{repeats}"
    meter.begin(f"rep{index}/total")
    outcome = run_pass(workload.run_batch, items, batch_size, reporter.phase(label, len(items)), meter.live_power_w)
    total = meter.end(f"rep{index}/total")
    readings = {"total": total.as_dict()}
    run_warnings.extend(_warning_dicts(total.warnings, index))
    if workload.generative:
        meter.begin(f"rep{index}/prefill")
        run_pass(workload.run_prefill_batch, items, batch_size, reporter.phase(f"{label} prefill", len(items)),
                 meter.live_power_w)
        prefill = meter.end(f"rep{index}/prefill")
        readings["prefill"] = prefill.as_dict()
        run_warnings.extend(_warning_dicts(prefill.warnings, index))
    return {
        "index": index,
        "num_queries": outcome.num_queries,
        "readings": readings,
        "query_latencies_s": outcome.query_latencies_s,
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "images": outcome.images,
    }
