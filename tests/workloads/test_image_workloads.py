"""The image workloads on the tiny saved ViT, DETR and ViT + GPT-2 models, loaded through the real `load_model`."""

from __future__ import annotations

import pytest

from harness.engines.hf_transformers import check_architecture
from harness.errors import ConfigError
from harness.tasks.inputs import builtin_items
from harness.workloads import WORKLOADS, load_model
from harness.workloads.base import digest
from tests.workloads.helpers import task_spec


def workload(load_tiny, kind, **overrides):
    return WORKLOADS[kind](load_tiny(kind), task_spec(kind, **overrides))


@pytest.fixture(scope="module")
def images():
    """Four images of different sizes and shapes: batches mix them, as real batches do."""
    return list(builtin_items("object-detection", 4))


def test_classification_gives_one_label_per_image_and_counts_images(load_tiny, images):
    run = workload(load_tiny, "image-classification")
    output = run.run_batch(images)
    (labels,) = output.outputs
    assert output.num_queries == output.images == 4 and labels.shape == (4,)
    assert output.output_tokens is None and output.input_tokens is None
    assert set(labels.tolist()) <= set(run.model.config.id2label)
    again = run.run_batch(images)
    assert digest(*again.outputs) == digest(*output.outputs)
    with pytest.raises(TypeError, match="has no prefill phase"):
        run.run_prefill_batch(images)


def test_input_sizes_are_each_images_own_pixels(load_tiny, images):
    run = workload(load_tiny, "image-classification")
    assert run.input_size_unit == "pixels"
    assert run.input_sizes(images) == [item.width * item.height for item in images]


def test_detection_post_processes_boxes_to_each_images_size(load_tiny, images):
    run = workload(load_tiny, "object-detection", generation__threshold=0)
    output = run.run_batch(images)
    assert output.num_queries == output.images == 4
    # scores, labels, boxes per image; at threshold 0 every one of DETR's 10 object queries is kept.
    per_image = [output.outputs[i:i + 3] for i in range(0, len(output.outputs), 3)]
    assert len(per_image) == 4
    for (scores, labels, boxes), item in zip(per_image, images):
        assert scores.shape == labels.shape == (10,) and boxes.shape == (10, 4)
        # boxes are in the image's own pixels: their centres fall inside it
        centres_x, centres_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        assert bool(((centres_x >= 0) & (centres_x <= item.width)).all())
        assert bool(((centres_y >= 0) & (centres_y <= item.height)).all())
    strict = workload(load_tiny, "object-detection", generation__threshold=1)
    assert all(t.shape[0] == 0 for t in strict.run_batch(images).outputs)


def test_captioning_decodes_exactly_n_tokens_and_has_a_prefill_pass(load_tiny, images):
    run = workload(load_tiny, "image-captioning", generation__min_new_tokens=4, generation__max_new_tokens=4)
    output = run.run_batch(images[:3])
    (new_ids,) = output.outputs
    assert run.generative and output.output_tokens == 3 * 4 and new_ids.shape == (3, 4)
    assert output.images == 3
    prefill = run.run_prefill_batch(images[:3])
    assert prefill.output_tokens == 3 and prefill.num_queries == 3
    assert digest(*run.run_batch(images[:3]).outputs) == digest(new_ids)
    # The first new token is the same whether one or four are decoded (greedy, same inputs).
    assert prefill.outputs[0][:, 0].tolist() == new_ids[:, 0].tolist()


def test_a_chat_vision_language_model_is_not_a_captioner():
    from transformers import LlavaConfig

    config = LlavaConfig()
    config.architectures = ["LlavaForConditionalGeneration"]
    with pytest.raises(ConfigError, match="needs a text prompt with image tokens"):
        check_architecture(WORKLOADS["image-captioning"], config, "some/llava")


def test_a_model_folder_without_its_image_processor_is_one_line(tiny_models_dir, tmp_path):
    import shutil

    folder = tmp_path / "no-processor"
    shutil.copytree(tiny_models_dir / "image-classification", folder)
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(ConfigError, match="has no usable image processor") as caught:
        load_model("image-classification", str(folder), dtype="float32", device="cpu")
    assert "\n" not in str(caught.value)


def test_the_result_names_the_image_processor_that_ran(load_tiny):
    loaded = load_tiny("object-detection")
    assert loaded.info["loader"] == f"transformers.AutoModelForObjectDetection + {type(loaded.processor).__name__}"
    assert loaded.tokenizer is None
