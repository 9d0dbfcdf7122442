"""`harness tasks`: the table, one task in full, JSON output and errors."""

from __future__ import annotations

import json

from harness.tasks.inputs import builtin_set_name
from harness.tasks.registry import default_tasks_dir, list_tasks
from tests.cli_helpers import run_cli_captured as run_cli


def test_narrow_terminal_lists_every_task_as_a_block(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run_cli(capsys, "tasks")
    assert code == 0 and err == ""
    assert max(len(line) for line in out.splitlines()) <= 80
    for spec in list_tasks():
        assert f"{spec.id}  version {spec.version}, kind {spec.kind}" in out
    assert "1000 queries, batch 1, bfloat16, inputs cut to 2048 tokens" in out
    assert "generation: 30 steps, pipeline's own size and guidance, seed 0" in out
    assert f"inputs: {builtin_set_name('summarization')}" in out


def test_wide_terminal_shows_a_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = run_cli(capsys, "tasks")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("│ ") and line.split("│")[1].strip()]
    assert [row.split("│")[1].strip() for row in rows] == [spec.id for spec in list_tasks()]
    assert "10 new tokens, greedy" in out and builtin_set_name("text-gen") in out


def test_json_lists_the_validated_specs(capsys):
    code, out, _ = run_cli(capsys, "tasks", "--json")
    assert code == 0
    data = json.loads(out)
    assert [task["id"] for task in data] == [spec.id for spec in list_tasks()]
    by_id = {task["id"]: task for task in data}
    assert by_id["text-gen"]["generation"] == {"mode": "fixed", "min_new_tokens": 10, "max_new_tokens": 10,
                                               "do_sample": False, "num_beams": 1, "enable_thinking": None}
    assert by_id["text-gen-chat"]["generation"]["mode"] == "chat"
    assert by_id["image-gen"]["generation"]["num_inference_steps"] == 30
    assert by_id["text-gen"]["input_set"] == builtin_set_name("text-gen")
    assert "text_generation" in by_id["text-gen"]["aliases"]
    assert all(task["sources"] for task in data)


def test_one_task_by_alias(capsys):
    code, out, _ = run_cli(capsys, "tasks", "image_generation", "--json")
    assert code == 0 and json.loads(out)["id"] == "image-gen"
    code, out, _ = run_cli(capsys, "tasks", "summarization")
    assert code == 0 and "generation.max_new_tokens" in out and "source: dtype" in out


def test_unknown_task_is_one_line_with_a_suggestion(capsys):
    code, out, err = run_cli(capsys, "tasks", "txt-gen")
    assert code == 3 and out == ""
    assert err.startswith("error: unknown task 'txt-gen'; did you mean 'text-gen'?")
    assert len(err.strip().splitlines()) == 1


def test_other_tasks_folder(tmp_path, capsys):
    (tmp_path / "text-gen.yaml").write_text((default_tasks_dir() / "text-gen.yaml").read_text())
    code, out, _ = run_cli(capsys, "tasks", "--json", "--tasks-dir", str(tmp_path))
    assert code == 0 and [task["id"] for task in json.loads(out)] == ["text-gen"]
    (tmp_path / "broken.yaml").write_text("id: [")
    code, out, err = run_cli(capsys, "tasks", "--tasks-dir", str(tmp_path))
    assert code == 2 and "broken.yaml: not valid YAML" in err and len(err.strip().splitlines()) == 1
