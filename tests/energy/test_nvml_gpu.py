"""Device access: unit conversion at the boundary, feature probing, and one-line errors."""

from __future__ import annotations

import json

import pynvml
import pytest

from harness.energy.nvml_gpu import (
    NvmlGpu,
    check_indices,
    init_nvml,
    load_nvml,
    nvml_indices_for_uuids,
    system_versions,
)
from harness.errors import ConfigError, MeasurementError, NotFoundError
from harness.results.schema import GpuInfo
from harness.testing.fake_nvml import FakeNvml, ManualClock


def gpu_for(script: dict, clock=None) -> NvmlGpu:
    return NvmlGpu(init_nvml(FakeNvml(script, clock=clock)), 0)


def test_units_are_converted_once():
    clock = ManualClock()
    gpu = gpu_for({"gpus": [{"power_w": 250, "power_limit_w": 650, "default_power_limit_w": 700,
                             "memory_total_mib": 1024}]}, clock)
    clock.advance(2.0)
    assert gpu.energy_counter_j() == pytest.approx(500.0)
    assert gpu.power_w() == pytest.approx(250.0)
    info = GpuInfo.model_validate(gpu.info())
    assert info.power_limit_enforced_w == 650 and info.power_limit_default_w == 700
    assert info.memory_total_mib == 1024 and info.compute_capability == "9.0"
    assert info.persistence_mode is True and info.mig_mode is False


def test_probing_finds_what_the_card_supports():
    full = gpu_for({})
    assert full.has_energy_counter and full.power_source == "instant"
    old = gpu_for({"gpus": [{"has_energy_counter": False, "power_instant_supported": False}]})
    assert not old.has_energy_counter and old.energy_counter_j() is None
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
    gpu = NvmlGpu(init_nvml(_OldDriver({"gpus": [{"clock_event_reasons": 0x20}]})), 0)
    assert gpu.clock_event_reasons() == 0x20
    assert gpu.power_source is None and gpu.power_w() is None


def test_counter_delta_handles_the_64_bit_wrap_but_not_a_reset():
    assert NvmlGpu.counter_delta_j(2**64 - 10_000, 5_000) == 15.0
    assert NvmlGpu.counter_delta_j(1_000_000, 400_000) == -600.0


def test_other_processes_exclude_our_own():
    clock = ManualClock()
    gpu = gpu_for({"gpus": [{"processes": [{"pid": 1}, {"pid": 2}]}]}, clock)
    assert gpu.other_process_pids(frozenset({1})) == [2]


def test_versions_as_strings():
    session = init_nvml(FakeNvml({"cuda_driver_version": 12020}))
    assert system_versions(session) == {"driver_version": "550.54.15", "nvml_version": "12.550.54.15",
                                        "cuda_driver_version": "12.2"}


def test_index_checks():
    session = init_nvml(FakeNvml({"gpus": [{}, {}]}))
    check_indices(session, [0, 1])
    with pytest.raises(NotFoundError, match=r"GPU 2 does not exist: NVML sees 2 GPU\(s\) \(indices 0..1\)"):
        check_indices(session, [2])
    with pytest.raises(NotFoundError, match="repeat"):
        check_indices(session, [1, 1])


@pytest.mark.parametrize(("error", "text"), [("library_not_found", "libnvidia-ml.so.1"),
                                              ("driver_not_loaded", "driver is not loaded")])
def test_init_failures_are_one_line(error, text):
    with pytest.raises(MeasurementError, match=text) as caught:
        init_nvml(FakeNvml({"init_error": error}))
    assert "\n" not in str(caught.value)


def test_load_nvml_from_the_environment(tmp_path, monkeypatch):
    script = tmp_path / "fake.json"
    script.write_text(json.dumps({"gpus": [{"name": "Fake NVIDIA A100"}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))
    assert isinstance(load_nvml(), FakeNvml)
    session = init_nvml()
    assert session.backend_name == "fake-nvml" and session.clock is session.nvml.clock
    session.shutdown()
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError):
        load_nvml()
    monkeypatch.delenv("HARNESS_FAKE_NVML")
    assert load_nvml() is pynvml
    explicit = FakeNvml()
    assert load_nvml(explicit) is explicit and init_nvml(explicit).backend_name == "fake-nvml"


def test_cuda_uuids_map_to_nvml_indices():
    fake = FakeNvml({"gpus": [{"name": "Fake A"}, {"name": "Fake B"}]})
    init_nvml(fake)
    uuids = [fake.nvmlDeviceGetUUID(fake.nvmlDeviceGetHandleByIndex(i)) for i in range(2)]
    fake.nvmlShutdown()
    # torch reports UUIDs without NVML's "GPU-" prefix; the order of the asked-for list is kept.
    bare = [uuid.removeprefix("GPU-") for uuid in reversed(uuids)]
    assert nvml_indices_for_uuids([*bare, "GPU-not-there", None], fake) == [1, 0, None, None]
    broken = FakeNvml({"init_error": "driver_not_loaded"})
    assert nvml_indices_for_uuids(bare, broken) == [None, None]
