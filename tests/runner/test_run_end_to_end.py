"""`harness run` end to end: every task file, real loading of saved tiny models, the fake NVML's scripted
GPU measured through the real meter, a result file that validates; and every user error in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.kinds import IMAGE_KINDS
from harness.results.store import iter_result_files, load_valid_result
from harness.tasks.inputs import builtin_items
from harness.tasks.registry import list_tasks
from harness.testing.demo_models import DEMO_TASK_SETTINGS, demo_model_for
from harness.workloads import WORKLOADS
from tests.cli_helpers import SCRIPTED_POWER_W, run_cli


def _smoke_args(task: str, model: Path, results: Path, *extra: str) -> list[str]:
    return ["run", "--task", task, "--model", str(model), "--device", "cpu", "--preset", "smoke",
            "--set", "image-gen:generation.num_inference_steps=2", "--set", "image-gen:generation.height=64",
            "--set", "image-gen:generation.width=64", "--set", "speech-to-text:generation.min_new_tokens=4",
            "--set", "speech-to-text:generation.max_new_tokens=4", "--idle-seconds", "0.3", "--num-queries", "3",
            "--results-dir", str(results), "--quiet", *extra]


@pytest.mark.parametrize("spec", list_tasks(), ids=lambda spec: spec.id)
def test_every_task_file_runs_and_its_result_validates(spec, tiny_models_dir, fake_gpu, tmp_path, capsys):
    results = tmp_path / "results"
    demo_sets = [arg for key, value in DEMO_TASK_SETTINGS.get(spec.id, {}).items()
                 for arg in ("--set", f"{key}={value}")]
    model = tiny_models_dir / demo_model_for(spec.id, spec.kind)
    code = run_cli(*_smoke_args(spec.id, model, results, "--measure-gpus", "0", "--repeats", "2", *demo_sets))
    out = capsys.readouterr().out
    assert code == 0, out
    files = list(iter_result_files(results))
    assert len(files) == 1
    loaded = load_valid_result(files[0])
    result = loaded.result
    assert f"result: {files[0]}" in out and "GPU energy per 1000 queries:" in out

    assert result.task.id == spec.id and result.task.version == spec.version
    assert result.environment.meter_backend == "fake-nvml"
    assert result.hardware_class == "1x Fake NVIDIA H100 80GB HBM3"
    assert result.model.id == model.name and not result.model.random_weights  # the folder's name, never its path
    assert result.model.num_parameters > 0
    assert result.settings.num_queries == 3 and len(result.repetitions) == 2
    assert result.input_set.source == "builtin" and result.input_set.num_items == 3
    # The scripted card draws 200 W whatever runs: the counter's energy over each window must say so.
    for rep in result.repetitions:
        total = rep.readings["total"]
        assert total.gpu_method == "counter"
        assert sum(total.gpu_energy_j.values()) / total.duration_s == pytest.approx(SCRIPTED_POWER_W, rel=0.02)
        assert len(rep.query_latencies_s) == 3
    expected_wh = [sum(r.readings["total"].gpu_energy_j.values()) / 3.6 / 3 for r in result.repetitions]
    assert result.figures.gpu_energy_per_1k_queries_wh.mean == pytest.approx(sum(expected_wh) / 2)
    assert result.figures.gpu_energy_per_1k_queries_wh.n == 2
    assert result.idle is not None and result.idle.gpu_power_w["0"] == pytest.approx(SCRIPTED_POWER_W, rel=0.02)
    # Same power busy and idle: nothing above idle (within the counter's rounding to a millijoule).
    figures = result.figures
    assert abs(figures.gpu_energy_above_idle_per_1k_queries_wh.mean) < 0.02 * figures.gpu_energy_per_1k_queries_wh.mean
    generative = WORKLOADS[spec.kind].generative
    assert all(("prefill" in rep.readings) == generative for rep in result.repetitions)
    natural = getattr(spec.generation, "mode", "fixed") == "chat"
    if generative and not natural:
        new_tokens = result.task.spec["generation"]["max_new_tokens"]  # as run (speech is cut to 4 above)
        assert all(rep.output_tokens == 3 * new_tokens for rep in result.repetitions)
        assert result.output_lengths is None
    if natural:  # answers of the model's own length, each counted up to its end-of-sequence token or the cap
        cap = result.task.spec["generation"]["max_new_tokens"]
        lengths = result.output_lengths
        assert lengths.num_queries == 3 and 1 <= lengths.p50 <= cap and 0 <= lengths.at_cap <= 3
        assert all(rep.output_tokens == pytest.approx(3 * lengths.mean) for rep in result.repetitions)
        per_token = result.figures.gpu_energy_per_output_token_j.mean
        assert per_token == pytest.approx(sum(r.readings["total"].gpu_energy_j["0"] / r.output_tokens
                                              for r in result.repetitions) / 2)
        assert "output lengths: mean" in out and "per output token:" in out
    if spec.kind in ("image-gen", *IMAGE_KINDS):
        assert all(rep.images == 3 for rep in result.repetitions)
        assert result.figures.images_per_wh is not None
    if spec.kind in IMAGE_KINDS:
        sizes = [item.width * item.height for item in builtin_items(spec.kind, 3)]
        assert result.input_lengths.unit == "pixels" and result.input_lengths.mean == pytest.approx(sum(sizes) / 3)
    assert result.timelines and result.timelines[0].gpu_index == 0


def test_cpu_only_run_reports_host_energy_and_no_gpu_headline(tiny_models_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    results = tmp_path / "results"
    code = run_cli(*_smoke_args("text-classification", tiny_models_dir / "text-classification", results,
                                "--random-weights"))
    out = capsys.readouterr().out
    assert code == 0
    result = load_valid_result(next(iter_result_files(results))).result
    assert result.environment.meter_backend == "none" and result.hardware_class == "cpu"
    assert result.figures.gpu_energy_per_1k_queries_wh is None
    assert result.figures.cpu_energy_per_1k_queries_wh.mean > 0
    assert result.model.random_weights
    assert "not measured (no GPU in this run)" in out


def test_a_cpu_run_is_never_filed_under_results_unless_asked(tiny_models_dir, tmp_path, monkeypatch, capsys):
    """`results/` holds real GPU measurements only: with no --results-dir a CPU run goes to `cpu-results/`, said in
    one line; an explicit --results-dir is honoured as before."""
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    monkeypatch.chdir(tmp_path)
    args = _smoke_args("text-classification", tiny_models_dir / "text-classification", tmp_path / "unused")
    at = args.index("--results-dir")
    assert run_cli(*args[:at], *args[at + 2:]) == 0
    out = capsys.readouterr().out
    assert not (tmp_path / "results").exists() and len(list(iter_result_files(tmp_path / "cpu-results"))) == 1
    assert out.count("filed under cpu-results/, not results/: no real GPU was measured") == 1
    assert run_cli(*args[:at], "--results-dir", "results", *args[at + 2:]) == 0
    assert len(list(iter_result_files(tmp_path / "results"))) == 1 and "filed under" not in capsys.readouterr().out


def test_a_local_model_is_recorded_by_a_clean_id_never_its_path(tiny_models_dir, tmp_path, monkeypatch, capsys):
    """`--model-id` is a local folder's id (it used to be only a display name beside the folder's path); without
    it, the id is the hub id its config names, else the folder's name. No machine path is in the file."""
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    folder = tiny_models_dir / "text-classification"
    named = tmp_path / "named"
    assert run_cli(*_smoke_args("text-classification", folder, named, "--model-id", "my-org/my-classifier")) == 0
    path = next(iter_result_files(named))
    result = load_valid_result(path).result
    assert result.model.id == "my-org/my-classifier" and result.model.name is None
    assert str(tiny_models_dir) not in path.read_text() and "my-org__my-classifier" in str(path)
    unnamed = tmp_path / "unnamed"
    assert run_cli(*_smoke_args("text-classification", folder, unnamed)) == 0
    path = next(iter_result_files(unnamed))
    result = load_valid_result(path).result
    assert result.model.id == "text-classification" and result.model.name is None  # no hub id in its config
    assert str(tiny_models_dir) not in path.read_text()


def test_a_folders_saved_hub_id_is_read_from_its_config_and_never_a_path(tmp_path):
    from harness.files import local_model_id, recorded_model_id, saved_hub_id

    (tmp_path / "config.json").write_text(json.dumps({"_name_or_path": "HuggingFaceTB/SmolLM2-135M"}))
    assert saved_hub_id(str(tmp_path)) == "HuggingFaceTB/SmolLM2-135M"
    assert recorded_model_id(str(tmp_path)) == "HuggingFaceTB/SmolLM2-135M"
    assert recorded_model_id(str(tmp_path), "me/mine") == "me/mine"  # --model-id first
    (tmp_path / "config.json").write_text(json.dumps({"_name_or_path": "/home/me/models/x"}))
    assert saved_hub_id(str(tmp_path)) is None
    assert local_model_id(str(tmp_path)) == tmp_path.name  # the folder's own name
    assert saved_hub_id("org/hub-model") is None and recorded_model_id("org/hub-model", "shown") == "org/hub-model"


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def earlier_result(tiny_models_dir, tmp_path, monkeypatch):
    """A results folder that already holds one valid result, which no failing run may touch."""
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    results = tmp_path / "results"
    assert run_cli(*_smoke_args("text-classification", tiny_models_dir / "text-classification", results)) == 0
    before = {name: (results / name).read_bytes() for name in _files_under(results)}
    yield results
    assert {name: (results / name).read_bytes() for name in _files_under(results)} == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--task", "txt-gen"], 3, "did you mean 'text-gen'"),
        (["--model", "/nonexistent/model-dir"], 3, "/nonexistent/model-dir"),
        (["--model", "no-such-org/no-such-model"], 3, "no-such-org/no-such-model"),
        (["--set", "generation.max_new_tokens=ten"], 2, "max_new_tokens"),
        (["--set", "no_such_setting=1"], 2, "no_such_setting"),
        (["--set", "missing-equals"], 2, "key=value"),
        (["--device", "cuda"], 3, "GPU"),
        (["--repeats", "0"], 2, "repeats"),
        (["--task", "question-answering"], 2, "LlamaForCausalLM; task kind 'question-answering' needs"),
        (["--task", "sentence-similarity", "--set", "dataset.column=text"], 2, "either dataset.column"),
        (["--task", "speech-to-text"], 2, "task kind 'speech-to-text' needs a Whisper-family"),
    ],
)
def test_user_errors_end_in_one_line_and_touch_nothing(args, code, message, earlier_result, tiny_models_dir,
                                                       capsys):
    base = {"--task": "text-gen", "--model": str(tiny_models_dir / "text-gen"), "--device": "cpu"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["run", *[part for pair in base.items() for part in pair], "--preset", "smoke", "--quiet",
            "--results-dir", str(earlier_result)]
    assert run_cli(*argv) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err
    assert "\n" not in err and "Traceback" not in err


def test_malformed_task_file_is_one_line(tmp_path, tiny_models_dir, earlier_result, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: text-gen\nkind: [unclosed\n")
    assert run_cli("run", "--task", str(bad), "--model", str(tiny_models_dir / "text-gen"), "--device", "cpu",
                   "--results-dir", str(earlier_result), "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_interrupted_run_writes_nothing(tiny_models_dir, earlier_result, monkeypatch, capsys):
    from harness.workloads.text_classification import TextClassificationWorkload

    def interrupt(self, batch):
        raise KeyboardInterrupt

    monkeypatch.setattr(TextClassificationWorkload, "run_batch", interrupt)
    argv = _smoke_args("text-classification", tiny_models_dir / "text-classification", earlier_result)
    assert run_cli(*argv) == 130
    assert capsys.readouterr().err.strip() == "error: interrupted; nothing was written"


def test_out_of_memory_is_one_line(tiny_models_dir, earlier_result, monkeypatch, capsys):
    import torch

    from harness.workloads.text_classification import TextClassificationWorkload

    def exhaust(self, inputs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(TextClassificationWorkload, "_run", exhaust, raising=True)
    argv = _smoke_args("text-classification", tiny_models_dir / "text-classification", earlier_result)
    assert run_cli(*argv) == 6
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "out of memory" in err.lower() and "\n" not in err


def test_explicit_output_path_is_used_and_never_overwritten(tiny_models_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    target = tmp_path / "mine.json"
    args = _smoke_args("text-classification", tiny_models_dir / "text-classification", tmp_path / "unused",
                       "--output", str(target))
    assert run_cli(*args) == 0
    first = target.read_bytes()
    assert run_cli(*args) == 2  # refused before the model loads, not after the run
    assert "already exists (results are never overwritten); nothing was measured" in capsys.readouterr().err
    assert target.read_bytes() == first
    assert os.listdir(tmp_path) == ["mine.json"]
