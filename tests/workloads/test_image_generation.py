from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.workloads import WORKLOADS
from harness.workloads.base import digest
from tests.workloads.helpers import task_spec

PROMPTS = ["A photograph of a red bicycle", "An oil painting of a lighthouse during a storm"]


def image_digests(output) -> list[str]:
    """One digest per decoded image (never fewer images than queries, so an empty batch cannot compare equal)."""
    assert len(output.outputs) == output.num_queries == output.images
    return [digest(image) for image in output.outputs]


def small_spec(**overrides):
    settings = {"generation__height": 32, "generation__width": 32, "generation__num_inference_steps": 2}
    return task_spec("image-gen", **{**settings, **overrides})


@pytest.fixture(scope="module")
def workload(load_tiny):
    return WORKLOADS["image-gen"](load_tiny("image-gen"), small_spec())


def test_one_decoded_image_per_prompt(workload):
    output = workload.run_batch(PROMPTS)
    assert (output.num_queries, output.images) == (2, 2)
    assert output.output_tokens is None
    assert [image.size for image in output.outputs] == [(32, 32), (32, 32)]


def test_images_have_the_task_size(workload):
    result = workload.model(prompt=PROMPTS[:1], generator=None, **workload.call_kwargs)
    assert result.images[0].size == (32, 32)


def test_a_pipeline_runs_at_its_own_native_size_and_guidance_unless_told(load_tiny):
    """The tiny pipeline's UNet samples 8 x 8 latents and its VAE scales by 8: native 64 px, not a forced 512."""
    spec = task_spec("image-gen", generation__num_inference_steps=1)
    native = WORKLOADS["image-gen"](load_tiny("image-gen"), spec)
    assert native.workload_settings == {"height": 64, "width": 64, "guidance_scale": 7.5}  # SD's call default
    assert native.run_batch(PROMPTS[:1]).outputs[0].size == (64, 64)
    told = WORKLOADS["image-gen"](load_tiny("image-gen"), task_spec("image-gen", generation__num_inference_steps=1,
                                                                    generation__height=32,
                                                                    generation__guidance_scale=1.0))
    assert told.workload_settings == {"height": 32, "width": 64, "guidance_scale": 1.0}


def test_resolution_is_part_of_the_workload_identity():
    from harness.results.identity import workload_key

    spec = task_spec("image-gen")
    assert workload_key(spec, {"height": 512, "width": 512}) != workload_key(spec, {"height": 1024, "width": 1024})
    explicit = task_spec("image-gen", generation__height=512, generation__width=512)
    # A task that says 512 and a pipeline whose default is 512 did the same work.
    assert workload_key(explicit, {"height": 512, "width": 512}) == workload_key(spec, {"height": 512, "width": 512})


def test_same_prompts_same_images(workload):
    first, second = workload.run_batch(PROMPTS), workload.run_batch(PROMPTS)
    assert first == second  # the counts (a BatchOutput's equality leaves its outputs out)
    assert image_digests(first) == image_digests(second)  # the pixels themselves
    assert len(set(image_digests(first))) == len(PROMPTS)  # and two prompts made two different images


def test_an_image_depends_on_its_prompt_and_seed_not_on_what_ran_before(workload, load_tiny):
    alone = image_digests(workload.run_batch(PROMPTS[1:]))
    workload.run_batch(PROMPTS[:1])
    assert image_digests(workload.run_batch(PROMPTS[1:])) == alone
    assert image_digests(workload.run_batch(PROMPTS))[1:] == alone  # batched with another prompt: the same image
    reseeded = WORKLOADS["image-gen"](load_tiny("image-gen"), small_spec(generation__seed=7))
    assert image_digests(reseeded.run_batch(PROMPTS[1:])) != alone


def test_seed_comes_from_the_task_seed_and_the_prompt(workload):
    # pinned (CRC-32 of the prompt), so a per-process salted hash() would fail here, not only across runs
    assert workload.prompt_seed("a") == workload.seed + 0xE8B7BE43
    assert workload.prompt_seed("a") != workload.prompt_seed("b")


def test_refuses_a_model_loaded_for_another_kind(load_tiny):
    with pytest.raises(ConfigError):
        WORKLOADS["image-gen"](load_tiny("text-gen"), small_spec())
