"""`harness validate` on task files, presets and result files, and `harness schema`."""

from __future__ import annotations

import json

import pytest

from harness.results.store import SCHEMA_FILE, export_json_schema, write_result
from harness.tasks.registry import default_tasks_dir
from harness.testing.synthetic import make_result
from tests.cli_helpers import run_cli_captured as run_cli


def status_lines(out: str) -> dict[str, str]:
    """{status: line} for the per-file lines (`ok`, `warnings`, `invalid`)."""
    return {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in
            ("ok", "warnings", "invalid")}


def good_result_file(folder, name="good.json", **kwargs):
    return write_result(make_result(**kwargs), folder / name)


def result_data(**kwargs) -> dict:
    return make_result(**kwargs).model_dump(mode="json")


# ---------------------------------------------------------------------------------------------- task files


def test_shipped_tasks_and_presets_are_valid(capsys):
    presets = default_tasks_dir().parent / "configs" / "presets"
    code, out, err = run_cli(capsys, "validate", str(default_tasks_dir()), str(presets))
    assert code == 0, out + err
    assert out.count("(task)") == len(list(default_tasks_dir().glob("*.yaml"))) >= 5 and out.count("(preset)") >= 3
    assert "0 invalid" in out and err == ""


def test_one_bad_task_file_does_not_stop_the_others(tmp_path, capsys):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("text-gen", "image-gen"):
        (tasks / f"{name}.yaml").write_text((default_tasks_dir() / f"{name}.yaml").read_text())
    bad = (default_tasks_dir() / "summarization.yaml").read_text().replace("min_new_tokens: 10", "min_new_tokens: 5")
    (tasks / "summarization.yaml").write_text(bad)
    (tasks / "zz-typo.yaml").write_text((default_tasks_dir() / "text-classification.yaml").read_text()
                                        .replace("num_queries: 1000", "num_querys: 1000"))
    code, out, err = run_cli(capsys, "validate", str(tasks))
    assert code != 0
    lines = out.splitlines()
    assert sum(line.startswith("ok") for line in lines) == 2
    invalid = [line for line in lines if line.startswith("invalid")]
    assert len(invalid) == 2
    assert "summarization.yaml: generation: min_new_tokens (5) must equal max_new_tokens (10)" in invalid[0]
    assert "zz-typo.yaml: num_querys: unknown key" in invalid[1]
    assert "4 checked: 2 ok, 0 with warnings, 2 invalid" in out
    assert err.strip() == "error: 2 of 4 checked files are invalid"


def test_a_task_name_used_twice_is_invalid(tmp_path, capsys):
    text = (default_tasks_dir() / "text-gen.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text.replace("id: text-gen", "id: text-gen-copy"))
    code, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert code != 0 and "b.yaml: the name 'text_generation' is also used by" in out


def test_malformed_yaml_is_reported_in_one_line(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("id: text-gen\nkind: [text-gen\n")
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code != 0
    assert f"invalid   {path}: not valid YAML at line" in out
    assert "Traceback" not in out + err


# ---------------------------------------------------------------------------------------------- result files


def test_valid_results_pass(tmp_path, capsys):
    good_result_file(tmp_path / "results" / "a", task="text-gen")
    good_result_file(tmp_path / "results" / "b", task="image-gen", seed=3)
    code, out, err = run_cli(capsys, "validate", str(tmp_path / "results"))
    assert code == 0, out + err
    assert out.count("(result)") == 2 and "2 checked: 2 ok" in out


def test_result_with_warnings_is_valid_and_shows_them(tmp_path, capsys):
    good_result_file(tmp_path, seconds_per_query=0.001, num_queries=20)  # 20 ms windows: under the counter's period
    code, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert code == 0
    assert "warnings" in status_lines(out) and "short-window" in out


def test_what_the_run_flagged_is_reported_not_ok(tmp_path, capsys):
    """A run whose figures are not usable used to read `1 ok`: validate says what the run said, in words to act on."""
    good_result_file(tmp_path, repeats=2, jitter_share=0.6, seed=3)  # the repetitions disagree: below zero
    good_result_file(tmp_path, name="one.json", repeats=1, seed=4)
    code, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert code == 0 and "2 checked: 0 ok, 2 with warnings, 0 invalid" in out
    assert "not usable (gpu_energy_per_1k_queries_wh" in out and "too few repetitions for how much they differ" in out
    assert "run more (--repeats N" in out and "one repetition: the GPU headline has no confidence interval" in out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("corrupt.json", '{"schema_version": "1.0", "run_id": ', "not valid JSON"),
        ("array.json", "[1, 2]", "must hold a JSON object"),
    ],
)
def test_unreadable_results_are_invalid(tmp_path, capsys, name, content, message):
    good_result_file(tmp_path)
    (tmp_path / name).write_text(content)
    code, out, err = run_cli(capsys, "validate", str(tmp_path))
    assert code != 0
    assert message in status_lines(out)["invalid"] and "ok" in status_lines(out)
    assert err.strip() == "error: 1 of 2 checked files are invalid"


def test_nan_in_a_result_is_invalid(tmp_path, capsys):
    data = result_data()
    text = json.dumps(data).replace(json.dumps(data["figures"]["latency_p50_s"]["mean"]), "NaN", 1)
    (tmp_path / "nan.json").write_text(text)
    code, out, _ = run_cli(capsys, "validate", str(tmp_path / "nan.json"))
    assert code != 0 and "NaN is not a valid JSON number" in out


def test_edited_headline_is_invalid(tmp_path, capsys):
    data = result_data()
    data["figures"]["gpu_energy_per_1k_queries_wh"]["mean"] *= 0.5
    (tmp_path / "edited.json").write_text(json.dumps(data))
    code, out, _ = run_cli(capsys, "validate", str(tmp_path / "edited.json"))
    assert code != 0 and "headline" in status_lines(out)["invalid"]


def test_schema_violation_and_implausible_power_are_invalid(tmp_path, capsys):
    unknown_key = result_data()
    unknown_key["figures"]["bonus_wh"] = 1.0
    (tmp_path / "extra.json").write_text(json.dumps(unknown_key))
    too_hot = make_result(mean_power_w=2000.0, seconds_per_query=0.2)  # limit is 700 W
    write_result(too_hot, tmp_path / "hot.json")
    code, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert code != 0
    assert "figures.bonus_wh" in out and "power-within-limit" in out
    assert "2 checked: 0 ok, 0 with warnings, 2 invalid" in out


def test_mixed_paths_missing_paths_and_other_files(tmp_path, capsys):
    result = good_result_file(tmp_path)
    notes = tmp_path / "notes.md"
    notes.write_text("hello")
    empty = tmp_path / "empty"
    empty.mkdir()
    task = default_tasks_dir() / "text-gen.yaml"
    code, out, err = run_cli(capsys, "validate", str(task), str(result), str(tmp_path / "missing"), str(notes),
                             str(empty))
    assert code != 0
    assert f"ok        {task} (task)" in out and f"ok        {result} (result)" in out
    assert "missing: no such file or folder" in out
    assert "notes.md: not a task or preset file (.yaml) or a result file (.json)" in out
    assert "empty: no task (.yaml) or result (.json) files found" in out
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_quiet_prints_only_problems(tmp_path, capsys):
    good_result_file(tmp_path)
    (tmp_path / "bad.json").write_text("{")
    code, out, _ = run_cli(capsys, "validate", "--quiet", str(tmp_path))
    assert code != 0 and "ok " not in out and "invalid" in out


# ---------------------------------------------------------------------------------------------- schema


def test_committed_schema_is_up_to_date(tmp_path):
    fresh = export_json_schema(tmp_path / "schema.json")
    assert fresh.read_text() == SCHEMA_FILE.read_text(), "run `harness schema > harness/results/result.schema.json`"


def test_schema_command_prints_and_writes_the_schema(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "schema")
    assert code == 0 and out == SCHEMA_FILE.read_text()
    assert json.loads(out)["title"] == "ResultFile"
    target = tmp_path / "out" / "result.schema.json"
    code, _, err = run_cli(capsys, "schema", "--out", str(target))
    assert code == 0 and target.read_text() == SCHEMA_FILE.read_text() and str(target) in err
