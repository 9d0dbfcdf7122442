"""`harness run` never loses a finished measurement: everything checkable is checked before the model loads,
and a result that cannot be written where asked is saved to a printed fallback path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.results.store import load_valid_result
from tests.cli_helpers import run_cli

MISSING_MODEL = "/nonexistent/model-folder"
"""A model that would fail with exit code 3 when loading: an exit code of 2 proves the check came first."""


def _run(*extra: str, model: str = MISSING_MODEL, task: str = "text-classification") -> list[str]:
    return ["run", "--task", task, "--model", model, "--device", "cpu", "--preset", "smoke", "--quiet", *extra]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("make", "option", "message"),
    [
        (lambda tmp: tmp / "a-file", "--results-dir", "is a file, not a folder"),
        (lambda tmp: tmp / "a-file" / "below", "--results-dir", "is a file, not a folder"),
        (lambda tmp: Path("/proc/harness-results"), "--results-dir", "cannot write in /proc"),
        (lambda tmp: Path("/dev/null"), "--output", "neither a folder nor a .json file"),
        (lambda tmp: tmp / "a-file", "--output", "neither a folder nor a .json file"),
        (lambda tmp: tmp / "earlier.json", "--output", "already exists (results are never overwritten)"),
        (lambda tmp: tmp / "a-file" / "new.json", "--output", "is a file, not a folder"),
        (lambda tmp: Path("/proc/new.json"), "--output", "cannot write in /proc"),
        (lambda tmp: tmp / ("x" * 300), "--results-dir", "longer than 255 bytes"),
    ],
)
def test_output_location_is_checked_before_the_model_loads(make, option, message, tmp_path, capsys):
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "earlier.json").write_text("{}\n")
    before = sorted(os.listdir(tmp_path))
    assert run_cli(*_run(option, str(make(tmp_path)))) == 2
    assert message in _one_error_line(capsys)
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "earlier.json").read_text() == "{}\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--idle-seconds", "nan"], "idle seconds must be a finite number"),
        (["--idle-seconds", "inf"], "idle seconds must be a finite number"),
        (["--sample-hz", "nan"], "sample rate must be a finite number"),
        (["--num-queries", "1000000000"], "num_queries 1e+09 is more than the 1e+06"),
        (["--warmup-queries", "1000000000000000000"], "--warmup-queries 1e+18 is more than"),
        (["--repeats", "100000"], "--repeats 100000 is more than"),
        (["--idle-seconds", "1e9"], "--idle-seconds 1e+09 is more than"),
        (["--set", "num_queries=true"], "num_queries"),
        (["--set", "batch_size=yes"], "batch_size"),
    ],
)
def test_numbers_are_checked_before_the_model_loads(extra, message, tmp_path, capsys):
    assert run_cli(*_run("--results-dir", str(tmp_path / "results"), *extra)) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--task", "t" * 5000], 3, "not a task name or a task file"),
        (["--task", "x" * 300 + ".yaml"], 3, "not a task name or a task file"),
        (["--task", ""], 3, "not a task name or a task file"),
    ],
)
def test_very_long_or_empty_names_are_one_line(args, code, message, tmp_path, capsys):
    assert run_cli("run", *args, "--model", MISSING_MODEL, "--device", "cpu", "--quiet",
                   "--results-dir", str(tmp_path)) == code
    assert message in _one_error_line(capsys)


def test_very_long_model_value_is_one_line(tmp_path, capsys):
    assert run_cli(*_run("--results-dir", str(tmp_path), model="m" * 5000)) == 2
    assert "not a hub id or a path" in _one_error_line(capsys)


def test_long_model_path_still_files_its_result(tiny_models_dir, tmp_path, monkeypatch, capsys):
    """A model folder whose name is far longer than a file name allows: the result path is cut and hashed."""
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    deep = tmp_path / ("m" * 200) / ("n" * 200)
    deep.parent.mkdir()
    os.symlink(tiny_models_dir / "text-classification", deep)
    assert run_cli(*_run("--results-dir", str(tmp_path / "results"), "--num-queries", "2",
                         "--idle-seconds", "0", model=str(deep))) == 0
    written = [p for p in (tmp_path / "results").rglob("*.json")]
    assert len(written) == 1 and all(len(part) <= 255 for part in written[0].parts)
    assert load_valid_result(written[0]).result.model.id == deep.name  # the folder's name, never its path


def test_a_result_that_cannot_be_written_is_saved_to_the_fallback(tiny_models_dir, tmp_path, monkeypatch, capsys):
    """The results folder turns into a file during the run (a full disk or a mistaken `mv` looks the same to
    us): the run still ends with its result on disk, at a path the one error line names."""
    from harness.workloads.text_classification import TextClassificationWorkload

    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    fallback = tmp_path / "fallback"
    monkeypatch.setenv("HARNESS_FALLBACK_DIR", str(fallback))
    results = tmp_path / "results"
    real_run_batch = TextClassificationWorkload.run_batch

    def run_batch_then_break_the_folder(self, batch):
        if not results.exists():
            results.write_text("in the way\n")
        return real_run_batch(self, batch)

    monkeypatch.setattr(TextClassificationWorkload, "run_batch", run_batch_then_break_the_folder)
    argv = _run("--results-dir", str(results), "--num-queries", "2", "--idle-seconds", "0",
                model=str(tiny_models_dir / "text-classification"))
    assert run_cli(*argv) == 5
    err = _one_error_line(capsys)
    saved = list(fallback.glob("*.json"))
    assert len(saved) == 1 and f"it is saved at {saved[0]}" in err
    result = load_valid_result(saved[0]).result
    assert result.settings.num_queries == 2 and result.figures.latency_p50_s.mean > 0
    assert json.loads(saved[0].read_text())["run_id"] == result.run_id
    assert results.read_text() == "in the way\n"


def test_an_implausible_result_is_not_filed_but_kept_for_diagnosis(tiny_models_dir, tmp_path, monkeypatch, capsys):
    """The scripted card draws twice its power limit: the result fails its own check, so nothing is filed under
    the results folder, and the finished run is still on disk, at the path the error line names."""
    script = tmp_path / "hot.json"
    script.write_text(json.dumps({"gpus": [{"power_w": 1400.0, "power_limit_w": 700.0}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))
    fallback = tmp_path / "fallback"
    monkeypatch.setenv("HARNESS_FALLBACK_DIR", str(fallback))
    results = tmp_path / "results"
    argv = _run("--results-dir", str(results), "--num-queries", "2", "--idle-seconds", "0", "--measure-gpus", "0",
                model=str(tiny_models_dir / "text-classification"))
    assert run_cli(*argv) == 4
    err = _one_error_line(capsys)
    kept = list(fallback.glob("*.json"))
    assert len(kept) == 1 and str(kept[0]) in err and "power" in err
    assert not results.exists()
    assert json.loads(kept[0].read_text())["settings"]["num_queries"] == 2
