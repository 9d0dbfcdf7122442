"""Resolving a run: the one place where precedence and every run default live.

Precedence, lowest first: the task file < the preset < explicit command-line options and `--set`. What a
run does around the task (repeats, adaptive repeats, the minimum window, warm-up queries, idle seconds and
settling, sample rate, the protocol) has its defaults here too, so `harness run`, `harness plan` and anything
else that asks "what would this run do?" get one answer. Every bad setting is a one-line ConfigError here,
before any model loads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.errors import ConfigError
from harness.kinds import COUNTER_UPDATE_PERIOD_S, MAX_EDGE_ERROR, PROTOCOLS
from harness.tasks.overrides import applicable_overrides, apply_overrides, split_scope
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
MAX_MIN_WINDOW_S = 3600.0
"""The longest minimum window of one measured pass: an hour (the default is 10 s; `--min-window-s 1e9` is a typo
that would run for decades)."""
MAX_IDLE_SETTLE_S = 3600.0
"""The longest wait for GPU power to settle before an idle measurement (the default is 30 s)."""
MAX_COUNT_SETTING = 1_000_000
"""The largest whole-number setting of a query (`max_input_tokens`, and any under `generation`: new tokens,
denoising steps, image sides, ...): a million, a thousand times anything a task uses."""

DEFAULT_MIN_WINDOW_S = {"gpu": COUNTER_UPDATE_PERIOD_S / MAX_EDGE_ERROR, "cpu": 0.0}
"""Each measured pass is repeated within its window until it lasts this long: 10 s on GPU (edge error <= 1 %);
no minimum on CPU, where no GPU counter is read (RAPL updates every millisecond)."""

DEFAULT_IDLE_SETTLE_S = {"gpu": 30.0, "cpu": 0.0}
"""The longest a run waits for GPU power to settle before each idle measurement."""

DEFAULT_MAX_REPEATS = 20
"""With `--target-ci` and no `--max-repeats`: the most repetitions run."""

DEFAULT_PROTOCOL = "harness"

PROTOCOL_FIXED = ("num_queries", "batch_size", "dtype", "repeats", "warmup_queries", "target_ci_pct", "max_repeats")
"""Settings a protocol preset fixes when it sets them: changing one on the command line is a ConfigError, so a
result that says `protocol: aies` followed it (inputs, devices and the sampler may still be chosen)."""


def _check_protocol_kept(request: SettingsRequest, preset: Preset, task: TaskSpec) -> None:
    """Refuse command-line values that change what a protocol preset fixes (its settings and `set` keys, and the
    task file's precision where the preset leaves it to the task)."""
    changed = [name for name in PROTOCOL_FIXED
               if getattr(preset, name, None) is not None and getattr(request, name) is not None
               and getattr(request, name) != getattr(preset, name)]
    if preset.dtype is None:
        asked = request.dtype if request.dtype is not None else request.overrides.get("dtype")
        if asked is not None and str(asked) != task.dtype:
            changed.append("dtype")
    # Compared by the setting each key names for this task's kind, so `generation.mode` and
    # `summarization:generation.mode` are the same setting.
    def named(overrides: Mapping[str, object]) -> dict[str, tuple[str, object]]:
        applied = applicable_overrides(task.kind, overrides)
        return {split_scope(str(key))[1]: (key, value) for key, value in applied.items()}

    fixed = named(preset.set or {})
    changed += [key for name, (key, value) in named(request.overrides).items()
                if name in fixed and str(value) != str(fixed[name][1])]
    if changed:
        raise ConfigError(f"--preset {preset.name} fixes {', '.join(changed)} (protocol {preset.protocol}); a run "
                          f"that changes it does not follow that protocol: drop the option or the preset")

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
    target_ci_pct: float | None = None
    max_repeats: int | None = None
    min_window_s: float | None = None
    idle_settle_s: float | None = None
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
    target_ci_pct: float | None = None
    """Adaptive repeats: stop once the GPU headline's 95 % interval is within ±this % of its mean (None: fixed)."""
    max_repeats: int | None = None
    """Adaptive repeats: the most repetitions (`repeats` is then the least); None with fixed repeats."""
    min_window_s: float = 0.0
    idle_settle_s: float = 0.0
    protocol: str = DEFAULT_PROTOCOL


def _task_fields_set(source: object) -> dict[str, str]:
    return {name: str(getattr(source, name)) for name in TASK_FIELDS if getattr(source, name, None) is not None}


def _pick(name: str, request: SettingsRequest, preset: Preset | None, default: float) -> float:
    """The explicit value, else the preset's, else the default."""
    explicit = getattr(request, name)
    if explicit is not None:
        return explicit
    from_preset = getattr(preset, name, None) if preset is not None else None
    return from_preset if from_preset is not None else default


def _count_settings(spec) -> list[tuple[str, int, int]]:
    """(name, value, `MAX_COUNT_SETTING`) for the whole-number settings of one query."""
    found = [("max_input_tokens", spec.max_input_tokens, MAX_COUNT_SETTING)] if isinstance(
        getattr(spec, "max_input_tokens", None), int) else []
    generation = getattr(spec, "generation", None)
    for name, value in (generation.model_dump() if generation is not None else {}).items():
        if isinstance(value, int) and not isinstance(value, bool) and name != "seed":  # a seed is a name, not a count
            found.append((f"generation.{name}", value, MAX_COUNT_SETTING))
    return found


def resolve(request: SettingsRequest, loaded: dict[tuple[str, str], object] | None = None) -> ResolvedRun:
    """Apply precedence task file < preset < command line, fill every default, and validate the result.

    `loaded` keeps the task and preset files read so far (a planner resolving thousands of jobs reads each once)."""
    loaded = {} if loaded is None else loaded
    if ("task", request.task) not in loaded:
        loaded[("task", request.task)] = load_task(request.task)
    spec = loaded[("task", request.task)]
    if request.preset and ("preset", request.preset) not in loaded:
        loaded[("preset", request.preset)] = load_preset(request.preset)
    preset = loaded[("preset", request.preset)] if request.preset else None
    protocol = (preset.protocol if preset is not None and preset.protocol else None) or DEFAULT_PROTOCOL
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r} (protocols: {', '.join(PROTOCOLS)})")
    if preset is not None and protocol != DEFAULT_PROTOCOL:
        _check_protocol_kept(request, preset, spec)
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
    target_ci = _pick("target_ci_pct", request, preset, None)
    max_repeats = _pick("max_repeats", request, preset, None)
    min_window_s = _pick("min_window_s", request, preset, DEFAULT_MIN_WINDOW_S[hardware])
    settle_s = _pick("idle_settle_s", request, preset, DEFAULT_IDLE_SETTLE_S[hardware])
    checked = [("repeats", repeats), ("warm-up queries", warmup), ("idle seconds", idle_s),
               ("sample rate", sample_hz), ("minimum window seconds", min_window_s),
               ("idle settle seconds", settle_s)]
    checked += [(name, value) for name, value in (("--target-ci", target_ci), ("--max-repeats", max_repeats))
                if value is not None]
    for name, value in checked:
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
                               ("num_queries", spec.num_queries, MAX_QUERIES),
                               ("--min-window-s", min_window_s, MAX_MIN_WINDOW_S),
                               ("--idle-settle-s", settle_s, MAX_IDLE_SETTLE_S),
                               ("--max-repeats", max_repeats if max_repeats is not None else 1, MAX_REPEATS),
                               ("batch_size", spec.batch_size, MAX_QUERIES), *_count_settings(spec)):
        if value > limit:
            raise ConfigError(f"{name} {value:g} is more than the {limit:g} a run accepts")

    if min_window_s < 0:
        raise ConfigError(f"--min-window-s cannot be negative (got {min_window_s})")
    if settle_s < 0:
        raise ConfigError(f"--idle-settle-s cannot be negative (got {settle_s})")
    if target_ci is not None and not 0 < target_ci < 100:
        raise ConfigError(f"--target-ci must be a percentage above 0 and below 100 (got {target_ci})")
    if max_repeats is not None:
        if int(max_repeats) != max_repeats or max_repeats < 1:
            raise ConfigError(f"--max-repeats must be a whole number of at least 1 (got {max_repeats})")
        if target_ci is None:
            raise ConfigError("--max-repeats needs --target-ci (without a target the run makes exactly --repeats)")
        if max_repeats < repeats:
            raise ConfigError(f"--max-repeats ({max_repeats}) cannot be below --repeats ({repeats})")
    if target_ci is not None:
        max_repeats = int(max_repeats) if max_repeats is not None else max(DEFAULT_MAX_REPEATS, int(repeats))
        if max_repeats < 2:
            raise ConfigError("--target-ci needs at least 2 repetitions (--max-repeats 2 or more): one repetition "
                              "has no interval")
    return ResolvedRun(spec, int(repeats), int(warmup), float(idle_s), float(sample_hz), request.preset,
                       applicable_overrides(spec.kind, overrides),
                       target_ci_pct=None if target_ci is None else float(target_ci),
                       max_repeats=max_repeats, min_window_s=float(min_window_s), idle_settle_s=float(settle_s),
                       protocol=protocol)
