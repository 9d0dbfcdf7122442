"""NVIDIA GPU access through NVML: the only module that calls NVML, and where units are converted once.

Everything here talks to a *pynvml-like object*: the real `pynvml` module (package `nvidia-ml-py`) or a
`FakeNvml` that has the same function and constant names. Values leave this module in SI units with the
unit in the name: NVML's mJ become J, mW become W, bytes become MiB. Calls a card does not support
(`NVMLError_NotSupported`, or a function missing from an old driver) become `None` or `False` here, so
measurement code above never sees an NVML exception for a missing feature.

Energy comes from `nvmlDeviceGetTotalEnergyConsumption` (a cumulative hardware counter in mJ, Volta and
newer). Instant power, for the timeline and the cross-check, comes from the `NVML_FI_DEV_POWER_INSTANT`
field; where that field is unsupported `nvmlDeviceGetPowerUsage` is used instead, which on Ampere and
newer is a 1 s moving average: fine for a timeline, which is why it is never the energy on those cards.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from harness.errors import MeasurementError, NotFoundError

logger = logging.getLogger(__name__)

FAKE_NVML_ENV = "HARNESS_FAKE_NVML"
"""Environment variable naming a JSON trace script: when set, the harness measures a `FakeNvml`."""

PowerSource = Literal["instant", "average"]
"""`instant`: the NVML_FI_DEV_POWER_INSTANT field; `average`: nvmlDeviceGetPowerUsage (1 s average on Ampere+)."""

_COUNTER_MODULUS_MJ = 2**64
"""NVML's energy counter is an unsigned 64-bit count of mJ."""


@dataclass(frozen=True)
class NvmlSession:
    """An initialised NVML: the object to call, the backend name a result records, and the clock to read.

    A stand-in for pynvml (the fake in `harness.testing`) names itself with `backend_name` and may bring the
    `clock` its traces run on; the meter reads both from here and never asks what it holds.
    """

    nvml: Any
    backend_name: Literal["nvml", "fake-nvml"]
    clock: Callable[[], float] = time.monotonic

    def shutdown(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except self.nvml.NVMLError as error:  # a failed shutdown loses no measurement
            logger.debug("nvmlShutdown failed: %s", error)


def load_nvml(nvml: Any | None = None) -> Any:
    """The NVML object to use, without initialising it.

    An explicit `nvml` wins; otherwise `HARNESS_FAKE_NVML=<script.json>` selects the scripted fake (the one
    place the product reaches into `harness.testing`: CI and demos measure through it); otherwise the real
    `pynvml`. Raises MeasurementError (one line) when none can be had.
    """
    if nvml is not None:
        return nvml
    script = os.environ.get(FAKE_NVML_ENV)
    if script:
        from harness.testing.fake_nvml import FakeNvml

        return FakeNvml.from_script(script)
    try:
        import pynvml
    except ImportError:
        raise MeasurementError("cannot measure the GPU: the NVML bindings are not installed "
                               "(pip install nvidia-ml-py)") from None
    return pynvml


def init_nvml(nvml: Any | None = None) -> NvmlSession:
    """Load and initialise NVML; every failure is one MeasurementError line naming the cause."""
    nvml = load_nvml(nvml)
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as error:
        raise MeasurementError(f"cannot measure the GPU: {_init_failure(nvml, error)}") from None
    return NvmlSession(nvml, getattr(nvml, "backend_name", "nvml"), getattr(nvml, "clock", time.monotonic))


def _init_failure(nvml: Any, error: Exception) -> str:
    code = getattr(error, "value", None)
    if code == nvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return "the NVML library (libnvidia-ml.so.1) was not found; is an NVIDIA driver installed?"
    if code == nvml.NVML_ERROR_DRIVER_NOT_LOADED:
        return "the NVIDIA driver is not loaded (no GPU, or the driver is not running)"
    if code == nvml.NVML_ERROR_NO_PERMISSION:
        return "no permission to use NVML (check access to /dev/nvidia*)"
    return f"NVML failed to initialise ({error})"


def device_count(session: NvmlSession) -> int:
    """How many GPUs NVML sees."""
    try:
        return int(session.nvml.nvmlDeviceGetCount())
    except session.nvml.NVMLError as error:
        raise MeasurementError(f"cannot list GPUs: NVML failed ({error})") from None


def check_indices(session: NvmlSession, indices: list[int]) -> None:
    """Refuse an index NVML does not have, in one line that says what is there."""
    count = device_count(session)
    if count == 0:
        raise NotFoundError("no NVIDIA GPU is visible to NVML on this machine")
    for index in indices:
        if not 0 <= index < count:
            there = "index 0" if count == 1 else f"indices 0..{count - 1}"
            raise NotFoundError(f"GPU {index} does not exist: NVML sees {count} GPU(s) ({there})")
    if len(set(indices)) != len(indices):
        raise NotFoundError(f"GPU indices repeat: {indices}")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def system_versions(session: NvmlSession) -> dict[str, str | None]:
    """Driver, NVML and CUDA driver versions as strings (None where NVML cannot say)."""
    nvml = session.nvml

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


class NvmlGpu:
    """One GPU by NVML index: energy counter, instant power, clocks and the conditions a result records.

    What the card supports is probed once at construction (`has_energy_counter`, `power_source`), so the
    sampler's hot path makes only calls that work.
    """

    def __init__(self, session: NvmlSession, index: int) -> None:
        self.nvml = session.nvml
        self.index = index
        try:
            self.handle = self.nvml.nvmlDeviceGetHandleByIndex(index)
        except self.nvml.NVMLError as error:
            raise MeasurementError(f"cannot open GPU {index}: NVML failed ({error})") from None
        self.has_energy_counter = self.energy_counter_j() is not None
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

    def energy_counter_mj(self) -> int | None:
        """The raw cumulative counter in mJ since the driver loaded (None: no counter on this card).

        Kept as NVML's integer so deltas are exact; `counter_delta_j` turns two reads into joules.
        """
        millijoules = self._call("nvmlDeviceGetTotalEnergyConsumption")
        return None if millijoules is None else int(millijoules)

    def energy_counter_j(self) -> float | None:
        """Cumulative energy since the driver loaded, in joules (None: no counter on this card)."""
        millijoules = self.energy_counter_mj()
        return None if millijoules is None else millijoules / 1000.0

    @staticmethod
    def counter_delta_j(start_mj: int, end_mj: int) -> float:
        """Energy between two raw counter reads, in joules, across the 64-bit wrap (negative: a reset)."""
        delta_mj = end_mj - start_mj
        if delta_mj < 0 and start_mj > _COUNTER_MODULUS_MJ // 2 and end_mj < _COUNTER_MODULUS_MJ // 2:
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
        """Current board power in watts from the best source this card has (see `power_source`)."""
        if self.power_source == "instant":
            return self._instant_power_w()
        if self.power_source == "average":
            return self._average_power_w()
        return None

    # --- conditions sampled over time -------------------------------------------------------------------

    def sm_clock_mhz(self) -> float | None:
        return self._call("nvmlDeviceGetClockInfo", self.nvml.NVML_CLOCK_SM)

    def memory_clock_mhz(self) -> float | None:
        return self._call("nvmlDeviceGetClockInfo", self.nvml.NVML_CLOCK_MEM)

    def temperature_c(self) -> float | None:
        return self._call("nvmlDeviceGetTemperature", self.nvml.NVML_TEMPERATURE_GPU)

    def utilization_pct(self) -> float | None:
        rates = self._call("nvmlDeviceGetUtilizationRates")
        return None if rates is None else rates.gpu

    def clock_event_reasons(self) -> int | None:
        """Bitmask of why clocks are held down (nvmlClocksEventReason*; 'throttle reasons' on older drivers)."""
        return None if self._reasons_fn is None else self._call(self._reasons_fn)

    def other_process_pids(self, own_pids: frozenset[int]) -> list[int] | None:
        """PIDs of compute processes on this GPU other than ours (None: NVML cannot list them here)."""
        processes = self._call("nvmlDeviceGetComputeRunningProcesses")
        if processes is None:
            return None
        return sorted({int(p.pid) for p in processes} - own_pids)

    def power_limit_enforced_w(self) -> float | None:
        milliwatts = self._call("nvmlDeviceGetEnforcedPowerLimit")
        return None if milliwatts is None else milliwatts / 1000.0

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


def _bare_uuid(uuid: str | bytes) -> str:
    text = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
    return text.lower().removeprefix("gpu-")


def nvml_indices_for_uuids(uuids: list[str | None], nvml: Any | None = None) -> list[int | None]:
    """NVML's index of each GPU UUID (None where unknown): CUDA and NVML number GPUs differently.

    torch numbers GPUs fastest-first and renumbers them under CUDA_VISIBLE_DEVICES; NVML uses PCI order.
    NVML trouble here is not an error (the meter reports it when it opens): every index is then None.
    """
    try:
        session = init_nvml(nvml)
    except MeasurementError as error:
        logger.debug("NVML unavailable for index translation: %s", error)
        return [None] * len(uuids)
    try:
        by_uuid = {}
        for index in range(session.nvml.nvmlDeviceGetCount()):
            handle = session.nvml.nvmlDeviceGetHandleByIndex(index)
            by_uuid[_bare_uuid(session.nvml.nvmlDeviceGetUUID(handle))] = index
    except session.nvml.NVMLError as error:
        logger.debug("NVML could not list GPU UUIDs: %s", error)
        by_uuid = {}
    finally:
        session.shutdown()
    return [by_uuid.get(_bare_uuid(uuid)) if uuid is not None else None for uuid in uuids]
