"""Estimated CPU and RAM energy, for machines where RAPL cannot be read. Always labelled `estimated`.

These are models, not measurements, and a result file says so; they are never added to GPU energy.

- CPU (CodeCarbon's process mode): this process's CPU seconds over the window (user + system, its children
  included, from `psutil.Process().cpu_times()`) x the power of one logical core, where one core's power is
  the CPU's TDP (all sockets) / its logical cores. Another process's load on a shared machine does not count,
  so the same run gives the same figure on a busy or an idle machine. The TDP is `HARNESS_CPU_TDP_W` (watts for
  the whole machine) if set, else the CPU model's TDP per socket x sockets from CodeCarbon's table
  (`cpu_power.csv`, MIT, see `cpu_power.LICENSE.txt`), else DEFAULT_TDP_W_PER_SOCKET x sockets.
- RAM: RAM_W_PER_GIB x installed GiB, constant (DRAM power depends little on load at this resolution).
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)

CPU_TDP_ENV = "HARNESS_CPU_TDP_W"
DEFAULT_TDP_W_PER_SOCKET = 150.0
"""A mid-range server CPU's TDP, for a CPU model the table does not know; `HARNESS_CPU_TDP_W` replaces it."""
RAM_W_PER_GIB = 0.375
"""About 3 W per 8 GiB DIMM."""
METHOD = "process CPU time x TDP per logical core"
_NOISE = re.compile(r"\((r|tm|c)\)|\b(cpu|processor|with radeon graphics|\d+-core)\b|@.*$", re.IGNORECASE)


def cpu_socket_count(cpuinfo: Path = Path("/proc/cpuinfo")) -> int:
    """Distinct `physical id`s in /proc/cpuinfo (1 when it cannot tell)."""
    try:
        ids = {line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
               if line.startswith("physical id")}
    except OSError:
        return 1
    return max(len(ids), 1)


def _normalise(name: str) -> str:
    return " ".join(_NOISE.sub(" ", name).lower().split())


@functools.lru_cache(maxsize=1)
def tdp_table() -> dict[str, float]:
    """CodeCarbon's CPU TDP table (W per socket) by normalised model name."""
    text = (importlib.resources.files("harness.energy") / "cpu_power.csv").read_text(encoding="utf-8")
    table: dict[str, float] = {}
    for row in csv.DictReader(text.splitlines()):
        try:
            tdp_w = float(row.get("TDP") or "")
        except ValueError:  # the upstream table has a few malformed rows (e.g. "27.29.5"): skip them
            continue
        if row.get("Name") and tdp_w > 0:
            table[_normalise(row["Name"])] = tdp_w
    return table


def lookup_tdp_w(cpu_model: str | None) -> tuple[float, str] | None:
    """(TDP per socket in W, the table's name for it) for a /proc/cpuinfo model name, or None if unknown.

    The longest table name found in the model name, on word boundaries, wins (`Xeon Gold 6338N` over `6338`).
    """
    if not cpu_model:
        return None
    model = f" {_normalise(cpu_model)} "
    best: tuple[str, float] | None = None
    for name, tdp_w in tdp_table().items():
        if f" {name} " in model and (best is None or len(name) > len(best[0])):
            best = (name, tdp_w)
    if best is None or not re.search(r"\d", best[0]):  # a bare family name ("xeon") says nothing about TDP
        return None
    return best[1], best[0]


def cpu_model_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The `model name` line of /proc/cpuinfo (None where there is none)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_tdp_w(cpu_model: str | None = None, sockets: int | None = None) -> tuple[float, str]:
    """(TDP of the whole machine's CPUs in watts, where it came from) for the estimate."""
    value = os.environ.get(CPU_TDP_ENV)
    if value:
        try:
            tdp_w = float(value)
            if tdp_w > 0:
                return tdp_w, f"{CPU_TDP_ENV}={value}"
        except ValueError:
            pass
        logger.warning("ignoring %s=%r: not a positive number of watts", CPU_TDP_ENV, value)
    sockets = cpu_socket_count() if sockets is None else sockets
    model = cpu_model_name() if cpu_model is None else cpu_model
    found = lookup_tdp_w(model)
    if found is not None:
        tdp_w, name = found
        return tdp_w * sockets, f"CodeCarbon table: {name} {tdp_w:.0f} W x {sockets} socket(s)"
    return (DEFAULT_TDP_W_PER_SOCKET * sockets,
            f"default {DEFAULT_TDP_W_PER_SOCKET:.0f} W x {sockets} socket(s) ({model or 'unknown CPU'} not in table)")


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds this process (and its children) has used, at one instant."""

    process_s: float


def read_cpu_times(cpu_times: Callable[[], Any] | None = None) -> CpuTimes:
    """This process's CPU seconds: user + system, children included."""
    times = (cpu_times or psutil.Process().cpu_times)()
    fields = times._asdict()
    return CpuTimes(process_s=sum(fields.get(k, 0.0) for k in ("user", "system", "children_user",
                                                               "children_system")))


class HostEstimate:
    """The process CPU-time model and the RAM size model, with their parameters on show."""

    def __init__(self, *, tdp_w: float | None = None, ram_total_gib: float | None = None,
                 logical_cores: int | None = None, cpu_times: Callable[[], Any] | None = None) -> None:
        if tdp_w is None:
            self.tdp_w, self.tdp_source = cpu_tdp_w()
        else:
            self.tdp_w, self.tdp_source = float(tdp_w), "given"
        self.logical_cores = logical_cores or psutil.cpu_count(logical=True) or 1
        self.ram_total_gib = psutil.virtual_memory().total / 2**30 if ram_total_gib is None else ram_total_gib
        self._cpu_times = cpu_times

    @property
    def core_w(self) -> float:
        """Power of one fully busy logical core, in watts."""
        return self.tdp_w / self.logical_cores

    def cpu_times(self) -> CpuTimes:
        return read_cpu_times(self._cpu_times)

    def cpu_energy_j(self, start: CpuTimes, end: CpuTimes, duration_s: float) -> float:
        """Modelled CPU energy of this process over a window, in joules (`duration_s` is not needed: the
        process's CPU seconds already say how long it kept cores busy)."""
        return max(end.process_s - start.process_s, 0.0) * self.core_w

    def ram_energy_j(self, duration_s: float) -> float:
        """Modelled RAM energy over a window, in joules."""
        return RAM_W_PER_GIB * self.ram_total_gib * max(duration_s, 0.0)

    def inputs(self) -> dict:
        """The method and its inputs, as a result file records them."""
        return {"method": METHOD, "tdp_w": self.tdp_w, "tdp_source": self.tdp_source,
                "logical_cores": self.logical_cores, "core_w": self.core_w, "ram_w_per_gib": RAM_W_PER_GIB,
                "ram_total_gib": round(self.ram_total_gib, 2)}

    def describe(self) -> str:
        return (f"CPU {METHOD}: {self.tdp_w:.0f} W TDP ({self.tdp_source}) / {self.logical_cores} logical cores "
                f"= {self.core_w:.2f} W per busy core; RAM {RAM_W_PER_GIB} W/GiB x {self.ram_total_gib:.1f} GiB")
