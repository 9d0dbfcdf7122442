from __future__ import annotations

import time

import pytest
import torch

from harness.engines.hf_diffusers import check_pipeline_kind
from harness.engines.torch_engine import is_out_of_memory
from harness.errors import ConfigError, NotFoundError
from harness.results.schema import ModelInfo
from harness.workloads import load_model

KINDS = ("text-gen", "summarization", "text-classification", "question-answering", "sentence-similarity", "image-gen",
         "speech-to-text")
ARCHITECTURES = {
    "text-gen": "LlamaForCausalLM",
    "summarization": "BartForConditionalGeneration",
    "text-classification": "BertForSequenceClassification",
    "question-answering": "BertForQuestionAnswering",
    "sentence-similarity": "BertModel",
    "image-gen": "StableDiffusionPipeline",
    "speech-to-text": "WhisperForConditionalGeneration",
}


def direct_parameter_count(loaded) -> int:
    if loaded.kind == "image-gen":
        pipeline = loaded.model
        modules = [pipeline.unet, pipeline.vae, pipeline.text_encoder]
    else:
        modules = [loaded.model]
    return sum(p.numel() for module in modules for p in module.parameters())


def first_weights(loaded) -> torch.Tensor:
    module = loaded.model.unet if loaded.kind == "image-gen" else loaded.model
    return next(module.parameters()).detach().clone()


@pytest.mark.parametrize("kind", KINDS)
def test_loads_a_saved_model_through_from_pretrained(tiny_models_dir, kind):
    loaded = load_model(kind, str(tiny_models_dir / kind), dtype="float32", device="cpu")
    info = ModelInfo.model_validate(loaded.info)
    assert (loaded.kind, loaded.device, loaded.cuda_indices, loaded.gpu_uuids) == (kind, "cpu", [], [])
    assert info.architecture == ARCHITECTURES[kind]
    assert info.num_parameters == direct_parameter_count(loaded) > 0
    assert (info.dtype, info.random_weights, info.trust_remote_code) == ("float32", False, False)
    assert info.device == "cpu" and info.device_map is None
    assert info.id == kind  # a local folder is recorded by its name, never its path
    assert info.loader.startswith("diffusers." if kind == "image-gen" else "transformers.Auto")
    assert (loaded.tokenizer is None) == (kind == "image-gen")
    assert (loaded.processor is not None) == (kind == "speech-to-text")


@pytest.mark.parametrize("kind", KINDS)
def test_random_weights_build_the_same_architecture_from_its_config(tiny_models_dir, kind):
    saved = load_model(kind, str(tiny_models_dir / kind), dtype="float32", device="cpu")
    random = load_model(kind, str(tiny_models_dir / kind), dtype="float32", device="cpu", random_weights=True)
    assert random.info["random_weights"] is True
    # (a media kind's loader also names its processor: "... .from_config + WhisperFeatureExtractor")
    assert random.info["loader"].split(" + ")[0].endswith(("from_config", "(components from config)"))
    assert random.info["architecture"] == saved.info["architecture"]
    assert random.info["num_parameters"] == saved.info["num_parameters"] == direct_parameter_count(random)
    assert first_weights(random).shape == first_weights(saved).shape
    assert not torch.equal(first_weights(random), first_weights(saved))
    again = load_model(kind, str(tiny_models_dir / kind), dtype="float32", device="cpu", random_weights=True)
    assert torch.equal(first_weights(again), first_weights(random))  # seeded: the same random model every time


@pytest.mark.parametrize("kind", ["text-classification", "image-gen"])
def test_dtype_is_applied_and_recorded(tiny_models_dir, kind):
    loaded = load_model(kind, str(tiny_models_dir / kind), dtype="bfloat16", device="cpu")
    assert loaded.info["dtype"] == "bfloat16"
    assert first_weights(loaded).dtype == torch.bfloat16


def test_auto_dtype_keeps_the_checkpoints_own(tiny_models_dir):
    loaded = load_model("text-gen", str(tiny_models_dir / "text-gen"), dtype="auto", device="cpu")
    assert loaded.info["dtype"] == "float32"


@pytest.mark.parametrize(
    ("kind", "model_kind", "says"),
    [
        ("summarization", "text-gen", "not an encoder-decoder"),
        ("text-gen", "summarization", "encoder-decoder"),
        ("text-gen", "text-classification", "BertForSequenceClassification"),
        ("text-classification", "text-gen", "LlamaForCausalLM"),
        ("image-gen", "text-gen", "model_index.json"),
        ("text-gen", "image-gen", "diffusers pipeline"),
        ("image-classification", "text-classification", "needs an image classifier"),
        ("image-classification", "object-detection", "needs an image classifier"),
        ("object-detection", "image-classification", "needs an object detector"),
        ("image-captioning", "object-detection", "needs an image-to-text model"),
        ("text-classification", "image-classification", "tokenizer"),
        ("image-classification", "image-gen", "diffusers pipeline"),
        ("question-answering", "text-classification", "BertForSequenceClassification"),
        ("sentence-similarity", "text-gen", "LlamaForCausalLM"),
        ("sentence-similarity", "speech-to-text", "encoder-decoder"),
        ("speech-to-text", "summarization", "BartForConditionalGeneration; task kind 'speech-to-text' needs a Whisper"),
        ("speech-to-text", "question-answering", "BertForQuestionAnswering"),
    ],
)
def test_a_model_of_the_wrong_kind_is_a_config_error(tiny_models_dir, kind, model_kind, says):
    with pytest.raises(ConfigError, match=says) as caught:
        load_model(kind, str(tiny_models_dir / model_kind), dtype="float32", device="cpu")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("pipeline", "says"),
    [
        ("StableDiffusionImg2ImgPipeline", "image2image"),
        ("StableDiffusionInpaintPipeline", "inpaint"),
        ("StableDiffusionControlNetPipeline", "control image"),
    ],
)
def test_pipelines_that_need_an_input_image_are_not_text_to_image(pipeline, says):
    import diffusers

    with pytest.raises(ConfigError, match=f"not a text-to-image pipeline.*{says}"):
        check_pipeline_kind(getattr(diffusers, pipeline), "some/pipeline")


@pytest.mark.parametrize("pipeline", ["StableDiffusionPipeline", "StableDiffusionXLPipeline", "FluxPipeline"])
def test_text_to_image_pipelines_are_accepted_by_diffusers_own_table(pipeline):
    import diffusers

    assert check_pipeline_kind(getattr(diffusers, pipeline), "some/pipeline") == "diffusers' text-to-image table"


def test_an_unlisted_pipeline_is_judged_by_its_call():
    class PromptOnly:
        def __init__(self, unet=None): ...

        def __call__(self, prompt, num_inference_steps=30, height=512, width=512): ...

    class WantsAnImage(PromptOnly):
        def __call__(self, prompt, image, num_inference_steps=30, height=512, width=512): ...

    assert check_pipeline_kind(PromptOnly, "my/pipeline") == "its call signature"
    with pytest.raises(ConfigError, match="its call takes image"):
        check_pipeline_kind(WantsAnImage, "my/pipeline")


def test_a_missing_folder_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        load_model("text-gen", str(tmp_path / "no-such-model"), device="cpu")


def test_a_file_instead_of_a_folder_is_not_found(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"")
    with pytest.raises(NotFoundError, match="is a file"):
        load_model("text-gen", str(path), device="cpu")


@pytest.mark.parametrize("kind", ["text-gen", "image-gen"])
def test_an_unknown_hub_id_offline_is_not_found_at_once(kind):
    start = time.monotonic()
    with pytest.raises(NotFoundError, match="HF_HUB_OFFLINE") as caught:
        load_model(kind, "nobody-here/no-such-model-4c1d", device="cpu")
    assert time.monotonic() - start < 5
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_not_found(tiny_models_dir, device):
    with pytest.raises(NotFoundError, match="no CUDA GPU"):
        load_model("text-gen", str(tiny_models_dir / "text-gen"), device=device)


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ({"device": "gpu"}, "unknown device"),
        ({"device": "cpu:0"}, "unknown device"),
        ({"dtype": "int4"}, "unknown dtype"),
        ({"device_map": "auto"}, "needs --device cuda"),
    ],
)
def test_bad_options_are_config_errors(tiny_models_dir, option, says):
    kwargs = {"device": "cpu", "dtype": "float32", **option}
    with pytest.raises(ConfigError, match=says):
        load_model("text-gen", str(tiny_models_dir / "text-gen"), **kwargs)


def test_unknown_kind_is_a_config_error(tiny_models_dir):
    with pytest.raises(ConfigError, match="unknown task kind"):
        load_model("translation", str(tiny_models_dir / "text-gen"), device="cpu")


def test_the_cpu_allocators_refusal_counts_as_out_of_memory():
    with pytest.raises(RuntimeError) as caught:
        torch.empty(2**50, dtype=torch.uint8)
    assert is_out_of_memory(caught.value)
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("random_weights", [False, True])
def test_loads_on_the_gpu_and_names_it_for_the_meter(tiny_models_dir, random_weights):
    loaded = load_model("text-gen", str(tiny_models_dir / "text-gen"), dtype="float16", device="cuda:0",
                        random_weights=random_weights)
    assert loaded.device == "cuda:0" and loaded.cuda_indices == [0]
    assert len(loaded.gpu_uuids) == 1 and loaded.gpu_uuids[0]
    assert first_weights(loaded).device.type == "cuda"
