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


def _symlink(tmp: Path, name: str, to: Path) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(to, path)
    return path


def _campaign(tmp: Path, grid: int, hardware: str = "cpu") -> Path:
    """A campaign whose one group sweeps two settings of `grid` values each: `grid`**2 jobs per hardware class."""
    values = ", ".join(str(v) for v in range(1, grid + 1))
    return _file(tmp, "c.yaml", f"name: big\nhardware: [{hardware}]\ngroups:\n  - tasks: [text-classification]\n"
                                f"    models: [org/m]\n    settings:\n      - num_queries: [{values}]\n"
                                f"        batch_size: [{values}]\n")


def _many_member_archive(tmp: Path, members: int) -> Path:
    import io
    import tarfile

    path = tmp / "many.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for i in range(members):
            tar.addfile(tarfile.TarInfo(f"b/logs/{i}.log"), io.BytesIO(b""))
    return path


def _duplicate_member_bundle(tmp: Path) -> Path:
    """A folder bundle whose manifest lists its one result twice (the second entry would hide the first)."""
    import hashlib

    result = _result(tmp / "src")
    folder = tmp / "bundle"
    (folder / "results").mkdir(parents=True)
    data = result.read_bytes()
    (folder / "results" / "r.json").write_bytes(data)
    entry = json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data), "kind": "result"})
    (folder / "MANIFEST.json").write_text(
        '{"format": "ai-energy-harness-submission", "format_version": 1, "harness_version": "1", '
        f'"created_at": "2026-01-01T00:00:00Z", "files": {{"results/r.json": {entry}, "results/r.json": {entry}}}}}')
    return folder


def _two_files_one_id(tmp: Path) -> Path:
    text = (Path("tasks") / "text-gen.yaml").read_text()
    _file(tmp, "tasks/a.yaml", text)
    _file(tmp, "tasks/b.yaml", text.replace("title:", "title: Copy of"))
    return tmp / "tasks"


RUN = ["run", "--task", "text-gen", "--model", "/nonexistent", "--device", "cpu"]


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
    ("label-out-folder", lambda t, m: ["label", str(_result(t)), "--out", str(t)], 1, "existing folder"),
    ("label-out-result", lambda t, m: ["label", str(_result(t)), "--out", str(_result(t))], 1,
     "refusing to overwrite existing file"),
    ("label-out-symlink", lambda t, m: ["label", str(_result(t)), "--out", str(_symlink(t, "l.svg", t / "x.svg"))],
     1, "existing symbolic link"),
    ("label-out-dev-null", lambda t, m: ["label", str(_result(t)), "--out", "/dev/null"], 1, "existing device"),
    ("label-default-exists", lambda t, m: [_file(_result(t).parent, f"{_result(t).stem}.label.svg", "x"), "label",
                                           str(sorted((t / "results").rglob("*.json"))[-1])][1:], 1,
     "refusing to overwrite"),
    ("label-out-unwritable", lambda t, m: ["label", str(_result(t)), "--out", "/proc/label.svg"], 1,
     "cannot write"),
    ("label-deep", lambda t, m: ["label", str(_file(t, "deep.json", DEEP_JSON))], 5, "nested"),
    ("label-control-char", lambda t, m: ["label", str(_result(t, **{"model.id": "org/a\x01b"}))], 5,
     "control character"),
    # schema
    ("schema-out-folder", lambda t, m: ["schema", "--out", str(t)], 1, "existing folder"),
    ("schema-out-result", lambda t, m: ["schema", "--out", str(_result(t))], 1, "refusing to overwrite existing file"),
    # export
    ("export-csv-out-result", lambda t, m: ["export", str(_result(t)), "--format", "csv", "--out", str(_result(t))],
     1, "refusing to overwrite existing file"),
    ("export-emissions-out-dev-null", lambda t, m: ["export", str(_result(t)), "--format", "emissions", "--out",
                                                    "/dev/null"], 1, "existing device"),
    ("export-parquet-out-symlink", lambda t, m: ["export", str(_result(t)), "--out",
                                                 str(_symlink(t, "t.parquet", t / "elsewhere"))], 1, "symbolic link"),
    ("export-empty-folder", lambda t, m: [(t / "empty").mkdir(), "export", str(t / "empty"), "--out",
                                          str(t / "x.csv"), "--format", "csv"][1:], 3, "no result files"),
    # plan and tasks
    ("plan-deep", lambda t, m: ["plan", str(_file(t, "c.yaml", DEEP_YAML))], 2, "nested"),
    ("plan-fifo", lambda t, m: ["plan", str(_fifo(t, "c.yaml"))], 2, "not a regular file"),
    ("plan-out-exists", lambda t, m: ["plan", "configs/campaigns/smoke.yaml", "--out", str(_file(t, "j.json", "[]"))],
     1, "refusing to overwrite existing file"),
    ("plan-github-output-folder", lambda t, m: ["plan", "configs/campaigns/smoke.yaml", "--format", "github-matrix",
                                                "--github-output", str(t)], 2, "is a folder"),
    ("plan-github-output-fifo", lambda t, m: ["plan", "configs/campaigns/smoke.yaml", "--format", "github-matrix",
                                              "--github-output", str(_fifo(t, "out"))], 1, "not a regular file"),
    ("plan-grid-of-millions", lambda t, m: ["plan", str(_campaign(t, 1200))], 2, "more than the 10000"),
    ("plan-jobs-over-the-limit", lambda t, m: ["plan", str(_campaign(t, 100, "cpu, gpu"))], 2,
     "more than 10000 jobs"),
    ("run-sweep-grid-of-millions", lambda t, m: [*RUN, "--set", f"num_queries=[{','.join(map(str, range(1, 1200)))}]",
                                                 "--set", f"batch_size=[{','.join(map(str, range(1, 1200)))}]"], 2,
     "more than the 10000"),
    ("verify-million-members", lambda t, m: ["verify", str(_many_member_archive(t, 10_001))], 5,
     "more than 10000 members"),
    ("verify-member-listed-twice", lambda t, m: ["verify", str(_duplicate_member_bundle(t))], 5, "given twice"),
    ("tasks-dir-two-files-one-id", lambda t, m: ["tasks", "--tasks-dir", str(_two_files_one_id(t))], 2,
     "'text-gen' is used by both task 'text-gen' and 'text-gen' (in"),
    ("tasks-deep-file", lambda t, m: ["tasks", str(_file(t, "deep.yaml", DEEP_YAML))], 2, "nested"),
    ("tasks-dir-two-claim-one-alias", lambda t, m: [
        _file(t, "tasks/a.yaml", (Path("tasks") / "text-gen.yaml").read_text()),
        _file(t, "tasks/b.yaml", (Path("tasks") / "text-gen.yaml").read_text().replace("id: text-gen", "id: other")),
        "tasks", "--tasks-dir", str(t / "tasks")][2:], 2, "text-gen"),
    # leaderboard build
    ("leaderboard-out-unwritable", lambda t, m: ["leaderboard", "build", str(_result(t).parents[3]), "--out",
                                                 str(_file(t, "f", "x") / "site")], 1, "cannot write the site"),
    ("leaderboard-out-symlink", lambda t, m: ["leaderboard", "build", str(_result(t).parents[3]), "--out",
                                              str(_symlink(t, "site", t / "real-site"))], 1, "symbolic link"),
    ("run-idle-inf", lambda t, m: ["run", "--task", "text-gen", "--model", "/nonexistent", "--device", "cpu",
                                   "--idle-seconds", "inf", "--results-dir", str(t)], 2, "finite"),
    ("run-min-window-years", lambda t, m: [*RUN, "--min-window-s", "1e9"], 2, "--min-window-s 1e+09 is more than"),
    ("run-idle-settle-years", lambda t, m: [*RUN, "--idle-settle-s", "1e9"], 2, "--idle-settle-s 1e+09 is more than"),
    ("run-max-repeats-huge", lambda t, m: [*RUN, "--target-ci", "1", "--max-repeats", "100000"], 2,
     "--max-repeats 100000 is more than the 1000"),
    ("run-batch-size-huge", lambda t, m: [*RUN, "--batch-size", "1000000000"], 2,
     "batch_size 1e+09 is more than the 1e+06"),
    ("run-new-tokens-huge", lambda t, m: [*RUN, "--set", "generation.max_new_tokens=100000000"], 2,
     "new_tokens 1e+08 is more than the 1e+06"),
    ("run-set-nested-deep", lambda t, m: [*RUN, "--set", "num_queries=" + "[" * 5000 + "]" * 5000], 2, "nested"),
    ("run-set-scalar-nested-deep", lambda t, m: [*RUN, "--set", "generation.max_new_tokens=" + "{a: " * 3000 + "1"
                                                 + "}" * 3000], 2, "nested"),
    ("run-model-id-control", lambda t, m: [*RUN, "--model-id", "org/a\x1bb"], 2, "control character U+001B"),
    ("run-model-id-bidi", lambda t, m: [*RUN, "--model-id", "org/\u202egnp.exe"], 2, "RIGHT-TO-LEFT OVERRIDE"),
    ("run-model-id-empty", lambda t, m: [*RUN, "--model-id", " "], 2, "--model-id is empty"),
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
