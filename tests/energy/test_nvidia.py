"""The NVML backend: unit conversion at the boundary, feature probing, decoded throttle bits, one-line errors."""

from __future__ import annotations

import pynvml
import pytest

from harness.energy.gpu import Gpu, GpuBackend, ThrottleReasons
from harness.energy.nvidia import NvmlBackend, NvmlGpu, load_nvml, open_nvml_backend
from harness.errors import MeasurementError, NotFoundError
from harness.kinds import COUNTER_UPDATE_PERIOD_S
from harness.results.schema import GpuInfo
from harness.testing.fake_nvml import FakeNvml, ManualClock


def gpu_for(script: dict, clock=None) -> NvmlGpu:
    return open_nvml_backend(FakeNvml(script, clock=clock)).open(0)


def test_nvml_implements_the_device_interface():
    backend = open_nvml_backend(FakeNvml())
    assert isinstance(backend, GpuBackend) and isinstance(backend.open(0), Gpu)
    assert backend.name == "fake-nvml" and backend.clock is backend.nvml.clock
    backend.shutdown()


def test_units_are_converted_once():
    clock = ManualClock()
    gpu = gpu_for({"gpus": [{"power_w": 250, "power_limit_w": 650, "default_power_limit_w": 700,
                             "memory_total_mib": 1024}]}, clock)
    clock.advance(2.0)
    assert gpu.energy_counter_j() == pytest.approx(500.0)
    assert gpu.power_w() == pytest.approx(250.0)
    assert gpu.power_limit_enforced_w() == pytest.approx(650.0)
    info = GpuInfo.model_validate(gpu.info())
    assert info.power_limit_enforced_w == 650 and info.power_limit_default_w == 700
    assert info.memory_total_mib == 1024 and info.compute_capability == "9.0"
    assert info.persistence_mode is True and info.mig_mode is False


def test_conditions_in_their_units():
    gpu = gpu_for({"gpus": [{"sm_clock_mhz": 1410, "memory_clock_mhz": 1593, "temperature_c": 61,
                             "utilization_pct": 97}]})
    assert (gpu.sm_clock_mhz(), gpu.memory_clock_mhz(), gpu.temperature_c(), gpu.utilization_pct()) == (
        1410, 1593, 61, 97)


def test_probing_finds_what_the_card_supports():
    full = gpu_for({})
    assert full.has_energy_counter and full.power_source == "instant"
    assert full.counter_update_period_s == COUNTER_UPDATE_PERIOD_S
    old = gpu_for({"gpus": [{"has_energy_counter": False, "power_instant_supported": False}]})
    assert not old.has_energy_counter and old.energy_counter() is None and old.energy_counter_j() is None
    assert old.counter_update_period_s is None
    assert old.power_source == "average"


class _OldDriver(FakeNvml):
    """A driver from before clock 'event' reasons and the field-values API."""

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)

    def nvmlDeviceGetFieldValues(self, handle, fieldIds):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def nvmlDeviceGetPowerUsage(self, handle):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)


def test_old_driver_falls_back_to_throttle_reasons_and_reports_no_power():
    gpu = open_nvml_backend(_OldDriver({"gpus": [{"clock_event_reasons": 0x20}]})).open(0)
    assert gpu.throttle_reasons() == 0x20
    assert gpu.power_source is None and gpu.power_w() is None


def test_throttle_bits_are_decoded_by_the_card():
    gpu = gpu_for({})
    assert gpu.describe_throttle_reasons(0) == ThrottleReasons()
    assert gpu.describe_throttle_reasons(0x1) == ThrottleReasons()  # GPU idle: not a slowdown
    assert gpu.describe_throttle_reasons(0x4 | 0x40 | 0x8) == ThrottleReasons(
        slowdowns=("hardware slowdown", "hardware thermal slowdown"), power_capped=True)
    assert gpu.describe_throttle_reasons(pynvml.nvmlClocksEventReasonSwThermalSlowdown).slowdowns == (
        "software thermal slowdown",)


def test_counter_delta_handles_the_64_bit_wrap_but_not_a_reset():
    gpu = gpu_for({})
    assert gpu.counter_delta_j(2**64 - 10_000, 5_000) == 15.0
    assert gpu.counter_delta_j(1_000_000, 400_000) == -600.0


def test_other_processes_exclude_our_own():
    clock = ManualClock()
    gpu = gpu_for({"gpus": [{"processes": [{"pid": 1}, {"pid": 2}]}]}, clock)
    assert gpu.other_process_pids(frozenset({1})) == [2]
    assert gpu.other_process_pids(frozenset({1, 2})) == []


def test_versions_as_strings():
    backend = open_nvml_backend(FakeNvml({"cuda_driver_version": 12020}))
    assert backend.system_versions() == {"driver_version": "550.54.15", "nvml_version": "12.550.54.15",
                                         "cuda_driver_version": "12.2"}


def test_index_checks():
    backend = open_nvml_backend(FakeNvml({"gpus": [{}, {}]}))
    backend.check_indices([0, 1])
    with pytest.raises(NotFoundError, match=r"GPU 2 does not exist: NVML sees 2 GPU\(s\) \(indices 0..1\)"):
        backend.check_indices([2])
    with pytest.raises(NotFoundError, match=r"repeat: \[1, 1\]"):
        backend.check_indices([1, 1])
    with pytest.raises(NotFoundError, match="^no NVIDIA GPU is visible to NVML on this machine$"):
        open_nvml_backend(FakeNvml({"gpus": []})).check_indices([0])


@pytest.mark.parametrize(("error", "text"), [("library_not_found", "libnvidia-ml.so.1"),
                                              ("driver_not_loaded", "driver is not loaded")])
def test_init_failures_are_one_line(error, text):
    with pytest.raises(MeasurementError, match=text) as caught:
        open_nvml_backend(FakeNvml({"init_error": error}))
    assert "\n" not in str(caught.value)


def test_load_nvml_is_the_explicit_object_or_pynvml(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(tmp_path / "ignored-here.json"))  # the table's business, not NVML's
    assert load_nvml() is pynvml
    explicit = FakeNvml()
    assert load_nvml(explicit) is explicit and open_nvml_backend(explicit).name == "fake-nvml"
    assert NvmlBackend(pynvml).name == "nvml"


def test_cuda_uuids_map_to_nvml_indices():
    fake = FakeNvml({"gpus": [{"name": "Fake A"}, {"name": "Fake B"}]})
    backend = open_nvml_backend(fake)
    uuids = [fake.nvmlDeviceGetUUID(fake.nvmlDeviceGetHandleByIndex(i)) for i in range(2)]
    # torch reports UUIDs without NVML's "GPU-" prefix; the order of the asked-for list is kept.
    bare = [uuid.removeprefix("GPU-") for uuid in reversed(uuids)]
    assert backend.indices_for_uuids([*bare, "GPU-not-there", None]) == [1, 0, None, None]
    backend.shutdown()
    assert backend.indices_for_uuids(bare) == [None, None]  # NVML trouble (shut down) is not an error
