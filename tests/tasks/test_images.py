"""Built-in images (reference-like sizes, seeded content, canonical bytes) and image datasets (local files with
paths or `datasets` Image columns, undecodable rows named in one line)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from harness.errors import ConfigError
from harness.kinds import IMAGE_KINDS
from harness.tasks.images import ImageItem, procedural_image
from harness.tasks.inputs import builtin_items, content_sha256, load_inputs
from harness.tasks.overrides import apply_overrides
from harness.tasks.registry import load_task


def sizes(kind, n=200):
    return [(item.width, item.height) for item in builtin_items(kind, n)]


def test_classification_sizes_are_imagenet_validation_like():
    drawn = sizes("image-classification")
    assert all(max(w, h) <= 640 and min(w, h) >= 16 for w, h in drawn)
    assert 0.30 < drawn.count((500, 375)) / len(drawn) < 0.65  # the most common size, not the only one
    assert any(h > w for w, h in drawn) and len(set(drawn)) >= 10  # portrait shapes and variety
    assert sum(max(w, h) == 500 for w, h in drawn) / len(drawn) > 0.75


@pytest.mark.parametrize("kind", ["object-detection", "image-captioning"])
def test_detection_and_captioning_sizes_are_coco_like(kind):
    drawn = sizes(kind)
    assert all(max(w, h) <= 640 for w, h in drawn)
    assert 0.25 < drawn.count((640, 480)) / len(drawn) < 0.6
    assert any(h > w for w, h in drawn) and len(set(drawn)) >= 10
    # COCO: 90 % of images hold 167,500-355,840 pixels, with a height/width ratio of 0.6-1.5.
    pixels = [w * h for w, h in drawn]
    assert sum(167_500 <= p <= 410_000 for p in pixels) / len(pixels) > 0.85
    assert sum(0.6 <= h / w <= 1.5 for w, h in drawn) / len(drawn) > 0.85


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_items_are_rgb_uint8_with_structure(kind):
    item = builtin_items(kind, 1)[0]
    assert item.pixels.dtype == np.uint8 and item.pixels.shape == (item.height, item.width, 3)
    assert item.pixels.std() > 10  # not a flat colour
    assert len({bytes(row) for row in item.pixels[:: max(1, item.height // 8)]}) > 1


def test_the_sets_of_different_kinds_differ():
    assert builtin_items("object-detection", 3) != builtin_items("image-captioning", 3)


def test_content_bytes_cover_size_and_pixels():
    pixels = procedural_image(7, 40, 30)
    same = ImageItem(pixels.copy())
    assert ImageItem(pixels) == same and content_sha256([ImageItem(pixels)]) == content_sha256([same])
    assert ImageItem(pixels.reshape(40, 30, 3)).content_bytes() != ImageItem(pixels).content_bytes()
    changed = pixels.copy()
    changed[29, 39, 2] ^= 1
    assert content_sha256([ImageItem(changed)]) != content_sha256([ImageItem(pixels)])


def test_images_do_not_depend_on_the_process():
    code = ("from harness.tasks.inputs import builtin_inputs as b; "
            "print(b('object-detection', 5).info['sha256'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""})
    builtin_items.cache_clear()
    from harness.tasks.inputs import builtin_inputs

    assert out.stdout.strip() == builtin_inputs("object-detection", 5).info["sha256"]


# ---------------------------------------------------------------------------------------------- datasets


def image_dataset_spec(path, column="image", kind="image-classification"):
    return apply_overrides(load_task(kind), {"inputs": "dataset", "dataset.path": str(path),
                                             "dataset.column": column})


def save_png(path, seed, width, height):
    pixels = procedural_image(seed, width, height)
    Image.fromarray(pixels).save(path)
    return pixels


def test_local_jsonl_with_paths_relative_to_the_dataset_file(tmp_path, monkeypatch):
    (tmp_path / "pictures").mkdir()
    originals = [save_png(tmp_path / "pictures" / f"{i}.png", i, 50 + i, 40) for i in range(3)]
    dataset = tmp_path / "images.jsonl"
    dataset.write_text("".join(json.dumps({"image": f"pictures/{i}.png", "label": i}) + "\n" for i in range(3)))
    monkeypatch.chdir(tmp_path.parent)  # elsewhere: paths must resolve against the dataset file, not here
    inputs = load_inputs(image_dataset_spec(dataset), 3)
    assert [item.pixels.tolist() for item in inputs.items] == [pixels.tolist() for pixels in originals]
    assert inputs.info["source"] == "file" and inputs.info["sha256"] == content_sha256(inputs.items)


def test_parquet_with_a_datasets_image_column(tmp_path):
    import datasets

    originals = [procedural_image(i, 30, 20 + i) for i in range(2)]
    table = datasets.Dataset.from_dict({"image": [Image.fromarray(p) for p in originals]})
    table = table.cast_column("image", datasets.Image())
    table.to_parquet(tmp_path / "images.parquet")
    inputs = load_inputs(image_dataset_spec(tmp_path / "images.parquet", kind="object-detection"), 2)
    assert [(item.width, item.height) for item in inputs.items] == [(30, 20), (30, 21)]
    assert inputs.items[1].pixels.tolist() == originals[1].tolist()


def test_an_undecodable_image_file_is_one_line_naming_its_row(tmp_path):
    save_png(tmp_path / "good.png", 1, 20, 20)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    dataset = tmp_path / "d.jsonl"
    dataset.write_text(json.dumps({"image": "good.png"}) + "\n" + json.dumps({"image": "broken.jpg"}) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_inputs(image_dataset_spec(dataset), 2)
    message = str(caught.value)
    assert "row 1 of column 'image' is not a decodable image" in message and "broken.jpg" in message
    assert "\n" not in message


def test_undecodable_bytes_in_an_image_column_are_one_line(tmp_path):
    import datasets

    good = tmp_path / "good.png"
    save_png(good, 2, 20, 20)
    table = datasets.Dataset.from_dict({"image": [{"bytes": good.read_bytes(), "path": None},
                                                  {"bytes": b"GIF89a truncated", "path": None}]})
    table.cast_column("image", datasets.Image()).to_parquet(tmp_path / "d.parquet")
    with pytest.raises(ConfigError, match=r"row 1 of column 'image' is not a decodable image \(its image bytes"):
        load_inputs(image_dataset_spec(tmp_path / "d.parquet", kind="image-captioning"), 2)


@pytest.mark.parametrize(("row", "expected"), [
    ({"image": "absent.png"}, "names image file 'absent.png', which does not exist"),
    ({"image": 42}, "is not an image (a int"),
    ({"image": ""}, "is not an image (a str"),
])
def test_rows_that_are_not_images_are_one_line(tmp_path, row, expected):
    dataset = tmp_path / "d.jsonl"
    dataset.write_text(json.dumps(row) + "\n")
    with pytest.raises(ConfigError, match="row 0 of column 'image' ") as caught:
        load_inputs(image_dataset_spec(dataset), 1)
    assert expected in str(caught.value).replace(str(tmp_path) + "/", "")
