import json

import pytest

from harness.errors import HarnessError, ResultFileError
from harness.results.schema import ResultFile
from harness.results.store import (
    SCHEMA_FILE,
    default_result_path,
    iter_result_files,
    load_result,
    load_valid_result,
    parse_result,
    write_result,
)
from harness.testing.synthetic import make_result, one_x_layout


def _dump(result: ResultFile) -> dict:
    return result.model_dump(mode="json")


def test_round_trip_through_a_file(tmp_path):
    result = make_result(model_id="org/model-a")
    path = write_result(result, default_result_path(tmp_path, result))
    assert path.relative_to(tmp_path).parts[:3] == ("text-gen", "org__model-a", "1x-NVIDIA-H100-80GB-HBM3")
    loaded = load_valid_result(path)
    assert loaded.result == result
    assert loaded.findings == ()


def test_loader_reads_the_json_not_the_path(tmp_path):
    result = make_result(task="image-gen", model_id="org/real")
    misleading = tmp_path / "text-gen" / "other__model" / "cpu" / "x.json"
    write_result(result, misleading)
    loaded = load_result(misleading)
    assert loaded.task.id == "image-gen" and loaded.model.id == "org/real"


def test_existing_result_is_never_overwritten(tmp_path):
    result = make_result()
    path = write_result(result, tmp_path / "r.json")
    before = path.read_text()
    with pytest.raises(HarnessError, match="refusing to overwrite existing file"):
        write_result(make_result(seed=5), path)
    assert path.read_text() == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must hold a JSON object"),
        ('{"schema_version": "9.9"}', "unsupported schema_version"),
        ('{"schema_version": 1.0}', "schema_version must be a string"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"schema_version": "1.0", "x": 1e400}', "too large"),
        ('{"schema_version": "1.0", "x": ' + "1" * 500 + "}", "beyond 64 bits"),
    ],
)
def test_corrupt_files_give_one_line(text, message):
    with pytest.raises(ResultFileError, match=message) as info:
        parse_result(text, "x.json")
    assert "\n" not in str(info.value)


def test_nan_and_unknown_keys_are_refused():
    data = _dump(make_result())
    nan_text = json.dumps(data).replace(str(data["figures"]["latency_p50_s"]["mean"]), "NaN", 1)
    with pytest.raises(ResultFileError, match="NaN"):
        parse_result(nan_text)
    data["surprise"] = 1
    with pytest.raises(ResultFileError, match="surprise"):
        parse_result(json.dumps(data))


def test_naive_timestamps_are_refused():
    data = _dump(make_result())
    data["started_at"] = "2026-11-01T12:00:00"
    with pytest.raises(ResultFileError, match="UTC"):
        parse_result(json.dumps(data))


def test_implausible_file_is_refused_by_the_valid_loader(tmp_path):
    data = _dump(make_result())
    data["repetitions"][0]["readings"][0]["reading"]["gpu_energy_j"][0]["value"] *= -1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    load_result(path)  # the schema alone allows it
    with pytest.raises(ResultFileError, match="non-negative-energy"):
        load_valid_result(path)


def test_iteration_skips_hidden_and_temporary_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "r1.json").write_text("{}")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.json").write_text("{}")
    (tmp_path / "a" / ".r2.json.123.tmp").write_text("{}")
    assert [p.name for p in iter_result_files(tmp_path)] == ["r1.json"]


def test_committed_json_schema_is_current():
    assert json.loads(SCHEMA_FILE.read_text()) == ResultFile.model_json_schema(mode="serialization")


def _with_free_form(result: ResultFile, where: str, key: str, value: object, layout: str) -> str:
    """The file's text with `value` under `key` in the free-form part at `where`, in either layout: an object in
    1.x files, canonical JSON text in 2.0 ones (whose reader parses it with the same bounds)."""
    data = one_x_layout(result) if layout == "1.x" else _dump(result)
    node = data
    *parents, last = where.split(".")
    for name in parents:
        node = node[name]
    part = node[last] if layout == "1.x" else json.loads(node[last] or "{}")
    part = part or {}
    part[key] = value
    node[last] = part if layout == "1.x" else json.dumps(part).replace('"__NAN__"', "NaN")
    return json.dumps(data).replace('"__NAN__"', "NaN")


@pytest.mark.parametrize("layout", ["1.x", "2.0"])
@pytest.mark.parametrize("where", ["task.spec", "workload_settings", "environment.host_estimate"])
def test_deep_nesting_in_free_form_keys_is_refused_on_the_fast_path_too(where, layout):
    deep: object = 0
    for _ in range(60):
        deep = {"k": deep}
    with pytest.raises(ResultFileError, match="nested more than"):
        parse_result(_with_free_form(make_result(), where, "extra", deep, layout), "x.json")


@pytest.mark.parametrize("layout", ["1.x", "2.0"])
@pytest.mark.parametrize("filler", ["", "N" * 200, "I" * 200, "NaNo " * 100])
def test_nan_in_a_free_form_key_is_refused_however_many_n_and_i_the_text_holds(filler, layout):
    result = make_result().model_copy(update={"notes": [filler]})
    with pytest.raises(ResultFileError, match="not valid JSON|NaN"):
        parse_result(_with_free_form(result, "task.spec", "extra", "__NAN__", layout), "x.json")
    assert parse_result(_with_free_form(result, "task.spec", "extra", 1.0, layout), "x.json").notes == [filler]


@pytest.mark.parametrize("where", ["repetitions.0.index", "figures.latency_p50_s.n", "model.num_parameters"])
def test_an_int_beyond_64_bits_is_refused_wherever_the_schema_holds_one(where):
    data = _dump(make_result())
    *parents, last = where.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = 10**30
    with pytest.raises(ResultFileError, match="x.json: not valid JSON"):
        parse_result(json.dumps(data), "x.json")


def test_a_local_model_folder_is_filed_under_its_readable_name_not_the_machine_path(tmp_path):
    local = make_result(model_id="/home/me/.cache/models/tiny-llama")
    assert default_result_path(tmp_path, local).relative_to(tmp_path).parts[1] == "tiny-llama"
    named = make_result(model_id="/srv/models/x", seed=1).model_copy(update={"model": make_result(
        model_id="/srv/models/x").model.model_copy(update={"name": "org/SmolLM2-135M"})})
    assert default_result_path(tmp_path, named).relative_to(tmp_path).parts[1] == "org__SmolLM2-135M"
    hub = make_result(model_id="org/model")
    assert default_result_path(tmp_path, hub).relative_to(tmp_path).parts[1] == "org__model"


@pytest.mark.parametrize(("where", "low"), [("model.num_parameters", -1), ("settings.num_queries", 0),
                                           ("repetitions.0.index", -1), ("timelines.0.gpu_index", -(2**63))])
def test_an_int_field_keeps_its_own_lower_bound_beside_the_64_bit_one(where, low):
    data = _dump(make_result())
    data["timelines"] = data["timelines"] or [{"gpu_index": 0, "t_s": [0.0], "power_w": [100.0]}]
    *path, key = where.split(".")
    parent = data
    for part in path:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    parent[int(key) if isinstance(parent, list) else key] = low
    with pytest.raises(ResultFileError):
        parse_result(json.dumps(data), "x.json")


@pytest.mark.parametrize("where", ["model.num_parameters", "settings.num_queries", "repetitions.0.index",
                                   "environment.measured_gpu_indices.0", "timelines.0.gpu_index"])
def test_an_integer_beyond_64_bits_is_refused_wherever_the_schema_holds_an_int(where):
    data = _dump(make_result())
    data["timelines"] = data["timelines"] or [{"gpu_index": 0, "t_s": [0.0], "power_w": [100.0]}]
    *path, key = where.split(".")
    parent = data
    for part in path:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    key = int(key) if isinstance(parent, list) else key
    parse_result(json.dumps(data))  # the file as it is passes
    parent[key] = 2**63
    with pytest.raises(ResultFileError, match="beyond 64 bits"):
        parse_result(json.dumps(data), "x.json")
    parent[key] = 2**63 - 1 if where != "environment.measured_gpu_indices.0" else 0
    parse_result(json.dumps(data))
