"""The fake behaves like pynvml where the backend relies on it, and follows its script exactly."""

from __future__ import annotations

import inspect
import json

import pynvml
import pytest

from harness.errors import ConfigError
from harness.testing.fake_nvml import FakeNvml, ManualClock, Trace


def test_every_fake_function_exists_in_pynvml_with_the_same_parameters():
    names = [name for name in dir(FakeNvml) if name.startswith("nvml") and callable(getattr(FakeNvml, name))
             and not name.startswith(("nvmlClocks",))]
    assert len(names) >= 20
    for name in names:
        real = getattr(pynvml, name)
        fake_params = list(inspect.signature(getattr(FakeNvml(), name)).parameters)
        real_params = list(inspect.signature(real).parameters)
        assert fake_params == real_params, name


def test_constants_and_errors_are_pynvml_s_own():
    fake = FakeNvml()
    assert fake.NVML_FI_DEV_POWER_INSTANT == pynvml.NVML_FI_DEV_POWER_INSTANT
    assert fake.NVMLError is pynvml.NVMLError
    assert fake.NVMLError_NotSupported is pynvml.NVMLError_NotSupported
    assert fake.nvmlClocksEventReasonHwThermalSlowdown == 0x40


def test_trace_is_a_step_function_with_its_exact_integral():
    trace = Trace([[2, 300], [0, 80], [5, 100]])
    assert [trace.value(t) for t in (0, 1.99, 2, 4.9, 5, 100)] == [80, 80, 300, 300, 100, 100]
    assert trace.integral(2) == pytest.approx(160)
    assert trace.integral(6) == pytest.approx(160 + 900 + 100)
    assert Trace(42).integral(3) == pytest.approx(126)
    assert Trace([[1, 10]]).value(0) == 10  # the first value also holds before its time


def test_counter_follows_the_trace_in_millijoules():
    clock = ManualClock()
    fake = FakeNvml({"gpus": [{"power_w": [[0, 80], [1, 300]], "counter_offset_mj": 7}]}, clock=clock)
    fake.nvmlInit()
    handle = fake.nvmlDeviceGetHandleByIndex(0)
    assert fake.nvmlDeviceGetTotalEnergyConsumption(handle) == 7
    clock.advance(2.0)
    assert fake.nvmlDeviceGetTotalEnergyConsumption(handle) == 7 + 380_000
    [field] = fake.nvmlDeviceGetFieldValues(handle, [pynvml.NVML_FI_DEV_POWER_INSTANT])
    assert field.nvmlReturn == pynvml.NVML_SUCCESS and field.value.uiVal == 300_000
    assert fake.nvmlDeviceGetPowerUsage(handle) == 300_000


def test_unsupported_features_raise_like_an_old_card():
    fake = FakeNvml({"gpus": [{"has_energy_counter": False, "power_instant_supported": False}]})
    fake.nvmlInit()
    handle = fake.nvmlDeviceGetHandleByIndex(0)
    with pytest.raises(pynvml.NVMLError_NotSupported):
        fake.nvmlDeviceGetTotalEnergyConsumption(handle)
    [field] = fake.nvmlDeviceGetFieldValues(handle, [pynvml.NVML_FI_DEV_POWER_INSTANT])
    assert field.nvmlReturn == pynvml.NVML_ERROR_NOT_SUPPORTED
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        fake.nvmlDeviceGetHandleByIndex(1)


def test_calls_before_init_fail_and_init_errors_are_scripted():
    fake = FakeNvml()
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        fake.nvmlDeviceGetCount()
    with pytest.raises(pynvml.NVMLError_LibraryNotFound):
        FakeNvml({"init_error": "library_not_found"}).nvmlInit()


def test_processes_appear_and_leave_on_time():
    clock = ManualClock()
    fake = FakeNvml({"gpus": [{"processes": [{"pid": 11, "start_s": 1, "end_s": 2}]}]}, clock=clock)
    fake.nvmlInit()
    handle = fake.nvmlDeviceGetHandleByIndex(0)
    seen = []
    for _ in range(3):
        seen.append([p.pid for p in fake.nvmlDeviceGetComputeRunningProcesses(handle)])
        clock.advance(1.0)
    assert seen == [[], [11], []]


def test_script_file_errors_are_one_config_error_line(tmp_path):
    with pytest.raises(ConfigError, match="fake NVML script .*missing.json: no such file"):
        FakeNvml.from_script(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="fake NVML script .*: not valid JSON"):
        FakeNvml.from_script(bad)
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"gpus": [{"powr_w": 80}]}))
    with pytest.raises(ConfigError, match="is invalid") as caught:
        FakeNvml.from_script(typo)
    assert "\n" not in str(caught.value)
    assert "gpus.0.powr_w: unknown key" in str(caught.value)  # not just "1 validation error"


@pytest.mark.parametrize("power", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_power_in_a_script_is_one_config_error(power, tmp_path):
    script = tmp_path / "nan.json"
    script.write_text('{"gpus": [{"power_w": POWER}]}'.replace("POWER", power))
    with pytest.raises(ConfigError, match="fake NVML script"):
        FakeNvml.from_script(script)
    traced = tmp_path / "trace.json"
    traced.write_text('{"gpus": [{"power_w": [[0, 100], [1, POWER]]}]}'.replace("POWER", power))
    with pytest.raises(ConfigError, match="fake NVML script"):
        FakeNvml.from_script(traced)
