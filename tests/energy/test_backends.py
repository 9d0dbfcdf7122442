"""The backend table: vendors probed in order (NVML, amdsmi), the fakes plugged in by entry point, never by import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from harness.energy import backends
from harness.energy.amd import open_amdsmi_backend
from harness.energy.backends import (
    ENTRY_POINT_GROUP,
    GPU_BACKENDS,
    choose_gpu_backend,
    gpu_backends,
    gpu_indices_for_uuids,
    open_gpu_backend,
    plugin_backends,
)
from harness.energy.nvidia import open_nvml_backend
from harness.errors import ConfigError, MeasurementError
from harness.testing import fake_amdsmi
from harness.testing.fake_amdsmi import FakeAmdSmi
from harness.testing.fake_nvml import FakeNvml, backend_from_environment


@pytest.fixture
def script(tmp_path, monkeypatch):
    """Write a fake NVML script and name it in HARNESS_FAKE_NVML: `script({...})` -> path."""

    def write(data: dict):
        path = tmp_path / "fake.json"
        path.write_text(json.dumps(data))
        monkeypatch.setenv("HARNESS_FAKE_NVML", str(path))
        return path

    return write


@pytest.fixture
def vendors(monkeypatch):
    """Replace the vendor table with stand-ins: `vendors(name=factory, ...)`; the calls are recorded."""
    calls: list[str] = []

    def install(**factories):
        def recorded(name, factory):
            def call():
                calls.append(name)
                return factory()
            return call

        monkeypatch.setattr(backends, "GPU_BACKENDS", {n: recorded(n, f) for n, f in factories.items()})
        return calls

    return install


def failing(message: str):
    def factory():
        raise MeasurementError(message)
    return factory


def test_the_table_names_nvml_then_amdsmi_and_the_fakes_come_from_the_entry_point():
    assert list(GPU_BACKENDS.items()) == [("nvml", open_nvml_backend), ("amdsmi", open_amdsmi_backend)]
    assert plugin_backends() == {"fake-amdsmi": fake_amdsmi.backend_from_environment,
                                 "fake-nvml": backend_from_environment}
    assert list(gpu_backends()) == ["fake-amdsmi", "fake-nvml", "nvml", "amdsmi"]  # stand-ins are asked first


def test_the_fake_is_picked_through_the_table_when_the_environment_names_it(script, vendors):
    calls = vendors(nvml=failing("no NVML here"))
    script({"gpus": [{"name": "Fake NVIDIA A100"}, {}]})
    with open_gpu_backend() as backend:
        assert backend.name == "fake-nvml" and backend.device_count() == 2
        assert backend.clock is backend.nvml.clock
        assert backend.open(0).info()["name"] == "Fake NVIDIA A100"
    assert calls == []  # the vendors were never probed


def test_without_the_variable_the_fake_declines_and_the_vendor_measures(monkeypatch, vendors):
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    assert backend_from_environment() is None
    real = open_nvml_backend(FakeNvml())
    calls = vendors(nvml=lambda: real)
    assert open_gpu_backend() is real and calls == ["nvml"]


def test_a_fake_scripted_to_fail_never_falls_through_to_a_vendor(script, vendors, tmp_path):
    calls = vendors(nvml=lambda: open_nvml_backend(FakeNvml()))
    script({"init_error": "driver_not_loaded"})
    with pytest.raises(MeasurementError, match="^cannot measure the GPU: the NVIDIA driver is not loaded"):
        open_gpu_backend()
    (tmp_path / "fake.json").write_text("{not json")
    with pytest.raises(ConfigError, match="fake NVML script"):
        open_gpu_backend()
    assert calls == []


def test_vendors_are_probed_in_order_and_every_reason_is_the_message(monkeypatch, vendors):
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    second = open_nvml_backend(FakeNvml())
    calls = vendors(nvml=failing("cannot measure the GPU: no NVML"), other=lambda: second)
    assert open_gpu_backend() is second and calls == ["nvml", "other"]
    vendors(nvml=failing("cannot measure the GPU: no NVML"), other=failing("cannot measure the GPU: no other"))
    with pytest.raises(MeasurementError, match=r"^cannot measure the GPU: no GPU backend opened \(nvml: no NVML; "
                                               r"other: no other\)$"):
        open_gpu_backend()
    vendors(nvml=failing("cannot measure the GPU: no NVML"))
    with pytest.raises(MeasurementError, match="^cannot measure the GPU: no NVML$"):
        open_gpu_backend()


def test_an_amd_machine_picks_amdsmi_after_nvml_and_says_why(monkeypatch, vendors):
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    monkeypatch.delenv(fake_amdsmi.FAKE_AMDSMI_ENV, raising=False)
    amd = open_amdsmi_backend(FakeAmdSmi())
    vendors(nvml=failing("cannot measure the GPU: the NVML library (libnvidia-ml.so.1) was not found"),
            amdsmi=lambda: amd)
    choice = choose_gpu_backend()
    assert choice.backend is amd and choice.backend.name == "fake-amdsmi"
    assert choice.tried == (("nvml", "the NVML library (libnvidia-ml.so.1) was not found"), ("amdsmi", "picked"))


def test_the_fake_amdsmi_is_picked_through_the_table_when_the_environment_names_it(tmp_path, monkeypatch, vendors):
    calls = vendors(nvml=failing("no NVML here"), amdsmi=failing("no amdsmi here"))
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    path = tmp_path / "amd.json"
    path.write_text(json.dumps({"gpus": [{"name": "Fake AMD Instinct MI250X"}]}))
    monkeypatch.setenv(fake_amdsmi.FAKE_AMDSMI_ENV, str(path))
    with open_gpu_backend() as backend:
        assert backend.name == "fake-amdsmi" and backend.open(0).info()["name"] == "Fake AMD Instinct MI250X"
    assert calls == []


def test_an_explicit_nvml_object_skips_the_table(script, vendors):
    calls = vendors(nvml=failing("not asked"))
    script({"gpus": [{}, {}, {}]})
    with open_gpu_backend(FakeNvml()) as backend:
        assert backend.device_count() == 1
    assert calls == []


def test_entry_points_are_read_once_and_may_not_take_a_vendor_name(monkeypatch):
    def load_broken():
        raise ImportError("no such module")

    found = [SimpleNamespace(name="nvml", load=lambda: "shadow"), SimpleNamespace(name="broken", load=load_broken),
             SimpleNamespace(name="extra", load=lambda: backend_from_environment)]
    asked = []

    def entry_points(group):
        asked.append(group)
        return found

    monkeypatch.setattr(backends.importlib.metadata, "entry_points", entry_points)
    plugin_backends.cache_clear()
    try:
        assert plugin_backends() == {"extra": backend_from_environment}
        plugin_backends()
        assert asked == [ENTRY_POINT_GROUP]
    finally:
        plugin_backends.cache_clear()


def test_uuids_map_through_whichever_backend_measures(script, vendors):
    vendors(nvml=failing("cannot measure the GPU: no NVML"))
    script({"gpus": [{"uuid": "GPU-aaaa"}, {"uuid": "GPU-bbbb"}]})
    assert gpu_indices_for_uuids(["bbbb", "GPU-AAAA", "cccc", None]) == [1, 0, None, None]
    assert gpu_indices_for_uuids(["aaaa"], nvml=FakeNvml({"init_error": "driver_not_loaded"})) == [None]
    script({"init_error": "library_not_found"})
    assert gpu_indices_for_uuids(["aaaa", "bbbb"]) == [None, None]  # no backend: not an error


def test_a_fresh_process_finds_the_fake_through_the_installed_entry_point(script):
    script({"gpus": [{"name": "Fake in a subprocess"}]})
    code = ("from harness.energy import open_gpu_backend\n"
            "with open_gpu_backend() as b: print(b.name, b.open(0).info()['name'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=os.environ.copy(), check=True)
    assert done.stdout.strip() == "fake-nvml Fake in a subprocess"


def test_a_fresh_process_finds_the_fake_amdsmi_through_the_installed_entry_point(tmp_path, monkeypatch):
    path = tmp_path / "amd.json"
    path.write_text(json.dumps({"gpus": [{"name": "Fake AMD Instinct MI210"}]}))
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_FAKE_NVML"}
    env[fake_amdsmi.FAKE_AMDSMI_ENV] = str(path)
    code = ("from harness.energy import open_gpu_backend\n"
            "with open_gpu_backend() as b: print(b.name, b.open(0).info()['name'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env,
                          check=True)
    assert done.stdout.strip() == "fake-amdsmi Fake AMD Instinct MI210"
