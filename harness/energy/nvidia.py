"""NVIDIA GPUs through NVML: the only module that calls NVML, and where its units and bits are converted once.

Everything here talks to a *pynvml-like object*: the real `pynvml` module (package `nvidia-ml-py`) or a
stand-in with the same function and constant names (the fake in `harness.testing` plugs in through
`backends.GPU_BACKENDS`). Values leave this module in SI units with the unit in the name: NVML's mJ become
J, mW become W, bytes become MiB. Calls a card does not support (`NVMLError_NotSupported`, or a function
missing from an old driver) become `None` or `False` here, so measurement code above never sees an NVML
exception for a missing feature.

Energy comes from `nvmlDeviceGetTotalEnergyConsumption` (a cumulative hardware counter in mJ, Volta and
newer). Instant power, for the timeline and the cross-check, comes from the `NVML_FI_DEV_POWER_INSTANT`
field; where that field is unsupported `nvmlDeviceGetPowerUsage` is used instead, which on Ampere and
newer is a 1 s moving average: fine for a timeline, which is why it is never the energy on those cards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness.energy.gpu import Gpu, GpuBackend, PowerSource, ThrottleReasons
from harness.errors import MeasurementError
from harness.kinds import COUNTER_UPDATE_PERIOD_S

logger = logging.getLogger(__name__)

_COUNTER_MODULUS_MJ = 2**64
"""NVML's energy counter is an unsigned 64-bit count of mJ."""

# nvmlClocksEventReason* bits (the same values under the older "ThrottleReason" names).
CLOCK_EVENT_WARNINGS = {
    0x0000000000000008: "hardware slowdown",
    0x0000000000000020: "software thermal slowdown",
    0x0000000000000040: "hardware thermal slowdown",
    0x0000000000000080: "hardware power brake",
}
"""Reasons that mean the GPU ran slower than it should have: the number may not be repeatable."""
CLOCK_EVENT_POWER_CAP = 0x0000000000000004
"""The software power cap: the workload was bounded by the power limit (worth knowing, not a fault)."""


def load_nvml(nvml: Any | None = None) -> Any:
    """The NVML object to use, without initialising it: an explicit pynvml-like `nvml`, else `pynvml`.

    Raises MeasurementError (one line) when the bindings are not installed.
    """
    if nvml is not None:
        return nvml
    try:
        import pynvml
    except ImportError:
        raise MeasurementError("cannot measure the GPU: the NVML bindings are not installed "
                               "(pip install nvidia-ml-py)") from None
    return pynvml


def open_nvml_backend(nvml: Any | None = None) -> NvmlBackend:
    """Load and initialise NVML (`GPU_BACKENDS["nvml"]`); every failure is one MeasurementError line.

    A stand-in passed as `nvml` names itself with `backend_name` (what a result records) and may bring the
    `clock` its traces run on; real pynvml has neither: `nvml` on `time.monotonic`.
    """
    nvml = load_nvml(nvml)
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as error:
        raise MeasurementError(f"cannot measure the GPU: {_init_failure(nvml, error)}") from None
    return NvmlBackend(nvml, getattr(nvml, "backend_name", "nvml"), getattr(nvml, "clock", time.monotonic))


def _init_failure(nvml: Any, error: Exception) -> str:
    code = getattr(error, "value", None)
    if code == nvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return "the NVML library (libnvidia-ml.so.1) was not found; is an NVIDIA driver installed?"
    if code == nvml.NVML_ERROR_DRIVER_NOT_LOADED:
        return "the NVIDIA driver is not loaded (no GPU, or the driver is not running)"
    if code == nvml.NVML_ERROR_NO_PERMISSION:
        return "no permission to use NVML (check access to /dev/nvidia*)"
    return f"NVML failed to initialise ({error})"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bare_uuid(uuid: str | bytes) -> str:
    return _text(uuid).lower().removeprefix("gpu-")


class NvmlBackend(GpuBackend):
    """An initialised NVML (real or a stand-in): the object to call, the name a result records, its clock."""

    library = "NVML"
    vendor = "NVIDIA"

    def __init__(self, nvml: Any, name: str = "nvml", clock: Callable[[], float] = time.monotonic) -> None:
        self.nvml = nvml
        self.name = name
        self.clock = clock

    def shutdown(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except self.nvml.NVMLError as error:  # a failed shutdown loses no measurement
            logger.debug("nvmlShutdown failed: %s", error)

    def device_count(self) -> int:
        try:
            return int(self.nvml.nvmlDeviceGetCount())
        except self.nvml.NVMLError as error:
            raise MeasurementError(f"cannot list GPUs: NVML failed ({error})") from None

    def open(self, index: int) -> NvmlGpu:
        return NvmlGpu(self, index)

    def system_versions(self) -> dict[str, str | None]:
        nvml = self.nvml

        def call(name: str) -> Any:
            try:
                return getattr(nvml, name)()
            except (nvml.NVMLError, AttributeError):
                return None

        cuda = call("nvmlSystemGetCudaDriverVersion")
        driver = call("nvmlSystemGetDriverVersion")
        version = call("nvmlSystemGetNVMLVersion")
        return {
            "driver_version": None if driver is None else _text(driver),
            "nvml_version": None if version is None else _text(version),
            "cuda_driver_version": None if cuda is None else f"{int(cuda) // 1000}.{int(cuda) % 1000 // 10}",
        }

    def indices_for_uuids(self, uuids: Sequence[str | None]) -> list[int | None]:
        """torch numbers GPUs fastest-first and renumbers them under CUDA_VISIBLE_DEVICES; NVML uses PCI order.
        UUIDs match with or without NVML's `GPU-` prefix; NVML trouble leaves every index None."""
        nvml = self.nvml
        try:
            by_uuid = {}
            for index in range(nvml.nvmlDeviceGetCount()):
                by_uuid[_bare_uuid(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(index)))] = index
        except nvml.NVMLError as error:
            logger.debug("NVML could not list GPU UUIDs: %s", error)
            by_uuid = {}
        return [by_uuid.get(_bare_uuid(uuid)) if uuid is not None else None for uuid in uuids]


class NvmlGpu(Gpu):
    """One GPU by NVML index: energy counter, instant power, clocks and the conditions a result records.

    What the card supports is probed once at construction (`has_energy_counter`, `power_source`), so the
    sampler's hot path makes only calls that work.
    """

    def __init__(self, backend: NvmlBackend, index: int) -> None:
        self.nvml = backend.nvml
        self.index = index
        try:
            self.handle = self.nvml.nvmlDeviceGetHandleByIndex(index)
        except self.nvml.NVMLError as error:
            raise MeasurementError(f"cannot open GPU {index}: NVML failed ({error})") from None
        self.has_energy_counter = self.energy_counter() is not None
        self.counter_update_period_s = COUNTER_UPDATE_PERIOD_S if self.has_energy_counter else None
        self.power_source: PowerSource | None = None
        if self._instant_power_w() is not None:
            self.power_source = "instant"
        elif self._average_power_w() is not None:
            self.power_source = "average"
        self._reasons_fn = self._first_supported(
            "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons")

    def _call(self, name: str, *args: Any) -> Any:
        """Call an NVML device function; None when this card or driver does not support it."""
        nvml = self.nvml
        try:
            return getattr(nvml, name)(self.handle, *args)
        except AttributeError:
            return None
        except nvml.NVMLError as error:
            if getattr(error, "value", None) in (nvml.NVML_ERROR_NOT_SUPPORTED, nvml.NVML_ERROR_FUNCTION_NOT_FOUND):
                return None
            logger.debug("GPU %d: %s failed: %s", self.index, name, error)
            return None

    def _first_supported(self, *names: str) -> str | None:
        for name in names:
            if self._call(name) is not None:
                return name
        return None

    # --- energy and power -------------------------------------------------------------------------------

    def energy_counter(self) -> int | None:
        """NVML's cumulative counter, in mJ since the driver loaded, as its exact integer (None: no counter)."""
        millijoules = self._call("nvmlDeviceGetTotalEnergyConsumption")
        return None if millijoules is None else int(millijoules)

    def energy_counter_j(self) -> float | None:
        """Cumulative energy since the driver loaded, in joules (None: no counter on this card)."""
        millijoules = self.energy_counter()
        return None if millijoules is None else millijoules / 1000.0

    def counter_delta_j(self, start: int, end: int) -> float:
        """Joules between two mJ reads, across the 64-bit wrap (negative: a reset, which the meter refuses)."""
        delta_mj = end - start
        if delta_mj < 0 and start > _COUNTER_MODULUS_MJ // 2 and end < _COUNTER_MODULUS_MJ // 2:
            delta_mj += _COUNTER_MODULUS_MJ
        return delta_mj / 1000.0

    def _instant_power_w(self) -> float | None:
        values = self._call("nvmlDeviceGetFieldValues", [self.nvml.NVML_FI_DEV_POWER_INSTANT])
        if not values or values[0].nvmlReturn != self.nvml.NVML_SUCCESS:
            return None
        return values[0].value.uiVal / 1000.0

    def _average_power_w(self) -> float | None:
        milliwatts = self._call("nvmlDeviceGetPowerUsage")
        return None if milliwatts is None else milliwatts / 1000.0

    def power_w(self) -> float | None:
        """Board power in watts: the instant field, else NVML's averaged power usage (see `power_source`)."""
        if self.power_source == "instant":
            return self._instant_power_w()
        if self.power_source == "average":
            return self._average_power_w()
        return None

    def power_limit_enforced_w(self) -> float | None:
        """The enforced power limit in watts (NVML reports mW; None: this card cannot say)."""
        milliwatts = self._call("nvmlDeviceGetEnforcedPowerLimit")
        return None if milliwatts is None else milliwatts / 1000.0

    # --- conditions sampled over time -------------------------------------------------------------------

    def sm_clock_mhz(self) -> float | None:
        """SM clock in MHz (None: this card cannot say)."""
        return self._call("nvmlDeviceGetClockInfo", self.nvml.NVML_CLOCK_SM)

    def memory_clock_mhz(self) -> float | None:
        """Memory clock in MHz (None: this card cannot say)."""
        return self._call("nvmlDeviceGetClockInfo", self.nvml.NVML_CLOCK_MEM)

    def temperature_c(self) -> float | None:
        """GPU core temperature in degrees Celsius (None: this card cannot say)."""
        return self._call("nvmlDeviceGetTemperature", self.nvml.NVML_TEMPERATURE_GPU)

    def utilization_pct(self) -> float | None:
        """Busy share of NVML's last sample period, in percent (None: this card cannot say)."""
        rates = self._call("nvmlDeviceGetUtilizationRates")
        return None if rates is None else rates.gpu

    def throttle_reasons(self) -> int | None:
        """nvmlClocksEventReason* bitmask ('throttle reasons' on older drivers; None: this card cannot say)."""
        return None if self._reasons_fn is None else self._call(self._reasons_fn)

    def describe_throttle_reasons(self, mask: int) -> ThrottleReasons:
        return ThrottleReasons(slowdowns=tuple(name for bit, name in CLOCK_EVENT_WARNINGS.items() if mask & bit),
                               power_capped=bool(mask & CLOCK_EVENT_POWER_CAP))

    def other_process_pids(self, own_pids: frozenset[int]) -> list[int] | None:
        """PIDs of compute processes on this GPU other than ours (None: NVML cannot list them here)."""
        processes = self._call("nvmlDeviceGetComputeRunningProcesses")
        if processes is None:
            return None
        return sorted({int(p.pid) for p in processes} - own_pids)

    # --- static facts -------------------------------------------------------------------------------------

    def info(self) -> dict:
        """This GPU as `harness.results.schema.GpuInfo` (JSON-ready)."""
        name = self._call("nvmlDeviceGetName")
        uuid = self._call("nvmlDeviceGetUUID")
        memory = self._call("nvmlDeviceGetMemoryInfo")
        default_mw = self._call("nvmlDeviceGetPowerManagementDefaultLimit")
        persistence = self._call("nvmlDeviceGetPersistenceMode")
        mig = self._call("nvmlDeviceGetMigMode")
        capability = self._call("nvmlDeviceGetCudaComputeCapability")
        return {
            "index": self.index,
            "name": "unknown NVIDIA GPU" if name is None else _text(name),
            "uuid": None if uuid is None else _text(uuid),
            "memory_total_mib": None if memory is None else memory.total / 2**20,
            "has_energy_counter": self.has_energy_counter,
            "power_limit_enforced_w": self.power_limit_enforced_w(),
            "power_limit_default_w": None if default_mw is None else default_mw / 1000.0,
            "persistence_mode": None if persistence is None else persistence == self.nvml.NVML_FEATURE_ENABLED,
            "mig_mode": None if mig is None else mig[0] == self.nvml.NVML_DEVICE_MIG_ENABLE,
            "compute_capability": None if capability is None else f"{capability[0]}.{capability[1]}",
        }
