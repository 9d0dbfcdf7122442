"""CPU package and DRAM energy from RAPL counters under `/sys/class/powercap` (Intel, and AMD on recent kernels).

Each domain's `energy_uj` is a counter in microjoules that wraps to 0 after `max_energy_range_uj`
(on some CPUs within minutes at full load). A `RaplCounter` accumulates the energy between successive
reads, adding the range back when a read is lower than the one before, so it is exact as long as it is
read at least once per wrap period: the meter's sampler polls it about once a second for that reason.
Microjoules become joules here, once.

Since Linux 5.10 `energy_uj` is readable by root only (CVE-2020-8694); an unreadable counter is reported
with its reason, and the host meter falls back to a labelled estimate.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

POWERCAP_ROOT = Path("/sys/class/powercap")


class RaplUnavailable(Exception):
    """RAPL cannot be read here; `str(error)` says why in one line."""


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


class RaplCounter:
    """One RAPL domain's energy in joules since this object was created, across counter wraps."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = (path / "name").read_text().strip()
        self.max_range_uj = _read_int(path / "max_energy_range_uj")
        self._lock = threading.Lock()
        self._last_uj = _read_int(path / "energy_uj")
        self._total_uj = 0
        self.wraps = 0

    def energy_j(self) -> float:
        """Energy since creation in joules; call at least once per wrap period (the sampler does)."""
        with self._lock:
            now_uj = _read_int(self.path / "energy_uj")
            delta_uj = now_uj - self._last_uj
            if delta_uj < 0:
                delta_uj += self.max_range_uj
                self.wraps += 1
            self._total_uj += delta_uj
            self._last_uj = now_uj
            return self._total_uj / 1e6


@dataclass(frozen=True)
class RaplSnapshot:
    cpu_j: float
    dram_j: float | None


def _domains(root: Path) -> tuple[list[Path], list[Path]]:
    """(package domains, DRAM subdomains) under a powercap root."""
    packages, dram = [], []
    for zone in sorted(root.glob("*rapl:*")):
        name_file = zone / "name"
        if not name_file.is_file():
            continue
        name = name_file.read_text().strip()
        depth = zone.name.count(":")
        if depth == 1 and name.startswith("package"):
            packages.append(zone)
            dram.extend(sub for sub in sorted(zone.glob(f"{zone.name}:*"))
                        if (sub / "name").is_file() and (sub / "name").read_text().strip() == "dram")
    return packages, dram


class RaplReader:
    """Package and DRAM counters of every CPU socket; `snapshot()` sums them per kind."""

    def __init__(self, root: Path = POWERCAP_ROOT) -> None:
        root = Path(root)
        if not root.is_dir():
            raise RaplUnavailable(f"no RAPL counters: {root} does not exist (not Linux, or no powercap driver)")
        try:
            packages, dram = _domains(root)
            if not packages:
                raise RaplUnavailable(f"no RAPL package domain under {root}")
            self.packages = [RaplCounter(path) for path in packages]
            self.dram = [RaplCounter(path) for path in dram]
        except PermissionError as error:
            raise RaplUnavailable(f"RAPL is not readable: permission denied on {error.filename} "
                                  "(root-only since Linux 5.10)") from None
        except (OSError, ValueError) as error:
            raise RaplUnavailable(f"RAPL is not readable: {error}") from None

    def snapshot(self) -> RaplSnapshot:
        """Joules since creation: all packages summed, and all DRAM domains (None when there are none)."""
        cpu_j = sum(counter.energy_j() for counter in self.packages)
        dram_j = sum(counter.energy_j() for counter in self.dram) if self.dram else None
        return RaplSnapshot(cpu_j=cpu_j, dram_j=dram_j)

    def poll(self, t_s: float | None = None) -> None:
        """Read every counter so no wrap is missed (a periodic hook of the sampler)."""
        try:
            self.snapshot()
        except OSError as error:
            logger.debug("RAPL poll failed: %s", error)


def rapl_status(root: Path = POWERCAP_ROOT) -> tuple[bool, str]:
    """(readable, one line saying what was found or why not), for `harness env` and the environment record."""
    try:
        reader = RaplReader(root)
    except RaplUnavailable as error:
        return False, str(error)
    dram = f" and {len(reader.dram)} DRAM domain(s)" if reader.dram else " (no DRAM domain)"
    return True, f"{len(reader.packages)} package domain(s){dram}"
