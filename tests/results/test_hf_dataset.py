"""Raw result files load with `datasets`, typed by the schema's own features, and export as a dataset folder."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
from pydantic import BaseModel

from harness.errors import ResultFileError
from harness.files import umask, write_json_atomic
from harness.results.hf_dataset import _feature, result_features
from harness.results.schema import ResultFile
from harness.results.store import default_result_path, load_result, parse_result, write_result
from harness.testing.synthetic import make_result, one_x_layout
from tests.cli_helpers import run_cli

datasets = pytest.importorskip("datasets")


def _runs() -> list[ResultFile]:
    """Runs whose nulls, empty lists and GPU maps differ: the CPU one first breaks an untyped load."""
    return [
        make_result(task="text-classification", gpu_name="cpu", meter_backend="none", seed=1),
        make_result(task="text-gen", seed=2),
        make_result(task="image-gen", repeats=1, seed=3),
        make_result(task="summarization", seed=4, non_standard=("power limit 300 W, not the default 700 W",)),
    ]


def _load(files, tmp_path, **kwargs):
    return datasets.load_dataset("json", data_files=[str(f) for f in files], split="train",
                                 cache_dir=str(tmp_path / f"hf-cache-{len(os.listdir(tmp_path))}"), **kwargs)


@pytest.fixture
def results_dir(tmp_path):
    folder = tmp_path / "results"
    for result in _runs():
        write_result(result, default_result_path(folder, result))
    return folder


def test_result_files_of_any_kind_and_order_load_together_every_value_as_written(results_dir, tmp_path):
    files = sorted(results_dir.rglob("*.json"))
    originals = {load_result(f).run_id: load_result(f) for f in files}
    assert all(f.read_text().count("\n") == 1 for f in files)  # one line: a JSON Lines file of one record
    for order in (files, files[::-1]):
        loaded = _load(order, tmp_path, features=result_features())
        assert loaded.num_rows == len(files) == 4
        for row in loaded:
            assert ResultFile.model_validate(row) == originals[row["run_id"]]  # exactly, floats and times too
    by_id = {row["run_id"]: row for row in loaded}
    cpu, gpu = by_id[_runs()[0].run_id], by_id[_runs()[1].run_id]
    assert cpu["environment"]["gpus"] == [] and cpu["figures"]["gpu_energy_per_1k_queries_wh"] is None
    assert gpu["environment"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    (total,) = [w["reading"] for w in gpu["repetitions"][0]["readings"] if w["name"] == "total"]
    assert total["gpu_energy_j"][0]["gpu_index"] == 0 and total["gpu_energy_j"][0]["value"] > 0
    assert json.loads(gpu["task"]["spec"]) == originals[gpu["run_id"]].task.spec


def test_a_cpu_run_first_breaks_a_load_without_the_features(results_dir, tmp_path):
    """Why the features exist: `datasets` alone types every column from the first file it reads."""
    cpu_first = sorted(results_dir.rglob("*.json"), key=lambda f: load_result(f).environment.gpus != [])
    with pytest.raises(datasets.exceptions.DatasetGenerationError):
        _load(cpu_first, tmp_path)


def _item(feature):
    """A list feature's item type: `List(x).feature` in datasets 4+, `[x]` before."""
    return feature[0] if isinstance(feature, list) else feature.feature


def test_the_features_follow_the_file_layout_and_refuse_a_type_they_cannot_hold():
    features = result_features()
    assert list(features) == list(ResultFile.model_fields)
    assert features["figures"]["gpu_energy_per_1k_queries_wh"]["ci95_low"] == datasets.Value("float64")
    assert features["task"]["spec"] == datasets.Value("string")
    assert features["created_at"] == datasets.Value("timestamp[us, tz=UTC]")
    reading = _item(_item(features["repetitions"])["readings"])
    assert set(reading) == {"name", "reading"}
    assert _item(reading["reading"]["gpu_energy_j"]) == {"gpu_index": datasets.Value("int64"),
                                                         "value": datasets.Value("float64")}

    class Mixed(BaseModel):
        value: int | str

    with pytest.raises(TypeError, match=r"result\.value"):
        _feature(datasets.Value, Mixed, "result")


def test_one_x_files_read_as_the_same_values_and_load_after_a_dataset_export(results_dir, tmp_path):
    """A 1.3 file (maps, indented) is the same run in Python; the export writes it in the 2.0 layout."""
    gpu = _runs()[1]
    one_x = results_dir / "older" / "run.json"
    write_json_atomic(one_x, {**one_x_layout(gpu), "run_id": "one-x-run"})
    assert one_x.read_text().count("\n") > 10
    read = load_result(one_x)
    assert read.run_id == "one-x-run" and read.repetitions == gpu.repetitions
    assert read.idle == gpu.idle and read.task == gpu.task
    out = tmp_path / "runs"
    assert run_cli("export", str(results_dir), "--format", "dataset", "--out", str(out)) == 0
    card, data = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert card == "README.md" and re.fullmatch(r"data/results-[0-9a-f]{16}\.jsonl", data)
    assert f"path: {data}" in (out / "README.md").read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask()
    loaded = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf-cache-folder"))
    assert loaded.num_rows == 5 and loaded.features == result_features()
    assert {row["run_id"] for row in loaded} == {load_result(f).run_id for f in results_dir.rglob("*.json")}
    row = next(row for row in loaded if row["schema_version"] == "1.3")
    assert ResultFile.model_validate(row) == read
    assert "task kinds: image-gen, summarization, text-classification, text-gen" in (out / "README.md").read_text()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["repetitions"][0]["readings"][0]["reading"]["gpu_energy_j"].append(
        {"gpu_index": 0, "value": 1.0}), "GPU 0 appears twice"),
    (lambda d: d["repetitions"][0]["readings"].append(d["repetitions"][0]["readings"][0]), "window total appears"),
    (lambda d: d["idle"]["gpu_power_w"].append({"gpu_index": 1}), "exactly 'gpu_index' and 'value'"),
    (lambda d: d["idle"]["gpu_power_w"].append({"gpu_index": "1", "value": 2.0}), "must be a whole number"),
    (lambda d: d["idle"]["gpu_power_w"].append({"gpu_index": -1, "value": 2.0}), "not a GPU index"),
    (lambda d: d["repetitions"][0]["readings"].append({"name": 7, "reading": {}}), "must be text"),
    (lambda d: d["task"].update(spec="[" * 100 + "]" * 100), "nested"),
    (lambda d: d["task"].update(spec="[1, 2]"), "dictionary"),
    (lambda d: d["settings"].update(overrides='{"x": NaN}'), "NaN"),
])
def test_a_bad_two_zero_layout_is_one_clear_line(change, message):
    data = _runs()[1].model_dump(mode="json")
    change(data)
    with pytest.raises(ResultFileError, match=message) as info:
        parse_result(json.dumps(data), "x.json")
    assert "\n" not in str(info.value)


def test_a_dataset_export_never_replaces_a_folder(results_dir, tmp_path, capsys):
    out = tmp_path / "runs"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert run_cli("export", str(results_dir), "--format", "dataset", "--out", str(out)) != 0
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "refusing to overwrite" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    # Refused before any result is read: a missing source is not even looked for.
    assert run_cli("export", str(tmp_path / "nowhere"), "--format", "dataset", "--out", str(out)) != 0
    assert "refusing to overwrite" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".runs.")]



@pytest.mark.parametrize("key", ["x", "-1", "00000", "\u0661"])
def test_a_one_x_gpu_map_keyed_by_anything_but_an_index_is_refused(key):
    """Its 2.0 layout writes the key as a number: a key that is none would break every later export."""
    data = one_x_layout(_runs()[1])
    data["idle"]["gpu_power_w"] = {key: 70.0}
    with pytest.raises(ResultFileError, match="not a GPU index"):
        parse_result(json.dumps(data), "x.json")


def test_two_exports_in_folders_of_the_same_name_each_load_their_own_runs(tmp_path):
    """`datasets` caches a local folder by its name and its card's file names: the data file is named by its
    contents, so a second export called `runs` is not served the first one's rows from that cache."""
    hf_cache = str(tmp_path / "hf-cache")
    loaded = []
    for place, seeds in (("first", (1, 2)), ("second", (3, 4, 5))):
        results = tmp_path / place / "results"
        for seed in seeds:
            write_result(make_result(seed=seed), results / f"{seed}.json")
        out = tmp_path / place / "runs"
        assert run_cli("export", str(results), "--format", "dataset", "--out", str(out)) == 0
        loaded.append(sorted(datasets.load_dataset(str(out), split="train", cache_dir=hf_cache)["run_id"]))
    assert loaded == [sorted(make_result(seed=s).run_id for s in (1, 2)),
                      sorted(make_result(seed=s).run_id for s in (3, 4, 5))]
