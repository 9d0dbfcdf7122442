"""Estimated CPU and RAM energy, for machines where RAPL cannot be read. Always labelled `estimated`.

These are models, not measurements, and a result file says so; they are never added to GPU energy.

- CPU: `tdp_w x (IDLE_FRACTION + (1 - IDLE_FRACTION) x load)`, where load is the whole machine's busy
  fraction of CPU time over the window (from `psutil.cpu_times()`), and TDP is `HARNESS_CPU_TDP_W` if set,
  else DEFAULT_TDP_W_PER_SOCKET per CPU socket.
- RAM: RAM_W_PER_GIB x installed GiB, constant (DRAM power depends little on load at this resolution).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)

CPU_TDP_ENV = "HARNESS_CPU_TDP_W"
DEFAULT_TDP_W_PER_SOCKET = 150.0
"""A mid-range server CPU's TDP; the estimate's largest uncertainty, which `HARNESS_CPU_TDP_W` removes."""
IDLE_FRACTION = 0.3
"""Share of TDP drawn by an idle (not sleeping) server CPU in this model."""
RAM_W_PER_GIB = 0.375
"""About 3 W per 8 GiB DIMM."""


def cpu_socket_count(cpuinfo: Path = Path("/proc/cpuinfo")) -> int:
    """Distinct `physical id`s in /proc/cpuinfo (1 when it cannot tell)."""
    try:
        ids = {line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
               if line.startswith("physical id")}
    except OSError:
        return 1
    return max(len(ids), 1)


def cpu_tdp_w() -> tuple[float, str]:
    """(TDP in watts, where it came from) for the estimate."""
    value = os.environ.get(CPU_TDP_ENV)
    if value:
        try:
            tdp_w = float(value)
            if tdp_w > 0:
                return tdp_w, f"{CPU_TDP_ENV}={value}"
        except ValueError:
            pass
        logger.warning("ignoring %s=%r: not a positive number of watts", CPU_TDP_ENV, value)
    sockets = cpu_socket_count()
    return DEFAULT_TDP_W_PER_SOCKET * sockets, f"default {DEFAULT_TDP_W_PER_SOCKET:.0f} W x {sockets} socket(s)"


@dataclass(frozen=True)
class CpuTimes:
    busy_s: float
    total_s: float


def read_cpu_times(cpu_times: Callable[[], Any] = psutil.cpu_times) -> CpuTimes:
    """Machine-wide CPU seconds, busy and total (guest time is already inside user time on Linux)."""
    times = cpu_times()
    fields = times._asdict()
    total = sum(fields.values()) - fields.get("guest", 0.0) - fields.get("guest_nice", 0.0)
    idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
    return CpuTimes(busy_s=total - idle, total_s=total)


class HostEstimate:
    """The CPU load model and RAM size model, with their parameters on show."""

    def __init__(self, *, tdp_w: float | None = None, ram_total_gib: float | None = None,
                 cpu_times: Callable[[], Any] = psutil.cpu_times) -> None:
        if tdp_w is None:
            self.tdp_w, self.tdp_source = cpu_tdp_w()
        else:
            self.tdp_w, self.tdp_source = float(tdp_w), "given"
        self.ram_total_gib = psutil.virtual_memory().total / 2**30 if ram_total_gib is None else ram_total_gib
        self._cpu_times = cpu_times

    def cpu_times(self) -> CpuTimes:
        return read_cpu_times(self._cpu_times)

    def cpu_energy_j(self, start: CpuTimes, end: CpuTimes, duration_s: float) -> float:
        """Modelled CPU energy over a window, in joules."""
        total = end.total_s - start.total_s
        load = min(max((end.busy_s - start.busy_s) / total, 0.0), 1.0) if total > 0 else 0.0
        return self.tdp_w * (IDLE_FRACTION + (1.0 - IDLE_FRACTION) * load) * max(duration_s, 0.0)

    def ram_energy_j(self, duration_s: float) -> float:
        """Modelled RAM energy over a window, in joules."""
        return RAM_W_PER_GIB * self.ram_total_gib * max(duration_s, 0.0)

    def describe(self) -> str:
        return (f"CPU {self.tdp_w:.0f} W TDP ({self.tdp_source}) x load model; "
                f"RAM {RAM_W_PER_GIB} W/GiB x {self.ram_total_gib:.1f} GiB")
