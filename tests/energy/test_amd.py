"""The AMD backend through the meter, on the fake amdsmi: counter ticks x resolution, wraps, a counter that stands
still, missing fields, power cap, throttling, processes, partitions, and which card is which."""

from __future__ import annotations

import contextlib
import os

import pytest

from harness.energy import amd, backends, open_meter
from harness.energy.amd import AmdSmiBackend, open_amdsmi_backend, uuid_keys, visible_devices
from harness.errors import ConfigError, MeasurementError
from harness.results.schema import GpuInfo
from harness.testing.fake_amdsmi import FAKE_AMDSMI_ENV, FakeAmdSmi
from harness.testing.fake_nvml import FAKE_NVML_ENV
from harness.testing.traces import ManualClock


class DrivenAmd:
    """A meter on a scripted FakeAmdSmi reached through the backend table, its time moved by the test."""

    def __init__(self, script: dict, tmp_path, monkeypatch, *, indices=(0,), hz: float = 20.0, **options) -> None:
        self.clock = ManualClock()
        self.fake = FakeAmdSmi(script, clock=self.clock)
        self.hz = hz
        for name in (FAKE_NVML_ENV, FAKE_AMDSMI_ENV):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(backends, "GPU_BACKENDS", {"amdsmi": lambda: open_amdsmi_backend(self.fake)})
        self.meter = open_meter(list(indices), sample_hz=hz, background_sampling=False, sleep=self.run,
                                rapl_root=tmp_path / "no-powercap", **options)

    def run(self, seconds: float) -> None:
        left = seconds
        while left > 1e-12:
            step = min(1.0 / self.hz, left)
            self.clock.advance(step)
            self.meter.sample()
            left -= step

    def window(self, key: str, seconds: float):
        self.meter.begin(key)
        self.run(seconds)
        return self.meter.end(key)


@pytest.fixture
def driven(tmp_path, monkeypatch):
    made = []

    def make(script: dict, **options) -> DrivenAmd:
        made.append(DrivenAmd(script, tmp_path, monkeypatch, **options))
        return made[-1]

    yield make
    for item in made:
        item.meter.close()


def backend(script: dict | None = None, clock: ManualClock | None = None) -> AmdSmiBackend:
    return open_amdsmi_backend(FakeAmdSmi(script, clock=clock or ManualClock()))


TICK_J = 15.259e-6


def test_energy_is_counter_ticks_times_their_resolution_in_joules(driven):
    d = driven({"gpus": [{"power_w": 400, "counter_offset": 123_456_789}]})
    with d.meter as meter:
        reading = d.window("w", 5.0)
        environment = meter.environment()
    assert reading.gpu_method == "counter"
    assert reading.gpu_energy_j[0] == pytest.approx(2000.0, abs=2 * TICK_J)
    assert reading.gpu_sampled_energy_j[0] == pytest.approx(2000.0, rel=1e-6)
    assert reading.gpu_edge_error_j[0] == pytest.approx(0.1 * 2000.0 / 5.0)  # no documented period: NVML's 100 ms
    assert environment["meter_backend"] == "fake-amdsmi" and environment["driver_version"] == "6.10.5"
    assert environment["nvml_version"] is None and environment["cuda_driver_version"] is None
    info = GpuInfo.model_validate(environment["gpus"][0])
    assert (info.vendor, info.name, info.compute_capability) == ("amd", "Fake AMD Instinct MI300X", "gfx942")
    assert (info.rocm_version, info.partition_mode, info.mig_mode) == ("6.4.1", "SPX/NPS1", False)
    assert info.memory_total_mib == 196608 and info.serial == "0xFA4E000000000000" and info.persistence_mode is None


@pytest.mark.parametrize(("bits", "offset"), [(32, 2**32 - 1000), (64, 2**64 - 1000)])
def test_the_counter_is_unwrapped_across_its_width(driven, bits, offset):
    d = driven({"gpus": [{"power_w": 300, "counter_bits": bits, "counter_offset": offset}]})
    with d.meter:
        reading = d.window("w", 2.0)
    assert reading.gpu_method == "counter" and reading.gpu_energy_j[0] == pytest.approx(600.0, abs=2 * TICK_J)


def test_a_32_bit_counter_that_wraps_several_times_in_one_window_is_followed_by_the_samples(driven):
    # 700 W for 300 s is 210 kJ: more than three turns of a 32-bit counter of 15.259 µJ ticks (65.5 kJ each).
    d = driven({"gpus": [{"power_w": 700, "counter_bits": 32}]}, hz=2.0)
    with d.meter:
        reading = d.window("w", 300.0)
    assert reading.gpu_energy_j[0] == pytest.approx(210_000.0, abs=5 * TICK_J)


def test_a_counter_that_goes_back_is_a_reset_and_an_error(driven):
    d = driven({"gpus": [{"power_w": 300, "counter_offset": 5_000_000_000}]})
    with d.meter as meter:
        meter.begin("w")
        d.run(1.0)
        d.fake._devices[0].script.counter_offset = 0  # the driver reloaded: the count starts again
        with pytest.raises(MeasurementError, match="went backwards"):
            meter.end("w")


def test_a_counter_that_stands_still_falls_back_to_integrated_power_and_says_so(driven):
    d = driven({"gpus": [{"power_w": 250, "counter_stands_still": True}]})
    with d.meter as meter:
        reading = d.window("w", 4.0)
        warnings = meter.run_warnings()
        info = meter.environment()["gpus"][0]
    assert reading.gpu_method == "sampled" and reading.gpu_energy_j[0] == pytest.approx(1000.0, rel=1e-6)
    assert reading.gpu_edge_error_j is None and info["has_energy_counter"] is False
    (warning,) = [w for w in warnings if w.code == "no-energy-counter"]
    assert warning.message == ("GPU 0 (Fake AMD Instinct MI300X) has no energy counter: its energy is the integral "
                               "of sampled power")
    assert "did not move in 1 s" in backend({"gpus": [{"counter_stands_still": True}]}).open(0).counter_note


def test_a_counter_that_moves_only_every_so_often_is_not_taken_for_still():
    gpu = backend({"gpus": [{"counter_update_s": 0.2}]}).open(0)
    assert gpu.has_energy_counter and gpu.counter_note is None


def test_fields_a_card_does_not_report_are_none():
    gpu = backend({"gpus": [{"has_energy_counter": False, "current_power_supported": False,
                             "hotspot_supported": False, "compute_partition": None, "memory_partition": None,
                             "residency_supported": False, "temperature_c": 51}]}).open(0)
    assert (gpu.has_energy_counter, gpu.counter_note, gpu.energy_counter()) == (False, None, None)
    assert gpu.power_source == "average" and gpu.power_w() == 140.0
    assert gpu.temperature_c() == 51.0  # the edge sensor, where the hotspot is not reported
    assert gpu.throttle_reasons() is None
    info = gpu.info()
    assert (info["mig_mode"], info["partition_mode"]) == (None, None)
    bare = backend({"gpus": [{"current_power_supported": False, "average_power_supported": False}]}).open(0)
    assert bare.power_source is None and bare.power_w() is None


def test_the_power_cap_is_in_watts_and_a_lowered_one_is_a_condition(driven):
    d = driven({"gpus": [{"power_cap_w": 600, "default_power_cap_w": 750}]})
    with d.meter as meter:
        info = meter.environment()["gpus"][0]
        warnings = meter.run_warnings()
    assert (info["power_limit_enforced_w"], info["power_limit_default_w"]) == (600.0, 750.0)
    assert "power-limit-non-default" in [w.code for w in warnings]


def test_throttling_is_decoded_into_the_meters_warnings(driven):
    # PPT (the power cap) for the first second, socket thermal from 1 s to 2 s.
    d = driven({"gpus": [{"violations": [[0, 1], [1, 2], [2, 0]]}]})
    with d.meter:
        reading = d.window("w", 3.0)
    messages = sorted((w.severity, w.message) for w in reading.warnings if w.code == "throttling")
    assert messages == [("info", "GPU 0 reached its power limit in this window (software power cap)"),
                        ("warning", "GPU 0 clocks were held down in this window: thermal slowdown")]


def test_an_asic_independent_bitmask_is_decoded_by_group_and_a_bare_yes_no_says_nothing(monkeypatch):
    gpu = backend({"gpus": [{"residency_supported": False, "indep_throttle_status": 1}]}).open(0)
    assert gpu.throttle_reasons() is None  # the wrapper turned the bitmask into True: no reason in it
    older = {"indep_throttle_status": (1 << 0) | (1 << 36)}  # what older wrappers returned: PPT0 and hotspot
    monkeypatch.setattr(gpu.smi, "amdsmi_get_gpu_metrics_info", lambda processor_handle: older)
    mask = gpu.throttle_reasons()
    decoded = gpu.describe_throttle_reasons(mask)
    assert decoded.power_capped and decoded.slowdowns == ("thermal slowdown",)


def test_other_processes_are_listed_and_ours_are_not(driven):
    d = driven({"gpus": [{"processes": [{"pid": os.getpid()}, {"pid": 4242, "start_s": 1.0}]}]})
    with d.meter as meter:
        first = d.window("quiet", 0.5)
        d.run(1.0)
        second = d.window("busy", 0.5)
        warnings = meter.run_warnings()
    assert "contention" not in [w.code for w in first.warnings]
    assert [w.message for w in second.warnings if w.code == "contention"] == [
        "other processes [4242] ran on GPU 0 during this window: its energy is included"]
    assert "contention" in [w.code for w in warnings]


CPX = {"gpus": [{"bdf": "0000:0c:00.0", "partition_id": 0, "compute_partition": "CPX", "power_w": 500,
                 "unique_id": "1111111111111111"},
                {"bdf": "0000:0c:00.1", "partition_id": 1, "compute_partition": "CPX", "power_w": 0,
                 "unique_id": "1111111111111111", "processes": [{"pid": 777}]},
                {"bdf": "0000:1c:00.0", "unique_id": "2222222222222222"}]}


def test_a_partition_reads_its_cards_counter_and_says_the_card_is_split(driven):
    d = driven(CPX, indices=(1,))
    with d.meter as meter:
        reading = d.window("w", 2.0)
        info = meter.environment()["gpus"][1]
        codes = [w.code for w in meter.run_warnings()]
    assert reading.gpu_method == "counter" and reading.gpu_energy_j[1] == pytest.approx(1000.0, abs=2 * TICK_J)
    assert info["mig_mode"] is True and info["partition_mode"] == "CPX/NPS1" and info["has_energy_counter"]
    assert "mig-enabled" in codes and "contention" in codes  # PID 777 runs on the card, on its own partition


def test_two_partitions_of_one_card_are_never_measured_together(driven):
    with pytest.raises(ConfigError, match="GPUs 0 and 1 are partitions of one AMD card"):
        driven(CPX, indices=(0, 1))
    other = backend(CPX)
    other.check_indices([0, 2])  # two cards: fine


def test_uuids_match_in_torchs_rocm_form_and_amdsmis():
    b = backend(CPX)
    torch_rocm = bytes("2222222222222222", "ascii").hex()  # HIP's 16 bytes are the unique ID's ASCII
    torch_form = "-".join((torch_rocm[:8], torch_rocm[8:12], torch_rocm[12:16], torch_rocm[16:20], torch_rocm[20:]))
    assert torch_form == "32323232-3232-3232-3232-323232323232"
    found = b.indices_for_uuids([torch_form, "GPU-2222222222222222", "22ff74a1-0000-1000-8022-222222222222",
                                 "GPU-1111111111111111", "ffffffff-0000-0000-0000-000000000000", None])
    assert found == [2, 2, 2, 0, None, None]  # a unique ID two partitions share maps to the card's first partition


def test_uuid_keys_read_hips_ascii_form():
    assert "67c63ac3c3c637f9" in uuid_keys("36376336-3361-6333-6333-633633376639")
    assert uuid_keys("GPU-67C63AC3C3C637F9") == {"67c63ac3c3c637f9"}


@pytest.mark.parametrize(("variables", "expected"), [
    ({}, [0, 1, 2, 3]),
    ({"HIP_VISIBLE_DEVICES": "2,0"}, [2, 0]),
    ({"CUDA_VISIBLE_DEVICES": "3"}, [3]),
    ({"HIP_VISIBLE_DEVICES": "1", "CUDA_VISIBLE_DEVICES": "3"}, [1]),  # HIP's own variable wins
    ({"ROCR_VISIBLE_DEVICES": "1,3", "HIP_VISIBLE_DEVICES": "1"}, [3]),  # HIP picks among what ROCr left
    ({"ROCR_VISIBLE_DEVICES": "GPU-cccc000000000000,0"}, [2, 0]),
    ({"HIP_VISIBLE_DEVICES": "1,7,2"}, [1]),  # an entry that matches nothing ends the list
    ({"HIP_VISIBLE_DEVICES": "1,1"}, []),
    ({"HIP_VISIBLE_DEVICES": ""}, []),
])
def test_visible_devices_as_hip_applies_them(variables, expected):
    unique_ids = ["aaaa000000000000", "bbbb000000000000", "cccc000000000000", "dddd000000000000"]
    assert visible_devices(variables, 4, unique_ids) == expected


def test_cuda_n_maps_through_the_visible_devices_and_hips_numbering(monkeypatch):
    # amdsmi lists the cards in PCI order; HIP numbers them otherwise (hip_id), as on some MI350X nodes.
    b = backend({"gpus": [{"hip_id": 1}, {"hip_id": 0}, {"hip_id": 2}]})
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("ROCR_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "2,0")
    assert [b.index_for_visible_device(n) for n in (0, 1, 2)] == [2, 1, None]
    older = backend({"gpus": [{"hip_id": None}, {"hip_id": None}]})  # no enumeration info: KFD node order
    assert older.hip_order() == [0, 1]


def test_index_translation_falls_back_to_the_device_where_no_uuid_matches(monkeypatch):
    for name in (FAKE_NVML_ENV, FAKE_AMDSMI_ENV, "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    fake = FakeAmdSmi({"gpus": [{}, {}]}, clock=ManualClock())
    monkeypatch.setattr(backends, "GPU_BACKENDS", {"amdsmi": lambda: open_amdsmi_backend(fake)})
    assert backends.gpu_indices_for_uuids(["GPU-fa4e000000000000", None], devices=[5, 0]) == [0, 1]
    assert backends.gpu_indices_for_uuids([None]) == [None]


@pytest.mark.parametrize(("init_error", "message"), [
    ("driver_not_loaded", "the amdgpu driver is not loaded"),
    ("no_permission", "no permission to use amdsmi"),
    ("library_not_found", "amdsmi could not load its library"),
])
def test_init_failures_are_one_line(init_error, message):
    with pytest.raises(MeasurementError, match=f"^cannot measure the GPU: {message}") as caught:
        open_amdsmi_backend(FakeAmdSmi({"init_error": init_error}))
    assert "\n" not in str(caught.value)


def test_no_amd_gpu_is_one_line_and_shuts_amdsmi_down():
    fake = FakeAmdSmi({"gpus": []})
    with pytest.raises(MeasurementError, match="amdsmi sees no AMD GPU"):
        open_amdsmi_backend(fake)
    assert fake.init_count == 0


def test_a_missing_or_broken_amdsmi_package_is_one_line(monkeypatch):
    def missing():
        raise ModuleNotFoundError("No module named 'amdsmi'", name="amdsmi")

    def no_rocm():
        raise KeyError("libamd_smi.so")  # what amdsmi raises when ROCm's library is not there

    monkeypatch.setattr(amd, "_import_amdsmi", missing)
    with pytest.raises(MeasurementError, match="the amdsmi package is not installed .pip install amdsmi"):
        open_amdsmi_backend()
    monkeypatch.setattr(amd, "_import_amdsmi", no_rocm)
    with pytest.raises(MeasurementError, match="cannot load ROCm's libamd_smi.so .KeyError"):
        open_amdsmi_backend()


def test_importing_the_real_package_here_prints_nothing(capsys):
    with contextlib.suppress(MeasurementError):  # here: amdsmi is installed, ROCm's library is not
        amd.load_amdsmi()
    assert capsys.readouterr().out == ""  # amdsmi prints when it cannot find its library: not into our output


def test_versions_and_summary():
    b = backend({"rocm_version": None, "library_version": [24, 7, 1]})
    assert b.system_versions() == {"driver_version": "6.10.5", "nvml_version": None, "cuda_driver_version": None}
    assert b.summary() == "AMD driver 6.10.5, ROCm ?, amdsmi 24.7.1"
    assert b.open(0).info()["rocm_version"] is None
