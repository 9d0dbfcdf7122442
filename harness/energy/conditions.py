"""Conditions that make a GPU number less comparable: other processes, throttling, power limits, MIG.

The energy counter measures the whole GPU, so another process on a measured GPU adds its energy to
ours; `Conditions` lists compute processes at the meter's start and end, at every window edge and about
once a second in between, and keeps what it saw with times, so each reading and the run can say so.
Process IDs are compared with the ones we own (this process, or those `open_meter(own_pids=...)` names,
such as a server's workers); in a container without the host's PID namespace NVML reports host PIDs, so
our own process can look like another one (run with `--pid=host`). Throttle bitmasks are vendor facts:
each card decodes its own (`Gpu.describe_throttle_reasons`), and the warnings' words live here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.energy.gpu import Gpu, ThrottleReasons
from harness.energy.reading import MeasurementWarning


def throttling_warnings(reasons: Mapping[int, ThrottleReasons], where: str) -> list[MeasurementWarning]:
    """Warnings for the decoded throttle reasons seen per GPU (`where`: 'in this window', 'during the run')."""
    found = []
    for index, seen in sorted(reasons.items()):
        if seen.slowdowns:
            found.append(MeasurementWarning("throttling", f"GPU {index} clocks were held down {where}: "
                                            f"{', '.join(seen.slowdowns)}", "warning", index))
        if seen.power_capped:
            found.append(MeasurementWarning("throttling", f"GPU {index} reached its power limit {where} "
                                            "(software power cap)", "info", index))
    return found


@dataclass(frozen=True)
class ProcessSighting:
    t_s: float
    gpu_index: int
    pids: tuple[int, ...]
    phase: str
    """`start`, `during`, `end` (of the meter) or `window` (at a window edge)."""


class Conditions:
    """Watches measured GPUs for other processes and power-limit changes; thread-safe."""

    def __init__(self, gpus: Sequence[Gpu], own_pids: frozenset[int] | None = None) -> None:
        self.gpus = list(gpus)
        self.own_pids = own_pids if own_pids is not None else frozenset({os.getpid()})
        self._lock = threading.Lock()
        self.sightings: list[ProcessSighting] = []
        self.unlisted_gpus: set[int] = set()
        self.initial_power_limit_w = {gpu.index: gpu.power_limit_enforced_w() for gpu in self.gpus}
        self.power_limit_changes: list[tuple[float, int, float | None, float | None]] = []
        self._last_power_limit_w = dict(self.initial_power_limit_w)

    def throttling_warnings(self, masks: Mapping[int, int], where: str) -> list[MeasurementWarning]:
        """Warnings for the throttle bitmasks seen per GPU index, each decoded by its own card."""
        cards = {gpu.index: gpu for gpu in self.gpus}
        return throttling_warnings({index: cards[index].describe_throttle_reasons(mask)
                                    for index, mask in masks.items()}, where)

    def check_processes(self, t_s: float, phase: str) -> dict[int, tuple[int, ...]]:
        """Other processes on each measured GPU now ({} when none); recorded with `t_s` and `phase`."""
        found = {}
        for gpu in self.gpus:
            pids = gpu.other_process_pids(self.own_pids)
            if pids is None:
                with self._lock:
                    self.unlisted_gpus.add(gpu.index)
                continue
            if pids:
                found[gpu.index] = tuple(pids)
                with self._lock:
                    self.sightings.append(ProcessSighting(t_s, gpu.index, tuple(pids), phase))
        return found

    def poll(self, t_s: float) -> None:
        """The once-a-second check run by the sampler: processes and power limits."""
        self.check_processes(t_s, "during")
        for gpu in self.gpus:
            limit_w = gpu.power_limit_enforced_w()
            with self._lock:
                if limit_w != self._last_power_limit_w.get(gpu.index):
                    self.power_limit_changes.append((t_s, gpu.index, self._last_power_limit_w.get(gpu.index),
                                                     limit_w))
                    self._last_power_limit_w[gpu.index] = limit_w

    def contention_between(self, t0_s: float, t1_s: float) -> dict[int, set[int]]:
        """PIDs of other processes seen on each GPU between two times (inclusive)."""
        seen: dict[int, set[int]] = {}
        with self._lock:
            for sighting in self.sightings:
                if t0_s <= sighting.t_s <= t1_s:
                    seen.setdefault(sighting.gpu_index, set()).update(sighting.pids)
        return seen

    def window_warnings(self, t0_s: float, t1_s: float) -> list[MeasurementWarning]:
        return [MeasurementWarning("contention", f"other processes {sorted(pids)} ran on GPU {index} during this "
                                   "window: its energy is included", "warning", index)
                for index, pids in sorted(self.contention_between(t0_s, t1_s).items())]

    def run_warnings(self) -> list[MeasurementWarning]:
        """Everything seen over the meter's life, one warning per GPU and kind."""
        found = []
        with self._lock:
            sightings = list(self.sightings)
            changes = list(self.power_limit_changes)
            unlisted = sorted(self.unlisted_gpus)
        by_gpu: dict[int, tuple[set[int], list[str]]] = {}
        for sighting in sightings:
            pids, phases = by_gpu.setdefault(sighting.gpu_index, (set(), []))
            pids.update(sighting.pids)
            if sighting.phase not in phases:
                phases.append(sighting.phase)
        for index, (pids, phases) in sorted(by_gpu.items()):
            found.append(MeasurementWarning("contention", f"other processes {sorted(pids)} ran on measured GPU "
                                            f"{index} (seen at: {', '.join(phases)}); their energy is included",
                                            "warning", index))
        for _t_s, index, old_w, new_w in changes:
            found.append(MeasurementWarning("power-limit-changed", f"GPU {index} power limit changed from "
                                            f"{_watts(old_w)} to {_watts(new_w)} during the run", "warning", index))
        for index in unlisted:
            found.append(MeasurementWarning("process-list-unavailable", f"the GPU driver cannot list processes on GPU "
                                            f"{index}: contention could not be checked", "info", index))
        return found


def _watts(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f} W"
