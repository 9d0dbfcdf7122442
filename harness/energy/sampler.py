"""The background sampler: instant power and GPU conditions over time, at a fixed rate.

Its samples are the run's timeline, the cross-check on the energy counter (integral of instant power
over a window), and the energy itself on a card with no counter. It runs in a daemon thread that
sleeps to the next deadline (not for a fixed interval, so the rate does not drift with the cost of a
sample), appends to typed arrays under a lock held only for the append, and skips ticks it missed
rather than bunching them (a late wake-up shows as a gap, which readings report).

Times are seconds on the sampler's clock (`time.monotonic` by default, or an injected one in tests).
Units: power W, clocks MHz, temperature deg C, utilisation %. A value a card cannot report is NaN here
and None in the timeline.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.energy.gpu import Gpu

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_HZ = 20.0
PERIODIC_S = 1.0
"""How often slower checks (processes on the GPU, power limit, RAPL wrap polling) run, in seconds."""

GAP_PERIODS = 3.0
"""An interval between samples longer than this many sample periods (and than MIN_GAP_S) is a gap."""
MIN_GAP_S = 0.1

CONDITION_COLUMNS = ("sm_clock_mhz", "memory_clock_mhz", "temperature_c", "utilization_pct")

PeriodicHook = Callable[[float], None]


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


class _GpuColumns:
    """Parallel typed arrays for one GPU; `reasons` is -1 where the card cannot report them."""

    def __init__(self) -> None:
        self.t_s = array("d")
        self.power_w = array("d")
        self.conditions = {name: array("d") for name in CONDITION_COLUMNS}
        self.reasons = array("q")


@dataclass(frozen=True)
class WindowSamples:
    """What the samples of one GPU say about a window [t0, t1] (times on the sampler's clock)."""

    energy_j: float | None
    """Trapezoid integral of sampled power over the window, in joules (None: no power samples)."""
    num_samples: int
    reasons_mask: int
    """OR of every throttle-reason bitmask sampled in the window (0 if none or unsupported); the card decodes it."""
    gap_s: float
    """Total length of intervals between samples longer than a gap (see GAP_PERIODS), in seconds."""


def trapezoid_j(t_s: np.ndarray, power_w: np.ndarray, t0_s: float, t1_s: float) -> float | None:
    """Integral of power over [t0, t1] in joules, interpolating at the edges (holding the nearest sample outside)."""
    keep = ~np.isnan(power_w)
    t_s, power_w = t_s[keep], power_w[keep]
    if t_s.size == 0 or t1_s < t0_s:
        return None
    if t1_s == t0_s:
        return 0.0
    inside = (t_s > t0_s) & (t_s < t1_s)
    edge_w = np.interp([t0_s, t1_s], t_s, power_w)
    times = np.concatenate(([t0_s], t_s[inside], [t1_s]))
    powers = np.concatenate(([edge_w[0]], power_w[inside], [edge_w[1]]))
    return float(np.sum((powers[1:] + powers[:-1]) * 0.5 * np.diff(times)))


class Sampler:
    """Samples every GPU at `sample_hz` in a background thread and runs periodic hooks about once a second."""

    def __init__(self, gpus: Sequence[Gpu], sample_hz: float = DEFAULT_SAMPLE_HZ, *,
                 clock: Callable[[], float] = time.monotonic, periodic: Sequence[PeriodicHook] = (),
                 periodic_s: float = PERIODIC_S) -> None:
        if not sample_hz > 0:
            raise ValueError(f"sample_hz must be positive, not {sample_hz}")
        self.gpus = list(gpus)
        self.sample_hz = float(sample_hz)
        self.period_s = 1.0 / self.sample_hz if self.gpus else periodic_s
        self.clock = clock
        self._periodic = list(periodic)
        self._periodic_s = periodic_s
        self._next_periodic_s = -math.inf
        self._columns = {gpu.index: _GpuColumns() for gpu in self.gpus}
        self._lock = threading.Lock()
        self._sample_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.missed_ticks = 0

    # --- running ----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="harness-energy-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:  # a sampler that dies silently would leave a run without its cross-check
                logger.exception("energy sampler: sample failed")
            deadline += self.period_s
            now = time.monotonic()
            if now > deadline:  # fell behind: skip to the next tick rather than sampling in a burst
                behind = math.ceil((now - deadline) / self.period_s)
                self.missed_ticks += behind
                deadline += behind * self.period_s
            self._stop.wait(deadline - now)

    def sample_once(self) -> float:
        """Take one sample of every GPU now (also called at window edges) and run due periodic hooks.

        Whole samples are serialised so timestamps stay sorted when the thread and a window edge sample at once.
        """
        with self._sample_lock:
            t_s = self.clock()
            for gpu in self.gpus:
                power_w = _nan(gpu.power_w())
                conditions = (_nan(gpu.sm_clock_mhz()), _nan(gpu.memory_clock_mhz()), _nan(gpu.temperature_c()),
                              _nan(gpu.utilization_pct()))
                reasons = gpu.throttle_reasons()
                columns = self._columns[gpu.index]
                with self._lock:
                    columns.t_s.append(t_s)
                    columns.power_w.append(power_w)
                    for name, value in zip(CONDITION_COLUMNS, conditions):
                        columns.conditions[name].append(value)
                    columns.reasons.append(-1 if reasons is None else int(reasons))
            periodic_due = t_s >= self._next_periodic_s
            if periodic_due:
                self._next_periodic_s = t_s + self._periodic_s
        if periodic_due:
            for hook in self._periodic:
                try:
                    hook(t_s)
                except Exception:
                    logger.exception("energy sampler: periodic check failed")
        return t_s

    # --- reading ----------------------------------------------------------------------------------------

    def num_samples(self, index: int) -> int:
        with self._lock:
            return len(self._columns[index].t_s)

    def latest_power_w(self, index: int) -> float | None:
        with self._lock:
            column = self._columns[index].power_w
            value = column[-1] if column else math.nan
        return None if math.isnan(value) else value

    def window(self, index: int, t0_s: float, t1_s: float) -> WindowSamples:
        """Samples of GPU `index` in [t0, t1] (plus one on each side, for interpolation at the edges)."""
        columns = self._columns[index]
        with self._lock:
            lo = max(bisect.bisect_left(columns.t_s, t0_s) - 1, 0)
            hi = min(bisect.bisect_right(columns.t_s, t1_s) + 1, len(columns.t_s))
            t_s = np.array(columns.t_s[lo:hi], dtype=np.float64)
            power_w = np.array(columns.power_w[lo:hi], dtype=np.float64)
            reasons = np.array(columns.reasons[lo:hi], dtype=np.int64)
        inside = (t_s >= t0_s) & (t_s <= t1_s)
        seen = reasons[inside]
        mask = int(np.bitwise_or.reduce(seen[seen >= 0])) if np.any(seen >= 0) else 0
        return WindowSamples(energy_j=trapezoid_j(t_s, power_w, t0_s, t1_s), num_samples=int(inside.sum()),
                             reasons_mask=mask, gap_s=self._gap_s(t_s[inside]))

    def _gap_s(self, t_s: np.ndarray) -> float:
        if t_s.size < 2:
            return 0.0
        steps = np.diff(t_s)
        limit = max(GAP_PERIODS * self.period_s, MIN_GAP_S)
        return float(steps[steps > limit].sum())

    def total_gap_s(self) -> tuple[float, float]:
        """(seconds in gaps, seconds sampled) over the sampler's life, on the first GPU (all share a loop)."""
        if not self.gpus:
            return 0.0, 0.0
        with self._lock:
            t_s = np.array(self._columns[self.gpus[0].index].t_s, dtype=np.float64)
        if t_s.size < 2:
            return 0.0, 0.0
        return self._gap_s(t_s), float(t_s[-1] - t_s[0])

    def columns(self, index: int, since_s: float) -> dict[str, np.ndarray]:
        """Copies of GPU `index`'s columns from `since_s` on (for the timeline)."""
        columns = self._columns[index]
        with self._lock:
            lo = bisect.bisect_left(columns.t_s, since_s)
            out = {"t_s": np.array(columns.t_s[lo:], dtype=np.float64),
                   "power_w": np.array(columns.power_w[lo:], dtype=np.float64)}
            for name, column in columns.conditions.items():
                out[name] = np.array(column[lo:], dtype=np.float64)
        return out


def bucket_means(values: np.ndarray, max_points: int) -> np.ndarray:
    """Average consecutive buckets so at most `max_points` remain; NaN only where a whole bucket is NaN."""
    if values.size <= max_points:
        return values
    size = math.ceil(values.size / max_points)
    starts = np.arange(0, values.size, size)
    valid = ~np.isnan(values)
    sums = np.add.reduceat(np.where(valid, values, 0.0), starts)
    counts = np.add.reduceat(valid.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
