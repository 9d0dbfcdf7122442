"""The GPU device interface: what the meter, the sampler, conditions and `harness env` may ask of a card.

One abstract `Gpu` (one card) and one `GpuBackend` (an initialised vendor library that opens cards); each
vendor is one module behind them (`nvidia.py` over NVML, `amd.py` over amdsmi) and one entry in
`backends.GPU_BACKENDS`. Code
above this interface never sees a vendor's units, error types or bit meanings: values leave a backend in SI
units with the unit in the name, and a feature a card lacks is None ("this card cannot say"), never an
exception.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from harness.errors import NotFoundError

PowerSource = Literal["instant", "average"]
"""`instant`: a power reading of this moment; `average`: one averaged by the card (NVML's is over 1 s on
Ampere and newer), fine for a timeline but slow to follow a step."""


@dataclass(frozen=True)
class ThrottleReasons:
    """A card's throttle bitmask decoded: the bit meanings are vendor facts, so the backend decodes them."""

    slowdowns: tuple[str, ...] = ()
    """Reasons the card ran slower than it should have (the number may not be repeatable), as short phrases."""
    power_capped: bool = False
    """The card reached its software power limit: the workload was bounded by the cap (not a fault)."""


class Gpu(ABC):
    """One card, probed once when opened so the sampler's hot path makes only calls that work.

    Attributes set by the backend when it opens the card: `index` (the backend's own numbering),
    `has_energy_counter`, `power_source` (None: no power reading at all) and `counter_update_period_s`.
    """

    index: int
    has_energy_counter: bool
    power_source: PowerSource | None
    counter_update_period_s: float | None
    """Seconds between moves of the energy counter (the edge error of a window's delta); None: no counter, or
    the card cannot say."""
    counter_note: str | None = None
    """Why a card that has an energy counter does not use it (one that stands still, say), for `harness env`."""

    # --- energy and power -------------------------------------------------------------------------------

    @abstractmethod
    def energy_counter(self) -> int | None:
        """The raw cumulative energy counter, in the backend's own unit (None: this card cannot say).

        Kept raw so a delta is exact; only `counter_delta_j` knows the unit and the wrap-around.
        """

    @abstractmethod
    def counter_delta_j(self, start: int, end: int) -> float:
        """Energy between two raw counter reads, in joules, across the counter's wrap (negative: a reset)."""

    @abstractmethod
    def power_w(self) -> float | None:
        """Board power now, in watts, from `power_source` (None: this card cannot say)."""

    @abstractmethod
    def power_limit_enforced_w(self) -> float | None:
        """The power limit the card enforces now, in watts (None: this card cannot say)."""

    # --- conditions sampled over time -------------------------------------------------------------------

    @abstractmethod
    def sm_clock_mhz(self) -> float | None:
        """Compute (SM) clock now, in MHz (None: this card cannot say)."""

    @abstractmethod
    def memory_clock_mhz(self) -> float | None:
        """Memory clock now, in MHz (None: this card cannot say)."""

    @abstractmethod
    def temperature_c(self) -> float | None:
        """Core temperature now, in degrees Celsius (None: this card cannot say)."""

    @abstractmethod
    def utilization_pct(self) -> float | None:
        """Share of the last sample period the card was busy, in percent (None: this card cannot say)."""

    @abstractmethod
    def throttle_reasons(self) -> int | None:
        """Why clocks are held down now, as the vendor's bitmask (None: this card cannot say).

        Kept raw so the sampler can OR masks over a window; `describe_throttle_reasons` decodes one.
        """

    @abstractmethod
    def describe_throttle_reasons(self, mask: int) -> ThrottleReasons:
        """What a bitmask from `throttle_reasons` (or an OR of several) means."""

    @abstractmethod
    def other_process_pids(self, own_pids: frozenset[int]) -> list[int] | None:
        """Sorted PIDs of compute processes on this card other than `own_pids` (None: this card cannot say)."""

    # --- static facts -------------------------------------------------------------------------------------

    @abstractmethod
    def info(self) -> dict:
        """This card as `harness.results.schema.GpuInfo` (JSON-ready; units in the keys)."""


class GpuBackend(ABC):
    """An initialised vendor library: counts and opens cards, says its versions, and is shut down once.

    `name` is the `meter_backend` a result records (one of `harness.kinds.METER_BACKENDS`); `clock` is the
    clock its readings are timed on (a stand-in may bring its own, so the meter never asks what it holds).
    `library` and `vendor` name it in messages.
    """

    name: str
    clock: Callable[[], float] = time.monotonic
    library: str
    vendor: str

    @abstractmethod
    def device_count(self) -> int:
        """How many cards the library sees; a failure is one MeasurementError line."""

    @abstractmethod
    def open(self, index: int) -> Gpu:
        """The card at `index` (the library's numbering), probed; a failure is one MeasurementError line."""

    @abstractmethod
    def system_versions(self) -> dict[str, str | None]:
        """`driver_version`, `nvml_version`, `cuda_driver_version` as `results.schema.Environment` has them
        (None where this backend cannot say)."""

    @abstractmethod
    def indices_for_uuids(self, uuids: Sequence[str | None]) -> list[int | None]:
        """This library's index of each card UUID (None where unknown or None); trouble is never an error."""

    def index_for_visible_device(self, device: int) -> int | None:
        """This library's index of the framework's device `device` (`cuda:N` as torch numbers it, after the
        visible-devices variables), for a card its UUID did not identify; None: this backend cannot say."""
        return None

    def summary(self) -> str:
        """One line for `harness env`: the vendor and the versions this backend measures with."""
        versions = self.system_versions()
        parts = [f"{self.vendor} driver {versions.get('driver_version') or '?'}"]
        if versions.get("nvml_version"):
            parts.append(f"NVML {versions['nvml_version']}")
        if versions.get("cuda_driver_version"):
            parts.append(f"CUDA driver {versions['cuda_driver_version']}")
        return ", ".join(parts)

    @abstractmethod
    def shutdown(self) -> None:
        """Release the library; a failed shutdown loses no measurement, so it never raises."""

    def check_indices(self, indices: Sequence[int]) -> None:
        """Refuse an index the library does not have, in one line that says what is there."""
        count = self.device_count()
        if count == 0:
            raise NotFoundError(f"no {self.vendor} GPU is visible to {self.library} on this machine")
        for index in indices:
            if not 0 <= index < count:
                there = "index 0" if count == 1 else f"indices 0..{count - 1}"
                raise NotFoundError(f"GPU {index} does not exist: {self.library} sees {count} GPU(s) ({there})")
        if len(set(indices)) != len(indices):
            raise NotFoundError(f"GPU indices repeat: {list(indices)}")

    def __enter__(self) -> GpuBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
