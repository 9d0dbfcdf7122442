"""`harness import`: a malformed or hostile source file is one `error:` line and imports nothing; a re-import leaves
identical files alone and refuses to replace different ones."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.published.importing import import_source
from harness.published.schema import SourceFileError
from tests.cli_helpers import run_cli_captured

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / "published" / "raw"
AIES_CSV = "data/AI-energy-leaderboard/asr.csv"
AIES_GOOD = b"model,total_gpu_energy,energy_score\r\nopenai/whisper-tiny,0.0123,5\r\n"
V3_JSON = "public/data/tasks/gpqa.json"


def _source(tmp_path: Path, relative: str, data: bytes) -> Path:
    folder = tmp_path / "checkout"
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    (folder / relative).write_bytes(data)
    return folder


def _v3(mutate) -> bytes:
    document = json.loads((RAW / "mlenergy-v3" / V3_JSON).read_text())
    mutate(document)
    return json.dumps(document).encode()


def _refused(capsys, tmp_path: Path, source: str, folder: Path, code: int = 5) -> str:
    out = tmp_path / "published"
    exit_code, stdout, stderr = run_cli_captured(capsys, "import", source, str(folder), "--out", str(out))
    assert exit_code == code, stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert not out.exists()  # nothing imported
    return stderr


def test_a_good_file_imports(capsys, tmp_path):
    folder = _source(tmp_path, AIES_CSV, AIES_GOOD)
    code, stdout, _ = run_cli_captured(capsys, "import", "aies-v1", str(folder), "--out", str(tmp_path / "out"))
    assert code == 0 and "1 records (aies-v1 1)" in stdout
    line = (tmp_path / "out" / "aies-v1.jsonl").read_text()
    assert '"as_written": "0.0123"' in line and '"value": 12.3' in line
    assert (tmp_path / "out" / "raw" / "aies-v1" / AIES_CSV).read_bytes() == AIES_GOOD


@pytest.mark.parametrize(("data", "says"), [
    (b"\xff\xfemodel,total_gpu_energy,energy_score\n", "not UTF-8"),
    (b"model,energy,energy_score\nx/y,1,5\n", "the header is"),
    (b"model,total_gpu_energy,energy_score\n", "no rows"),
    (b"model,total_gpu_energy,energy_score\nx/y,1\n", "2 cells"),
    (b"model,total_gpu_energy,energy_score\nx/y,nan,5\n", "'nan' is not a number"),
    (b"model,total_gpu_energy,energy_score\nx/y,1e999,5\n", "out of range"),
    (b"model,total_gpu_energy,energy_score\nx/y,-0.1,5\n", "below 0"),
    (b"model,total_gpu_energy,energy_score\nx/y,0x10,5\n", "not a number"),
    (b"model,total_gpu_energy,energy_score\nx/y,0.1,6\n", "not a star rating"),
    (b"model,total_gpu_energy,energy_score\n\"x/\x1b[31my\",0.1,5\n", "control character U+001B"),
    ("model,total_gpu_energy,energy_score\nx/\u202ey,0.1,5\n".encode(), "U+202E"),
    (b"model,total_gpu_energy,energy_score\n,0.1,5\n", "empty"),
    (b"model,total_gpu_energy,energy_score\n\"x/y,0.1,5\n", "not valid CSV"),
    (b"model,total_gpu_energy,energy_score\nx\x00y,0.1,5\n", "U+0000"),
])
def test_a_malformed_or_hostile_csv_is_one_line_and_imports_nothing(capsys, tmp_path, data, says):
    stderr = _refused(capsys, tmp_path, "aies-v1", _source(tmp_path, AIES_CSV, data))
    assert says in stderr and "asr.csv" in stderr


def test_one_bad_file_among_good_ones_imports_nothing(capsys, tmp_path):
    folder = _source(tmp_path, AIES_CSV, AIES_GOOD)
    (folder / "data/AI-energy-leaderboard/summarization.csv").write_bytes(b"model,total_gpu_energy,energy_score\n"
                                                                        b"x/y,abc,5\n")
    assert "summarization.csv: line 2" in _refused(capsys, tmp_path, "aies-v1", folder)


def test_a_file_of_a_task_the_source_does_not_have_is_refused(capsys, tmp_path):
    folder = _source(tmp_path, "data/AI-energy-leaderboard/translation.csv", AIES_GOOD)
    assert "not one of AI Energy Score's ten tasks" in _refused(capsys, tmp_path, "aies-v1", folder)


def test_a_fifo_and_an_oversized_file_are_refused_unread(capsys, tmp_path):
    folder = tmp_path / "checkout" / "data" / "AI-energy-leaderboard"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "asr.csv")
    assert "not a regular file" in _refused(capsys, tmp_path, "aies-v1", tmp_path / "checkout")
    (folder / "asr.csv").unlink()
    with open(folder / "asr.csv", "wb") as handle:
        handle.truncate(5 * 1024**2)
    assert "more than the" in _refused(capsys, tmp_path, "aies-v1", tmp_path / "checkout")


@pytest.mark.parametrize(("mutate", "says"), [
    (lambda d: d["configurations"][3].__setitem__("energy_per_token_joules", "0.5"), "is not a number"),
    (lambda d: d["configurations"][3].__setitem__("num_gpus", 1.5), "not a whole number"),
    (lambda d: d["configurations"][3].__setitem__("extra", 1), "unknown key 'extra'"),
    (lambda d: d["configurations"][3].pop("gpu_model"), "no 'gpu_model'"),
    (lambda d: d["configurations"][3].__setitem__("model_id", ["x"]), "is not text"),
    (lambda d: d.__setitem__("task", "lm-arena-chat"), "not the task the file is named after"),
    (lambda d: d.__setitem__("configurations", []), "not a list of configurations"),
    (lambda d: d.__setitem__("configurations", {"a": 1}), "not a list of configurations"),
])
def test_a_malformed_json_configuration_is_one_line_naming_its_place(capsys, tmp_path, mutate, says):
    stderr = _refused(capsys, tmp_path, "mlenergy-v3", _source(tmp_path, V3_JSON, _v3(mutate)))
    assert says in stderr and "gpqa.json" in stderr


@pytest.mark.parametrize(("data", "says"), [
    (b"[" * 100 + b"]" * 100, "nested more than"),
    (b'{"configurations": [NaN]}', "not valid JSON"),
    (b'{"a": 1e400}', "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[1, 2]", "not an object"),
    (b'{"task": "gpqa", "task": "gpqa"}', "given twice"),
])
def test_hostile_json_is_refused_by_the_bounded_reader(capsys, tmp_path, data, says):
    assert says in _refused(capsys, tmp_path, "mlenergy-v3", _source(tmp_path, V3_JSON, data))


def test_a_v2_configuration_with_a_fractional_parallel_degree_is_refused(capsys, tmp_path):
    relative = "data/llm_text_generation/chat/H100 80GB HBM3/google/gemma-2-27b-it/bs128+tp2+pp1.json"
    document = json.loads((RAW / "mlenergy-v2" / relative).read_text())
    document["TP"] = 2.5
    stderr = _refused(capsys, tmp_path, "mlenergy-v2", _source(tmp_path, relative, json.dumps(document).encode()))
    assert "TP" in stderr and "not a whole number" in stderr


def test_usage_problems_are_one_line_too(capsys, tmp_path):
    folder = _source(tmp_path, AIES_CSV, AIES_GOOD)
    assert "unknown source 'aies'" in _refused(capsys, tmp_path, "aies", folder, code=2)
    code, _, stderr = run_cli_captured(capsys, "import", "aies-v1", str(folder), "--commit", "abc", "--out",
                                       str(tmp_path / "o"))
    assert code == 2 and "--commit must be the 40 hex digits" in stderr
    code, _, stderr = run_cli_captured(capsys, "import", "mlenergy-v3", str(folder / AIES_CSV), "--out",
                                       str(tmp_path / "o"))
    assert code == 2 and "not one of mlenergy-v3's files" in stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no aies-v1 files" in _refused(capsys, tmp_path, "aies-v1", empty, code=3)


def test_reimporting_leaves_identical_files_and_refuses_to_replace_different_ones(capsys, tmp_path):
    folder = _source(tmp_path, AIES_CSV, AIES_GOOD)
    out = tmp_path / "out"
    assert run_cli_captured(capsys, "import", "aies-v1", str(folder), "--out", str(out))[0] == 0
    code, stdout, _ = run_cli_captured(capsys, "import", "aies-v1", str(folder), "--out", str(out))
    assert code == 0 and "0 files written, 3 unchanged" in stdout
    (folder / AIES_CSV).write_bytes(AIES_GOOD.replace(b"0.0123", b"0.0124"))
    (folder / "data/AI-energy-leaderboard/summarization.csv").write_bytes(AIES_GOOD)  # new: not written either
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, _, stderr = run_cli_captured(capsys, "import", "aies-v1", str(folder), "--out", str(out))
    assert code == 1 and "refusing to overwrite" in stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_two_different_copies_of_one_source_file_are_refused(tmp_path):
    first = _source(tmp_path / "a", AIES_CSV, AIES_GOOD)
    second = _source(tmp_path / "b", AIES_CSV, AIES_GOOD.replace(b"0.0123", b"0.0124"))
    with pytest.raises(SourceFileError, match="with different contents"):
        import_source("aies-v1", [first, second])
    assert len(import_source("aies-v1", [first, first]).sources) == 1
