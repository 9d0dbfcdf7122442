"""The energy meter: named measurement windows over the GPU energy counter, the sampler and the host.

    with open_meter([0], sample_hz=20) as meter:
        idle = meter.measure_idle(5.0)
        meter.begin("rep0/total")
        ...                                  # the workload
        reading = meter.end("rep0/total")    # EnergyReading, J per GPU index, with warnings

Each window edge synchronises CUDA (when torch has initialised it), reads every measured GPU's energy
counter, snapshots the host counters and takes one extra sample, so the sampled cross-check covers the
window exactly. GPU energy is the counter's delta; the integral of sampled power is the cross-check,
or the energy itself on a card with no counter (the reading's `gpu_method` says which).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.energy.backends import open_gpu_backend
from harness.energy.conditions import Conditions
from harness.energy.gpu import Gpu, GpuBackend
from harness.energy.host import HostMeter, HostSnapshot
from harness.energy.rapl import POWERCAP_ROOT
from harness.energy.reading import EnergyReading, GpuMethod, MeasurementWarning
from harness.energy.sampler import CONDITION_COLUMNS, Sampler, bucket_means
from harness.errors import ConfigError, MeasurementError
from harness.kinds import COUNTER_UPDATE_PERIOD_S

logger = logging.getLogger(__name__)

MIN_COUNTER_WINDOW_S = COUNTER_UPDATE_PERIOD_S
"""A window shorter than the counter's update period may not see it move."""
DISAGREEMENT_TOLERANCE = 0.05
"""Counter and sampled integral further apart than this (relative) are flagged on the reading; the check runs only
where the window's edge-error bound is below it (windows over period / tolerance = 2 s), so it never fires on
short windows by construction."""
SETTLE_CHUNK_S = 1.0
"""Idle settling compares the mean sampled power of consecutive chunks this long."""
SETTLE_TOLERANCE = 0.02
"""Power has settled when two consecutive chunks' means differ by less than this share."""
AVERAGE_POWER_CHECK_MIN_S = 10.0
"""Where samples are NVML's 1 s averaged power (no instant field), the cross-check waits for windows this long:
the average lags a step by about half a second, which would flag every short window."""
GAP_TOLERANCE = 0.05
"""A window whose samples have gaps over this share of its duration is flagged."""
IDLE_KEY = "__idle__"

EDGE_MAX_SPREAD_S = 0.002
"""A window edge's counters are read again when reading them took longer than this (an interrupted read)."""
EDGE_ATTEMPTS = 5
"""Reads of a window edge before the last one is kept whatever its spread."""
RESULT_TIMELINE_MAX_POINTS = 500
"""Points a result's timeline keeps per GPU (consecutive samples averaged): a 15-minute run at under 2 s each,
finer than the 1 s average NVML reports on most cards' power field, and the pages plot 240. The energy figures come
from the counter and every sample, never from this record; 2000 points made a 1-GPU result twice the size."""
TIMELINE_DECIMALS = {"t_s": 3, "power_w": 2, **{name: 1 for name in CONDITION_COLUMNS}}
"""Decimals a timeline keeps per column: milliseconds, centiwatts (NVML reads milliwatts, averaged per bucket),
and tenths of a MHz, degree or percent."""


@dataclass(frozen=True)
class IdleBaseline:
    """Power with nothing running, measured before the workload; units in the names."""

    duration_s: float
    gpu_power_w: Mapping[int, float]
    cpu_power_w: float | None
    method: GpuMethod
    warnings: tuple[MeasurementWarning, ...] = field(default=(), compare=False)
    settle_s: float | None = None
    settled: bool | None = None

    def as_dict(self) -> dict:
        """JSON-ready form that validates as `harness.results.schema.IdleBaseline` (GPU keys as strings)."""
        return {"duration_s": self.duration_s, "gpu_power_w": {str(k): v for k, v in self.gpu_power_w.items()},
                "cpu_power_w": self.cpu_power_w, "method": self.method, "settle_s": self.settle_s,
                "settled": self.settled}


@dataclass(frozen=True)
class _OpenWindow:
    key: str
    t_s: float
    counters: dict[int, int | None]
    """Raw energy counter per GPU index, in each card's own unit (only `Gpu.counter_delta_j` reads them)."""
    host: HostSnapshot


def cuda_synchronize(devices: Sequence[int] | None = None) -> None:
    """Wait for queued CUDA work on `devices` (torch numbering; None: every device), if this process has
    initialised CUDA through torch. The runner passes the model's own devices, so a window edge never waits on a
    GPU the model does not use."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return
    for device in (range(torch.cuda.device_count()) if devices is None else devices):
        torch.cuda.synchronize(device)


class EnergyMeter:
    """Named windows over GPU and host energy; a context manager that owns the sampler and the GPU backend.

    It talks to the cards only through `harness.energy.gpu` (`Gpu`, `GpuBackend`), never to a vendor.
    """

    def __init__(self, *, backend: GpuBackend | None, gpus: Sequence[Gpu], host: HostMeter,
                 sample_hz: float, strict: bool, clock: Callable[[], float],
                 sleep: Callable[[float], None] = time.sleep, background_sampling: bool = True,
                 cuda_devices: Sequence[int] | None = None, own_pids: frozenset[int] | None = None) -> None:
        self.backend_name = "none" if backend is None else backend.name
        self.gpu_indices = tuple(gpu.index for gpu in gpus)
        self.sample_hz = sample_hz
        self.strict = strict
        self.idle: IdleBaseline | None = None
        self._backend = backend
        self._gpus = list(gpus)
        self._host = host
        self._clock = clock
        self._sleep = sleep
        self._background = background_sampling
        self._cuda_devices = None if cuda_devices is None else tuple(cuda_devices)
        self._anchor = (clock(), time.time())
        self._conditions = Conditions(self._gpus, own_pids)
        self._sampler = Sampler(self._gpus, sample_hz, clock=clock,
                                periodic=[self._conditions.poll, host.poll])
        self._open: dict[str, _OpenWindow] = {}
        self._static_warnings: list[MeasurementWarning] = []
        self._environment: dict | None = None
        self._entered_t_s: float | None = None
        self._closed = False

    # --- life cycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> EnergyMeter:
        try:
            self._environment = self._build_environment()
            t_s = self._clock()
            self._entered_t_s = t_s
            self._static_warnings = self._conditions_at_start()
            others = self._conditions.check_processes(t_s, "start")
            if others and self.strict:
                raise MeasurementError(f"strict mode: other processes on measured GPU(s): {_pids_text(others)}")
            self._sampler.sample_once()
            if self._background:
                self._sampler.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._closed and self._entered_t_s is not None:
            self._conditions.check_processes(self._clock(), "end")
        self.close()

    def close(self) -> None:
        """Stop the sampler and shut the GPU backend down (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._sampler.stop()
        if self._backend is not None:
            self._backend.shutdown()

    def _conditions_at_start(self) -> list[MeasurementWarning]:
        found = []
        infos = {info["index"]: info for info in self.environment()["gpus"]}
        for gpu in self._gpus:
            info = infos[gpu.index]
            if not gpu.has_energy_counter:
                found.append(MeasurementWarning("no-energy-counter", f"GPU {gpu.index} ({info['name']}) has no "
                                                "energy counter: its energy is the integral of sampled power",
                                                "warning", gpu.index))
            if gpu.power_source == "average":
                found.append(MeasurementWarning("power-average-only", f"GPU {gpu.index} does not report instant "
                                                "power: samples are the driver's averaged power", "info", gpu.index))
            if gpu.power_source is None:
                found.append(MeasurementWarning("no-power-samples", f"GPU {gpu.index} reports no power: no "
                                                "timeline and no cross-check", "warning", gpu.index))
            if info["mig_mode"]:
                found.append(MeasurementWarning("mig-enabled", f"GPU {gpu.index} is in MIG mode: the counter "
                                                "measures the whole GPU, every instance included", "warning",
                                                gpu.index))
            enforced, default = info["power_limit_enforced_w"], info["power_limit_default_w"]
            if enforced is not None and default is not None and abs(enforced - default) > 0.5:
                found.append(MeasurementWarning("power-limit-non-default", f"GPU {gpu.index} power limit is "
                                                f"{enforced:.0f} W, default {default:.0f} W: a power cap changes "
                                                "the energy", "warning", gpu.index))
            if info.get("persistence_mode") is False:
                found.append(MeasurementWarning("persistence-off", f"GPU {gpu.index} has persistence mode off: the "
                                                "driver may unload between runs and idle power differs",
                                                "warning", gpu.index))
        if self._host.enabled and self._host.rapl is None:
            found.append(MeasurementWarning("host-energy-estimated", f"CPU and RAM energy are estimated: "
                                            f"{self._host.rapl_unavailable_reason}", "info"))
        elif self._host.enabled and not self._host.rapl.dram:
            found.append(MeasurementWarning("host-energy-estimated", "RAM energy is estimated: RAPL has no DRAM "
                                            "domain on this CPU", "info"))
        return found

    # --- windows ------------------------------------------------------------------------------------------

    def _edge(self) -> tuple[float, dict[int, int | None]]:
        """Synchronise CUDA, then read every raw energy counter between two readings of the clock, and give the
        counters the midpoint's time. A thread switch or a busy host between clock and counters would shift the
        window's energy against its duration: a read whose clock readings lie further apart than `EDGE_MAX_SPREAD_S`
        is taken again (up to `EDGE_ATTEMPTS` times)."""
        cuda_synchronize(self._cuda_devices)
        for _ in range(EDGE_ATTEMPTS):
            before_s = self._clock()
            counters = {}
            for gpu in self._gpus:
                value = gpu.energy_counter() if gpu.has_energy_counter else None
                if gpu.has_energy_counter and value is None:
                    raise MeasurementError(f"GPU {gpu.index}: the energy counter could not be read")
                counters[gpu.index] = value
            after_s = self._clock()
            if after_s - before_s <= EDGE_MAX_SPREAD_S:
                break
        return (before_s + after_s) / 2, counters

    def begin(self, key: str) -> None:
        """Open window `key` (several may be open at once)."""
        self._require_entered()
        if key in self._open:
            raise ValueError(f"measurement window {key!r} is already open")
        t_s, counters = self._edge()
        host = self._host.snapshot(t_s)
        self._sampler.sample_once()
        others = self._conditions.check_processes(t_s, "window")
        if others and self.strict:
            raise MeasurementError(f"strict mode: other processes on measured GPU(s): {_pids_text(others)}")
        self._open[key] = _OpenWindow(key, t_s, counters, host)

    def end(self, key: str) -> EnergyReading:
        """Close window `key` and return its reading; an untrustworthy number is a MeasurementError."""
        self._require_entered()
        window = self._open.pop(key, None)
        if window is None:
            raise ValueError(f"measurement window {key!r} is not open")
        t_s, counters = self._edge()
        host = self._host.snapshot(t_s)
        self._sampler.sample_once()
        self._conditions.check_processes(t_s, "window")
        return self._reading(window, t_s, counters, host)

    def _reading(self, window: _OpenWindow, t1_s: float, counters: dict[int, int | None],
                 host_end: HostSnapshot) -> EnergyReading:
        duration_s = t1_s - window.t_s
        warnings: list[MeasurementWarning] = []
        short = duration_s < MIN_COUNTER_WINDOW_S
        if short and self._gpus:
            warnings.append(MeasurementWarning("short-window", f"window {window.key!r} lasted "
                                               f"{duration_s * 1000:.0f} ms, under the energy counter's ~100 ms "
                                               "update period"))
        energy_j: dict[int, float] = {}
        sampled_j: dict[int, float] = {}
        methods: set[str] = set()
        masks: dict[int, int] = {}
        for gpu in self._gpus:
            samples = self._sampler.window(gpu.index, window.t_s, t1_s)
            masks[gpu.index] = samples.reasons_mask
            if samples.energy_j is not None:
                sampled_j[gpu.index] = samples.energy_j
            joules, method = self._gpu_energy(gpu, window, counters, samples.energy_j, duration_s, warnings)
            energy_j[gpu.index] = joules
            methods.add(method)
            if samples.gap_s > GAP_TOLERANCE * duration_s and duration_s >= MIN_COUNTER_WINDOW_S:
                warnings.append(MeasurementWarning("sampler-gaps", f"GPU {gpu.index}: {samples.gap_s:.2f} s of the "
                                                   f"{duration_s:.2f} s window had no power samples", "warning",
                                                   gpu.index))
        contention = self._conditions.window_warnings(window.t_s, t1_s)
        if contention and self.strict:
            raise MeasurementError(f"strict mode: {contention[0].message}")
        warnings.extend(contention)
        warnings.extend(self._conditions.throttling_warnings(masks, "in this window"))
        host = self._host.energy(window.host, host_end)
        gpu_method: GpuMethod = "none" if not self._gpus else ("counter" if methods == {"counter"} else "sampled")
        edge_error_j = None
        if gpu_method == "counter" and duration_s > 0:
            edge_error_j = {gpu.index: _counter_period_s(gpu) * energy_j[gpu.index] / duration_s for gpu in self._gpus}
        idle_j = None
        if self.idle is not None and self._gpus:
            idle_j = {i: self.idle.gpu_power_w.get(i, 0.0) * duration_s for i in self.gpu_indices}
        return EnergyReading(
            key=window.key, start_unix_s=self._to_unix(window.t_s), duration_s=duration_s,
            gpu_energy_j=energy_j, gpu_method=gpu_method, gpu_idle_energy_j=idle_j,
            gpu_sampled_energy_j=sampled_j if len(sampled_j) == len(self._gpus) and self._gpus else None,
            gpu_edge_error_j=edge_error_j,
            cpu_energy_j=host.cpu_energy_j, cpu_method=host.cpu_method,
            ram_energy_j=host.ram_energy_j, ram_method=host.ram_method, warnings=tuple(warnings),
        )

    def _gpu_energy(self, gpu: Gpu, window: _OpenWindow, counters: dict[int, int | None],
                    sampled_j: float | None, duration_s: float,
                    warnings: list[MeasurementWarning]) -> tuple[float, str]:
        """(joules, method) for one GPU over a window; raises where the number cannot be trusted."""
        index = gpu.index
        period_s = _counter_period_s(gpu)
        long_enough = duration_s >= period_s
        if gpu.has_energy_counter:
            delta_j = gpu.counter_delta_j(window.counters[index], counters[index])
            if delta_j < 0:
                raise MeasurementError(f"GPU {index}: the energy counter went backwards by {-delta_j:.1f} J in "
                                       f"window {window.key!r} (driver reloaded or GPU reset?)")
            if delta_j > 0 or long_enough:
                if delta_j == 0:
                    raise MeasurementError(f"GPU {index}: the energy counter did not move in {duration_s:.2f} s "
                                           f"(window {window.key!r}); zero is not a measurement")
                # Only where the counter's own edge error is below the tolerance can a disagreement mean anything.
                checkable = (DISAGREEMENT_TOLERANCE * duration_s > period_s
                             and (gpu.power_source != "average" or duration_s >= AVERAGE_POWER_CHECK_MIN_S))
                if checkable and sampled_j is not None and abs(sampled_j - delta_j) > DISAGREEMENT_TOLERANCE * delta_j:
                    warnings.append(MeasurementWarning(
                        "counter-sample-disagreement", f"GPU {index}: sampled power integrates to {sampled_j:.1f} J, "
                        f"the counter says {delta_j:.1f} J ({(sampled_j / delta_j - 1) * 100:+.1f} %)",
                        "warning", index))
                return delta_j, "counter"
        if sampled_j is None:
            raise MeasurementError(f"GPU {index}: no energy counter movement and no power samples for window "
                                   f"{window.key!r}; cannot measure it")
        if sampled_j <= 0 and duration_s > 0:
            raise MeasurementError(f"GPU {index}: sampled power integrates to {sampled_j:.3f} J over "
                                   f"{duration_s:.3f} s (window {window.key!r}); zero is not a measurement")
        return sampled_j, "sampled"

    def settle(self, max_seconds: float) -> tuple[float, bool]:
        """Wait until GPU power has settled: two consecutive `SETTLE_CHUNK_S` chunks whose mean sampled power differs
        by under `SETTLE_TOLERANCE`, for at most `max_seconds`. Returns (seconds waited, settled)."""
        self._require_entered()
        if max_seconds <= 0 or not self._gpus:
            return 0.0, True
        start_s = self._clock()
        chunk_s = min(SETTLE_CHUNK_S, max_seconds / 2)
        previous: float | None = None
        while True:
            t0_s = self._clock()
            self._sampler.sample_once()
            self._sleep(chunk_s)
            t1_s = self._clock()
            self._sampler.sample_once()
            mean_w = self._mean_sampled_power_w(t0_s, t1_s)
            waited_s = t1_s - start_s
            if mean_w is None:  # no power samples on this card: nothing to wait for
                return waited_s, False
            if previous is not None and abs(mean_w - previous) <= SETTLE_TOLERANCE * max(previous, 1e-9):
                return waited_s, True
            if waited_s >= max_seconds - 1e-9:  # bounded: at most `max_seconds` plus clock overshoot
                return waited_s, False
            previous = mean_w

    def _mean_sampled_power_w(self, t0_s: float, t1_s: float) -> float | None:
        total = 0.0
        for gpu in self._gpus:
            joules = self._sampler.window(gpu.index, t0_s, t1_s).energy_j
            if joules is None or t1_s <= t0_s:
                return None
            total += joules / (t1_s - t0_s)
        return total

    def measure_idle(self, seconds: float, *, settle_max_s: float = 0.0, as_baseline: bool = True) -> IdleBaseline:
        """Wait for power to settle (at most `settle_max_s`), then measure power with nothing running for
        `seconds`. With `as_baseline`, later readings carry idle energy for their duration (the baseline
        "above idle" uses); without, the measurement is only returned (the idle after the repetitions)."""
        self._require_entered()
        if not seconds > 0:
            raise ConfigError(f"idle baseline length must be positive, not {seconds} s")
        settle_s, settled = self.settle(settle_max_s)
        self.begin(IDLE_KEY)
        self._sleep(seconds)
        reading = self.end(IDLE_KEY)
        duration_s = reading.duration_s
        cpu_power_w = None
        if reading.cpu_energy_j is not None and duration_s > 0:
            cpu_power_w = reading.cpu_energy_j / duration_s
        idle = IdleBaseline(
            duration_s=duration_s,
            gpu_power_w={i: j / duration_s for i, j in reading.gpu_energy_j.items()},
            cpu_power_w=cpu_power_w, method=reading.gpu_method, warnings=reading.warnings,
            settle_s=settle_s if settle_max_s > 0 else None, settled=settled if settle_max_s > 0 else None,
        )
        if not as_baseline:
            return idle
        self.idle = idle
        if settle_max_s > 0 and not settled and self._gpus:
            self._static_warnings.append(MeasurementWarning(
                "idle-not-settled", f"GPU power had not settled within {settle_max_s:g} s before the idle baseline",
                "warning"))
        return self.idle

    def sample(self) -> float:
        """Take one sample now (what the background thread does at `sample_hz`); returns its time."""
        return self._sampler.sample_once()

    # --- what else a run records ---------------------------------------------------------------------------

    def environment(self) -> dict:
        """JSON-ready facts of the measurement (GPUs, driver, NVML, RAPL), taken when the meter started.

        With `harness.provenance.host_facts()` (software and host) they validate as
        `harness.results.schema.Environment`.
        """
        if self._environment is None:
            self._environment = self._build_environment()
        return dict(self._environment)

    def _build_environment(self) -> dict:
        facts = {"rapl_readable": self._host.rapl is not None,
                 "host_estimate": self._host.estimate.inputs() if self._host.estimate is not None else None}
        if self._backend is None:
            return {"meter_backend": "none", "gpus": [], "measured_gpu_indices": [], "driver_version": None,
                    "nvml_version": None, "cuda_driver_version": None, **facts}
        measured = {gpu.index: gpu for gpu in self._gpus}
        gpus = [(measured.get(i) or self._backend.open(i)).info() for i in range(self._backend.device_count())]
        return {"meter_backend": self.backend_name, "gpus": gpus, "measured_gpu_indices": list(self.gpu_indices),
                **self._backend.system_versions(), **facts}

    def timeline(self, since_unix_s: float, max_points: int = RESULT_TIMELINE_MAX_POINTS) -> list[dict]:
        """Sampled power and conditions per measured GPU from `since_unix_s`, at most `max_points` each.

        Each dict validates as `harness.results.schema.Timeline`; `t_s` is seconds after `since_unix_s`,
        buckets of consecutive samples are averaged, and values a card cannot report are None.
        """
        since_s = self._from_unix(since_unix_s)
        timelines = []
        for gpu in self._gpus:
            columns = self._sampler.columns(gpu.index, since_s)
            keep = ~np.isnan(columns["power_w"])
            if not keep.any():
                continue
            entry: dict[str, Any] = {"gpu_index": gpu.index}
            for name, values in columns.items():
                means = bucket_means(values[keep], max(int(max_points), 1))
                places = TIMELINE_DECIMALS[name]
                if name == "t_s":
                    entry[name] = [round(float(v) - since_s, places) for v in means]
                elif name == "power_w":
                    entry[name] = [round(float(v), places) for v in means]
                else:
                    entry[name] = [None if math.isnan(v) else round(float(v), places) for v in means]
            timelines.append({k: entry[k] for k in ("gpu_index", "t_s", "power_w", *CONDITION_COLUMNS)})
        return timelines

    def live_power_w(self) -> float | None:
        """Latest sampled power summed over measured GPUs, in watts (None before a sample or without GPUs)."""
        if not self._gpus:
            return None
        values = [self._sampler.latest_power_w(gpu.index) for gpu in self._gpus]
        return None if any(v is None for v in values) else float(sum(values))

    def run_warnings(self) -> list[MeasurementWarning]:
        """Conditions over the meter's life: GPU setup, contention, throttling, power-limit changes, sampler gaps."""
        found = list(self._static_warnings)
        if self.idle is not None:
            found.extend(w for w in self.idle.warnings if w.code != "short-window")
        found.extend(self._conditions.run_warnings())
        if self._entered_t_s is not None and self._gpus:
            now_s = self._clock()
            masks = {gpu.index: self._sampler.window(gpu.index, self._entered_t_s, now_s).reasons_mask
                     for gpu in self._gpus}
            found.extend(self._conditions.throttling_warnings(masks, "during the run"))
            gap_s, sampled_s = self._sampler.total_gap_s()
            if sampled_s > 0 and gap_s > GAP_TOLERANCE * sampled_s:
                found.append(MeasurementWarning("sampler-gaps", f"the power sampler missed {gap_s:.1f} s of "
                                                f"{sampled_s:.1f} s (a busy host or a held interpreter lock)"))
        return found

    # --- helpers ------------------------------------------------------------------------------------------

    def _require_entered(self) -> None:
        if self._entered_t_s is None or self._closed:
            raise RuntimeError("use the meter inside `with open_meter(...) as meter:`")

    def _to_unix(self, t_s: float) -> float:
        return self._anchor[1] + (t_s - self._anchor[0])

    def _from_unix(self, unix_s: float) -> float:
        return self._anchor[0] + (unix_s - self._anchor[1])


def _counter_period_s(gpu: Gpu) -> float:
    """Seconds between the card's counter moves; where it cannot say, NVML's period is the assumption."""
    return COUNTER_UPDATE_PERIOD_S if gpu.counter_update_period_s is None else gpu.counter_update_period_s


def _pids_text(others: Mapping[int, Sequence[int]]) -> str:
    return "; ".join(f"GPU {index}: PIDs {list(pids)}" for index, pids in sorted(others.items()))


def open_meter(gpu_indices: Sequence[int] | None, *, sample_hz: float = 20.0, strict: bool = False,
               nvml: Any | None = None, measure_host: bool = True, clock: Callable[[], float] | None = None,
               sleep: Callable[[float], None] | None = None, background_sampling: bool = True,
               rapl_root: Path = POWERCAP_ROOT, cuda_devices: Sequence[int] | None = None,
               own_pids: frozenset[int] | None = None) -> EnergyMeter:
    """A meter for the given GPU indices (the backend's numbering; None or []: host only); use it as a context
    manager.

    The GPU backend is the one `harness.energy.backends` opens for this machine (NVML, or a stand-in plugged
    in by entry point, such as the fake that `$HARNESS_FAKE_NVML` names); `nvml`, a pynvml-like object,
    skips the table (tests pass a `FakeNvml`).
    `clock` defaults to the backend's own `clock` (the fake's traces run on it), else `time.monotonic`;
    tests that drive a manual clock pass `sleep` (to advance it) and `background_sampling=False` (and call
    `sample()` themselves).
    `cuda_devices` (torch numbering) are the devices synchronised at each window edge (default: all).
    `own_pids` are the processes the engine owns (a server's workers; default: this process): they are not
    contention.
    Raises MeasurementError / NotFoundError with one line when the GPU backend or a GPU is not there.
    """
    if not (isinstance(sample_hz, (int, float)) and math.isfinite(sample_hz) and sample_hz > 0):
        raise ConfigError(f"sample rate must be a positive number of Hz, not {sample_hz}")
    indices = [int(i) for i in (gpu_indices or [])]
    host = HostMeter(enabled=measure_host, rapl_root=rapl_root)
    backend = None
    gpus: list[Gpu] = []
    if indices:
        backend = open_gpu_backend(nvml)
        try:
            backend.check_indices(indices)
            gpus = [backend.open(index) for index in indices]
        except BaseException:
            backend.shutdown()
            raise
    if clock is None:
        clock = backend.clock if backend is not None else time.monotonic
    return EnergyMeter(backend=backend, gpus=gpus, host=host, sample_hz=float(sample_hz), strict=strict,
                       clock=clock, sleep=sleep or time.sleep, background_sampling=background_sampling,
                       cuda_devices=cuda_devices, own_pids=own_pids)
