"""`harness run` of the image tasks on local image datasets: real decoding, real loading, the fake NVML's card."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from harness.results.store import iter_result_files, load_valid_result
from harness.tasks.images import procedural_image
from tests.cli_helpers import run_cli


def _image_dataset(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        if name.endswith(".png"):
            Image.fromarray(procedural_image(index, 60 + 10 * index, 40)).save(folder / name)
    dataset = folder / "images.jsonl"
    dataset.write_text("".join(json.dumps({"image": name}) + "\n" for name in names))
    return dataset


def _args(task, model, dataset, results):
    return ["run", "--task", task, "--model", str(model), "--device", "cpu", "--preset", "smoke",
            "--set", "inputs=dataset", "--set", f"dataset.path={dataset}", "--set", "dataset.column=image",
            "--num-queries", "2", "--idle-seconds", "0.3", "--measure-gpus", "0", "--results-dir", str(results),
            "--quiet"]


@pytest.mark.parametrize("task", ["image-classification", "object-detection", "image-captioning"])
def test_a_local_image_dataset_runs(task, tiny_models_dir, fake_gpu, tmp_path, capsys):
    dataset = _image_dataset(tmp_path / "data", ["a.png", "b.png"])
    assert run_cli(*_args(task, tiny_models_dir / task, dataset, tmp_path / "results")) == 0, capsys.readouterr()
    result = load_valid_result(next(iter_result_files(tmp_path / "results"))).result
    assert result.input_set.source == "file" and result.input_set.column == "image"
    assert result.input_lengths.unit == "pixels" and result.input_lengths.mean == (60 * 40 + 70 * 40) / 2
    assert all(rep.images == 2 for rep in result.repetitions)


def test_an_undecodable_image_is_one_line_before_any_model_loads(tiny_models_dir, fake_gpu, tmp_path, capsys):
    dataset = _image_dataset(tmp_path / "data", ["a.png", "broken.png"])
    (tmp_path / "data" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing after the signature")
    # The model is of the wrong kind too: the dataset's error comes first, so nothing was loaded.
    code = run_cli(*_args("image-classification", tiny_models_dir / "text-gen", dataset, tmp_path / "results"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err
    assert "row 1 of column 'image' is not a decodable image" in err and "broken.png" in err
    assert not (tmp_path / "results").exists()
