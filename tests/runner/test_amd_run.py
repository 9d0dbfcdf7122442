"""`harness run` on the CPU with the fake amdsmi as the GPU, selected through HARNESS_FAKE_AMDSMI as a user would:
the AMD backend's real code measures the whole run, and the result names its vendor in the hardware class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.results.store import iter_result_files, load_valid_result
from tests.cli_helpers import run_cli

REPO = Path(__file__).resolve().parents[2]
POWER_W = 300.0


@pytest.fixture
def fake_amd_gpu(tmp_path, monkeypatch):
    """Write a fake amdsmi script and name it in HARNESS_FAKE_AMDSMI: `fake_amd_gpu({...})` -> path."""

    def write(gpu: dict):
        script = tmp_path / "fake-amd.json"
        script.write_text(json.dumps({"gpus": [{"power_w": POWER_W, **gpu}]}))
        monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
        monkeypatch.setenv("HARNESS_FAKE_AMDSMI", str(script))
        return script

    return write


def _run(tiny_models_dir: Path, results: Path) -> int:
    return run_cli("run", "--task", "text-classification", "--model", str(tiny_models_dir / "text-classification"),
                   "--device", "cpu", "--preset", "smoke", "--num-queries", "3", "--repeats", "2",
                   "--idle-seconds", "0.3", "--measure-gpus", "0", "--results-dir", str(results), "--quiet")


def test_a_whole_run_measures_the_fake_amd_card_and_files_an_amd_result(tiny_models_dir, fake_amd_gpu, tmp_path,
                                                                          capsys):
    fake_amd_gpu({"name": "Fake AMD Instinct MI300X"})
    results = tmp_path / "results"
    assert _run(tiny_models_dir, results) == 0, capsys.readouterr().out
    (path,) = iter_result_files(results)
    result = load_valid_result(path).result
    environment = result.environment
    assert environment.meter_backend == "fake-amdsmi" and environment.driver_version == "6.10.5"
    (gpu,) = environment.gpus
    assert (gpu.vendor, gpu.rocm_version, gpu.partition_mode, gpu.compute_capability) == (
        "amd", "6.4.1", "SPX/NPS1", "gfx942")
    assert result.hardware_class == "1x Fake AMD Instinct MI300X"
    assert not result.is_gpu_measured  # a stand-in: never a measurement
    for repetition in result.repetitions:
        total = repetition.readings["total"]
        assert total.gpu_method == "counter"
        assert sum(total.gpu_energy_j.values()) / total.duration_s == pytest.approx(POWER_W, rel=0.02)
    assert result.idle.gpu_power_w["0"] == pytest.approx(POWER_W, rel=0.02)


def test_a_card_whose_name_lacks_its_vendor_is_classed_with_it(tiny_models_dir, fake_amd_gpu, tmp_path, capsys):
    fake_amd_gpu({"name": "Instinct MI250X", "counter_stands_still": True})
    results = tmp_path / "results"
    assert _run(tiny_models_dir, results) == 0, capsys.readouterr().out
    (path,) = iter_result_files(results)
    result = load_valid_result(path).result
    assert result.hardware_class == "1x AMD Instinct MI250X"
    assert "amd-instinct-mi250x" in str(path.parent).lower()
    assert all(rep.readings["total"].gpu_method == "sampled" for rep in result.repetitions)  # the counter stood still
    assert "no-energy-counter" in [warning.code for warning in result.warnings]
