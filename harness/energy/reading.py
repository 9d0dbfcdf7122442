"""What one measurement window produced: immutable, with units in every field name.

An `EnergyReading` is the only thing the rest of the harness learns from a meter. GPU and CPU/RAM
energies are kept apart (a measured GPU joule is never added to an estimated CPU joule), and each says
how it was obtained, so a result file can state which numbers are measured and which are estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

GpuMethod = Literal["counter", "sampled", "none"]
"""`counter`: NVML's hardware energy counter (Volta+); `sampled`: integral of polled power; `none`: no GPU measured."""

HostMethod = Literal["rapl", "estimated", "none"]
"""`rapl`: Intel/AMD RAPL counters from powercap; `estimated`: a TDP x load model; `none`: not measured."""

Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class MeasurementWarning:
    """A condition that makes a number less trustworthy; `code` is stable, `message` is for people.

    Codes in use: `short-window`, `counter-sample-disagreement`, `contention`, `throttling`,
    `no-energy-counter`, `host-energy-estimated`, `power-limit-changed`, `sampler-gaps`, and from the
    meter's start: `mig-enabled`, `power-limit-non-default`, `persistence-off`, `power-average-only`,
    `no-power-samples`, `process-list-unavailable`, `idle-not-settled`; and from `harness.measure()`: `no-gpu-measured`.
    """

    code: str
    message: str
    severity: Severity = "warning"
    gpu_index: int | None = None


def _frozen(mapping: Mapping[int, float] | None) -> Mapping[int, float] | None:
    if mapping is None:
        return None
    return MappingProxyType({int(k): float(v) for k, v in mapping.items()})


@dataclass(frozen=True)
class EnergyReading:
    """Energy and time of one named window, per GPU index and for the host.

    `gpu_energy_j` is total energy (idle included) as the hardware saw it; `gpu_idle_energy_j` is the
    idle baseline power times the window's duration, so `gpu_energy_above_idle_j` is what the workload
    added. `gpu_sampled_energy_j` is the integral of the sampler's instant power over the same window: a
    cross-check on the counter (or the energy itself when `gpu_method == "sampled"`).
    """

    key: str
    start_unix_s: float
    duration_s: float
    gpu_energy_j: Mapping[int, float] = field(default_factory=dict)
    gpu_method: GpuMethod = "none"
    gpu_idle_energy_j: Mapping[int, float] | None = None
    gpu_sampled_energy_j: Mapping[int, float] | None = None
    gpu_edge_error_j: Mapping[int, float] | None = None
    """Bound on the counter-edge error per GPU (update period x mean power), in J; None without a counter."""
    cpu_energy_j: float | None = None
    cpu_method: HostMethod = "none"
    ram_energy_j: float | None = None
    ram_method: HostMethod = "none"
    warnings: tuple[MeasurementWarning, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "gpu_energy_j", _frozen(self.gpu_energy_j) or MappingProxyType({}))
        object.__setattr__(self, "gpu_idle_energy_j", _frozen(self.gpu_idle_energy_j))
        object.__setattr__(self, "gpu_sampled_energy_j", _frozen(self.gpu_sampled_energy_j))
        object.__setattr__(self, "gpu_edge_error_j", _frozen(self.gpu_edge_error_j))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    @property
    def gpu_total_energy_j(self) -> float:
        """Sum over every measured GPU, in joules."""
        return float(sum(self.gpu_energy_j.values()))

    @property
    def gpu_energy_above_idle_j(self) -> float | None:
        """Total GPU energy minus the idle baseline over the same duration, in joules (None without a baseline)."""
        if self.gpu_idle_energy_j is None:
            return None
        return self.gpu_total_energy_j - float(sum(self.gpu_idle_energy_j.values()))

    @property
    def gpu_mean_power_w(self) -> float | None:
        """Mean GPU power over the window, summed over GPUs, in watts."""
        if not self.gpu_energy_j or self.duration_s <= 0:
            return None
        return self.gpu_total_energy_j / self.duration_s

    def as_dict(self) -> dict:
        """Plain JSON-ready form (GPU indices become string keys, as JSON requires)."""
        def keyed(mapping: Mapping[int, float] | None) -> dict[str, float] | None:
            return None if mapping is None else {str(k): v for k, v in mapping.items()}

        return {
            "key": self.key,
            "start_unix_s": self.start_unix_s,
            "duration_s": self.duration_s,
            "gpu_energy_j": keyed(self.gpu_energy_j),
            "gpu_method": self.gpu_method,
            "gpu_idle_energy_j": keyed(self.gpu_idle_energy_j),
            "gpu_sampled_energy_j": keyed(self.gpu_sampled_energy_j),
            "gpu_edge_error_j": keyed(self.gpu_edge_error_j),
            "cpu_energy_j": self.cpu_energy_j,
            "cpu_method": self.cpu_method,
            "ram_energy_j": self.ram_energy_j,
            "ram_method": self.ram_method,
            "warnings": [
                {"code": w.code, "message": w.message, "severity": w.severity, "gpu_index": w.gpu_index}
                for w in self.warnings
            ],
        }
