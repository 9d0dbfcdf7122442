"""Result tables: pandas, parquet, CSV, JSON lines and CodeCarbon's emissions.csv, loadable by `datasets`."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from harness.errors import NotFoundError, ResultFileError
from harness.ops.export import export, gather, load_frame
from harness.ops.submission import create_bundle
from harness.results.hf_dataset import result_features
from harness.results.schema import ResultFile
from harness.results.store import default_result_path, load_result, write_result
from harness.results.table import COLUMNS, EMISSIONS_COLUMNS, J_PER_KWH
from harness.testing.synthetic import make_result
from tests.cli_helpers import run_cli


@pytest.fixture
def results_dir(tmp_path):
    folder = tmp_path / "results"
    write_result(make_result(task="text-gen", seed=1), default_result_path(folder, make_result(task="text-gen",
                                                                                                seed=1)))
    cpu = make_result(task="text-classification", gpu_name="cpu", meter_backend="none", seed=2)
    write_result(cpu, default_result_path(folder, cpu))
    return folder


def test_one_row_per_run_with_fixed_types(results_dir):
    frame = load_frame(results_dir)
    assert len(frame) == 2 and list(frame.columns) == list(COLUMNS)
    assert {str(t) for t in frame.dtypes} <= {"string", "Float64", "Int64", "boolean"}
    gpu = frame[frame.task_id == "text-gen"].iloc[0]
    cpu = frame[frame.task_id == "text-classification"].iloc[0]
    assert gpu["gpu_energy_per_1k_queries_wh"] > 0 and gpu["num_gpus"] == 1
    assert pd.isna(cpu["gpu_energy_per_1k_queries_wh"]) and cpu["hardware_class"] == "cpu"


def test_globs_bundles_and_duplicates(results_dir, tmp_path):
    files = sorted(results_dir.rglob("*.json"))
    bundle = create_bundle(files, tmp_path / "bundle.tar.gz")
    gathered = gather([str(results_dir / "**" / "*.json"), bundle])
    assert len(gathered.results) == 2  # the bundle holds the same runs
    assert len(gather(bundle).results) == 2
    with pytest.raises(NotFoundError):
        gather(str(tmp_path / "nothing-*.json"))


def test_an_invalid_file_is_an_error_unless_skipped(results_dir):
    (results_dir / "broken.json").write_text("{}")
    with pytest.raises(ResultFileError):
        load_frame(results_dir)
    assert len(load_frame(results_dir, skip_invalid=True)) == 2


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_every_table_format_loads_with_datasets(results_dir, tmp_path, fmt):
    import datasets

    out, _ = export(results_dir, tmp_path / f"table.{fmt}", fmt)
    builder = {"parquet": "parquet", "csv": "csv", "jsonl": "json"}[fmt]
    table = datasets.load_dataset(builder, data_files=str(out), split="train",
                                  cache_dir=str(tmp_path / "hf-cache"))
    assert table.num_rows == 2
    if fmt != "csv":
        assert set(table.column_names) == set(COLUMNS)
    if fmt == "parquet":  # typed even where every row is empty
        assert str(table.features["gpu_decode_energy_per_1k_queries_wh"].dtype) == "float64"


def test_parquet_exports_of_different_runs_load_together(tmp_path, results_dir):
    """The failure the raw files gave ("Couldn't cast array of type int64 to null"): parquet carries each column's
    type, so a file whose runs have no GPU figure at all still loads with one that has them, in either order."""
    import datasets

    cpu_only = tmp_path / "cpu-only"
    run = make_result(task="text-classification", gpu_name="cpu", meter_backend="none", seed=3)
    write_result(run, default_result_path(cpu_only, run))
    parquet_a, _ = export(cpu_only, tmp_path / "a.parquet", "parquet")
    parquet_b, _ = export(results_dir, tmp_path / "b.parquet", "parquet")
    for n, files in enumerate(([parquet_a, parquet_b], [parquet_b, parquet_a])):
        table = datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train",
                                      cache_dir=str(tmp_path / f"hf-cache-{n}"))
        assert table.num_rows == 3


def test_emissions_csv_is_codecarbons_layout(results_dir, tmp_path):
    out, _ = export(results_dir, tmp_path / "emissions.csv", "emissions", g_co2e_per_kwh=500.0, region="DE", pue=1.2)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == list(EMISSIONS_COLUMNS) and len(rows) == 2
    frame = load_frame(results_dir).set_index("run_id")
    for row in rows:
        run = frame.loc[row["run_id"]]
        gpu_kwh = (0.0 if pd.isna(run["gpu_energy_j"]) else run["gpu_energy_j"]) / J_PER_KWH
        assert float(row["gpu_energy"]) == pytest.approx(gpu_kwh)
        total = float(row["gpu_energy"]) + float(row["cpu_energy"]) + float(row["ram_energy"])
        assert float(row["energy_consumed"]) == pytest.approx(total)
        assert float(row["emissions"]) == pytest.approx(total * 1.2 * 500.0 / 1000.0)
        assert row["country_iso_code"] == "DE" and float(row["duration"]) == pytest.approx(run["duration_s"])


def test_export_command(results_dir, tmp_path, capsys):
    out = tmp_path / "e.csv"
    assert run_cli("export", str(results_dir), "--format", "emissions", "--grid", "FR", "--out", str(out)) == 0
    assert "wrote" in capsys.readouterr().out and out.read_text().startswith("timestamp,")
    assert run_cli("export", str(results_dir), "--format", "xlsx", "--out", str(tmp_path / "x")) != 0
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_real_runs_of_every_kind_on_gpu_and_cpu_load_together_with_datasets(tiny_models_dir, fake_gpu, tmp_path):
    """A real run of every task kind, measured on the fake GPU and on the host alone: one parquet file per run
    loads with all the others in any order (`datasets` types every column from the first file it reads, and a
    JSON null has no type), one JSON-lines file of them all loads too, and so do the raw result files with the
    schema's features."""
    import datasets

    from harness.kinds import TASK_KINDS
    from harness.runner import RunRequest, execute

    tables = []
    for kind in TASK_KINDS:
        for measure_gpus in ([0], []):
            result, path = execute(RunRequest(task=kind, model=str(tiny_models_dir / kind), device="cpu",
                                              num_queries=2, repeats=2 if measure_gpus else 1, warmup_queries=1,
                                              idle_seconds=0.1, measure_gpus=measure_gpus, preset="demo",
                                              results_dir=tmp_path / "results"))
            tables.append(export(path, tmp_path / f"{result.run_id}.parquet", "parquet")[0])
    everything, _ = export(tmp_path / "results", tmp_path / "all.jsonl", "jsonl")
    loads = [("parquet", tables), ("parquet", tables[::-1]), ("json", [everything])]
    for n, (builder, files) in enumerate(loads):
        loaded = datasets.load_dataset(builder, data_files=[str(f) for f in files], split="train",
                                       cache_dir=str(tmp_path / f"hf-cache-{n}"))
        assert loaded.num_rows == 2 * len(TASK_KINDS) and set(loaded["task_kind"]) == set(TASK_KINDS)
        assert str(loaded.features["gpu_energy_per_1k_queries_wh"].dtype) == "float64"
        assert set(loaded["hardware_class"]) == {"cpu", "1x Fake NVIDIA H100 80GB HBM3"}
    frame = load_frame(tmp_path / "results")
    assert datasets.Dataset.from_pandas(frame, preserve_index=False).num_rows == 2 * len(TASK_KINDS)
    # The raw files themselves, with the schema's types, in either order: every run comes back as written.
    raw = sorted((tmp_path / "results").rglob("*.json"))
    written = {load_result(f).run_id: load_result(f) for f in raw}
    for n, files in enumerate((raw, raw[::-1])):
        loaded = datasets.load_dataset("json", data_files=[str(f) for f in files], split="train",
                                       features=result_features(), cache_dir=str(tmp_path / f"hf-raw-{n}"))
        assert sorted(loaded["run_id"]) == sorted(written)
        assert all(ResultFile.model_validate(row) == written[row["run_id"]] for row in loaded)


def test_chat_runs_carry_energy_per_output_token_and_output_lengths(tiny_models_dir, fake_gpu, tmp_path):
    """A real chat run: its per-token figure and answer lengths are columns with their fixed types; a fixed-length
    run leaves the lengths missing."""
    from harness.results.table import OUTPUT_LENGTH_COLUMNS
    from harness.runner import RunRequest, execute

    common = dict(device="cpu", num_queries=3, repeats=2, warmup_queries=0, idle_seconds=0, measure_gpus=[0],
                  results_dir=tmp_path / "results")
    chat, _ = execute(RunRequest(task="text-gen-chat", model=str(tiny_models_dir / "text-gen-chat"), dtype="float32",
                                 overrides={"max_input_tokens": "64", "generation.max_new_tokens": "8"}, **common))
    execute(RunRequest(task="text-gen", model=str(tiny_models_dir / "text-gen"), **common))
    frame = load_frame(tmp_path / "results")
    assert list(frame.columns) == list(COLUMNS)
    for name, dtype in {**OUTPUT_LENGTH_COLUMNS, "gpu_energy_per_output_token_j": "Float64"}.items():
        assert str(frame[name].dtype) == dtype
    row = frame[frame.task_id == "text-gen-chat"].iloc[0]
    lengths, per_token = chat.output_lengths, chat.figures.gpu_energy_per_output_token_j
    assert (row["output_length_mean_tokens"], row["output_length_p50_tokens"], row["output_length_p90_tokens"],
            row["output_length_at_cap_queries"]) == (lengths.mean, lengths.p50, lengths.p90, lengths.at_cap)
    assert 1 <= row["output_length_mean_tokens"] <= 8
    assert row["gpu_energy_per_output_token_j"] == per_token.mean > 0
    assert row["gpu_energy_per_output_token_j_ci95_high"] == per_token.ci95_high
    fixed = frame[frame.task_id == "text-gen"].iloc[0]
    assert pd.isna(fixed["output_length_mean_tokens"]) and pd.isna(fixed["output_length_at_cap_queries"])
    assert fixed["gpu_energy_per_output_token_j"] > 0   # fixed-length generation has a per-token figure too


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "emissions", "dataset"])
def test_an_old_file_with_a_local_path_for_its_model_id_exports_a_clean_id(tmp_path, fmt):
    """Files written before the engines recorded a local folder's clean id hold the folder's path: read anywhere,
    the id is the folder's hub id (`model.name` then) or its name, and the path is in no export."""
    import json

    folder = tmp_path / "old"
    for seed, (path, name) in enumerate([("/home/me/.cache/demo-models/text-gen", None),
                                         ("/srv/models/smol", "HuggingFaceTB/SmolLM2-135M")], start=1):
        written = write_result(make_result(seed=seed), folder / f"{seed}.json")
        data = json.loads(written.read_text())
        data["model"]["id"], data["model"]["name"] = path, name
        written.write_text(json.dumps(data))
    frame = load_frame(folder)
    assert sorted(frame["model_id"]) == ["HuggingFaceTB/SmolLM2-135M", "text-gen"]
    out = tmp_path / f"export-{fmt}"
    export(folder, out, fmt, g_co2e_per_kwh=400.0, region="FRA")
    text = "".join(p.read_text() for p in ([out] if out.is_file() else out.rglob("*")) if p.is_file())
    assert "/home/me" not in text and "/srv/models" not in text and "text-gen" in text
