"""Runs that did the same work share one leaderboard entry, however their settings were typed."""

from __future__ import annotations

from pathlib import Path

from harness.results.identity import result_workload_key
from harness.results.store import iter_result_files, load_result
from leaderboard.aggregate import aggregate
from tests.cli_helpers import run_cli

REPO = Path(__file__).resolve().parents[2]


def _task_file(tmp_path: Path) -> Path:
    """The repository's classification task with a default of 3 queries, so a run is quick."""
    text = (REPO / "tasks" / "text-classification.yaml").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("num_queries:")]
    path = tmp_path / "classify-3.yaml"
    path.write_text("\n".join([*lines, "num_queries: 3", ""]))
    return path


def _run(task: Path, model: Path, results: Path, *extra: str) -> None:
    code = run_cli("run", "--task", str(task), "--model", str(model), "--device", "cpu", "--idle-seconds", "0.2",
                   "--warmup-queries", "1", "--measure-gpus", "0", "--results-dir", str(results), "--quiet", *extra)
    assert code == 0


def test_typed_default_and_task_default_are_one_group(tiny_models_dir, fake_gpu, tmp_path):
    task, model, results = _task_file(tmp_path), tiny_models_dir / "text-classification", tmp_path / "results"
    _run(task, model, results)                                # the task's default of 3 queries
    _run(task, model, results, "--num-queries", "3")          # the same number, typed
    _run(task, model, results, "--set", "num_queries=3")      # the same number, as an override
    _run(task, model, results, "--num-queries", "2")          # other work
    loaded = [load_result(path) for path in iter_result_files(results)]
    assert sorted(len(r.settings.overrides) for r in loaded) == [0, 1, 1, 1]  # typed differently...
    keys = [result_workload_key(r) for r in loaded]
    assert len(set(keys)) == 2                                   # ...but two workloads

    board = aggregate(results)
    (task_board,) = board.tasks.values()
    entries = [*task_board.rated, *task_board.unrated]
    by_queries = {entry.latest.num_queries: entry for entry in entries}
    assert sorted(by_queries) == [2, 3] and len(entries) == 2
    assert len(by_queries[3].older) == 2 and not by_queries[2].older
    assert by_queries[3].rating_group != by_queries[2].rating_group


def test_runs_by_different_engines_are_never_one_entry(tiny_models_dir, fake_gpu, tmp_path):
    """The same model and task through another engine (here a file saying so, as a serving engine's would) is its
    own entry, labelled with its engine; the default engine's label is left as it was."""
    import json

    from harness.results.store import parse_result, save_result

    task, model, results = _task_file(tmp_path), tiny_models_dir / "text-classification", tmp_path / "results"
    _run(task, model, results)
    (path,) = iter_result_files(results)
    data = json.loads(path.read_text())
    data["run_id"] = data["run_id"][:-1] + ("0" if data["run_id"][-1] != "0" else "1")
    data["engine"] = {"name": "vllm", "version": "0.11.0", "settings": "{\"max_num_seqs\": 8}"}
    served = parse_result(json.dumps(data).encode(), "served.json")
    save_result(served, results / "served.json")

    board = aggregate(results)
    (task_board,) = board.tasks.values()
    entries = [*task_board.rated, *task_board.unrated]
    assert sorted(entry.latest.engine for entry in entries) == ["transformers", "vllm"]
    by_engine = {entry.latest.engine: entry for entry in entries}
    assert "engine vllm" in by_engine["vllm"].latest.workload
    assert "engine" not in by_engine["transformers"].latest.workload
    assert dict(by_engine["vllm"].latest.environment)["engine"] == "vllm 0.11.0"
    assert by_engine["vllm"].key != by_engine["transformers"].key
