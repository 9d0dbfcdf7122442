"""A scripted stand-in for ROCm's `amdsmi`, so the AMD backend's real code runs in CI with no AMD GPU.

`FakeAmdSmi` has the functions, enums and exceptions the backend uses (`amdsmi_init`, `amdsmi_get_energy_count`,
`amdsmi_get_power_info`, `AmdSmiClkType`, `AmdSmiLibraryException`, ...), with the real package's parameter names
and return shapes (dicts with its keys, "N/A" for a field the card does not report, `AmdSmiLibraryException` with
`AMDSMI_STATUS_NOT_SUPPORTED` for a call it does not support): `tests/testing/test_fake_amdsmi.py` checks them
against the real package's source where it is installed. Its numbers follow a script of the same traces as the fake
NVML (`harness.testing.traces`), so a test can compare a meter's reading with the exact integral of the trace.

Script format (JSON file named by `HARNESS_FAKE_AMDSMI`, or a dict). Every key is optional; unknown keys are refused.

    {
      "driver_version": "6.10.5", "rocm_version": "6.4.1", "library_version": [25, 5, 1],
      "init_error": null,                  # "library_not_found" | "driver_not_loaded" | "no_permission"
      "gpus": [{
        "name": "Fake AMD Instinct MI300X",  # asic market_name
        "power_w": [[0, 140], [5, 700]],   # trace, W (the whole card's: on its first partition)
        "has_energy_counter": true,        # false: amdsmi_get_energy_count is NOT_SUPPORTED
        "counter_resolution_uj": 15.259,   # µJ per tick, as the C float amdsmi returns
        "counter_offset": 0,               # ticks at t=0
        "counter_bits": 64,                # 32: the accumulator wraps at 2**32 ticks (the first gpu_metrics format)
        "counter_update_s": 0.0,           # > 0: the counter only moves every this many seconds
        "counter_stands_still": false,     # true: it never moves (some cards and drivers)
        "current_power_supported": true, "average_power_supported": true,   # false: "N/A"
        "sampled_power_scale": 1.0,        # reported power = trace x scale (to script a disagreement)
        "power_cap_w": 750, "default_power_cap_w": 750,   # the cap is a trace
        "violations": 0,                   # trace of a bitmask: 1 PPT (power cap), 2 socket thermal, 4 PROCHOT,
                                           # 8 VR thermal, 16 HBM thermal: the residency accumulators grow meanwhile
        "residency_supported": true,       # false: the accumulators are "N/A" (before MI300)
        "indep_throttle_status": null,     # trace; reported as the real wrapper does, a yes/no
        "processes": [{"pid": 4242, "start_s": 2, "end_s": 4}],
        "unique_id": "fa4e000000000000",   # 16 hex digits: the ASIC serial, which HIP's UUID encodes
        "bdf": "0000:0c:00.0", "partition_id": 0, "compute_partition": "SPX", "memory_partition": "NPS1",
        "hip_id": 0,                       # null: no amdsmi_get_gpu_enumeration_info (ROCm before 6.4)
        "gfx_clock_mhz": 2100, "memory_clock_mhz": 1300, "temperature_c": 45, "utilization_pct": 0,   # traces
        "hotspot_supported": true, "memory_total_mib": 196608, "gfx_target": "gfx942"
      }]
    }

A device with `partition_id` above 0 is a further partition of the card whose `bdf` it shares: as on a partitioned
MI300X (as far as documented; unverified here), it reports no energy counter and no power of its own, since the
card's are reported on its first partition. Unit tests pass `clock=ManualClock()`; the fake's `sleep` then moves
that clock (the backend's counter probe sleeps), and a script loaded from a file runs on `time.monotonic`.

The harness measures it wherever `HARNESS_FAKE_AMDSMI` names a script: `backend_from_environment` is registered in
pyproject.toml under the `harness.gpu_backends` entry-point group, so energy itself never names this module.
"""

from __future__ import annotations

import ctypes
import math
import os
import time
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from harness.energy.amd import AmdSmiBackend, open_amdsmi_backend
from harness.testing.traces import FakeProcess, ManualClock, ScriptModel, Trace, TraceSpec, load_script

FAKE_AMDSMI_ENV = "HARNESS_FAKE_AMDSMI"
"""Environment variable naming a JSON trace script: when set, the harness measures a `FakeAmdSmi`."""

# amdsmi_status_t (amdsmi.h), as the real wrapper's `amdsmi_wrapper` module has them.
AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_FAIL_LOAD_MODULE = 4
AMDSMI_STATUS_NO_PERM = 10
AMDSMI_STATUS_NOT_FOUND = 31
AMDSMI_STATUS_NOT_INIT = 32
AMDSMI_STATUS_DRIVER_NOT_LOADED = 34

VIOLATION_KEYS = {1: "ppt_residency_acc", 2: "socket_thm_residency_acc", 4: "prochot_residency_acc",
                  8: "vr_thm_residency_acc", 16: "hbm_thm_residency_acc"}
"""The script's violation bits and the gpu_metrics accumulator each one grows."""


class AmdSmiInitFlags(IntEnum):
    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_CPUS = 1
    INIT_AMD_GPUS = 2
    INIT_AMD_APUS = 3


class AmdSmiClkType(IntEnum):
    SYS = 0
    GFX = 0
    MEM = 4


class AmdSmiTemperatureType(IntEnum):
    EDGE = 0
    HOTSPOT = 1
    JUNCTION = 1


class AmdSmiTemperatureMetric(IntEnum):
    CURRENT = 0


class AmdSmiMemoryType(IntEnum):
    VRAM = 0
    VIS_VRAM = 1
    GTT = 2


class AmdSmiException(Exception):
    """Base smi exception class (as amdsmi's)."""


class AmdSmiLibraryException(AmdSmiException):
    """A failed library call, with amdsmi's status code."""

    def __init__(self, err_code: int) -> None:
        super().__init__(err_code)
        self.err_code = abs(err_code)

    def get_error_code(self) -> int:
        return self.err_code

    def get_error_info(self, detailed: bool = True) -> str:
        return f"status {self.err_code}"

    def __str__(self) -> str:
        return f"Error code:\n\t{self.err_code}"


class AmdSmiParameterException(AmdSmiException):
    """An argument of the wrong type (a handle that is not one, say)."""


class FakeAmdGpuScript(ScriptModel):
    name: str = "Fake AMD Instinct MI300X"
    power_w: TraceSpec = 140.0
    has_energy_counter: bool = True
    counter_resolution_uj: float = Field(default=15.259, gt=0)
    counter_offset: int = Field(default=0, ge=0, lt=2**64)
    counter_bits: Literal[32, 64] = 64
    counter_update_s: float = Field(default=0.0, ge=0)
    counter_stands_still: bool = False
    current_power_supported: bool = True
    average_power_supported: bool = True
    sampled_power_scale: float = Field(default=1.0, ge=0)
    power_cap_w: TraceSpec = 750.0
    default_power_cap_w: float = 750.0
    violations: TraceSpec = 0
    residency_supported: bool = True
    indep_throttle_status: TraceSpec | None = None
    processes: list[FakeProcess] = Field(default_factory=list)
    unique_id: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{16}$")
    device_id: int = 0x74A1
    bdf: str | None = None
    partition_id: int = Field(default=0, ge=0)
    compute_partition: str | None = "SPX"
    memory_partition: str | None = "NPS1"
    hip_id: int | None = -1
    """-1: the device's own index; null: amdsmi has no enumeration info (ROCm before 6.4)."""
    gfx_clock_mhz: TraceSpec = 2100.0
    memory_clock_mhz: TraceSpec = 1300.0
    temperature_c: TraceSpec = 45.0
    hotspot_supported: bool = True
    utilization_pct: TraceSpec = 0.0
    memory_total_mib: float = 196608.0
    gfx_target: str = "gfx942"


class FakeAmdSmiScript(ScriptModel):
    driver_version: str = "6.10.5"
    rocm_version: str | None = "6.4.1"
    library_version: tuple[int, int, int] = (25, 5, 1)
    init_error: Literal["library_not_found", "driver_not_loaded", "no_permission"] | None = None
    gpus: list[FakeAmdGpuScript] = Field(default_factory=lambda: [FakeAmdGpuScript()])


def _bit_trace(spec: TraceSpec, bit: int) -> Trace:
    points = [(0.0, spec)] if isinstance(spec, (int, float)) else spec
    return Trace([(t, 1.0 if int(v) & bit else 0.0) for t, v in points])


class _FakeDevice:
    """One amdsmi processor handle: a card, or one partition of it."""

    def __init__(self, index: int, script: FakeAmdGpuScript) -> None:
        self.index = index
        self.script = script
        self.unique_id = (script.unique_id or f"fa4e{index:012x}").lower()
        self.bdf = script.bdf or f"0000:{0x0C + 0x10 * index:02x}:00.{script.partition_id}"
        self.reports_power = script.partition_id == 0
        self.resolution_uj = ctypes.c_float(script.counter_resolution_uj).value  # a C float, as amdsmi returns it
        self.power = Trace(script.power_w)
        self.power_cap = Trace(script.power_cap_w)
        self.gfx_clock = Trace(script.gfx_clock_mhz)
        self.memory_clock = Trace(script.memory_clock_mhz)
        self.temperature = Trace(script.temperature_c)
        self.utilization = Trace(script.utilization_pct)
        self.violations = {key: _bit_trace(script.violations, bit) for bit, key in VIOLATION_KEYS.items()}
        self.throttle = None if script.indep_throttle_status is None else Trace(script.indep_throttle_status)

    def ticks(self, t_s: float) -> int:
        step = self.script.counter_update_s
        if self.script.counter_stands_still:
            t_s = 0.0
        elif step > 0:
            t_s = math.floor(t_s / step + 1e-9) * step
        ticks = math.floor(self.power.integral(t_s) * 1e6 / self.resolution_uj)
        return (self.script.counter_offset + ticks) % 2**self.script.counter_bits


class FakeAmdSmi:
    """Same names as `amdsmi` for what the harness calls; numbers follow a `FakeAmdSmiScript`."""

    AmdSmiException = AmdSmiException
    AmdSmiLibraryException = AmdSmiLibraryException
    AmdSmiParameterException = AmdSmiParameterException
    AmdSmiInitFlags = AmdSmiInitFlags
    AmdSmiClkType = AmdSmiClkType
    AmdSmiTemperatureType = AmdSmiTemperatureType
    AmdSmiTemperatureMetric = AmdSmiTemperatureMetric
    AmdSmiMemoryType = AmdSmiMemoryType

    backend_name = "fake-amdsmi"
    """What a result records as its meter backend (amdsmi itself has no such name: `amdsmi`)."""

    def __init__(self, script: FakeAmdSmiScript | dict | None = None, *,
                 clock: Callable[[], float] | None = None) -> None:
        if not isinstance(script, FakeAmdSmiScript):
            script = FakeAmdSmiScript.model_validate(script or {})
        self.script = script
        self.clock = clock or time.monotonic
        self._t0_s = self.clock()
        self._devices = [_FakeDevice(i, gpu) for i, gpu in enumerate(script.gpus)]
        self.init_count = 0

    @classmethod
    def from_script(cls, path: str | Path, *, clock: Callable[[], float] | None = None) -> FakeAmdSmi:
        """Load a JSON script; a missing, unreadable or invalid file is one ConfigError line."""
        return load_script(path, FakeAmdSmiScript, "fake amdsmi script", lambda script: cls(script, clock=clock))

    def sleep(self, seconds: float) -> None:
        """Wait on this fake's clock: a `ManualClock` is moved, the real clock is slept on."""
        if isinstance(self.clock, ManualClock):
            self.clock.advance(seconds)
        else:
            time.sleep(seconds)

    def t_s(self) -> float:
        """Seconds since this fake was created, on its clock."""
        return self.clock() - self._t0_s

    def _device(self, processor_handle: Any) -> _FakeDevice:
        if self.init_count <= 0:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)
        if not isinstance(processor_handle, _FakeDevice):
            raise AmdSmiParameterException(processor_handle)
        return processor_handle

    @staticmethod
    def _unsupported() -> AmdSmiLibraryException:
        return AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)

    # --- library and discovery ----------------------------------------------------------------------------

    def amdsmi_init(self, flag: AmdSmiInitFlags = AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
        failure = {"library_not_found": AMDSMI_STATUS_FAIL_LOAD_MODULE, "no_permission": AMDSMI_STATUS_NO_PERM,
                   "driver_not_loaded": AMDSMI_STATUS_DRIVER_NOT_LOADED}.get(self.script.init_error or "")
        if failure is not None:
            raise AmdSmiLibraryException(failure)
        self.init_count += 1

    def amdsmi_shut_down(self) -> None:
        if self.init_count <= 0:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)
        self.init_count -= 1

    def amdsmi_get_processor_handles(self) -> list[_FakeDevice]:
        if self.init_count <= 0:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)
        return list(self._devices)

    def amdsmi_get_lib_version(self) -> dict:
        major, minor, release = self.script.library_version
        return {"major": major, "minor": minor, "release": release, "build": f"{major}.{minor}.{release}"}

    def amdsmi_get_rocm_version(self) -> tuple[bool, str]:
        version = self.script.rocm_version
        return (True, version) if version else (False, "librocm-core.so not found")

    def amdsmi_get_gpu_driver_info(self, processor_handle: Any) -> dict:
        self._device(processor_handle)
        return {"driver_name": "amdgpu", "driver_version": self.script.driver_version,
                "driver_date": "2015/01/01 00:00"}

    # --- energy and power -------------------------------------------------------------------------------

    def amdsmi_get_energy_count(self, processor_handle: Any) -> dict:
        device = self._device(processor_handle)
        if not device.script.has_energy_counter or not device.reports_power:
            raise self._unsupported()
        t_s = self.t_s()
        return {"energy_accumulator": device.ticks(t_s), "counter_resolution": device.resolution_uj,
                "timestamp": int(t_s * 1e9)}

    def amdsmi_get_power_info(self, processor_handle: Any) -> dict:
        device = self._device(processor_handle)
        script = device.script
        watts = round(device.power.value(self.t_s()) * script.sampled_power_scale)
        current = watts if script.current_power_supported and device.reports_power else "N/A"
        average = watts if script.average_power_supported and device.reports_power else "N/A"
        return {"socket_power": current if current != "N/A" else average, "current_socket_power": current,
                "average_socket_power": average, "gfx_voltage": "N/A", "soc_voltage": "N/A", "mem_voltage": "N/A",
                "power_limit": round(device.power_cap.value(self.t_s()))}

    def amdsmi_get_power_cap_info(self, processor_handle: Any) -> dict:
        device = self._device(processor_handle)
        if not device.reports_power:
            raise self._unsupported()
        return {"power_cap": round(device.power_cap.value(self.t_s()) * 1e6),
                "default_power_cap": round(device.script.default_power_cap_w * 1e6), "dpm_cap": 0,
                "min_power_cap": 0, "max_power_cap": round(device.script.default_power_cap_w * 1e6)}

    # --- conditions ---------------------------------------------------------------------------------------

    def amdsmi_get_clock_info(self, processor_handle: Any, clock_type: AmdSmiClkType) -> dict:
        device = self._device(processor_handle)
        trace = device.gfx_clock if clock_type == AmdSmiClkType.GFX else device.memory_clock
        clk = int(trace.value(self.t_s()))
        return {"clk": clk, "min_clk": 0, "max_clk": clk, "clk_locked": False, "clk_deep_sleep": "N/A"}

    def amdsmi_get_temp_metric(self, processor_handle: Any, sensor_type: AmdSmiTemperatureType,
                               metric: AmdSmiTemperatureMetric) -> int:
        device = self._device(processor_handle)
        if sensor_type == AmdSmiTemperatureType.HOTSPOT and not device.script.hotspot_supported:
            raise self._unsupported()
        return int(device.temperature.value(self.t_s()))

    def amdsmi_get_gpu_activity(self, processor_handle: Any) -> dict:
        busy = int(self._device(processor_handle).utilization.value(self.t_s()))
        return {"gfx_activity": busy, "umc_activity": busy, "mm_activity": "N/A"}

    def amdsmi_get_gpu_metrics_info(self, processor_handle: Any) -> dict:
        device = self._device(processor_handle)
        t_s = self.t_s()
        metrics: dict[str, Any] = {"temperature_hotspot": int(device.temperature.value(t_s)),
                                   "current_socket_power": round(device.power.value(t_s)),
                                   "energy_accumulator": device.ticks(t_s), "throttle_status": "N/A",
                                   "indep_throttle_status": "N/A", "accumulation_counter": "N/A"}
        if device.throttle is not None:  # the real wrapper reports the bitmask as a yes/no
            metrics["indep_throttle_status"] = bool(int(device.throttle.value(t_s)))
        for key, trace in device.violations.items():
            metrics[key] = round(trace.integral(t_s) * 1000) if device.script.residency_supported else "N/A"
        if device.script.residency_supported:
            metrics["accumulation_counter"] = round(t_s * 1000)
        return metrics

    def amdsmi_get_gpu_process_list(self, processor_handle: Any) -> list[dict]:
        device = self._device(processor_handle)
        return [{"name": "N/A", "pid": p.pid, "mem": int(p.used_memory_mib * 2**20),
                 "engine_usage": {"gfx": 0, "enc": 0},
                 "memory_usage": {"gtt_mem": 0, "cpu_mem": 0, "vram_mem": int(p.used_memory_mib * 2**20)},
                 "cu_occupancy": "N/A"}
                for p in device.script.processes if p.running(self.t_s())]

    # --- identity, partitions and static facts -------------------------------------------------------------

    def amdsmi_get_gpu_asic_info(self, processor_handle: Any) -> dict:
        device = self._device(processor_handle)
        return {"market_name": device.script.name, "vendor_id": "0x1002", "vendor_name": "Advanced Micro Devices Inc.",
                "subvendor_id": "0x1002", "device_id": hex(device.script.device_id), "rev_id": "0x00",
                "asic_serial": f"0x{int(device.unique_id, 16):016X}", "oam_id": device.index,
                "num_compute_units": 304, "target_graphics_version": device.script.gfx_target,
                "subsystem_id": "0x74a1"}

    def amdsmi_get_gpu_device_uuid(self, processor_handle: Any) -> str:
        device = self._device(processor_handle)
        uid = device.unique_id  # amdsmi's form: <id byte 0>ff<device id>-0000-1000-80<id byte 1>-<id bytes 2..7>
        return f"{uid[:2]}ff{device.script.device_id:04x}-0000-1000-80{uid[2:4]}-{uid[4:]}"

    def amdsmi_get_gpu_device_bdf(self, processor_handle: Any) -> str:
        return self._device(processor_handle).bdf

    def amdsmi_get_gpu_kfd_info(self, processor_handle: Any) -> dict:
        device = self._device(processor_handle)
        return {"kfd_id": 1000 + device.index, "node_id": 2 + device.index,
                "current_partition_id": device.script.partition_id}

    def amdsmi_get_gpu_enumeration_info(self, processor_handle: Any) -> dict:
        device = self._device(processor_handle)
        if device.script.hip_id is None:
            raise self._unsupported()
        hip_id = device.index if device.script.hip_id < 0 else device.script.hip_id
        return {"drm_render": 128 + device.index, "drm_card": device.index, "hsa_id": 2 + device.index,
                "hip_id": hip_id, "hip_uuid": f"GPU-{device.unique_id}"}

    def amdsmi_get_gpu_compute_partition(self, processor_handle: Any) -> str:
        partition = self._device(processor_handle).script.compute_partition
        if partition is None:
            raise self._unsupported()
        return partition

    def amdsmi_get_gpu_memory_partition(self, processor_handle: Any) -> str:
        partition = self._device(processor_handle).script.memory_partition
        if partition is None:
            raise self._unsupported()
        return partition

    def amdsmi_get_gpu_memory_total(self, processor_handle: Any, mem_type: AmdSmiMemoryType) -> int:
        return int(self._device(processor_handle).script.memory_total_mib * 2**20)


def backend_from_environment() -> AmdSmiBackend | None:
    """The `fake-amdsmi` GPU backend (entry point `harness.gpu_backends`): amdsmi's real backend code over a
    `FakeAmdSmi` loaded from the script `HARNESS_FAKE_AMDSMI` names, initialised; None when the variable is unset.

    A bad script is one ConfigError line and a scripted `init_error` one MeasurementError line: both final, so
    a run asked to measure the fake never falls through to a real GPU.
    """
    script = os.environ.get(FAKE_AMDSMI_ENV)
    if not script:
        return None
    return open_amdsmi_backend(FakeAmdSmi.from_script(script))
