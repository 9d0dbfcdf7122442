"""A model folder missing what its task needs, or holding broken files, fails in one line naming the file.

Each test copies a tiny model saved with `save_pretrained`, breaks one file, and loads it with the real code.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from harness.errors import ConfigError
from harness.workloads import load_model


@pytest.fixture
def copy_of(tiny_models_dir, tmp_path):
    def copy(kind: str):
        target = tmp_path / kind
        shutil.copytree(tiny_models_dir / kind, target)
        return target
    return copy


def _load(kind, folder, **options):
    with pytest.raises(ConfigError) as caught:
        load_model(kind, str(folder), dtype="float32", device="cpu", **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_folder_without_tokenizer_files_is_refused(copy_of):
    folder = copy_of("text-gen")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    assert "has no tokenizer" in _load("text-gen", folder)


def test_a_folder_without_weights_is_refused_unless_random_weights(copy_of):
    folder = copy_of("text-classification")
    for path in folder.glob("*.safetensors"):
        path.unlink()
    assert "has no weights files" in _load("text-classification", folder)
    assert load_model("text-classification", str(folder), device="cpu", random_weights=True).info["random_weights"]


@pytest.mark.parametrize("damage", ["random", "truncated", "header-past-end", "tiny"])
def test_broken_safetensors_name_the_file(copy_of, damage):
    folder = copy_of("text-gen")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    if damage == "random":
        weights.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "header-past-end":
        weights.write_bytes((len(data) * 4).to_bytes(8, "little") + data[8:])
    else:
        weights.write_bytes(b"\x01\x02")
    message = _load("text-gen", folder)
    assert str(weights) in message and "broken weights file" in message


def test_broken_weights_inside_a_pipeline_name_the_file(copy_of):
    folder = copy_of("image-gen")
    weights = next((folder / "unet").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    assert str(weights) in _load("image-gen", folder)


def test_a_config_that_is_not_json_names_the_file(copy_of):
    folder = copy_of("text-gen")
    (folder / "config.json").write_text('{"vocab_size": ')
    assert "config.json: broken model file" in _load("text-gen", folder)


def test_a_string_where_a_number_goes_is_one_line(copy_of):
    folder = copy_of("text-gen")
    config = json.loads((folder / "config.json").read_text())
    config["hidden_size"] = "sixty-four"
    (folder / "config.json").write_text(json.dumps(config))
    message = _load("text-gen", folder)
    assert str(folder) in message
