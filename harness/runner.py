"""One benchmark run: resolve the task, load inputs and model, warm up, measure idle, repeat, write.

The order matters for the numbers. Cheap checks (task, preset, overrides, inputs) come before the model
is loaded; warm-up batches run before the idle baseline so the idle reading sees a warm card with the
model resident; the idle baseline waits (bounded) for power to settle; each repetition is one meter window
around the whole pass (never a sum of per-query windows, which the ~100 ms counter resolution would blur),
and a pass shorter than the minimum window is run again inside the same window (queries counted) until the
window is long enough for its counter-edge error to stay under 1 %; generative tasks then run a prefill-only
pass in its own window, extended the same way. With a target interval, repetitions continue until the GPU
headline's 95 % interval is narrow enough or the maximum is reached. A second idle measurement after the
repetitions shows drift. Nothing is filed under the results folder until the result has passed its own
plausibility checks; a finished run is never thrown away (`harness.results.assembly` assembles, checks and files
the result from what the run measured).

Which library loads and runs the model is the run's engine (`harness.engines`, default: the task kind's); what the
kind does with it is its workload (`harness.workloads`, keyed by engine and kind). The runner knows neither.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.energy import EnergyMeter, gpu_indices_for_uuids, open_meter
from harness.engines import Engine, LoadedModel, LoadRequest, engine_named, require_run_extra
from harness.engines.model_files import check_model_name
from harness.errors import ConfigError, MeasurementError
from harness.provenance import git_sha, host_facts
from harness.results.assembly import MeasuredRun, assemble_result, file_result, refuse_non_standard
from harness.results.conditions import non_standard_reasons
from harness.results.figures import adaptive_stop
from harness.results.schema import LATENCY_DECIMALS, Repetition, ResultFile
from harness.results.serving import serving_summary
from harness.results.store import check_result_target
from harness.tasks.inputs import InputSet, load_inputs
from harness.tasks.resolution import ResolvedRun, SettingsRequest, resolve
from harness.version import __version__
from harness.workloads import Workload, engine_for, workload_class
from harness.workloads.base import digest
from harness.workloads.text_inputs import chat_template_kwargs

log = logging.getLogger(__name__)

DIGEST_QUERIES = 16
"""Outputs of the first this-many queries of each repetition are kept (references only) and hashed after the
window closes: enough to show that deterministic repetitions did the same work, at no measured cost."""


@dataclass(kw_only=True)
class RunRequest(SettingsRequest):
    """Everything `harness run` was asked for: the settings to resolve, the model, and where to write."""

    model: str
    engine: str | None = None
    """The engine that loads and runs the model (`harness.engines.ENGINES`); None: the task kind's default."""
    endpoint: str | None = None
    """A server already running on this machine to measure (`--endpoint`), with the `endpoint` engine."""
    model_name: str | None = None
    """A readable name for the model (`--model-id`); a local folder otherwise names itself from its config."""
    revision: str | None = None
    random_weights: bool = False
    trust_remote_code: bool = False
    device_map: str | None = None
    measure_gpus: Sequence[int] | None = None
    strict: bool = False
    results_dir: Path | None = None
    """Where the result is filed; None: `results/` for a real GPU's measurement, else `cpu-results/`
    (`harness.results.store.default_results_dir`)."""
    output: Path | None = None
    write: bool = True
    """False: return the checked result without writing a file (the Python API's default)."""


def batches(items: Sequence[Any], batch_size: int) -> list[Sequence[Any]]:
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
    kept_outputs: list = field(default_factory=list)
    """Raw outputs of the pass's first `keep_outputs_of` queries, for a digest taken after the window."""
    kept_queries: int = 0
    output_lengths: list[int] = field(default_factory=list)
    """New tokens of each query of the first pass, where the model chose them (natural-length generation)."""
    served: list = field(default_factory=list)
    """A served pass's request records and steady window, per call (`BatchOutput.served`)."""


def run_pass(
    run_batch: Callable[[Sequence[Any]], object],
    items: Sequence[Any],
    batch_size: int,
    on_batch: ProgressCallback | None = None,
    live_power_w: Callable[[], float | None] = lambda: None,
    keep_outputs_of: int = 0,
) -> PassOutcome:
    """Run every query once, timing each batch (the workload synchronises CUDA before returning).

    The outputs of the first `keep_outputs_of` queries (whole batches) are kept by reference, not hashed:
    hashing would copy them off the GPU inside the measured window.
    """
    latencies: list[float] = []
    kept: list = []
    kept_queries = 0
    lengths: list[int] = []
    totals = {"input_tokens": 0, "output_tokens": 0, "images": 0}
    seen = {"input_tokens": False, "output_tokens": False, "images": False}
    done = 0
    served = []
    for batch in batches(items, batch_size):
        start = time.perf_counter()
        output = run_batch(batch)
        elapsed = round(time.perf_counter() - start, LATENCY_DECIMALS)
        own = getattr(output, "latencies_s", None)
        latencies.extend([round(t, LATENCY_DECIMALS) for t in own] if own is not None else [elapsed] * len(batch))
        if getattr(output, "served", None) is not None:
            served.append(output.served)
        for name in totals:
            value = getattr(output, name, None)
            if value is not None:
                totals[name] += value
                seen[name] = True
        lengths.extend(getattr(output, "output_lengths", None) or ())
        if kept_queries < keep_outputs_of:
            kept.extend(getattr(output, "outputs", ()))
            kept_queries += len(batch)
        done += len(batch)
        if on_batch is not None:
            on_batch(done, live_power_w())
    return PassOutcome(
        num_queries=done,
        query_latencies_s=latencies,
        **{name: (totals[name] if seen[name] else None) for name in totals},
        kept_outputs=kept,
        kept_queries=kept_queries,
        output_lengths=lengths,
        served=served,
    )


def run_window_pass(
    run_batch: Callable[[Sequence[Any]], object],
    items: Sequence[Any],
    batch_size: int,
    min_window_s: float,
    on_batch: ProgressCallback | None = None,
    live_power_w: Callable[[], float | None] = lambda: None,
    keep_outputs_of: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> PassOutcome:
    """One pass over every query, then whole passes again until `min_window_s` has elapsed (at least one pass).

    Every query run is counted, so the figures per 1000 queries stay exact; the outputs kept for the digest are
    the first pass's only.
    """
    start = clock()
    outcome = run_pass(run_batch, items, batch_size, on_batch, live_power_w, keep_outputs_of)
    while clock() - start < min_window_s:
        again = run_pass(run_batch, items, batch_size, None, live_power_w, 0)
        outcome.num_queries += again.num_queries
        outcome.query_latencies_s.extend(again.query_latencies_s)
        for name in ("input_tokens", "output_tokens", "images"):
            value = getattr(again, name)
            if value is not None:
                setattr(outcome, name, (getattr(outcome, name) or 0) + value)
    return outcome


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


@dataclass(frozen=True)
class PreparedRun:
    """A run checked as far as it can be before its model loads: its resolution and its inputs."""

    request: RunRequest
    resolved: ResolvedRun
    inputs: InputSet
    workload: type[Workload]
    """The workload that runs the task on the run's engine."""
    engine: str
    """The run's engine: the one asked for, else the task kind's default."""


def prepare(request: RunRequest) -> PreparedRun:
    """Every check that needs no model: the model's name, the settings, the engine, where the result goes, the
    inputs."""
    check_model_name(request.model)
    check_model_name(request.model_name, "--model-id")
    resolved = resolve(request)
    engine = engine_for(resolved.spec.kind, "endpoint" if request.endpoint and not request.engine else request.engine)
    if request.endpoint and engine != "endpoint":
        raise ConfigError(f"--endpoint measures a running server (engine 'endpoint'), not engine '{engine}'")
    workload = workload_class(resolved.spec, engine)
    if request.write:
        check_result_target(Path(request.results_dir) if request.results_dir is not None else None,
                            Path(request.output) if request.output is not None else None)
    return PreparedRun(request, resolved, load_inputs(resolved.spec, resolved.spec.num_queries), workload, engine)


def load_for(prepared: PreparedRun) -> LoadedModel:
    """The model a prepared run measures (`measure` may reuse it for other runs of the same kind and dtype)."""
    return engine_named(prepared.engine).load(load_request(prepared), prepared.workload)


def load_request(prepared: PreparedRun) -> LoadRequest:
    """What the prepared run's engine is asked to load (a served engine: with the run's concurrency as its cap)."""
    request, spec = prepared.request, prepared.resolved.spec
    return LoadRequest(
        kind=spec.kind, model_id=str(request.model), revision=request.revision, dtype=spec.dtype,
        device=request.device, random_weights=request.random_weights, trust_remote_code=request.trust_remote_code,
        device_map=request.device_map, name=request.model_name, chat_template_kwargs=chat_template_kwargs(spec),
        batch_cap=spec.batch_size, endpoint=request.endpoint,
    )


def meter_gpu_indices(loaded: LoadedModel) -> list[int]:
    """The meter's index of each GPU the model sits on, matched by UUID (torch and NVML number GPUs differently
    under CUDA_VISIBLE_DEVICES); the torch index, with a warning, where no UUID matches."""
    if loaded.gpu_indices or not loaded.cuda_indices:
        return list(loaded.gpu_indices)
    matched = gpu_indices_for_uuids(loaded.gpu_uuids or [None] * len(loaded.cuda_indices),
                                    devices=loaded.cuda_indices)
    indices: list[int] = []
    for cuda_index, index in zip(loaded.cuda_indices, matched):
        if index is None:
            log.warning("cannot match cuda:%d to a GPU of the meter by UUID; assuming index %d", cuda_index,
                        cuda_index)
            index = cuda_index
        if index not in indices:  # two devices of one card (partitions sharing its UUID) are one card to meter
            indices.append(index)
    loaded.gpu_indices = indices
    return indices


def execute(request: RunRequest, reporter: Reporter | None = None) -> tuple[ResultFile, Path | None]:
    """Run the benchmark and write its result file; returns the result and where it was written (None when
    `request.write` is False)."""
    prepared = prepare(request)
    require_run_extra(prepared.engine)
    if reporter is None:
        engine_named(prepared.engine).silence_progress_bars()
    loaded = load_for(prepared)
    try:
        return measure(prepared, loaded, reporter)
    finally:
        engine_named(loaded.engine).close(loaded)


def measure(prepared: PreparedRun, loaded: LoadedModel,
            reporter: Reporter | None = None) -> tuple[ResultFile, Path | None]:
    """Warm up, measure idle and the repetitions of a prepared run on its loaded model; check and write the result."""
    reporter = reporter or Reporter()
    request, resolved, inputs = prepared.request, prepared.resolved, prepared.inputs
    spec = resolved.spec
    workload: Workload = prepared.workload(loaded, spec)
    engine: Engine = workload.loaded_by
    gpu_indices = list(request.measure_gpus) if request.measure_gpus is not None else meter_gpu_indices(loaded)
    cuda_devices = list(loaded.cuda_indices) if request.measure_gpus is None else None
    input_sizes = workload.input_sizes(inputs.items)

    started_at = datetime.now(timezone.utc)
    run_warnings: list[dict] = []
    with open_meter(gpu_indices, sample_hz=resolved.sample_hz, strict=request.strict,
                    cuda_devices=cuda_devices, own_pids=engine.owned_pids(loaded)) as meter:
        environment = {**meter.environment(), **host_facts()}
        early = non_standard_reasons(meter.run_warnings()) if request.strict else []
        if early:  # known before any work: refuse now rather than throw a measurement away later
            raise MeasurementError(f"strict mode: non-standard conditions: {'; '.join(early)}")
        if resolved.warmup_queries:
            warm_items = [inputs.items[i % len(inputs.items)] for i in range(resolved.warmup_queries)]
            run_pass(workload.run_batch, warm_items, spec.batch_size,
                     reporter.phase("warm-up (not measured)", len(warm_items)))
        idle = None
        if resolved.idle_seconds > 0:
            idle = meter.measure_idle(resolved.idle_seconds, settle_max_s=resolved.idle_settle_s)
        repetitions: list[dict] = []
        served_passes: list[dict] = []
        answer_lengths: list[int] = []
        most = resolved.max_repeats if resolved.target_ci_pct is not None else resolved.repeats
        stopped_by = "repeats"
        while len(repetitions) < most:
            index = len(repetitions)
            repetitions.append(_measured_repetition(meter, workload, inputs.items, spec.batch_size, index, most,
                                                    reporter, run_warnings, resolved.min_window_s,
                                                    answer_lengths if index == 0 else None, served_passes))
            if resolved.target_ci_pct is not None and len(repetitions) >= resolved.repeats:
                if adaptive_stop([Repetition.model_validate(r) for r in repetitions], resolved.target_ci_pct):
                    stopped_by = "target-ci"
                    break
                stopped_by = "max-repeats"
        idle_after = None
        if idle is not None:
            idle_after = meter.measure_idle(resolved.idle_seconds, settle_max_s=resolved.idle_settle_s,
                                            as_baseline=False)
        run_warnings.extend(_warning_dicts(meter.run_warnings()))
        timelines = meter.timeline(started_at.timestamp())
    reporter.done()
    run_warnings.extend(engine.run_warnings(loaded))
    result = assemble_result(MeasuredRun(
        started_at=started_at,
        finished_at=datetime.now(timezone.utc),
        harness_version=__version__,
        git_sha=git_sha(),
        task={"id": spec.id, "version": spec.version, "kind": spec.kind, "spec": spec.model_dump(mode="json")},
        input_set=inputs.info,
        model=loaded.info,
        engine=engine.describe(loaded),
        settings={
            "num_queries": spec.num_queries, "batch_size": spec.batch_size, "repeats": resolved.repeats,
            "warmup_queries": resolved.warmup_queries, "idle_seconds": resolved.idle_seconds,
            "sample_hz": resolved.sample_hz, "preset": resolved.preset, "overrides": resolved.overrides,
            "strict": request.strict, "protocol": resolved.protocol, "min_window_s": resolved.min_window_s,
            "target_ci_pct": resolved.target_ci_pct, "max_repeats": resolved.max_repeats, "stopped_by": stopped_by,
            "idle_settle_max_s": resolved.idle_settle_s,
        },
        environment=environment,
        repetitions=repetitions,
        idle=idle.as_dict() if idle is not None else None,
        idle_after=idle_after.as_dict() if idle_after is not None else None,
        timelines=timelines,
        warnings=run_warnings,
        input_sizes=input_sizes,
        input_size_unit=workload.input_size_unit,
        answer_lengths=answer_lengths,
        max_new_tokens=getattr(spec.generation, "max_new_tokens", None),
        workload_settings=workload.workload_settings,
        serving=serving_summary(served_passes, concurrency=spec.batch_size,
                                batch_cap=engine.settings(loaded).get("batch_cap"),
                                min_window_s=resolved.min_window_s) if served_passes else None,
    ))
    if not request.write:
        refuse_non_standard(result, request.strict)
        return result, None
    return result, file_result(result, request.results_dir, request.output, strict=request.strict)


def _measured_repetition(
    meter: EnergyMeter, workload: Workload, items: Sequence[Any], batch_size: int, index: int, repeats: int,
    reporter: Reporter, run_warnings: list[dict], min_window_s: float = 0.0, lengths_out: list[int] | None = None,
    served_out: list[dict] | None = None,
) -> dict:
    """One measured pass over every query, then (generative tasks) a prefill-only pass in its own window.

    Each window is extended with whole passes until it lasts `min_window_s`. The digest of the first queries'
    outputs is taken after the window closes: it costs no measured energy. `lengths_out` receives the first
    pass's per-query output lengths (natural-length generation).
    """
    label = f"repetition {index + 1}/{repeats}"
    if workload.whole_pass:
        batch_size = len(items)
    steady = _SteadyWindow(meter, f"rep{index}/steady")
    if hasattr(workload, "on_steady"):
        workload.on_steady = steady.edge
    pass_start_unix = time.time()
    meter.begin(f"rep{index}/total")
    try:
        outcome = run_window_pass(workload.run_batch, items, batch_size, min_window_s,
                                  reporter.phase(label, len(items)), meter.live_power_w, keep_outputs_of=DIGEST_QUERIES)
    finally:
        if hasattr(workload, "on_steady"):
            workload.on_steady = None
    total = meter.end(f"rep{index}/total")
    if lengths_out is not None:
        lengths_out.extend(outcome.output_lengths)
    output_digest = digest(*outcome.kept_outputs) if outcome.kept_outputs else None
    readings = {"total": total.as_dict()}
    run_warnings.extend(_warning_dicts(total.warnings, index))
    if steady.reading is not None:
        readings["steady"] = steady.reading.as_dict()
    if outcome.served and served_out is not None:
        served_out.append(_served_pass(outcome.served[0], steady.reading, total, meter, pass_start_unix))
    prefill_queries = None
    if workload.generative:
        meter.begin(f"rep{index}/prefill")
        prefill_outcome = run_window_pass(workload.run_prefill_batch, items, batch_size, min_window_s,
                                          reporter.phase(f"{label} prefill", len(items)), meter.live_power_w)
        prefill = meter.end(f"rep{index}/prefill")
        prefill_queries = prefill_outcome.num_queries
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
        "output_digest": output_digest,
        "output_digest_queries": outcome.kept_queries if output_digest is not None else None,
        "prefill_num_queries": prefill_queries,
    }


class _SteadyWindow:
    """The meter window a served pass's client opens when its steady state begins and closes when it ends (the
    first pass of a repetition only: a pass run again to fill the minimum window opens none)."""

    def __init__(self, meter: EnergyMeter, key: str) -> None:
        self.meter, self.key = meter, key
        self.reading = None
        self.state = "waiting"

    def edge(self, begins: bool) -> None:
        if begins and self.state == "waiting":
            self.meter.begin(self.key)
            self.state = "open"
        elif not begins and self.state == "open":
            self.reading = self.meter.end(self.key)
            self.state = "closed"


def _served_pass(outcome: Any, steady: Any, total: Any, meter: EnergyMeter, since_unix: float) -> dict:
    """A served pass as `harness.results.serving.serving_summary` reads it: requests, windows, and the sampled
    power over the pass, summed over the measured GPUs, on the requests' (Unix) clock."""
    columns = meter.timeline(since_unix, max_points=1_000_000)
    t_s, power_w = _summed_power(columns, since_unix)
    last_done = max((r.done_s for r in outcome.records if r.done_s is not None), default=None)
    single_pass = last_done is not None and abs(total.start_unix_s + total.duration_s - last_done) < 1.0
    return {
        "records": [vars(record) for record in outcome.records],
        "steady_s": outcome.steady_s,
        "steady": steady.as_dict() if steady is not None else None,
        # The counter's energy over the pass scales the attribution only where the window held this pass alone.
        "pass": total.as_dict() if single_pass else None,
        "power": {"t_s": t_s, "power_w": power_w},
    }


def _summed_power(timelines: list[dict], since_unix: float) -> tuple[list[float], list[float]]:
    if not timelines:
        return [], []
    t_s = [since_unix + t for t in timelines[0]["t_s"]]
    power = [sum(values) for values in zip(*(timeline["power_w"] for timeline in timelines))]
    return t_s[:len(power)], power
