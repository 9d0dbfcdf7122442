"""CPU and RAM energy of a window: RAPL where readable, the labelled estimate where not, `none` if not asked.

The two sources are chosen per kind: a machine with package RAPL but no DRAM domain gets measured CPU
energy and estimated RAM energy, each with its own method on the reading.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from harness.energy.host_estimate import CpuTimes, HostEstimate
from harness.energy.rapl import POWERCAP_ROOT, RaplReader, RaplSnapshot, RaplUnavailable
from harness.energy.reading import HostMethod

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostSnapshot:
    """Host counters at one window edge (`t_s` on the meter's clock)."""

    t_s: float
    rapl: RaplSnapshot | None
    cpu_times: CpuTimes | None


@dataclass(frozen=True)
class HostEnergy:
    cpu_energy_j: float | None
    cpu_method: HostMethod
    ram_energy_j: float | None
    ram_method: HostMethod


class HostMeter:
    """Measures (or estimates) CPU and RAM energy between two snapshots."""

    def __init__(self, *, enabled: bool = True, rapl_root: Path = POWERCAP_ROOT,
                 estimate: HostEstimate | None = None) -> None:
        self.enabled = enabled
        self.rapl: RaplReader | None = None
        self.rapl_unavailable_reason: str | None = None
        self.estimate: HostEstimate | None = None
        if not enabled:
            return
        try:
            self.rapl = RaplReader(rapl_root)
        except RaplUnavailable as error:
            self.rapl_unavailable_reason = str(error)
            logger.info("host energy will be estimated: %s", error)
        if self.rapl is None or not self.rapl.dram:
            self.estimate = estimate or HostEstimate()

    @property
    def cpu_method(self) -> HostMethod:
        if not self.enabled:
            return "none"
        return "rapl" if self.rapl is not None else "estimated"

    @property
    def ram_method(self) -> HostMethod:
        if not self.enabled:
            return "none"
        return "rapl" if self.rapl is not None and self.rapl.dram else "estimated"

    def snapshot(self, t_s: float) -> HostSnapshot:
        if not self.enabled:
            return HostSnapshot(t_s, None, None)
        rapl = self.rapl.snapshot() if self.rapl is not None else None
        cpu_times = self.estimate.cpu_times() if self.estimate is not None else None
        return HostSnapshot(t_s, rapl, cpu_times)

    def poll(self, t_s: float) -> None:
        """Keep RAPL's wrap accounting current (a periodic hook of the sampler)."""
        if self.rapl is not None:
            self.rapl.poll(t_s)

    def energy(self, start: HostSnapshot, end: HostSnapshot) -> HostEnergy:
        """CPU and RAM energy between two snapshots, in joules, each with its method."""
        if not self.enabled:
            return HostEnergy(None, "none", None, "none")
        duration_s = end.t_s - start.t_s
        if self.rapl is not None:
            cpu_j = end.rapl.cpu_j - start.rapl.cpu_j
        else:
            cpu_j = self.estimate.cpu_energy_j(start.cpu_times, end.cpu_times, duration_s)
        if self.rapl is not None and self.rapl.dram:
            ram_j = end.rapl.dram_j - start.rapl.dram_j
        else:
            ram_j = self.estimate.ram_energy_j(duration_s)
        return HostEnergy(cpu_j, self.cpu_method, ram_j, self.ram_method)

    def describe(self) -> str:
        """One line for logs and `harness env`: what the host figures will be and why."""
        if not self.enabled:
            return "host energy not measured"
        parts = []
        if self.rapl is not None:
            dram = "package + DRAM" if self.rapl.dram else "package only; RAM estimated"
            parts.append(f"RAPL ({dram})")
        else:
            parts.append(f"estimated ({self.rapl_unavailable_reason})")
        if self.estimate is not None:
            parts.append(self.estimate.describe())
        return "; ".join(parts)
