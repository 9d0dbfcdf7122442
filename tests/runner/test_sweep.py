"""`harness run` sweeps: the campaign's grid on the command line, one result per point, one model load per dtype,
every point checked before any model loads, and a failed point reported while the others' results are kept."""

from __future__ import annotations

import pytest

import harness.sweep as sweep
from harness.errors import ConfigError
from harness.ops.campaigns import JobSettings
from harness.results.store import iter_result_files, load_valid_result
from harness.runner import RunRequest
from harness.sweep import parse_list, sweep_requests, sweep_settings
from tests.cli_helpers import run_cli_captured


def _args(model, results, *extra):
    return ["run", "--task", "text-gen", "--model", str(model), "--device", "cpu", "--preset", "smoke",
            "--num-queries", "2", "--idle-seconds", "0.2", "--set", "max_input_tokens=64",
            "--results-dir", str(results), "--quiet", *extra]


@pytest.fixture
def loads(monkeypatch):
    """Counts model loads (the real loader still runs)."""
    calls = []
    real = sweep.load_for

    def counting(prepared):
        calls.append(prepared.resolved.spec.dtype)
        return real(prepared)

    monkeypatch.setattr(sweep, "load_for", counting)
    return calls


def test_lists_on_the_command_line_are_the_campaign_grid():
    assert parse_list("1,4,16") == ["1", "4", "16"] and parse_list("[1, 4]") == ["1", "4"] and parse_list("8") == "8"
    settings = sweep_settings({"batch_size": "1,4", "dtype": "float32,bfloat16"},
                              {"generation.num_inference_steps": "[10, 30]", "inputs": "builtin"})
    campaign = JobSettings(batch_size=[1, 4], dtype=["float32", "bfloat16"],
                           set={"generation.num_inference_steps": [10, 30], "inputs": "builtin"})
    assert settings == campaign
    requests = sweep_requests(RunRequest(task="image-gen", model="m"), settings)
    assert [(r.dtype, r.batch_size, r.overrides["generation.num_inference_steps"]) for r in requests] == [
        (d, b, s) for d in ("float32", "bfloat16") for b in (1, 4) for s in ("10", "30")]


def test_a_sweep_writes_one_result_per_point_and_loads_once_per_dtype(tiny_models_dir, fake_gpu, tmp_path,
                                                                       capsys, loads):
    results = tmp_path / "results"
    code, out, err = run_cli_captured(capsys, *_args(tiny_models_dir / "text-gen", results, "--batch-size", "1,2",
                                                     "--dtype", "float32,bfloat16", "--measure-gpus", "0"))
    assert code == 0, out + err
    assert loads == ["float32", "bfloat16"]
    found = sorted((r.model.dtype, r.settings.batch_size) for r in
                   (load_valid_result(path).result for path in iter_result_files(results)))
    assert found == [("bfloat16", 1), ("bfloat16", 2), ("float32", 1), ("float32", 2)]
    assert "sweep: 4 of 4 points measured" in out and out.count("result: ") == 4
    assert "== dtype=float32, batch_size=2" in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--batch-size", "1,four"], "--batch-size expects whole numbers"),
    (["--batch-size", "2,2"], "lists a value twice"),
    (["--batch-size", "1,0"], "must be at least 1"),
    (["--set", "generation.max_new_tokens=[4, abc]"], "invalid override"),
    (["--dtype", "float32,float64"], "dtype"),
])
def test_a_bad_sweep_value_is_one_error_line_before_any_model_loads(extra, message, tiny_models_dir, tmp_path,
                                                                    capsys, loads):
    results = tmp_path / "results"
    code, out, err = run_cli_captured(capsys, *_args(tiny_models_dir / "text-gen", results, *extra))
    assert code == 2 and message in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1 and err.startswith("error:")
    assert loads == [] and not results.exists()


def test_a_failed_point_is_reported_and_the_others_are_kept(tiny_models_dir, tmp_path, capsys, loads):
    # The tiny chat model takes 256 tokens: a 512-token cap cannot fit, which only the loaded model can tell.
    results = tmp_path / "results"
    code, out, err = run_cli_captured(
        capsys, "run", "--task", "text-gen-chat", "--model", str(tiny_models_dir / "text-gen-chat"), "--device",
        "cpu", "--preset", "smoke", "--num-queries", "2", "--idle-seconds", "0", "--set", "max_input_tokens=64",
        "--set", "generation.max_new_tokens=[8,512]", "--results-dir", str(results), "--quiet")
    assert code == 2
    assert "1 of 2 sweep points failed (generation.max_new_tokens=512: the model takes 256 tokens" in err
    assert "failed: the model takes 256 tokens" in out and "sweep: 1 of 2 points measured" in out
    (kept,) = list(iter_result_files(results))
    assert load_valid_result(kept).result.task.spec["generation"]["max_new_tokens"] == 8
    assert loads == ["bfloat16"]  # the task's precision, loaded once for both points


def test_one_result_file_cannot_hold_a_sweep(tiny_models_dir, tmp_path):
    requests = sweep_requests(RunRequest(task="text-gen", model=str(tiny_models_dir / "text-gen"), device="cpu",
                                         output=tmp_path / "one.json"), JobSettings(batch_size=[1, 2]))
    with pytest.raises(ConfigError, match="give a folder"):
        sweep.run_sweep(requests)
