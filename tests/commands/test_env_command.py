"""`harness env` through the real CLI: what it reports, and one-line errors with non-zero exits."""

from __future__ import annotations

import importlib.metadata
import json

import pynvml
import pytest

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
    assert report["nvml"]["backend"] == "fake-nvml" and report["nvml"]["driver_version"] == "535.104.05"
    h100, v100 = report["gpus"]
    assert (h100["has_energy_counter"], h100["power_source"], h100["other_processes"]) == (True, "instant", [])
    assert (v100["has_energy_counter"], v100["power_source"], v100["other_processes"]) == (False, "average", [99999])
    assert v100["power_w"] == 42.0
    assert report["can_measure"]["gpu"] == "GPU 0: energy counter; GPU 1: sampled power only (average)"
    assert report["host"]["rapl_readable"] in (True, False) and report["host"]["rapl_detail"]
    assert report["can_measure"]["cpu"].startswith("RAPL" if report["host"]["rapl_readable"] else "estimated")
    assert report["torch"]["torch_version"]
    assert report["engines"] == {"diffusers": importlib.metadata.version("diffusers"),
                                 "transformers": importlib.metadata.version("transformers")}


def test_asking_for_some_gpus_limits_what_can_be_measured(fake_gpus, capsys):
    assert run_cli("env", "--json", "--gpu", "1") == 0
    assert json.loads(capsys.readouterr().out)["can_measure"]["gpu"] == "GPU 1: sampled power only (average)"


def test_text_report(fake_gpus, capsys):
    assert run_cli("env") == 0
    out = capsys.readouterr().out
    for expected in ("Fake NVIDIA H100", "backend fake-nvml", "Can measure", "GPU energy: GPU 0: energy counter",
                     "RAPL", "torch", f"Engines diffusers {importlib.metadata.version('diffusers')}, transformers"):
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
