"""From result files to leaderboard entries: load, validate, refuse, group, keep the latest run.

Pure apart from reading files. Every file goes through the same schema and plausibility checks as
`harness validate` (`load_valid_result`); a bad file becomes a `Refusal` with one line and the build goes
on. Each valid file is reduced to a small `RunRecord` (what the pages show), so 10 000 files can be
loaded in worker processes and sent back cheaply.

Grouping never reads a path: task, hardware class, model, size class and workload all come from the JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import json
import logging
import operator
import os
import struct
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, NamedTuple

import pydantic_core

from harness.errors import HarnessError, ResultFileError
from harness.files import read_bounded, slugify
from harness.kinds import KINDS, is_real_gpu_backend, is_test_meter_backend
from harness.results.identity import result_workload_key
from harness.results.schema import ResultFile
from harness.results.statistics import usability_problem
from harness.results.store import load_valid_result, read_result_bytes, result_file_paths
from leaderboard.cache import Codec, PackedTimeline, SummaryCache, pack, register_codec, stat_key
from leaderboard.workers import fork_available, worker_pool

logger = logging.getLogger(__name__)

Status = Literal["gpu", "cpu", "test-meter", "non-standard", "unusable"]
"""`gpu`: measured with NVML on a real GPU (rated); `cpu`: no GPU figure (host energy only, often estimated);
`test-meter`: measured with the fake NVML backend, a test artefact; `non-standard`: a real GPU measurement under
conditions that change the number (power limit, persistence, MIG, contention, throttling); `unusable`: a real GPU
headline with no interval (one repetition) or one marked unusable (interval below zero, wider than ±50 %, or a
window whose edge error exceeds 1 %). Only `gpu` entries are ever rated."""

SIZE_CLASS_LIMITS = (("A", 20e9), ("B", 66e9))
"""Text-generation size classes, as AI Energy Score: A <= 20B parameters, B <= 66B, C above."""

SIZE_CLASS_KINDS = frozenset({"text-gen"})
"""Task kinds whose models are also grouped by size class."""

TIMELINE_MAX_POINTS = 240
"""Points kept per GPU for the power timeline plot (the file may hold thousands)."""

QUERY_SPEC_KEYS = ("max_input_tokens", "generation")
"""The task spec keys that say what one query is (kept on each record; the rest of the spec is not shown)."""

PARALLEL_MIN_FILES = 200
"""Below this many files, worker processes cost more than they save."""

CHUNKS_PER_WORKER = 16
"""Files are handed to workers in about this many chunks each: the last chunk, which one worker finishes while the
other has nothing left, stays a small share of the build."""


class Figure(NamedTuple):
    """A measured figure over repetitions (mean and 95 % CI), in the unit its name says.

    A named tuple, not a dataclass: a run has up to ten, the summary cache holds 10 000 runs, and a tuple is
    rebuilt from a pickle without a Python call (`__reduce__`), which makes loading the cache a third faster."""

    mean: float
    ci95_low: float | None
    ci95_high: float | None
    n: int
    unusable: str | None = None
    """Why the figure must not be rated (None: it may be); one repetition has no interval (both bounds None)."""

    def __reduce__(self):
        return tuple.__new__, (Figure, tuple(self))


@dataclass(frozen=True)
class Timeline:
    """One GPU's power over the run, downsampled: seconds since start and watts."""

    gpu_index: int
    t_s: tuple[float, ...]
    power_w: tuple[float, ...]


@dataclass(frozen=True)
class Note:
    """A warning kept with the run: from the meter, the runner or the plausibility checks."""

    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class OutputLengths:
    """New tokens per answer where the model chose them (natural-length generation), and how many hit the cap."""

    mean: float
    p50: float
    p90: float
    num_queries: int
    at_cap: int | None = None


@dataclass(frozen=True)
class ServedFigures:
    """What the site shows of a run through a server under load (`ResultFile.serving`), in the units the names say.

    The steady state's J per output token is the serving headline; latencies are over every request of every
    repetition (inter-token latency and time to first token at their percentiles), energy per request is the
    measured attribution's mean with its prefill/decode split."""

    concurrency: int
    """Requests kept in flight (the task's batch size)."""
    batch_cap: int | None
    requests: int
    failed_requests: int
    engine_version: str | None
    j_per_token: Figure | None
    """GPU J per output token in the steady window (mean and 95 % CI over repetitions)."""
    tokens_per_s: float | None
    power_w: float | None
    steady_window_s: float | None
    steady_unusable: str | None
    """Why the steady figures must not be used (window too short, no steady state), as the result says; or None."""
    itl_p50_s: float | None
    itl_p90_s: float | None
    ttft_p50_s: float | None
    e2e_p50_s: float | None
    request_j: float | None
    prefill_request_j: float | None
    decode_request_j: float | None
    attributed_share: float | None

    @property
    def unusable(self) -> str | None:
        """Why this configuration's steady figures must not be used or picked (None: they may be)."""
        if self.steady_unusable:
            return self.steady_unusable
        if self.j_per_token is None:
            return "no steady J per token in the result"
        if self.j_per_token.unusable:
            return self.j_per_token.unusable
        if self.j_per_token.ci95_low is None:
            return f"no interval from {self.j_per_token.n} repetition"
        if self.itl_p50_s is None:
            return "no inter-token latency in the result"
        return None

    def to_json(self) -> str:
        """One string for `RunRecord.served_json` (the summary cache stores strings as they are)."""
        return json.dumps([getattr(self, f.name) for f in dataclasses.fields(self)], allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ServedFigures:
        values = json.loads(text)
        names = [f.name for f in dataclasses.fields(cls)]
        data = dict(zip(names, values, strict=True))
        if data["j_per_token"] is not None:
            data["j_per_token"] = Figure(*data["j_per_token"])
        return cls(**data)


def _served(result: ResultFile) -> ServedFigures | None:
    serving = result.serving
    if serving is None:
        return None

    def mean(value) -> float | None:
        return value.mean if value is not None else None

    itl, ttft, e2e = serving.inter_token_latency_s, serving.ttft_s, serving.e2e_latency_s
    return ServedFigures(
        concurrency=serving.concurrency, batch_cap=serving.batch_cap, requests=serving.requests,
        failed_requests=serving.failed_requests,
        engine_version=result.engine.version if result.engine is not None else None,
        j_per_token=_figure(serving.gpu_energy_per_output_token_j),
        tokens_per_s=mean(serving.output_tokens_per_s), power_w=mean(serving.gpu_mean_power_w),
        steady_window_s=mean(serving.steady_window_s), steady_unusable=serving.steady_unusable,
        itl_p50_s=itl.p50 if itl else None, itl_p90_s=itl.p90 if itl else None,
        ttft_p50_s=ttft.p50 if ttft else None, e2e_p50_s=e2e.p50 if e2e else None,
        request_j=mean(serving.gpu_energy_per_request_j),
        prefill_request_j=mean(serving.gpu_prefill_energy_per_request_j),
        decode_request_j=mean(serving.gpu_decode_energy_per_request_j),
        attributed_share=serving.attributed_share,
    )


@dataclass(frozen=True)
class RunRecord:
    """What the leaderboard needs from one valid result file."""

    source: str
    run_id: str
    created_at: datetime
    harness_version: str
    git_sha: str | None
    task_id: str
    task_version: str
    task_kind: str
    model_id: str
    model_revision: str | None
    dtype: str
    num_parameters: int
    random_weights: bool
    hardware_class: str
    meter_backend: str
    gpu_method: str
    num_queries: int
    batch_size: int
    repeats: int
    preset: str | None
    overrides_json: str
    """The run's overrides as typed: shown on its model page, never used to group (`workload_key` does)."""
    protocol: str
    """The measurement protocol the run followed (`harness` or `aies`); never ranked across protocols."""
    non_standard_reasons: tuple[str, ...]
    """Why the run's conditions were not standard (empty when they were)."""
    workload_key: str
    """`harness.results.identity.result_workload_key`: equal exactly when two runs did the same work."""
    gpu_wh: Figure | None
    gpu_above_idle_wh: Figure | None
    gpu_power_w: Figure | None
    cpu_wh: Figure | None
    cpu_estimated: bool
    ram_wh: Figure | None
    ram_estimated: bool
    latency_p50_s: Figure
    latency_p95_s: Figure
    throughput_qps: Figure
    environment_json: str
    """The run's environment as (name, value) pairs, in JSON: one string to store and load rather than dozens of
    objects per run (only its model page shows it, `environment`)."""
    warnings: tuple[Note, ...]
    timelines: tuple[Timeline, ...]
    notes: tuple[str, ...]
    model_name: str | None = None
    """The result's readable model name, when it recorded one (a local folder's `--model-id`)."""
    query_spec_json: str = "{}"
    """The task spec's per-query settings (input limit, generation), for the site's "what a query is" line."""
    digest: str = ""
    """SHA-1 of the file's bytes ('' when unknown): with `source`, all a page shows of this run depends on."""
    gpu_j_per_token: Figure | None = None
    """GPU joules per generated token, for natural-length generation (answers' lengths are the model's)."""
    output_lengths: OutputLengths | None = None
    engine: str = ""
    """The engine that ran the model (`ResultFile.engine_name`); runs by different engines are different workloads."""
    served_json: str = ""
    """A served run's figures (`ServedFigures.to_json`), '' for a run in the harness's own process: one string, as
    `environment_json`, so the summary cache keeps it as it is (`served` reads it)."""

    @functools.cached_property
    def served(self) -> ServedFigures | None:
        """What the site shows of a run through a server under load; None for a run in the harness's own process."""
        return ServedFigures.from_json(self.served_json) if self.served_json else None

    @property
    def environment(self) -> tuple[tuple[str, str], ...]:
        """Hardware and software of the run, as (name, value) pairs in the order the model page lists them."""
        return tuple((name, value) for name, value in json.loads(self.environment_json))

    @property
    def generation_words(self) -> str | None:
        """`chat, up to 1024 new tokens, thinking on` for natural-length generation; None otherwise."""
        generation = json.loads(self.query_spec_json).get("generation") or {}
        if generation.get("mode") != "chat":
            return None
        thinking = {True: ", thinking on", False: ", thinking off"}.get(generation.get("enable_thinking"), "")
        return f"chat, up to {generation.get('max_new_tokens')} new tokens{thinking}"

    @property
    def status(self) -> Status:
        if is_test_meter_backend(self.meter_backend):
            return "test-meter"
        if is_real_gpu_backend(self.meter_backend) and self.gpu_wh is not None:
            if self.non_standard_reasons:
                return "non-standard"
            if self.gpu_wh.unusable or self.gpu_wh.ci95_low is None:
                return "unusable"
            return "gpu"
        return "cpu"

    @property
    def unrated_reason(self) -> str | None:
        """Why this run gets no stars, in words (None when it is rated)."""
        if self.status == "non-standard":
            return f"not rated: non-standard conditions ({'; '.join(self.non_standard_reasons)})"
        if self.status == "unusable":
            why = self.gpu_wh.unusable or f"no interval from {self.gpu_wh.n} repetition"
            return f"not rated: the GPU figure is unusable ({why})"
        return {"cpu": "not rated: no GPU measurement (CPU only)",
                "test-meter": "not rated: fake NVML meter (test run)"}.get(self.status)

    @property
    def size_class(self) -> str | None:
        return size_class(self.num_parameters) if self.task_kind in SIZE_CLASS_KINDS else None

    @property
    def workload(self) -> str:
        """The work that makes two runs comparable, in words, ending with its identity key.

        Built from the resolved settings the file records, never from how they were typed: a run with
        `--num-queries 1000` and one that left the task's default of 1000 read the same.
        """
        parts = [f"v{self.task_version}", f"{self.num_queries} queries", f"batch {self.batch_size}", self.dtype]
        if self.generation_words:
            parts.append(self.generation_words)
        if self.protocol != "harness":
            parts.append(f"protocol {self.protocol}")
        if self.engine and (self.engine != KINDS[self.task_kind].default_engine or self.served_json):
            parts.append(f"engine {self.engine}")  # a served run names its engine even if it were the default
        return " · ".join([*parts, f"workload {self.workload_key}"])


@dataclass(frozen=True)
class Refusal:
    """A file left out of the leaderboard, and why (one line)."""

    source: str
    reason: str


@dataclass(frozen=True)
class Entry:
    """One model on one task, hardware class and workload: its latest valid run and the older ones."""

    latest: RunRecord
    older: tuple[RunRecord, ...]

    @property
    def key(self) -> tuple[str, ...]:
        """Task, hardware, size class, model and workload; the protocol too when it is not the default one (so
        existing entries keep their slugs)."""
        r = self.latest
        base = (r.task_id, r.hardware_class, r.size_class or "", r.model_id, r.workload_key)
        base = base if r.protocol == "harness" else (*base, r.protocol)
        return (*base, "served") if r.served_json else base

    @property
    def rating_group(self) -> str:
        """Entries compared with each other for stars: same task, hardware, size class and workload."""
        r = self.latest
        parts = [r.task_id, r.hardware_class]
        if r.size_class:
            parts.append(f"class {r.size_class}")
        parts.append(r.workload)
        return " | ".join(parts)

    @property
    def slug(self) -> str:
        """A stable file name for this entry's label: task, hardware and a hash of the full key."""
        digest = hashlib.sha1("\x1f".join(self.key).encode("utf-8")).hexdigest()[:8]
        return f"{slugify(self.latest.task_id)}--{slugify(self.latest.hardware_class)}--{digest}"


@dataclass(frozen=True)
class TaskBoard:
    """Everything shown for one task: rateable GPU entries and the entries shown apart."""

    task_id: str
    task_kind: str
    rated: tuple[Entry, ...]
    unrated: tuple[Entry, ...]


@dataclass(frozen=True)
class Board:
    """The aggregated leaderboard: tasks, models, and the files that were refused."""

    tasks: dict[str, TaskBoard]
    models: dict[str, tuple[Entry, ...]]
    refused: tuple[Refusal, ...]
    num_files: int
    num_runs: int = field(default=0)


def size_class(num_parameters: int) -> str:
    """A, B or C by parameter count (A <= 20B, B <= 66B, C > 66B)."""
    for name, limit in SIZE_CLASS_LIMITS:
        if num_parameters <= limit:
            return name
    return "C"


# ------------------------------------------------------------------------ records as the cache stores them


def encode_outcomes(outcomes: dict[str, object]) -> bytes:
    """Outcomes as JSON (each a list of its fields in order; a `Refusal` as [source, reason]) then the timelines'
    bytes, which the JSON points into: [gpu index, offset, bytes of t, bytes of power]."""
    blob = bytearray()
    rows: dict[str, list] = {}
    for digest, outcome in outcomes.items():
        if isinstance(outcome, Refusal):
            rows[digest] = [outcome.source, outcome.reason]
            continue
        row = [getattr(outcome, name) for name in _fields()]
        at_created, at_timelines, at_warnings, at_lengths = _positions()
        row[at_created] = row[at_created].isoformat()
        lines = []
        for line in row[at_timelines]:
            line = line if isinstance(line, PackedTimeline) else PackedTimeline.of(line.gpu_index, line.t_s,
                                                                                   line.power_w)
            lines.append([line.gpu_index, len(blob), len(line.t_bytes), len(line.p_bytes)])
            blob += line.t_bytes
            blob += line.p_bytes
        row[at_timelines] = lines
        row[at_warnings] = [[note.code, note.severity, note.message] for note in row[at_warnings]]
        if row[at_lengths] is not None:
            row[at_lengths] = list(dataclasses.astuple(row[at_lengths]))
        rows[digest] = row
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return struct.pack("<Q", len(text)) + text + bytes(blob)


def decode_outcomes(payload: bytes) -> dict[str, object]:
    """`encode_outcomes` read back; any inconsistency raises (and the shard is ignored). Figures, a run's ten or so
    named tuples, are built with `tuple.__new__` in the loop itself: no Python call per figure."""
    (length,) = struct.unpack_from("<Q", payload)
    rows = pydantic_core.from_json(payload[8:8 + length], cache_strings="all")
    blob = memoryview(payload)[8 + length:]
    names, figures, others = _fields(), _figure_positions(), _decoders()
    at_timelines = _positions()[1]
    outcomes: dict[str, object] = {}
    new, new_tuple = object.__new__, tuple.__new__
    for digest, row in rows.items():
        if len(row) == 2:
            outcomes[digest] = Refusal(str(row[0]), str(row[1]))
            continue
        if len(row) != len(names):
            raise ValueError(f"a summary of {len(row)} fields, not {len(names)}")
        for index in figures:
            value = row[index]
            if value is not None:
                if len(value) != len(Figure._fields):
                    raise ValueError(f"a figure of {len(value)} values")
                row[index] = new_tuple(Figure, value)
        for index, decode in others:
            row[index] = decode(row[index])
        row[at_timelines] = tuple(PackedTimeline(int(gpu), bytes(blob[at:at + t]), bytes(blob[at + t:at + t + p]))
                                  for gpu, at, t, p in row[at_timelines])
        record = new(RunRecord)
        record.__dict__.update(zip(names, row))
        outcomes[digest] = record
    return outcomes


@functools.lru_cache(maxsize=1)
def _fields() -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(RunRecord))


@functools.lru_cache(maxsize=1)
def _positions() -> tuple[int, int, int, int]:
    """Where `created_at`, `timelines`, `warnings` and `output_lengths` sit among `RunRecord`'s fields."""
    names = _fields()
    return tuple(names.index(name) for name in ("created_at", "timelines", "warnings", "output_lengths"))


@functools.lru_cache(maxsize=1)
def _figure_positions() -> tuple[int, ...]:
    return tuple(index for index, field in enumerate(dataclasses.fields(RunRecord)) if "Figure" in str(field.type))


@functools.lru_cache(maxsize=1)
def _decoders() -> tuple:
    """(position, function) for each other field stored otherwise than as itself."""
    special = {"created_at": datetime.fromisoformat, "non_standard_reasons": tuple, "notes": tuple,
               "warnings": lambda notes: tuple(Note(*note) for note in notes),
               "output_lengths": lambda value: None if value is None else OutputLengths(*value)}
    return tuple((index, special[field.name]) for index, field in enumerate(dataclasses.fields(RunRecord))
                 if field.name in special)


RECORD_CODEC = Codec(encode_outcomes, decode_outcomes)
"""How the summary cache stores outcomes: JSON (data only, nothing that runs when read) and the timelines' bytes."""


register_codec(RECORD_CODEC)


def summary_cache(folder: Path) -> SummaryCache:
    """The summary cache in `folder`, storing this module's records."""
    return SummaryCache(folder, RECORD_CODEC)


def _figure(estimate) -> Figure | None:
    if estimate is None:
        return None
    # Files written before schema 1.2 carry no `unusable`: the same rule is applied to their interval here.
    unusable = estimate.unusable or usability_problem(estimate.mean, estimate.ci95_low, estimate.ci95_high)
    return Figure(estimate.mean, estimate.ci95_low, estimate.ci95_high, estimate.n, unusable)


def _downsample(values: Sequence[float], max_points: int) -> tuple[float, ...]:
    if len(values) <= max_points:
        return tuple(values)
    return _picker(len(values), max_points)(values)


@functools.lru_cache(maxsize=64)
def _picker(length: int, max_points: int) -> Callable[[Sequence[float]], tuple[float, ...]]:
    """`max_points` evenly spaced items of a sequence of `length` (more than `max_points`), picked in C: every
    timeline of a given length shares one picker."""
    step = length / max_points
    return operator.itemgetter(*(int(i * step) for i in range(max_points)))


def _environment(result: ResultFile) -> tuple[tuple[str, str], ...]:
    env = result.environment
    gpus = ", ".join(f"{g.index}: {g.name}" + (f" ({g.power_limit_enforced_w:.0f} W limit)"
                                                if g.power_limit_enforced_w else "") for g in env.gpus)
    engine = result.engine
    pairs = {
        "engine": result.engine_name + (f" {engine.version}" if engine is not None and engine.version else ""),
        "meter": env.meter_backend,
        "GPUs": gpus or "none",
        "measured GPUs": ", ".join(str(i) for i in env.measured_gpu_indices) or "none",
        "driver": env.driver_version,
        "CUDA driver": env.cuda_driver_version,
        "torch": env.torch_version,
        "torch CUDA": env.torch_cuda_version,
        "transformers": env.transformers_version,
        "diffusers": env.diffusers_version,
        "Python": env.python_version,
        "platform": env.platform,
        "CPU": env.cpu_model,
        "model dtype": result.model.dtype,
        "model revision": result.model.revision,
        "input set": f"{result.input_set.name} ({result.input_set.num_items} items, sha256 "
                     f"{result.input_set.sha256[:12]})",
    }
    return tuple((k, str(v)) for k, v in pairs.items() if v not in (None, ""))


def _warnings(result: ResultFile, findings) -> tuple[Note, ...]:
    seen: dict[tuple[str, str], Note] = {}
    raw = list(result.warnings)
    for rep in result.repetitions:
        for reading in rep.readings.values():
            raw.extend(reading.warnings)
    for warning in raw:
        seen.setdefault((warning.code, warning.message), Note(warning.code, warning.severity, warning.message))
    for finding in findings:
        seen.setdefault((finding.name, finding.message), Note(finding.name, finding.severity, finding.message))
    return tuple(seen.values())


def _timelines(result: ResultFile, packed: bool) -> tuple:
    lines = [(t.gpu_index, _downsample(t.t_s, TIMELINE_MAX_POINTS), _downsample(t.power_w, TIMELINE_MAX_POINTS))
             for t in result.timelines]
    if packed:
        return tuple(PackedTimeline.of(i, t, p) for i, t, p in lines)
    return tuple(Timeline(i, t, p) for i, t, p in lines)


def record_from_result(result: ResultFile, source: str, findings: Iterable = (), digest: str = "",
                       packed: bool = False) -> RunRecord:
    """Reduce a validated `ResultFile` to what the pages show (`digest`: of the file's bytes, when known; `packed`:
    timelines as `leaderboard.cache.pack` makes them, for a worker to send back and the cache to keep)."""
    figures = result.figures
    total = result.repetitions[0].readings.get("total")
    # Words many runs share are interned: one object for all of them, which pickle then writes (and loads) once
    # per batch of records instead of once per run.
    return RunRecord(
        source=source,
        run_id=result.run_id,
        created_at=result.created_at.astimezone(timezone.utc),  # the same instant, under the shared stdlib zone
        harness_version=sys.intern(result.harness_version),
        git_sha=result.git_sha,
        task_id=sys.intern(result.task.id),
        task_version=sys.intern(result.task.version),
        task_kind=sys.intern(result.task.kind),
        model_id=sys.intern(result.model.id),
        model_revision=result.model.revision,
        dtype=sys.intern(result.model.dtype),
        num_parameters=result.model.num_parameters,
        random_weights=result.model.random_weights,
        hardware_class=sys.intern(result.hardware_class),
        meter_backend=sys.intern(result.environment.meter_backend),
        gpu_method=sys.intern(total.gpu_method if total is not None else "none"),
        num_queries=result.settings.num_queries,
        batch_size=result.settings.batch_size,
        repeats=result.settings.repeats,
        preset=result.settings.preset,
        overrides_json=sys.intern(json.dumps(result.settings.overrides, sort_keys=True)),
        protocol=sys.intern(result.settings.protocol or "harness"),
        non_standard_reasons=tuple(result.conditions.reasons) if result.conditions is not None else (),
        workload_key=sys.intern(result_workload_key(result)),
        gpu_wh=_figure(figures.gpu_energy_per_1k_queries_wh),
        gpu_above_idle_wh=_figure(figures.gpu_energy_above_idle_per_1k_queries_wh),
        gpu_power_w=_figure(figures.gpu_mean_power_w),
        cpu_wh=_figure(figures.cpu_energy_per_1k_queries_wh),
        cpu_estimated=figures.cpu_energy_estimated,
        ram_wh=_figure(figures.ram_energy_per_1k_queries_wh),
        ram_estimated=figures.ram_energy_estimated,
        latency_p50_s=_figure(figures.latency_p50_s),
        latency_p95_s=_figure(figures.latency_p95_s),
        throughput_qps=_figure(figures.throughput_queries_per_s),
        environment_json=sys.intern(json.dumps(_environment(result))),
        warnings=_warnings(result, findings),
        timelines=_timelines(result, packed),
        notes=tuple(result.notes),
        model_name=result.model.name,
        query_spec_json=json.dumps({k: result.task.spec[k] for k in QUERY_SPEC_KEYS if k in result.task.spec},
                                   sort_keys=True),
        digest=digest,
        gpu_j_per_token=_figure(figures.gpu_energy_per_output_token_j) if result.output_lengths else None,
        output_lengths=OutputLengths(result.output_lengths.mean, result.output_lengths.p50, result.output_lengths.p90,
                                     result.output_lengths.num_queries, result.output_lengths.at_cap)
        if result.output_lengths else None,
        engine=sys.intern(result.engine_name),
        served_json=served.to_json() if (served := _served(result)) is not None else "",
    )


def _check_file(path: Path, root: Path) -> tuple[str | None, RunRecord | Refusal]:
    """One file: (SHA-1 of the bytes checked, None when unreadable; a `RunRecord` when it passes the schema and
    plausibility checks, else a `Refusal`). The file is read once for both."""
    source = _relative(path, root)
    digest = None
    try:
        data = read_result_bytes(path)
        digest = hashlib.sha1(data).hexdigest()
        loaded = load_valid_result(path, data)
    except ResultFileError as error:
        return digest, Refusal(source, str(error).removeprefix(f"{path}: "))
    return digest, record_from_result(loaded.result, source, (f for f in loaded.findings if f.severity != "error"),
                                      digest, packed=True)


def _relative(path: Path | str, root: Path) -> str:
    """`path` relative to the folder `root` (posix), or its name when `root` is that file."""
    path_text, prefix = str(path), f"{root}{os.sep}"
    if path_text.startswith(prefix):  # a listed file under root, spelt as `Path` spells it: no Path arithmetic
        return path_text[len(prefix):].replace(os.sep, "/")
    try:
        return Path(path).relative_to(root).as_posix() if root.is_dir() else Path(path).name
    except ValueError:
        return str(path)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: a build makes millions of small objects and few cycles, and the
    collector's passes over them cost about a third of the build (records are freed by reference counting)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_chunk(paths: list[str], root: str) -> list[tuple[tuple | None, str | None, RunRecord | Refusal]]:
    """(stat before reading, content digest, outcome with packed timelines) per file; the stat is taken first, so
    a file changed while it is read is hashed again by the next build."""
    with paused_gc():
        root_path = Path(root)
        return [(stat_key(p), digest, pack(outcome))
                for p in paths for digest, outcome in [_check_file(Path(p), root_path)]]


def load_records(root: Path, *, workers: int | None = None,
                 cache: SummaryCache | None = None) -> tuple[list[RunRecord], list[Refusal], int]:
    """Every result file under `root`: valid records, refusals (schema, checks, duplicate run ids), file count.

    Files are checked in worker processes when there are many (validation dominates the build). With a `cache`,
    files checked by an earlier build are not checked again (`leaderboard.cache`), and those checked now are added
    to it; saving it is the caller's (a site build writes it while its pages render).
    """
    root = Path(root)
    paths = result_file_paths(root)
    known, todo = cache.lookup(paths) if cache is not None else ({}, paths)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers > 1 and len(todo) >= PARALLEL_MIN_FILES and fork_available():
        size = max(50, len(todo) // (workers * CHUNKS_PER_WORKER))
        chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
        with worker_pool(workers) as pool:
            checked = [item for part in pool.map(_load_chunk, chunks, [str(root)] * len(chunks)) for item in part]
    else:
        checked = _load_chunk(todo, str(root))
    fresh = {path: outcome for path, (_, _, outcome) in zip(todo, checked)}
    if cache is not None:
        for path, (stat, digest, outcome) in zip(todo, checked):
            cache.add(path, outcome, stat, digest)
    outcomes = [fresh[p] if p in fresh else cache.get(known[p], _relative(p, root)) for p in paths]
    records: list[RunRecord] = []
    refused: list[Refusal] = [o for o in outcomes if isinstance(o, Refusal)]
    by_run_id: dict[str, list[RunRecord]] = defaultdict(list)
    for outcome in outcomes:
        if not isinstance(outcome, Refusal):
            by_run_id[outcome.run_id].append(outcome)
    for run_id, group in by_run_id.items():
        kept, kept_out = _settle_duplicates(root, run_id, group)
        records.extend(kept)
        refused.extend(kept_out)
    for refusal in refused:
        logger.info("refused %s: %s", refusal.source, refusal.reason)
    return records, refused, len(paths)


def _file_digest(root: Path, source: str) -> str | None:
    path = root / source if root.is_dir() else root
    try:
        return hashlib.sha256(read_bounded(path, error=ResultFileError)).hexdigest()
    except HarnessError:
        return None


def _settle_duplicates(root: Path, run_id: str, group: list[RunRecord]) -> tuple[list[RunRecord], list[Refusal]]:
    """Files sharing one run id: byte-identical copies are shown once (the others reported as copies); files that
    differ are all refused, so no file can push another out by sorting first."""
    if len(group) == 1:
        return group, []
    digests = {_file_digest(root, record.source) for record in group}
    if len(digests) == 1 and None not in digests:
        first = group[0]
        return [first], [Refusal(r.source, f"duplicate run id {run_id!r} (a copy of {first.source})")
                         for r in group[1:]]
    sources = [r.source for r in group]
    return [], [Refusal(r.source, f"duplicate run id {run_id!r} with different contents in "
                                  f"{', '.join(s for s in sources if s != r.source)}: none of them is shown")
                for r in group]


def group_entries(records: Iterable[RunRecord]) -> list[Entry]:
    """One entry per (task, hardware, size class, model, workload): the latest run first, older ones kept."""
    runs: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in records:
        runs[(record.task_id, record.hardware_class, record.size_class or "", record.model_id,
              record.workload_key, record.protocol, record.status, bool(record.served_json))].append(record)
    entries = []
    for group in runs.values():
        group.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
        entries.append(Entry(latest=group[0], older=tuple(group[1:])))
    entries.sort(key=lambda e: e.key)
    return entries


def build_board(records: Sequence[RunRecord], refused: Sequence[Refusal] = (), num_files: int = 0) -> Board:
    """Group records into per-task boards (GPU entries apart from CPU-only and test-meter ones) and per-model lists."""
    entries = group_entries(records)
    by_task: dict[str, list[Entry]] = defaultdict(list)
    by_model: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_task[entry.latest.task_id].append(entry)
        by_model[entry.latest.model_id].append(entry)
    tasks = {}
    for task_id in sorted(by_task):
        task_entries = by_task[task_id]
        tasks[task_id] = TaskBoard(
            task_id=task_id,
            task_kind=task_entries[0].latest.task_kind,
            rated=tuple(e for e in task_entries if e.latest.status == "gpu"),
            unrated=tuple(e for e in task_entries if e.latest.status != "gpu"),
        )
    models = {model_id: tuple(by_model[model_id]) for model_id in sorted(by_model)}
    return Board(tasks=tasks, models=models, refused=tuple(refused), num_files=num_files, num_runs=len(records))


def aggregate(root: Path, *, workers: int | None = None, cache_dir: Path | None = None) -> Board:
    """Load, validate and group every result file under `root` (a missing folder is an empty board)."""
    root = Path(root)
    if not root.exists():
        return build_board([], [], 0)
    cache = summary_cache(cache_dir) if cache_dir is not None else None
    records, refused, num_files = load_records(root, workers=workers, cache=cache)
    if cache is not None:
        cache.save()
    return build_board(records, refused, num_files)
