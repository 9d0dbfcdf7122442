from __future__ import annotations

import hashlib
import json

import pytest

from harness.errors import ConfigError
from harness.tasks.registry import list_tasks
from harness.testing.demo_models import DEMO_KINDS, DEMO_TASKS, build_demo_model

WEIGHT_FILES = {
    "text-gen": ["model.safetensors", "tokenizer.json"],
    "text-gen-chat": ["model.safetensors", "tokenizer.json"],
    "summarization": ["model.safetensors", "tokenizer.json"],
    "text-classification": ["model.safetensors", "tokenizer.json"],
    "question-answering": ["model.safetensors", "tokenizer.json"],
    "sentence-similarity": ["model.safetensors", "tokenizer.json", "1_Pooling/config.json"],
    "speech-to-text": ["model.safetensors", "tokenizer.json", "preprocessor_config.json", "generation_config.json"],
    "image-gen": [
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
        "tokenizer/tokenizer.json",
    ],
    "image-classification": ["model.safetensors", "preprocessor_config.json"],
    "object-detection": ["model.safetensors", "preprocessor_config.json"],
    "image-captioning": ["model.safetensors", "tokenizer.json", "preprocessor_config.json"],
}


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_shipped_task_has_a_demo_model():
    assert {spec.kind for spec in list_tasks()} <= set(DEMO_KINDS)


@pytest.mark.parametrize("kind", DEMO_TASKS)
def test_each_model_is_small(tiny_models_dir, kind):
    size = sum(path.stat().st_size for path in (tiny_models_dir / kind).rglob("*") if path.is_file())
    assert 10_000 < size < 5_000_000


@pytest.mark.parametrize("kind", DEMO_TASKS)
def test_builds_are_deterministic(tiny_models_dir, tmp_path, kind):
    rebuilt = build_demo_model(kind, tmp_path / kind)
    for name in WEIGHT_FILES[kind]:
        assert sha256(rebuilt / name) == sha256(tiny_models_dir / kind / name), name


def test_a_built_model_is_returned_as_is(tiny_models_dir):
    folder = tiny_models_dir / "text-gen"
    before = {path: path.stat().st_mtime_ns for path in folder.rglob("*")}
    assert build_demo_model("text-gen", folder) == folder
    assert {path: path.stat().st_mtime_ns for path in folder.rglob("*")} == before


def test_an_empty_folder_is_built_into(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert (build_demo_model("text-classification", folder) / "config.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]  # no staging folder left behind


def test_a_folder_holding_something_else_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="does not hold"):
        build_demo_model("text-gen", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no demo model"):
        build_demo_model("translation", tmp_path / "x")


def test_the_llama_tokenizer_has_no_pad_token_like_the_real_one(tiny_models_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models_dir / "text-gen")
    assert tokenizer.pad_token is None and tokenizer.eos_token == "</s>"
    ids = tokenizer("The quick brown fox")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == "The quick brown fox"
    assert len(ids) <= 6  # learnt merges: whole words, not one token per byte


def test_the_clip_tokenizer_loads_as_stable_diffusion_loads_it(tiny_models_dir):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(tiny_models_dir / "image-gen", subfolder="tokenizer")
    assert tokenizer.model_max_length == 77
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("A photograph of Zebra!")["input_ids"])
    assert tokens[0] == "<|startoftext|>" and tokens[-1] == "<|endoftext|>"
    assert "photograph</w>" in tokens
    assert tokenizer.unk_token_id not in tokenizer("zebra 42 ~")["input_ids"][1:-1]  # every byte is in the vocab


def test_the_pipeline_has_no_safety_checker(tiny_models_dir):
    index = json.loads((tiny_models_dir / "image-gen" / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["safety_checker"] == [None, None] and index["requires_safety_checker"] is False


def test_the_detector_is_detr_on_a_transformers_resnet_with_no_pretrained_backbone(tiny_models_dir):
    config = json.loads((tiny_models_dir / "object-detection" / "config.json").read_text())
    assert config["architectures"] == ["DetrForObjectDetection"]
    assert config["use_timm_backbone"] is False and config["use_pretrained_backbone"] is False
    assert config["backbone_config"]["model_type"] == "resnet"


def test_the_captioner_is_a_vit_encoder_with_a_gpt2_decoder(tiny_models_dir):
    config = json.loads((tiny_models_dir / "image-captioning" / "config.json").read_text())
    assert config["architectures"] == ["VisionEncoderDecoderModel"]
    assert (config["encoder"]["model_type"], config["decoder"]["model_type"]) == ("vit", "gpt2")
    assert config["decoder"]["add_cross_attention"] is True
