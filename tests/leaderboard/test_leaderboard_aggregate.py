import json
from datetime import datetime, timedelta, timezone

from conftest import edit_result

from leaderboard.aggregate import aggregate, size_class


def test_groups_by_task_hardware_and_keeps_the_latest_run(add_result, results_dir):
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    add_result(model_id="org/a", task="image-gen", mean_power_w=200.0, created_at=t0, run_id="run-old-a")
    add_result(model_id="org/a", task="image-gen", mean_power_w=250.0, created_at=t0 + timedelta(days=2),
               run_id="run-new-a")
    add_result(model_id="org/a", task="image-gen", gpu_name="NVIDIA L4", run_id="run-l4-a")
    add_result(model_id="org/b", task="text-classification", run_id="run-b-cls")
    board = aggregate(results_dir)
    assert sorted(board.tasks) == ["image-gen", "text-classification"]
    image = board.tasks["image-gen"]
    assert len(image.rated) == 2  # one entry per hardware class
    h100 = [e for e in image.rated if "H100" in e.latest.hardware_class][0]
    assert h100.latest.run_id == "run-new-a"
    assert [r.run_id for r in h100.older] == ["run-old-a"]
    assert sorted(board.models) == ["org/a", "org/b"]
    assert board.num_files == 4 and board.num_runs == 4 and board.refused == ()


def test_text_generation_is_split_by_size_class(add_result, results_dir):
    add_result(model_id="org/small", num_parameters=7_000_000_000)
    add_result(model_id="org/medium", num_parameters=34_000_000_000)
    add_result(model_id="org/large", num_parameters=70_000_000_000)
    add_result(model_id="org/img", task="image-gen", num_parameters=70_000_000_000)
    board = aggregate(results_dir)
    classes = {e.latest.model_id: e.latest.size_class for e in board.tasks["text-gen"].rated}
    assert classes == {"org/small": "A", "org/medium": "B", "org/large": "C"}
    assert len({e.rating_group for e in board.tasks["text-gen"].rated}) == 3
    assert board.tasks["image-gen"].rated[0].latest.size_class is None


def test_size_class_edges():
    assert [size_class(n) for n in (20_000_000_000, 20_000_000_001, 66_000_000_000, 66_000_000_001)] == \
        ["A", "B", "B", "C"]


def test_cpu_only_and_fake_meter_results_are_shown_apart(add_result, results_dir):
    add_result(model_id="org/gpu")
    add_result(model_id="org/cpu", gpu_name="cpu")
    add_result(model_id="org/fake", meter_backend="fake-nvml")
    task = aggregate(results_dir).tasks["text-gen"]
    assert [e.latest.model_id for e in task.rated] == ["org/gpu"]
    assert {e.latest.model_id: e.latest.status for e in task.unrated} == {"org/cpu": "cpu", "org/fake": "test-meter"}


def test_bad_files_are_refused_with_a_reason_and_the_rest_still_loads(add_result, results_dir):
    add_result(model_id="org/good")
    _, nan_path = add_result(model_id="org/nan")
    edit_result(nan_path, lambda d: d["figures"]["gpu_energy_per_1k_queries_wh"].update(mean=float("nan")))
    _, negative_path = add_result(model_id="org/negative")
    edit_result(negative_path,
                lambda d: d["repetitions"][0]["readings"][0]["reading"]["gpu_energy_j"][0].update(value=-5.0))
    _, absurd_path = add_result(model_id="org/absurd")
    edit_result(absurd_path,
                lambda d: d["repetitions"][0]["readings"][0]["reading"]["gpu_energy_j"][0].update(value=1e12))
    (results_dir / "garbage.json").write_text("{not json")
    (results_dir / "list.json").write_text("[]")
    board = aggregate(results_dir)
    assert [e.latest.model_id for e in board.tasks["text-gen"].rated] == ["org/good"]
    reasons = {r.source.split("/")[1] if "/" in r.source else r.source: r.reason for r in board.refused}
    assert len(board.refused) == 5
    assert "not valid JSON" in reasons["org__nan"]
    assert "non-negative-energy" in reasons["org__negative"] or "energy" in reasons["org__negative"]
    assert "power" in reasons["org__absurd"] or "headline" in reasons["org__absurd"]
    assert "not valid JSON" in reasons["garbage.json"]
    assert "JSON object" in reasons["list.json"]


def test_duplicate_run_ids_are_reported_and_only_the_first_is_kept(add_result, results_dir):
    result, path = add_result(model_id="org/a", run_id="same-run-id")
    copy = results_dir / "elsewhere" / "copy.json"
    copy.parent.mkdir()
    copy.write_text(path.read_text())
    board = aggregate(results_dir)
    assert board.num_runs == 1
    assert len(board.refused) == 1
    assert "duplicate run id 'same-run-id'" in board.refused[0].reason
    kept = board.tasks["text-gen"].rated[0].latest.source
    assert {kept, board.refused[0].source} == {"elsewhere/copy.json", path.relative_to(results_dir).as_posix()}
    assert kept in board.refused[0].reason  # the report names the file it duplicates


def test_configuration_comes_from_the_json_not_the_path(add_result, results_dir):
    _, path = add_result(model_id="org/real", task="image-gen")
    misleading = results_dir / "text-gen" / "other__model" / "cpu" / "x.json"
    misleading.parent.mkdir(parents=True)
    path.rename(misleading)
    board = aggregate(results_dir)
    assert list(board.tasks) == ["image-gen"]
    assert board.tasks["image-gen"].rated[0].latest.model_id == "org/real"


def test_an_empty_or_missing_folder_is_an_empty_board(tmp_path):
    assert aggregate(tmp_path).tasks == {}
    assert aggregate(tmp_path / "missing").num_files == 0


def test_parallel_and_serial_loading_agree(add_result, results_dir):
    for i in range(6):
        add_result(model_id=f"org/m{i % 3}", task=["text-gen", "image-gen"][i % 2])
    serial = aggregate(results_dir, workers=1)
    from leaderboard import aggregate as module

    old = module.PARALLEL_MIN_FILES
    module.PARALLEL_MIN_FILES = 1
    try:
        parallel = aggregate(results_dir, workers=2)
    finally:
        module.PARALLEL_MIN_FILES = old
    assert json.dumps(str(serial.tasks)) == json.dumps(str(parallel.tasks))


def test_negative_figures_the_pages_show_are_refused(add_result, results_dir):
    _, path = add_result(model_id="org/negative-latency")
    edit_result(path, lambda d: d["figures"]["latency_p50_s"].update(mean=-1.0))
    board = aggregate(results_dir)
    assert board.tasks == {}
    assert "latency_p50_s" in board.refused[0].reason


def _summary(board):
    """What a cached board must reproduce: every record's fields, timelines as plain numbers."""
    import dataclasses

    return sorted((e.key, dataclasses.replace(e.latest, timelines=()),
                   [(t.gpu_index, tuple(t.t_s), tuple(t.power_w)) for t in e.latest.timelines])
                  for task in board.tasks.values() for e in (*task.rated, *task.unrated))


def test_the_summary_cache_checks_only_new_or_changed_files(add_result, results_dir, tmp_path, monkeypatch):
    from leaderboard import aggregate as module

    cache = tmp_path / "cache"
    for i in range(3):
        add_result(model_id=f"org/m{i}", task="image-gen")
    first = aggregate(results_dir, workers=1, cache_dir=cache)
    checked = []
    real = module._check_file
    monkeypatch.setattr(module, "_check_file", lambda path, root: checked.append(path.name) or real(path, root))
    again = aggregate(results_dir, workers=1, cache_dir=cache)
    assert checked == []  # nothing new: every summary comes from the cache
    assert _summary(again) == _summary(first)
    _, new = add_result(model_id="org/new", task="image-gen")
    _, changed = add_result(model_id="org/changed", task="image-gen")
    aggregate(results_dir, workers=1, cache_dir=cache)
    assert sorted(checked) == sorted([new.name, changed.name])
    checked.clear()
    edit_result(changed, lambda d: d["figures"]["latency_p50_s"].update(mean=-1.0))
    board = aggregate(results_dir, workers=1, cache_dir=cache)
    assert checked == [changed.name]  # an edited file is checked again, and now refused
    assert [r.source for r in board.refused] == [changed.relative_to(results_dir).as_posix()]
    copy = results_dir / "copy" / "same-bytes.json"
    copy.parent.mkdir()
    copy.write_bytes(new.read_bytes())
    checked.clear()
    board = aggregate(results_dir, workers=1, cache_dir=cache)
    assert checked == []  # the same bytes at another path reuse the summary, under their own path
    kept = {e.latest.source for t in board.tasks.values() for e in t.rated}
    assert "copy/same-bytes.json" in kept  # first in path order, so kept; the original is the duplicate
    assert any(r.source == new.relative_to(results_dir).as_posix() and "duplicate run id" in r.reason
               for r in board.refused)
    (cache / "summaries.json").write_bytes(b"not a cache")
    assert _summary(aggregate(results_dir, workers=1, cache_dir=cache)) == _summary(board)


def test_the_cache_starts_afresh_when_the_checking_code_changes(add_result, results_dir, tmp_path, monkeypatch):
    from leaderboard import aggregate as module
    from leaderboard import cache as cache_module

    add_result(model_id="org/a")
    aggregate(results_dir, workers=1, cache_dir=tmp_path / "cache")
    checked = []
    real = module._check_file
    monkeypatch.setattr(module, "_check_file", lambda path, root: checked.append(path.name) or real(path, root))
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda: "other code")
    aggregate(results_dir, workers=1, cache_dir=tmp_path / "cache")
    assert len(checked) == 1


def test_a_build_with_an_empty_cache_reads_each_file_once(add_result, results_dir, tmp_path, monkeypatch):
    from leaderboard import cache as cache_module

    for i in range(3):
        add_result(model_id=f"org/m{i}", task="image-gen")
    hashed = []
    real = cache_module._digest
    monkeypatch.setattr(cache_module, "_digest", lambda path: hashed.append(path) or real(path))
    monkeypatch.setattr(cache_module, "RACY_S", -1.0)  # files this young are hashed once more, see the racy test
    cache = tmp_path / "cache"
    aggregate(results_dir, workers=1, cache_dir=cache)
    assert hashed == []  # nothing to find by content: the check's own read gives the digest
    _, new = add_result(model_id="org/new", task="image-gen")
    aggregate(results_dir, workers=1, cache_dir=cache)
    assert hashed == [str(new)]  # a file the index does not know is hashed, to find a copy or a move
