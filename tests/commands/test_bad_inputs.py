"""Every command against bad and hostile input: its exit code, one `error:` line on stderr, never a traceback.

Each row builds its bad input in a fresh folder (`tmp`), runs the real CLI in-process, and checks the promise
the README makes: a user error is one line with its exit code (after any per-file report), no traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result
from tests.cli_helpers import run_cli

DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_YAML = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"


def _result(tmp: Path, **changes) -> Path:
    """A valid result under tmp/results, edited by `changes` (dotted keys)."""
    result = make_result(seed=len(list(tmp.rglob("*.json"))) + 1)
    path = write_result(result, default_result_path(tmp / "results", result))
    if changes:
        data = json.loads(path.read_text())
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            node = data
            for key in parents:
                node = node[key]
            node[last] = value
        path.unlink()
        path.write_text(json.dumps(data))
    return path


def _file(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _fifo(tmp: Path, name: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _dev_zero(tmp: Path, name: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink("/dev/zero", path)
    return path


def _bundle(tmp: Path, manifest: str) -> Path:
    folder = tmp / "bundle"
    (folder / "results").mkdir(parents=True)
    (folder / "MANIFEST.json").write_text(manifest)
    return folder


def _nan_script(tmp: Path, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(_file(tmp, "nan.json", '{"gpus": [{"power_w": NaN}]}')))


def _broken_clip_dataset(tmp: Path) -> Path:
    """A local speech dataset whose one row names a WAV file that is not audio (refused before any model loads)."""
    _file(tmp, "clip.wav", "RIFF....WAVEnot audio")
    return _file(tmp, "speech.jsonl", json.dumps({"audio": "clip.wav"}) + "\n")


Case = tuple[str, Callable[..., list[str]], int, str]

CASES: list[Case] = [
    # validate: every file gets a status; the command ends in one error line
    ("validate-deep-json", lambda t, m: ["validate", str(_file(t, "deep.json", DEEP_JSON))], 1, "invalid"),
    ("validate-deep-yaml", lambda t, m: ["validate", str(_file(t, "deep.yaml", DEEP_YAML))], 1, "invalid"),
    ("validate-fifo", lambda t, m: ["validate", str(_fifo(t, "f.json"))], 1, "invalid"),
    ("validate-folder-fifo", lambda t, m: [_fifo(t, "d/f.json"), "validate", str(t / "d")][1:], 1, "invalid"),
    ("validate-dev-zero", lambda t, m: ["validate", str(_dev_zero(t, "z.json"))], 1, "invalid"),
    ("validate-huge-int", lambda t, m: ["validate", str(_result(t, **{"model.num_parameters": 10**400}))], 1,
     "invalid"),
    ("validate-float-version", lambda t, m: ["validate", str(_result(t, schema_version=1.0))], 1, "invalid"),
    # verify
    ("verify-deep-manifest", lambda t, m: ["verify", str(_bundle(t, DEEP_JSON))], 5, "MANIFEST.json"),
    ("verify-nan-manifest", lambda t, m: ["verify", str(_bundle(t, '{"format": NaN}'))], 5, "MANIFEST.json"),
    ("verify-fifo", lambda t, m: ["verify", str(_fifo(t, "b.tar.gz"))], 5, "b.tar.gz"),
    # collect
    ("collect-deep", lambda t, m: ["collect", str(_file(t, "in/deep.json", DEEP_JSON)), "--results-dir",
                                   str(t / "out")], 5, "refused"),
    ("collect-fifo", lambda t, m: [_fifo(t, "in/f.json"), "collect", str(t / "in"), "--results-dir",
                                   str(t / "out")][1:], 5, "refused"),
    ("collect-into-file", lambda t, m: ["collect", str(_result(t)), "--results-dir",
                                        str(_file(t, "f", "x"))], 2, "is a file"),
    # submit
    ("submit-unwritable", lambda t, m: ["submit", str(_result(t)), "--out", str(_file(t, "f", "x") / "b.tar.gz")],
     1, "cannot write"),
    ("submit-deep", lambda t, m: ["submit", str(_file(t, "deep.json", DEEP_JSON)), "--out", str(t / "b.tar.gz")],
     5, "nested"),
    # label
    ("label-out-folder", lambda t, m: ["label", str(_result(t)), "--out", str(t)], 1, "is a folder"),
    ("label-out-unwritable", lambda t, m: ["label", str(_result(t)), "--out", "/proc/label.svg"], 1,
     "cannot write"),
    ("label-deep", lambda t, m: ["label", str(_file(t, "deep.json", DEEP_JSON))], 5, "nested"),
    ("label-control-char", lambda t, m: ["label", str(_result(t, **{"model.id": "org/a\x01b"}))], 5,
     "control character"),
    # schema
    ("schema-out-folder", lambda t, m: ["schema", "--out", str(t)], 1, "is a folder"),
    # plan and tasks
    ("plan-deep", lambda t, m: ["plan", str(_file(t, "c.yaml", DEEP_YAML))], 2, "nested"),
    ("plan-fifo", lambda t, m: ["plan", str(_fifo(t, "c.yaml"))], 2, "not a regular file"),
    ("tasks-deep-file", lambda t, m: ["tasks", str(_file(t, "deep.yaml", DEEP_YAML))], 2, "nested"),
    ("tasks-dir-two-claim-one-alias", lambda t, m: [
        _file(t, "tasks/a.yaml", (Path("tasks") / "text-gen.yaml").read_text()),
        _file(t, "tasks/b.yaml", (Path("tasks") / "text-gen.yaml").read_text().replace("id: text-gen", "id: other")),
        "tasks", "--tasks-dir", str(t / "tasks")][2:], 2, "text-gen"),
    # leaderboard build
    ("leaderboard-out-unwritable", lambda t, m: ["leaderboard", "build", str(_result(t).parents[3]), "--out",
                                                 str(_file(t, "f", "x") / "site")], 1, "cannot write the site"),
    ("run-idle-inf", lambda t, m: ["run", "--task", "text-gen", "--model", "/nonexistent", "--device", "cpu",
                                   "--idle-seconds", "inf", "--results-dir", str(t)], 2, "finite"),
    ("run-undecodable-audio", lambda t, m: ["run", "--task", "speech-to-text", "--model", "/nonexistent",
                                            "--device", "cpu", "--set", "inputs=dataset", "--set",
                                            f"dataset.path={_broken_clip_dataset(t)}"], 2, "not a readable WAV file"),
    ("run-output-dev-null", lambda t, m: ["run", "--task", "text-gen", "--model", "/nonexistent", "--device", "cpu",
                                          "--output", "/dev/null"], 2, "nothing was measured"),
]


@pytest.mark.parametrize(("name", "build", "code", "message"), CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_error_line(name, build, code, message, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    argv = build(tmp_path, monkeypatch)
    capsys.readouterr()
    assert run_cli(*argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    # One `error:` line, last; a batch command's per-file report may come before it (collect writes it to stderr).
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:], captured.err
    assert message in captured.err or message in captured.out, (captured.err, captured.out)


def test_a_fake_nvml_script_with_nan_power(tiny_models_dir, tmp_path, monkeypatch, capsys):
    """`env` reports the script as the reason no GPU is usable; `run` ends in one line before measuring."""
    _nan_script(tmp_path, monkeypatch)
    assert run_cli("env") == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out and "NaN is not a valid JSON number" in captured.out
    assert run_cli("run", "--task", "text-classification", "--model", str(tiny_models_dir / "text-classification"),
                   "--device", "cpu", "--measure-gpus", "0", "--preset", "smoke", "--quiet",
                   "--results-dir", str(tmp_path / "r")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "fake NVML script" in err
    assert not (tmp_path / "r").exists()
