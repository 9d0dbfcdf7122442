"""Resolving a run: the one place where precedence and every run default live.

Precedence, lowest first: the task file < the preset < explicit command-line options and `--set`. What a
run does around the task (repeats, warm-up queries, idle seconds, sample rate) has its defaults here too,
so `harness run`, `harness plan` and anything else that asks "what would this run do?" get one answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.errors import ConfigError
from harness.tasks.overrides import applicable_overrides, apply_overrides
from harness.tasks.presets import Preset, load_preset
from harness.tasks.registry import load_task
from harness.tasks.spec import TaskSpec

DEFAULT_REPEATS = {"gpu": 3, "cpu": 1}
"""Repetitions when nobody says: a GPU run is repeated for its spread; a CPU run only shows the method."""

DEFAULT_IDLE_SECONDS = {"gpu": 5.0, "cpu": 1.0}
"""Seconds of idle baseline measured after warm-up."""

DEFAULT_WARMUP_QUERIES = 10
"""Queries run before the idle baseline, so it sees a warm card with the model resident."""

DEFAULT_SAMPLE_HZ = 20.0
"""The background power sampler's rate (timeline and cross-check; the counter is the energy)."""

MAX_QUERIES = 1_000_000
"""Most queries per repetition, and most warm-up queries: a thousand times the standard workload. Beyond it a
typo (`--num-queries 1000000000`) would build its inputs for hours before printing anything."""

MAX_REPEATS = 1000
MAX_IDLE_SECONDS = 3600.0
MAX_SAMPLE_HZ = 1000.0
"""NVML refreshes power every few milliseconds at best; a faster sampler only reads the same value again."""

TASK_FIELDS = ("num_queries", "batch_size", "dtype")
"""Run options that are task settings too: a preset or an option sets them as overrides of the task."""


@dataclass(kw_only=True)
class SettingsRequest:
    """What was asked of a run's settings; None means "the task file or the preset decides"."""

    task: str
    device: str = "cuda"
    dtype: str | None = None
    num_queries: int | None = None
    batch_size: int | None = None
    repeats: int | None = None
    warmup_queries: int | None = None
    idle_seconds: float | None = None
    sample_hz: float | None = None
    preset: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")


@dataclass(frozen=True)
class ResolvedRun:
    """The task spec after preset and overrides, and the run settings that are not part of the task."""

    spec: TaskSpec
    repeats: int
    warmup_queries: int
    idle_seconds: float
    sample_hz: float
    preset: str | None
    overrides: dict[str, str]
    """The overrides that took effect for this task's kind, keys as given (what the result records)."""


def _task_fields_set(source: object) -> dict[str, str]:
    return {name: str(getattr(source, name)) for name in TASK_FIELDS if getattr(source, name, None) is not None}


def _pick(name: str, request: SettingsRequest, preset: Preset | None, default: float) -> float:
    """The explicit value, else the preset's, else the default."""
    explicit = getattr(request, name)
    if explicit is not None:
        return explicit
    from_preset = getattr(preset, name, None) if preset is not None else None
    return from_preset if from_preset is not None else default


def resolve(request: SettingsRequest) -> ResolvedRun:
    """Apply precedence task file < preset < command line, fill every default, and validate the result."""
    spec = load_task(request.task)
    preset = load_preset(request.preset) if request.preset else None
    overrides: dict[str, str] = {}
    if preset is not None:
        overrides.update({k: str(v) for k, v in (preset.set or {}).items()})
        overrides.update(_task_fields_set(preset))
    overrides.update(request.overrides)
    overrides.update(_task_fields_set(request))
    spec = apply_overrides(spec, overrides)

    hardware = "gpu" if request.on_gpu else "cpu"
    repeats = _pick("repeats", request, preset, DEFAULT_REPEATS[hardware])
    warmup = _pick("warmup_queries", request, preset, DEFAULT_WARMUP_QUERIES)
    idle_s = _pick("idle_seconds", request, preset, DEFAULT_IDLE_SECONDS[hardware])
    sample_hz = _pick("sample_hz", request, preset, DEFAULT_SAMPLE_HZ)
    for name, value in (("repeats", repeats), ("warm-up queries", warmup), ("idle seconds", idle_s),
                        ("sample rate", sample_hz)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number (got {value!r})")
    if int(repeats) != repeats or repeats < 1:
        raise ConfigError(f"--repeats must be a whole number of at least 1 (got {repeats})")
    if int(warmup) != warmup or warmup < 0:
        raise ConfigError(f"--warmup-queries must be a whole number, not negative (got {warmup})")
    if idle_s < 0:
        raise ConfigError(f"--idle-seconds cannot be negative (got {idle_s})")
    if sample_hz <= 0:
        raise ConfigError(f"--sample-hz must be positive (got {sample_hz})")
    for name, value, limit in (("--repeats", repeats, MAX_REPEATS), ("--warmup-queries", warmup, MAX_QUERIES),
                               ("--idle-seconds", idle_s, MAX_IDLE_SECONDS), ("--sample-hz", sample_hz, MAX_SAMPLE_HZ),
                               ("num_queries", spec.num_queries, MAX_QUERIES)):
        if value > limit:
            raise ConfigError(f"{name} {value:g} is more than the {limit:g} a run accepts")
    return ResolvedRun(spec, int(repeats), int(warmup), float(idle_s), float(sample_hz), request.preset,
                       applicable_overrides(spec.kind, overrides))
