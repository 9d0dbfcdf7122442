"""A scripted stand-in for `pynvml`, so the NVML backend's real code runs in CI with no GPU.

`FakeNvml` has the function and constant names the backend calls (`nvmlInit`,
`nvmlDeviceGetTotalEnergyConsumption`, `nvmlDeviceGetFieldValues`, ...), returns what pynvml returns
(mJ, mW, objects with the same attributes) and raises pynvml's own `NVMLError` subclasses for what a
script says the card does not support. Its numbers follow a script, so a test can compare a meter's
reading with the exact integral of the trace.

Script format (JSON file named by `HARNESS_FAKE_NVML`, or a dict). Every key is optional; unknown keys
are refused. A *trace* (`harness.testing.traces`, shared with the fake amdsmi) is either a number (constant)
or a list of `[t_s, value]` points read as a step function: each value holds from its time until the next
point (the first value also holds before it). Time `t_s` is seconds since the fake was created (the harness
creates it when it opens its meter).

    {
      "driver_version": "550.54.15", "nvml_version": "12.550.54.15", "cuda_driver_version": 12040,
      "init_error": null,                     # "library_not_found" | "driver_not_loaded": nvmlInit fails
      "gpus": [{
        "name": "Fake NVIDIA H100 80GB HBM3",
        "power_w": [[0, 80], [5, 300]],       # trace, W: 80 W idle for 5 s, then 300 W
        "has_energy_counter": true,           # false: the counter call raises NVMLError_NotSupported
        "power_instant_supported": true,      # false: the POWER_INSTANT field reports NOT_SUPPORTED
        "counter_offset_mj": 0,               # counter value at t=0 (the counter is a uint64 and wraps)
        "counter_update_s": 0.0,              # > 0: the counter only moves every this many seconds
        "instant_power_scale": 1.0,           # sampled power = trace x scale (to script a disagreement)
        "processes": [{"pid": 4242, "start_s": 2, "end_s": 4, "used_memory_mib": 512}],
        "clock_event_reasons": 0,             # trace of nvmlClocksEventReason* bitmasks
        "power_limit_w": 700, "default_power_limit_w": 700,   # enforced limit is a trace
        "memory_total_mib": 81559, "persistence_mode": true, "mig_mode": false, "compute_capability": [9, 0],
        "sm_clock_mhz": 1980, "memory_clock_mhz": 2619, "temperature_c": 40, "utilization_pct": 0   # traces
      }]
    }

Counter energy is the integral of `power_w`; with no script at all there is one 80 W GPU. Unit tests pass
`clock=ManualClock()` to step time by hand; a script loaded from a file runs on `time.monotonic`.

The harness measures it wherever `HARNESS_FAKE_NVML` names a script, also in a fresh `harness run`
subprocess: `backend_from_environment` is registered in pyproject.toml under the `harness.gpu_backends`
entry-point group, which `harness.energy.backends` reads, so energy itself never names this module.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import pynvml
from pydantic import Field

from harness.energy.nvidia import NvmlBackend, open_nvml_backend
from harness.testing.traces import FakeProcess, ManualClock, ScriptModel, Trace, TraceSpec, load_script

__all__ = ["FAKE_NVML_ENV", "FakeGpuScript", "FakeNvml", "FakeNvmlScript", "FakeProcess", "ManualClock", "Trace",
           "backend_from_environment"]

FAKE_NVML_ENV = "HARNESS_FAKE_NVML"
"""Environment variable naming a JSON trace script: when set, the harness measures a `FakeNvml`."""


class FakeGpuScript(ScriptModel):
    name: str = "Fake NVIDIA H100 80GB HBM3"
    uuid: str | None = None
    power_w: TraceSpec = 80.0
    has_energy_counter: bool = True
    power_instant_supported: bool = True
    counter_offset_mj: int = Field(default=0, ge=0, lt=2**64)
    counter_update_s: float = Field(default=0.0, ge=0)
    instant_power_scale: float = Field(default=1.0, ge=0)
    processes: list[FakeProcess] = Field(default_factory=list)
    clock_event_reasons: TraceSpec = 0
    power_limit_w: TraceSpec = 700.0
    default_power_limit_w: float = 700.0
    memory_total_mib: float = 81559.0
    persistence_mode: bool = True
    mig_mode: bool = False
    compute_capability: tuple[int, int] = (9, 0)
    sm_clock_mhz: TraceSpec = 1980.0
    memory_clock_mhz: TraceSpec = 2619.0
    temperature_c: TraceSpec = 40.0
    utilization_pct: TraceSpec = 0.0


class FakeNvmlScript(ScriptModel):
    driver_version: str = "550.54.15"
    nvml_version: str = "12.550.54.15"
    cuda_driver_version: int = 12040
    init_error: Literal["library_not_found", "driver_not_loaded"] | None = None
    gpus: list[FakeGpuScript] = Field(default_factory=lambda: [FakeGpuScript()])


class _FakeGpu:
    def __init__(self, index: int, script: FakeGpuScript) -> None:
        self.index = index
        self.script = script
        self.power = Trace(script.power_w)
        self.reasons = Trace(script.clock_event_reasons)
        self.power_limit = Trace(script.power_limit_w)
        self.sm_clock = Trace(script.sm_clock_mhz)
        self.memory_clock = Trace(script.memory_clock_mhz)
        self.temperature = Trace(script.temperature_c)
        self.utilization = Trace(script.utilization_pct)

    def counter_mj(self, t_s: float) -> int:
        step = self.script.counter_update_s
        if step > 0:
            t_s = math.floor(t_s / step + 1e-9) * step
        return int(self.script.counter_offset_mj + round(self.power.integral(t_s) * 1000.0)) % 2**64


def _error(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)


class FakeNvml:
    """Same names as `pynvml` for what the harness calls; numbers follow a `FakeNvmlScript`."""

    # pynvml's error classes and constants, so `except nvml.NVMLError` and `nvml.NVML_CLOCK_SM` work unchanged.
    NVMLError = pynvml.NVMLError

    backend_name = "fake-nvml"
    """What a result records as its meter backend (pynvml itself has no such name: `nvml`)."""

    def __init__(self, script: FakeNvmlScript | dict | None = None, *, clock: Callable[[], float] | None = None):
        if not isinstance(script, FakeNvmlScript):
            script = FakeNvmlScript.model_validate(script or {})
        self.script = script
        self.clock = clock or time.monotonic
        self._t0_s = self.clock()
        self._gpus = [_FakeGpu(i, gpu) for i, gpu in enumerate(script.gpus)]
        self.init_count = 0

    @classmethod
    def from_script(cls, path: str | Path, *, clock: Callable[[], float] | None = None) -> FakeNvml:
        """Load a JSON script; a missing, unreadable or invalid file is one ConfigError line."""
        return load_script(path, FakeNvmlScript, "fake NVML script", lambda script: cls(script, clock=clock))

    def t_s(self) -> float:
        """Seconds since this fake was created, on its clock."""
        return self.clock() - self._t0_s

    def _gpu(self, handle: _FakeGpu) -> _FakeGpu:
        if self.init_count <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        return handle

    # --- library and system ---------------------------------------------------------------------------

    def nvmlInit(self) -> None:
        if self.script.init_error == "library_not_found":
            raise _error(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
        if self.script.init_error == "driver_not_loaded":
            raise _error(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
        self.init_count += 1

    def nvmlShutdown(self) -> None:
        if self.init_count <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        self.init_count -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.script.driver_version

    def nvmlSystemGetNVMLVersion(self) -> str:
        return self.script.nvml_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.script.cuda_driver_version

    def nvmlDeviceGetCount(self) -> int:
        if self.init_count <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        return len(self._gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _FakeGpu:
        if self.init_count <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        if not 0 <= index < len(self._gpus):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self._gpus[index]

    # --- energy and power -------------------------------------------------------------------------------

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _FakeGpu) -> int:
        gpu = self._gpu(handle)
        if not gpu.script.has_energy_counter:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu.counter_mj(self.t_s())

    def nvmlDeviceGetFieldValues(self, handle: _FakeGpu, fieldIds: list[int]) -> list[SimpleNamespace]:
        gpu = self._gpu(handle)
        t_s = self.t_s()
        values = []
        for field_id in fieldIds:
            supported = field_id == pynvml.NVML_FI_DEV_POWER_INSTANT and gpu.script.power_instant_supported
            power_mw = round(gpu.power.value(t_s) * gpu.script.instant_power_scale * 1000.0) if supported else 0
            values.append(SimpleNamespace(
                fieldId=field_id, scopeId=0, timestamp=int(t_s * 1e6), latencyUsec=0,
                valueType=pynvml.NVML_VALUE_TYPE_UNSIGNED_INT,
                nvmlReturn=pynvml.NVML_SUCCESS if supported else pynvml.NVML_ERROR_NOT_SUPPORTED,
                value=SimpleNamespace(uiVal=power_mw),
            ))
        return values

    def nvmlDeviceGetPowerUsage(self, handle: _FakeGpu) -> int:
        gpu = self._gpu(handle)
        return round(gpu.power.value(self.t_s()) * gpu.script.instant_power_scale * 1000.0)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: _FakeGpu) -> int:
        gpu = self._gpu(handle)
        return round(gpu.power_limit.value(self.t_s()) * 1000.0)

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: _FakeGpu) -> int:
        return round(self._gpu(handle).script.default_power_limit_w * 1000.0)

    # --- conditions ---------------------------------------------------------------------------------------

    def nvmlDeviceGetClockInfo(self, handle: _FakeGpu, type: int) -> int:
        gpu = self._gpu(handle)
        trace = gpu.sm_clock if type == pynvml.NVML_CLOCK_SM else gpu.memory_clock
        return int(trace.value(self.t_s()))

    def nvmlDeviceGetTemperature(self, handle: _FakeGpu, sensor: int) -> int:
        return int(self._gpu(handle).temperature.value(self.t_s()))

    def nvmlDeviceGetUtilizationRates(self, handle: _FakeGpu) -> SimpleNamespace:
        busy = int(self._gpu(handle).utilization.value(self.t_s()))
        return SimpleNamespace(gpu=busy, memory=busy)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: _FakeGpu) -> int:
        return int(self._gpu(handle).reasons.value(self.t_s()))

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: _FakeGpu) -> int:
        return int(self._gpu(handle).reasons.value(self.t_s()))

    def nvmlDeviceGetComputeRunningProcesses(self, handle: _FakeGpu) -> list[SimpleNamespace]:
        gpu = self._gpu(handle)
        t_s = self.t_s()
        return [SimpleNamespace(pid=p.pid, usedGpuMemory=int(p.used_memory_mib * 2**20),
                                gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF)
                for p in gpu.script.processes if p.running(t_s)]

    # --- static facts -------------------------------------------------------------------------------------

    def nvmlDeviceGetName(self, handle: _FakeGpu) -> str:
        return self._gpu(handle).script.name

    def nvmlDeviceGetUUID(self, handle: _FakeGpu) -> str:
        gpu = self._gpu(handle)
        return gpu.script.uuid or f"GPU-fake0000-0000-0000-0000-{gpu.index:012d}"

    def nvmlDeviceGetMemoryInfo(self, handle: _FakeGpu, version: int | None = None) -> SimpleNamespace:
        total = int(self._gpu(handle).script.memory_total_mib * 2**20)
        return SimpleNamespace(total=total, free=total, used=0)

    def nvmlDeviceGetPersistenceMode(self, handle: _FakeGpu) -> int:
        enabled = self._gpu(handle).script.persistence_mode
        return pynvml.NVML_FEATURE_ENABLED if enabled else pynvml.NVML_FEATURE_DISABLED

    def nvmlDeviceGetMigMode(self, device: _FakeGpu) -> list[int]:
        mode = pynvml.NVML_DEVICE_MIG_ENABLE if self._gpu(device).script.mig_mode else pynvml.NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetCudaComputeCapability(self, handle: _FakeGpu) -> tuple[int, int]:
        return tuple(self._gpu(handle).script.compute_capability)


# Copy pynvml's constants and error classes (NVML_*, NVMLError_*, nvmlClocksEventReason*) onto the fake.
for _name in dir(pynvml):
    if _name.startswith(("NVML_", "NVMLError_", "nvmlClocksEventReason", "nvmlClocksThrottleReason")):
        setattr(FakeNvml, _name, getattr(pynvml, _name))
del _name


def backend_from_environment() -> NvmlBackend | None:
    """The `fake-nvml` GPU backend (entry point `harness.gpu_backends`): NVML's real backend code over a
    `FakeNvml` loaded from the script `HARNESS_FAKE_NVML` names, initialised; None when the variable is unset.

    A bad script is one ConfigError line and a scripted `init_error` one MeasurementError line: both final, so
    a run asked to measure the fake never falls through to a real GPU.
    """
    script = os.environ.get(FAKE_NVML_ENV)
    if not script:
        return None
    return open_nvml_backend(FakeNvml.from_script(script))
