"""`harness env` through the real CLI: what it reports, and one-line errors with non-zero exits."""

from __future__ import annotations

import importlib.metadata
import json

import pynvml
import pytest

from harness.engines import ENGINES
from tests.cli_helpers import run_cli

TWO_GPUS = {"driver_version": "535.104.05", "gpus": [
    {"name": "Fake NVIDIA H100 80GB HBM3"},
    {"name": "Fake NVIDIA V100", "has_energy_counter": False, "power_instant_supported": False,
     "processes": [{"pid": 99999}], "power_w": 42},
]}


@pytest.fixture
def fake_gpus(tmp_path, monkeypatch):
    script = tmp_path / "fake.json"
    script.write_text(json.dumps(TWO_GPUS))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))
    return script


def real_nvml_works() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


def test_json_report_of_fake_gpus(fake_gpus, capsys):
    assert run_cli("env", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gpu_backend"]["name"] == "fake-nvml" and report["gpu_backend"]["driver_version"] == "535.104.05"
    assert report["gpu_backend"]["vendor"] == "NVIDIA" and report["gpu_backends_tried"] == [
        {"backend": "fake-nvml", "outcome": "picked"}]
    h100, v100 = report["gpus"]
    assert (h100["has_energy_counter"], h100["power_source"], h100["other_processes"]) == (True, "instant", [])
    assert (v100["has_energy_counter"], v100["power_source"], v100["other_processes"]) == (False, "average", [99999])
    assert v100["power_w"] == 42.0
    assert report["can_measure"]["gpu"] == "GPU 0: energy counter; GPU 1: sampled power only (average)"
    assert report["host"]["rapl_readable"] in (True, False) and report["host"]["rapl_detail"]
    assert report["can_measure"]["cpu"].startswith("RAPL" if report["host"]["rapl_readable"] else "estimated")
    assert report["torch"]["torch_version"]
    assert report["engines"]["diffusers"] == importlib.metadata.version("diffusers")
    assert report["engines"]["transformers"] == importlib.metadata.version("transformers")
    assert set(report["engines"]) == set(ENGINES)


def test_asking_for_some_gpus_limits_what_can_be_measured(fake_gpus, capsys):
    assert run_cli("env", "--json", "--gpu", "1") == 0
    assert json.loads(capsys.readouterr().out)["can_measure"]["gpu"] == "GPU 1: sampled power only (average)"


def test_text_report(fake_gpus, capsys):
    assert run_cli("env") == 0
    out = capsys.readouterr().out
    for expected in ("Fake NVIDIA H100", "backend fake-nvml: NVIDIA driver 535.104.05, NVML 12.550.54.15, CUDA "
                     "driver 12.4", "Can measure", "GPU energy: GPU 0: energy counter",
                     "RAPL", "torch", f"Engines diffusers {importlib.metadata.version('diffusers')}, endpoint"):
        assert expected in out


def test_missing_gpu_is_one_line_and_exit_3(fake_gpus, capsys):
    assert run_cli("env", "--gpu", "3") == 3
    captured = capsys.readouterr()
    assert captured.err == "error: GPU 3 does not exist: NVML sees 2 GPU(s) (indices 0..1)\n"
    assert captured.out == ""


def test_broken_fake_script_is_one_line(tmp_path, monkeypatch, capsys):
    script = tmp_path / "fake.json"
    script.write_text("[")
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))
    assert run_cli("env", "--gpu", "0") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: fake NVML script") and err.count("\n") == 1


@pytest.mark.skipif(real_nvml_works(), reason="this machine has a working NVML")
def test_without_nvml_env_reports_and_a_gpu_request_fails(monkeypatch, capsys):
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    assert run_cli("env", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gpus"] == [] and report["can_measure"]["gpu"].startswith("not measurable: cannot measure the GPU")
    assert run_cli("env", "--gpu", "0") == 4
    err = capsys.readouterr().err
    assert err.startswith("error: cannot measure the GPU:") and err.count("\n") == 1


AMD = {"driver_version": "6.8.5", "rocm_version": "6.3.4", "gpus": [
    {"name": "Fake AMD Instinct MI300X", "compute_partition": "SPX", "memory_partition": "NPS1"},
    {"name": "Fake AMD Instinct MI100", "counter_stands_still": True, "current_power_supported": False,
     "compute_partition": None, "memory_partition": None},
]}


@pytest.fixture
def fake_amd(tmp_path, monkeypatch):
    script = tmp_path / "amd.json"
    script.write_text(json.dumps(AMD))
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    monkeypatch.setenv("HARNESS_FAKE_AMDSMI", str(script))
    return script


def test_an_amd_machine_says_which_backend_and_what_its_counters_do(fake_amd, monkeypatch, capsys):
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    assert run_cli("env", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gpu_backend"]["name"] == "fake-amdsmi"
    assert report["gpu_backend"]["summary"] == "AMD driver 6.8.5, ROCm 6.3.4, amdsmi 25.5.1"
    mi300x, mi100 = report["gpus"]
    assert (mi300x["vendor"], mi300x["partition_mode"], mi300x["rocm_version"]) == ("amd", "SPX/NPS1", "6.3.4")
    assert mi100["has_energy_counter"] is False and "did not move" in mi100["counter_note"]
    assert report["can_measure"]["gpu"] == ("GPU 0: energy counter; GPU 1: sampled power only (average) "
                                            "(its counter stands still)")
    assert report["visible_devices"]["HIP_VISIBLE_DEVICES"] == "1"
    assert run_cli("env") == 0
    out = capsys.readouterr().out
    for expected in ("GPUs (backend fake-amdsmi: AMD driver 6.8.5, ROCm 6.3.4, amdsmi 25.5.1)",
                     "GPU 1: Fake AMD Instinct MI100", "energy counter: not used: its energy counter did not move",
                     "partitions: SPX/NPS1", "HIP_VISIBLE_DEVICES=1 (the GPU indices above are amdsmi's"):
        assert expected in out, expected


def test_the_backends_passed_over_are_named_with_their_reasons(monkeypatch, capsys):
    from harness.energy import backends
    from harness.energy.amd import open_amdsmi_backend
    from harness.errors import MeasurementError
    from harness.testing.fake_amdsmi import FakeAmdSmi

    def no_nvml():
        raise MeasurementError("cannot measure the GPU: the NVIDIA driver is not loaded")

    for name in ("HARNESS_FAKE_NVML", "HARNESS_FAKE_AMDSMI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(backends, "GPU_BACKENDS", {"nvml": no_nvml,
                                                   "amdsmi": lambda: open_amdsmi_backend(FakeAmdSmi())})
    assert run_cli("env", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gpu_backends_tried"] == [{"backend": "nvml", "outcome": "the NVIDIA driver is not loaded"},
                                            {"backend": "amdsmi", "outcome": "picked"}]
    assert run_cli("env") == 0
    assert "picked after: nvml (the NVIDIA driver is not loaded)" in capsys.readouterr().out
    monkeypatch.setattr(backends, "GPU_BACKENDS", {"nvml": no_nvml, "amdsmi": no_nvml})
    assert run_cli("env", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gpu_backend"] is None and report["can_measure"]["gpu"] == (
        "not measurable: cannot measure the GPU: no GPU backend opened (nvml: the NVIDIA driver is not loaded; "
        "amdsmi: the NVIDIA driver is not loaded)")
