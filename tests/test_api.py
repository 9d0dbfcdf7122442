"""The Python API: `harness.measure`, `harness.run`, `harness.load_results`, through the real code paths."""

from __future__ import annotations

import time

import pytest

import harness
from harness.errors import ConfigError
from harness.results.store import iter_result_files
from tests.cli_helpers import SCRIPTED_POWER_W


def test_measure_reads_the_scripted_gpu_for_the_block(fake_gpu):
    with harness.measure(gpus=[0], sample_hz=50) as m:
        assert m.reading is None
        time.sleep(0.3)
    assert m.gpu_indices == [0]
    assert m.duration_s == pytest.approx(0.3, abs=0.2)
    assert m.reading.gpu_method == "counter"
    assert m.gpu_total_energy_j == pytest.approx(SCRIPTED_POWER_W * m.duration_s, rel=0.05)
    assert set(m.gpu_energy_j) == {0}
    assert m.host_energy_j["cpu_method"] in ("rapl", "estimated")
    assert m.as_dict()["reading"]["key"] == "block"


def test_measure_all_gpus_finds_the_fake_one(fake_gpu):
    with harness.measure() as m:
        time.sleep(0.15)
    assert m.gpu_indices == [0] and m.gpu_total_energy_j > 0


def test_measure_closes_its_window_when_the_block_raises(fake_gpu):
    with pytest.raises(RuntimeError), harness.measure(gpus=[0]) as m:
        time.sleep(0.15)
        raise RuntimeError("user code failed")
    assert m.reading is not None and m.duration_s > 0


def test_measure_host_only_and_bad_gpus():
    with harness.measure(gpus=None) as m:
        sum(range(10_000))
    assert m.gpu_energy_j == {} and m.reading.gpu_method == "none"
    with pytest.raises(ConfigError), harness.measure(gpus="first"):
        pass


@pytest.mark.slow
def test_run_returns_the_result_and_writes_only_when_asked(tiny_models_dir, fake_gpu, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = dict(device="cpu", preset="smoke", num_queries=3, idle_seconds=0.2, repeats=2, measure_gpus=[0])
    result = harness.run(task="text-classification", model=str(tiny_models_dir / "text-classification"), **settings)
    assert result.task.id == "text-classification" and len(result.repetitions) == 2
    assert result.figures.gpu_energy_per_1k_queries_wh.mean > 0
    assert [p.name for p in tmp_path.rglob("*.json")] == ["fake-gpu.json"]  # nothing written but the fake script

    written = harness.run(task="text-classification", model=str(tiny_models_dir / "text-classification"),
                          results_dir=tmp_path / "results", **settings)
    files = list(iter_result_files(tmp_path / "results"))
    assert len(files) == 1 and written.run_id in files[0].name

    frame = harness.load_results(tmp_path / "results")
    assert list(frame["run_id"]) == [written.run_id]
    assert frame.loc[0, "gpu_energy_per_1k_queries_wh"] == pytest.approx(
        written.figures.gpu_energy_per_1k_queries_wh.mean)


def test_run_refuses_unknown_settings():
    with pytest.raises(ConfigError, match="unknown setting"):
        harness.run(task="text-gen", model="x", num_querys=3)


def test_measure_with_no_gpu_says_it_measured_none(monkeypatch):
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    monkeypatch.setattr("harness.api.open_gpu_backend", _no_backend)
    with harness.measure() as m:
        sum(range(10_000))
    assert m.gpu_energy_j == {} and m.gpu_indices == []
    (warning,) = [w for w in m.warnings if w.code == "no-gpu-measured"]
    assert warning.severity == "warning" and "no GPU was measured (no NVML here)" in warning.message
    with harness.measure(gpus=None) as host_only:
        pass
    assert [w.severity for w in host_only.warnings if w.code == "no-gpu-measured"] == ["info"]


def _no_backend():
    from harness.errors import MeasurementError

    raise MeasurementError("cannot measure the GPU: no NVML here")


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written_on_a_cpu(tiny_models_dir, tmp_path, monkeypatch, capsys):
    """The README's Python API block, with the tiny text-gen model in place of the hub id (tests are offline)."""
    import re
    from pathlib import Path

    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    monkeypatch.setattr("harness.api.open_gpu_backend", _no_backend)  # the quick start's machine: no GPU
    monkeypatch.chdir(tmp_path)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"## Python API\n.*?```python\n(.*?)```", readme, re.S).group(1)
    assert "HuggingFaceTB/SmolLM2-135M" in block and 'device="cpu"' in block
    exec(compile(block.replace("HuggingFaceTB/SmolLM2-135M", str(tiny_models_dir / "text-gen")), "README", "exec"),
         {})
    out = capsys.readouterr().out
    assert "no GPU was measured" in out and "no GPU measured" in out and "text-gen" in out
    assert list((tmp_path / "my-results").rglob("*.json"))
