"""The meter's numbers against the fake NVML's script: energy, idle subtraction, flags, wraparound, contention."""

from __future__ import annotations

import json
import time

import pytest

from harness.energy import open_meter
from harness.errors import ConfigError, MeasurementError, NotFoundError
from harness.provenance import host_facts
from harness.results.schema import Environment, IdleBaseline, Reading, Timeline
from harness.testing.fake_nvml import FakeNvml, ManualClock

STEP = {"gpus": [{"power_w": [[0, 80], [5, 300]]}]}


def codes(warnings) -> list[str]:
    return [w.code for w in warnings]


def test_counter_energy_is_the_integral_of_the_trace(driven):
    d = driven(STEP)
    with d.meter as meter:
        d.run(1.0)
        reading = d.window("w", 8.0)  # t = 1..9: 4 s at 80 W, 4 s at 300 W
    assert reading.gpu_method == "counter"
    assert reading.duration_s == pytest.approx(8.0)
    assert reading.gpu_energy_j[0] == pytest.approx(80 * 4 + 300 * 4, abs=1e-3)
    # the sampled cross-check at 20 Hz sees the step within one sample period
    assert reading.gpu_sampled_energy_j[0] == pytest.approx(1520, rel=0.01)
    assert "counter-sample-disagreement" not in codes(reading.warnings)
    assert reading.gpu_mean_power_w == pytest.approx(190.0)
    assert meter.backend_name == "fake-nvml"


def test_idle_baseline_is_subtracted_per_window(driven):
    d = driven({"gpus": [{"power_w": [[0, 80], [2, 300]]}]})
    with d.meter as meter:
        idle = meter.measure_idle(2.0)
        reading = d.window("w", 4.0)
    assert idle.method == "counter"
    assert idle.duration_s == pytest.approx(2.0)
    assert idle.gpu_power_w[0] == pytest.approx(80.0)
    assert reading.gpu_energy_j[0] == pytest.approx(1200.0, abs=1e-3)
    assert reading.gpu_idle_energy_j[0] == pytest.approx(320.0)
    assert reading.gpu_energy_above_idle_j == pytest.approx(880.0, abs=1e-3)
    assert idle.cpu_power_w is not None and idle.cpu_power_w >= 0  # estimated: this process's CPU time, ~0 idle


@pytest.mark.parametrize(("scale", "flagged"), [(1.2, True), (0.9, True), (1.03, False)])
def test_counter_and_samples_disagreeing_by_more_than_5_percent_is_flagged(driven, scale, flagged):
    d = driven({"gpus": [{"power_w": 200, "instant_power_scale": scale}]})
    with d.meter:
        reading = d.window("w", 3.0)
    assert reading.gpu_energy_j[0] == pytest.approx(600.0, abs=1e-3)  # the counter stays the energy
    assert reading.gpu_sampled_energy_j[0] == pytest.approx(600.0 * scale, rel=1e-6)
    assert ("counter-sample-disagreement" in codes(reading.warnings)) is flagged
    if flagged:
        warning = next(w for w in reading.warnings if w.code == "counter-sample-disagreement")
        assert f"{(scale - 1) * 100:+.1f} %" in warning.message
        assert warning.gpu_index == 0


def test_card_without_counter_uses_sampled_power_and_says_so(driven):
    d = driven({"gpus": [{"name": "Fake NVIDIA P100", "power_w": [[0, 100], [1, 250]],
                          "has_energy_counter": False}]})
    with d.meter as meter:
        reading = d.window("w", 3.0)
        warnings = meter.run_warnings()
        environment = meter.environment()
    assert reading.gpu_method == "sampled"
    assert reading.gpu_energy_j[0] == pytest.approx(100 + 500, rel=0.02)
    assert "no-energy-counter" in codes(warnings)
    assert environment["gpus"][0]["has_energy_counter"] is False


def test_card_without_instant_power_falls_back_to_average_power_for_samples(driven):
    d = driven({"gpus": [{"power_w": 150, "power_instant_supported": False}]})
    with d.meter as meter:
        reading = d.window("w", 2.0)
        warnings = meter.run_warnings()
    assert reading.gpu_method == "counter"
    assert reading.gpu_sampled_energy_j[0] == pytest.approx(300.0)
    assert "power-average-only" in codes(warnings)


def test_counter_wraparound_at_64_bits(driven):
    d = driven({"gpus": [{"power_w": 80, "counter_offset_mj": 2**64 - 50_000}]})  # wraps 50 J in
    with d.meter:
        reading = d.window("w", 2.0)
    assert reading.gpu_energy_j[0] == pytest.approx(160.0, abs=1e-3)


def test_counter_going_backwards_is_an_error(driven):
    d = driven({"gpus": [{"power_w": 80, "counter_offset_mj": 10_000_000}]})
    with d.meter as meter:
        meter.begin("w")
        d.run(1.0)
        d.fake._gpus[0].script.counter_offset_mj = 0  # as if the driver reloaded
        with pytest.raises(MeasurementError, match="went backwards"):
            meter.end("w")


def test_zero_energy_over_a_long_window_is_an_error(driven):
    d = driven({"gpus": [{"power_w": 0}]})
    with d.meter as meter:
        meter.begin("w")
        d.run(1.0)
        with pytest.raises(MeasurementError, match="did not move"):
            meter.end("w")


def test_short_window_is_warned_and_uses_samples_when_the_counter_did_not_move(driven):
    d = driven({"gpus": [{"power_w": 80, "counter_update_s": 0.1}]}, hz=100)
    with d.meter:
        d.run(0.51)
        still = d.window("still", 0.03)   # 0.51..0.54: the counter does not update in between
    assert "short-window" in codes(still.warnings)
    assert still.gpu_method == "sampled"
    assert still.gpu_energy_j[0] == pytest.approx(80 * 0.03, rel=1e-6)


def test_short_window_where_the_counter_moved_keeps_the_counter(driven):
    d = driven({"gpus": [{"power_w": 80, "counter_update_s": 0.1}]}, hz=100)
    with d.meter:
        d.run(0.08)
        reading = d.window("w", 0.04)   # crosses the 0.1 s update: counter moves by 80 W x 0.1 s
    assert reading.gpu_method == "counter"
    assert reading.gpu_energy_j[0] == pytest.approx(8.0, abs=1e-3)
    assert "short-window" in codes(reading.warnings)


def test_other_processes_on_the_gpu_are_recorded_and_warned(driven):
    d = driven({"gpus": [{"power_w": 100, "processes": [{"pid": 4242, "start_s": 2.0, "end_s": 4.0}]}]})
    with d.meter as meter:
        clean = d.window("clean", 1.5)
        busy = d.window("busy", 4.0)
        warnings = meter.run_warnings()
    assert "contention" not in codes(clean.warnings)
    [warning] = [w for w in busy.warnings if w.code == "contention"]
    assert "4242" in warning.message and warning.gpu_index == 0
    [run_warning] = [w for w in warnings if w.code == "contention"]
    assert "during" in run_warning.message


def test_strict_mode_refuses_contention_during_a_window(driven):
    d = driven({"gpus": [{"power_w": 100, "processes": [{"pid": 4242, "start_s": 1.0, "end_s": 2.0}]}]},
               strict=True)
    with d.meter as meter:
        meter.begin("w")
        d.run(3.0)
        with pytest.raises(MeasurementError, match="strict mode.*4242"):
            meter.end("w")


def test_strict_mode_refuses_to_start_with_contention_and_releases_nvml(driven):
    d = driven({"gpus": [{"power_w": 100, "processes": [{"pid": 4242}]}]}, strict=True)
    with pytest.raises(MeasurementError, match="strict mode"), d.meter:
        pass
    assert d.fake.init_count == 0


def test_own_process_is_not_contention(driven):
    import os

    d = driven({"gpus": [{"power_w": 100, "processes": [{"pid": os.getpid()}]}]}, strict=True)
    with d.meter:
        reading = d.window("w", 1.0)
    assert "contention" not in codes(reading.warnings)


def test_throttling_reasons_are_reported(driven):
    d = driven({"gpus": [{"power_w": 300, "clock_event_reasons": [[0, 0], [2, 0x40], [3, 0x4]]}]})
    with d.meter as meter:
        calm = d.window("calm", 1.5)
        hot = d.window("hot", 2.0)
        warnings = meter.run_warnings()
    assert "throttling" not in codes(calm.warnings)
    messages = {w.severity: w.message for w in hot.warnings if w.code == "throttling"}
    assert "hardware thermal slowdown" in messages["warning"]
    assert "power limit" in messages["info"]
    assert "throttling" in codes(warnings)


def test_power_limit_change_is_a_run_warning(driven):
    d = driven({"gpus": [{"power_w": 300, "power_limit_w": [[0, 700], [2, 500]]}]})
    with d.meter as meter:
        d.window("w", 4.0)
        [warning] = [w for w in meter.run_warnings() if w.code == "power-limit-changed"]
    assert "700 W to 500 W" in warning.message


def test_several_windows_at_once_and_key_misuse(driven):
    d = driven(STEP)
    with d.meter as meter:
        meter.begin("total")
        d.run(2.0)
        part = d.window("part", 4.0)  # t = 2..6
        d.run(1.0)
        total = meter.end("total")    # t = 0..7
        with pytest.raises(ValueError, match="not open"):
            meter.end("total")
        meter.begin("again")
        with pytest.raises(ValueError, match="already open"):
            meter.begin("again")
    assert part.gpu_energy_j[0] == pytest.approx(80 * 3 + 300, abs=1e-3)
    assert total.gpu_energy_j[0] == pytest.approx(80 * 5 + 300 * 2, abs=1e-3)


def test_several_gpus_and_mixed_methods(driven):
    d = driven({"gpus": [{"power_w": 100}, {"power_w": 200}, {"power_w": 50, "has_energy_counter": False}]},
               indices=(0, 2))
    with d.meter as meter:
        reading = d.window("w", 2.0)
        environment = meter.environment()
    assert dict(reading.gpu_energy_j) == pytest.approx({0: 200.0, 2: 100.0})
    assert reading.gpu_method == "sampled"  # one GPU had no counter: the weaker method is the reading's
    assert environment["measured_gpu_indices"] == [0, 2]
    assert [g["index"] for g in environment["gpus"]] == [0, 1, 2]


def test_outputs_validate_against_the_result_schema(driven):
    since = time.time()
    d = driven({"gpus": [{"power_w": [[0, 80], [3, 300]], "mig_mode": True, "power_limit_w": 600}]})
    with d.meter as meter:
        idle = meter.measure_idle(1.0)
        reading = d.window("w", 4.0)
        environment = Environment.model_validate({**meter.environment(), **host_facts()})
        timelines = [Timeline.model_validate(t) for t in meter.timeline(since, max_points=10)]
        warnings = codes(meter.run_warnings())
    IdleBaseline.model_validate(idle.as_dict())
    Reading.model_validate(reading.as_dict())
    json.dumps(reading.as_dict(), allow_nan=False)
    assert environment.meter_backend == "fake-nvml"
    assert environment.gpus[0].name.startswith("Fake NVIDIA")
    assert environment.gpus[0].power_limit_enforced_w == 600
    assert environment.cuda_driver_version == "12.4"
    [timeline] = timelines
    assert len(timeline.t_s) <= 10 and len(timeline.power_w) == len(timeline.t_s)
    assert timeline.t_s == sorted(timeline.t_s) and timeline.t_s[0] >= 0
    assert min(timeline.power_w) >= 80 and max(timeline.power_w) <= 300
    assert {"mig-enabled", "power-limit-non-default"} <= set(warnings)


def test_timeline_without_downsampling_keeps_every_sample(driven):
    since = time.time()
    d = driven({"gpus": [{"power_w": [[0, 80], [1, 300]]}]}, hz=10)
    with d.meter as meter:
        d.run(2.0)
        [timeline] = meter.timeline(since)
    assert len(timeline["t_s"]) == 21  # the sample at entry, then 20 at 10 Hz
    assert timeline["power_w"][:10] == [80.0] * 10 and timeline["power_w"][-1] == 300.0


def test_live_power_follows_the_trace(driven):
    d = driven(STEP)
    with d.meter as meter:
        d.run(6.0)
        assert meter.live_power_w() == pytest.approx(300.0)


def test_host_only_meter(tmp_path):
    with open_meter([], rapl_root=tmp_path) as meter:
        meter.begin("w")
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:  # busy: the estimate charges this process's CPU seconds
            pass
        reading = meter.end("w")
        environment = Environment.model_validate({**meter.environment(), **host_facts()})
        idle = meter.measure_idle(0.05)
    assert meter.backend_name == "none" and meter.gpu_indices == ()
    assert reading.gpu_method == "none" and dict(reading.gpu_energy_j) == {}
    assert reading.cpu_method == "estimated" and reading.cpu_energy_j > 0
    assert reading.ram_method == "estimated" and reading.ram_energy_j > 0
    assert "short-window" not in codes(reading.warnings)
    assert environment.meter_backend == "none" and environment.gpus == []
    assert idle.method == "none" and idle.gpu_power_w == {}
    IdleBaseline.model_validate(idle.as_dict())


def test_background_sampler_with_a_script_from_the_environment(tmp_path, monkeypatch):
    script = tmp_path / "fake.json"
    script.write_text(json.dumps({"gpus": [{"power_w": 100}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))
    with open_meter([0], sample_hz=50, rapl_root=tmp_path) as meter:
        meter.begin("w")
        time.sleep(0.5)
        reading = meter.end("w")
    assert meter.backend_name == "fake-nvml"
    assert reading.gpu_energy_j[0] == pytest.approx(100 * reading.duration_s, rel=1e-3)
    assert reading.gpu_sampled_energy_j[0] == pytest.approx(reading.gpu_energy_j[0], rel=0.01)


def test_open_meter_errors_are_one_line(tmp_path):
    with pytest.raises(NotFoundError, match=r"GPU 3 does not exist: NVML sees 1 GPU\(s\) \(index 0\)"):
        open_meter([3], nvml=FakeNvml(), rapl_root=tmp_path)
    with pytest.raises(MeasurementError, match="driver is not loaded"):
        open_meter([0], nvml=FakeNvml({"init_error": "driver_not_loaded"}), rapl_root=tmp_path)
    with pytest.raises(NotFoundError, match="no NVIDIA GPU"):
        open_meter([0], nvml=FakeNvml({"gpus": []}), rapl_root=tmp_path)
    with pytest.raises(ConfigError, match="sample rate"):
        open_meter([0], nvml=FakeNvml(), sample_hz=0)


def test_no_nvml_library_is_one_clear_error(tmp_path, monkeypatch):
    import pynvml

    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has a working NVML")
    with pytest.raises(MeasurementError) as caught:
        open_meter([0], rapl_root=tmp_path)
    assert "\n" not in str(caught.value) and "cannot measure the GPU" in str(caught.value)


def test_meter_must_be_entered(driven):
    d = driven(STEP)
    with pytest.raises(RuntimeError, match="with open_meter"):
        d.meter.begin("w")


def test_manual_clock_is_the_fake_clock_by_default(tmp_path):
    clock = ManualClock()
    fake = FakeNvml({"gpus": [{"power_w": 50}]}, clock=clock)
    meter = open_meter([0], nvml=fake, background_sampling=False, rapl_root=tmp_path)
    with meter:
        meter.begin("w")
        clock.advance(2.0)
        reading = meter.end("w")
    assert reading.duration_s == 2.0 and reading.gpu_energy_j[0] == pytest.approx(100.0)


def test_averaged_power_samples_cross_check_only_long_windows(driven):
    d = driven({"gpus": [{"power_w": 200, "power_instant_supported": False, "instant_power_scale": 1.2}]}, hz=10)
    with d.meter:
        short = d.window("short", 3.0)
        long = d.window("long", 12.0)
    assert "counter-sample-disagreement" not in codes(short.warnings)
    assert "counter-sample-disagreement" in codes(long.warnings)


class _FakeCuda:
    def __init__(self, initialised: bool) -> None:
        self.initialised = initialised
        self.synchronized: list[int] = []

    def is_available(self) -> bool:
        return True

    def is_initialized(self) -> bool:
        return self.initialised

    def device_count(self) -> int:
        return 2

    def synchronize(self, device: int) -> None:
        self.synchronized.append(device)


@pytest.mark.parametrize("initialised", [True, False])
def test_window_edges_synchronise_every_cuda_device_once_cuda_is_initialised(driven, monkeypatch, initialised):
    import sys
    import types

    cuda = _FakeCuda(initialised)
    d = driven(STEP)
    with d.meter:
        monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
        d.window("w", 1.0)
    assert cuda.synchronized == ([0, 1, 0, 1] if initialised else [])


def test_a_long_run_keeps_at_most_the_result_cap_of_points_rounded_as_documented(driven):
    from harness.energy.meter import RESULT_TIMELINE_MAX_POINTS, TIMELINE_DECIMALS

    since = time.time()
    d = driven({"gpus": [{"power_w": [[0, 80.123456], [20, 312.987654]]}]}, hz=50)
    with d.meter as meter:
        d.run(RESULT_TIMELINE_MAX_POINTS / 50 * 2.5)  # 2.5x as many samples as the cap
        [timeline] = meter.timeline(since)
    assert RESULT_TIMELINE_MAX_POINTS // 2 < len(timeline["t_s"]) <= RESULT_TIMELINE_MAX_POINTS
    for name, places in TIMELINE_DECIMALS.items():
        assert all(v is None or round(v, places) == v for v in timeline[name]), name


def test_a_window_edge_read_interrupted_between_clock_and_counter_is_read_again(driven):
    """A thread switch (or a host that takes the CPU away) between reading the clock and the counter would give
    the counter a later time than the window's edge: the edge is read again until both sit together."""
    d = driven({"gpus": [{"power_w": 200.0}]})
    counter = d.fake.nvmlDeviceGetTotalEnergyConsumption
    armed, interrupted = [], []

    def late_counter(handle):
        if armed and not interrupted:  # the first read of the closing edge comes 50 ms late
            interrupted.append(True)
            d.clock.advance(0.05)
        return counter(handle)

    d.fake.nvmlDeviceGetTotalEnergyConsumption = late_counter
    with d.meter as meter:
        meter.begin("w")
        d.run(1.0)
        armed.append(True)
        reading = meter.end("w")
    assert interrupted
    assert reading.duration_s == pytest.approx(1.05)
    assert reading.gpu_energy_j[0] / reading.duration_s == pytest.approx(200.0, rel=1e-6)
