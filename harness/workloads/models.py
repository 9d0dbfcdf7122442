"""Load the model under test through transformers' and diffusers' own loading code.

`load_model` takes a hub id or a local folder and returns a `LoadedModel`: the model (or diffusers pipeline), its
tokenizer, where it sits (primary device, and every GPU the meter must read), and `info` for the result file.
It checks, from the config alone, that the model is of the kind the task needs, and turns every failure a user
can cause (no such model, no GPU, wrong kind, out of memory) into one `HarnessError` line.

With `random_weights=True` the architecture is built from its config with random weights (same compute, no weight
download); the result records it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.energy.nvml_gpu import nvml_indices_for_uuids
from harness.errors import ConfigError, HarnessError, NotFoundError, OutOfMemoryError
from harness.kinds import IMAGE_KINDS, TASK_KINDS
from harness.workloads.model_files import check_model_folder, check_model_name, check_tokenizer
from harness.workloads.text_inputs import check_chat_template

__all__ = ["LoadedModel", "check_model_name", "load_model"]

logger = logging.getLogger(__name__)


_DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "auto": "auto",
}

# Which transformers Auto class loads each text kind.
_TEXT_LOADERS = {
    "text-gen": "AutoModelForCausalLM",
    "summarization": "AutoModelForSeq2SeqLM",
    "text-classification": "AutoModelForSequenceClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "sentence-similarity": "AutoModel",
    "speech-to-text": "AutoModelForSpeechSeq2Seq",
    # image kinds: loaded the same way, with an image processor instead of a tokenizer
    "image-classification": "AutoModelForImageClassification",
    "object-detection": "AutoModelForObjectDetection",
    "image-captioning": "AutoModelForImageTextToText",
}

# Architecture name endings that identify a kind when the class is not in transformers' own mappings (remote code).
_ARCHITECTURE_SUFFIXES = {
    "text-gen": ("ForCausalLM", "LMHeadModel"),
    "summarization": ("ForConditionalGeneration", "Seq2SeqLM"),
    "text-classification": ("ForSequenceClassification",),
    "question-answering": ("ForQuestionAnswering",),
    "sentence-similarity": ("Model", "ForMaskedLM"),
    "speech-to-text": ("WhisperForConditionalGeneration",),
    "image-classification": ("ForImageClassification",),
    "object-detection": ("ForObjectDetection",),
    "image-captioning": ("VisionEncoderDecoderModel", "ForConditionalGeneration"),
}

_KIND_NEEDS = {
    "text-gen": "a decoder-only causal language model (…ForCausalLM)",
    "summarization": "an encoder-decoder (seq2seq) model such as BART or T5",
    "text-classification": "a sequence classifier (…ForSequenceClassification)",
    "question-answering": "an extractive question-answering model (…ForQuestionAnswering)",
    "sentence-similarity": "a text embedding model (an encoder such as BERT, its hidden states mean-pooled)",
    "speech-to-text": "a Whisper-family speech-to-text model (WhisperForConditionalGeneration)",
    "image-gen": "a diffusers text-to-image pipeline",
    "image-classification": "an image classifier (…ForImageClassification, e.g. ViT or ConvNeXt)",
    "object-detection": "an object detector (…ForObjectDetection, e.g. DETR)",
    "image-captioning": "an image-to-text model that captions from the image alone (e.g. a VisionEncoderDecoderModel "
                        "or BLIP)",
}


@dataclass
class LoadedModel:
    """A model ready to run, and what a result file says about it.

    `gpu_indices` are NVML indices (what the energy meter reads) of every GPU holding part of the model;
    `cuda_indices` are the same GPUs as torch numbers them (`cuda:N`), which can differ when
    `CUDA_VISIBLE_DEVICES` or `CUDA_DEVICE_ORDER` reorders devices. Both are empty on CPU.
    """

    kind: str
    model: Any
    tokenizer: Any | None
    device: str
    gpu_indices: list[int]
    info: dict
    cuda_indices: list[int] = field(default_factory=list)
    processor: Any | None = None
    """What turns media into model inputs: the image processor of image kinds (`AutoImageProcessor`), the audio
    feature extractor of speech-to-text; None for the others."""


RUN_EXTRA_MODULES = ("torch", "transformers", "diffusers", "accelerate", "datasets", "safetensors")
"""What running a model needs beyond the core install: the `run` extra of pyproject.toml."""


def require_run_extra() -> None:
    """A one-line ConfigError, before anything starts, when the light install lacks what running a model needs."""
    missing = [name for name in RUN_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"running a model needs {', '.join(missing)}, which this install lacks: "
                          "pip install 'ai-energy-harness[run]' (GPU machines: next to your CUDA PyTorch)")


def load_model(
    kind: str,
    model_id: str,
    *,
    revision: str | None = None,
    dtype: str = "bfloat16",
    device: str = "cuda",
    random_weights: bool = False,
    trust_remote_code: bool = False,
    device_map: str | dict | None = None,
    name: str | None = None,
    chat_template_kwargs: dict | None = None,
) -> LoadedModel:
    """Load `model_id` (hub id or local folder) for task `kind` on `device`, or spread it with `device_map`.

    `name` is a readable name for the result (`--model-id`); without one a local folder is named by the hub
    id its saved config keeps, so a result never shows a machine path as the model's name.

    `chat_template_kwargs` (a chat task's, `text_inputs.chat_template_kwargs`): the tokenizer must have a chat
    template reading them, checked before the weights load.

    `dtype` is float32, float16, bfloat16 or auto (the checkpoint's own). `device_map` (e.g. "auto") places the
    model over several GPUs with accelerate; the meter then sums energy over all of them.
    """
    if kind not in TASK_KINDS:
        raise ConfigError(f"unknown task kind '{kind}'; kinds: {', '.join(TASK_KINDS)}")
    dtype_name = _normalise_dtype(dtype)
    primary = _check_device(device)
    if device_map is not None and primary.type != "cuda":
        raise ConfigError("--device-map spreads a model over GPUs; it needs --device cuda")
    model_id = str(model_id)
    check_model_name(model_id)
    _check_local_path(model_id)
    if Path(model_id).expanduser().is_dir():
        check_model_folder(kind, Path(model_id), random_weights=random_weights)
    try:
        if kind == "image-gen":
            loaded = _load_pipeline(model_id, revision, dtype_name, primary, random_weights, trust_remote_code,
                                    device_map)
        else:
            loaded = _load_text_model(kind, model_id, revision, dtype_name, primary, random_weights,
                                      trust_remote_code, device_map, chat_template_kwargs)
    except HarnessError:
        raise
    except Exception as error:
        if is_out_of_memory(error):
            _release_cuda_memory()
            raise OutOfMemoryError(
                f"out of memory loading {model_id} ({dtype_name}) on {primary}; try a smaller --dtype "
                f"(bfloat16/float16), a GPU with more memory, or --device-map auto to spread it over several GPUs"
            ) from None
        if Path(model_id).expanduser().is_dir() and not isinstance(error, AssertionError | NameError):
            # The folder passed the file checks, so a library failing on it means a setting it cannot use
            # (a string where a number goes, a shape that does not fit): the user's files. The exception's
            # class is kept in the line, so a bug of ours still shows what it is.
            raise ConfigError(f"model folder {model_id} cannot be loaded: {error.__class__.__name__}: "
                              f"{_first_line(error)[:300]}") from None
        raise
    name = name or local_model_name(model_id)
    if name:
        loaded.info["name"] = name
    logger.info("loaded %s (%s, %d parameters) on %s", model_id, loaded.info["architecture"],
                loaded.info["num_parameters"], loaded.device)
    return loaded


# --- checks that need no model -------------------------------------------------------------------------------------


def _normalise_dtype(dtype: str) -> str:
    name = _DTYPE_NAMES.get(str(dtype).lower().removeprefix("torch."))
    if name is None:
        raise ConfigError(f"unknown dtype '{dtype}'; use float32, float16, bfloat16 or auto")
    return name


def _check_device(device: str):
    """Parse `cpu`, `cuda` or `cuda:N` and make sure it exists; returns a `torch.device` with an index for CUDA."""
    import torch

    match = re.fullmatch(r"(cpu|cuda)(?::(\d+))?", str(device).strip())
    if match is None or (match.group(1) == "cpu" and match.group(2) is not None):
        raise ConfigError(f"unknown device '{device}'; use cpu, cuda or cuda:N")
    if match.group(1) == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise NotFoundError(f"no CUDA GPU is available for --device {device} (torch sees none); use --device cpu")
    count = torch.cuda.device_count()
    index = int(match.group(2)) if match.group(2) is not None else torch.cuda.current_device()
    if index >= count:
        raise NotFoundError(f"no CUDA GPU {index}: torch sees {count} GPU(s) (cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index)


def _looks_like_path(model_id: str) -> bool:
    """A hub id is `name` or `owner/name`; anything else (absolute, ./, ~, deeper, backslashes) is a path."""
    return (
        model_id.startswith(("/", ".", "~"))
        or "\\" in model_id
        or model_id.count("/") > 1
        or os.path.isabs(model_id)
    )


def local_model_name(model_id: str) -> str | None:
    """A local folder's hub id from its saved config (`_name_or_path`), else None (and None for hub ids).

    `save_pretrained` after loading from the hub keeps the hub id there; a folder path is never a name.
    """
    folder = Path(model_id).expanduser()
    if not folder.is_dir():
        return None
    for filename in ("config.json", "model_index.json"):
        try:
            name = json.loads((folder / filename).read_text(encoding="utf-8")).get("_name_or_path")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(name, str) and name and not _looks_like_path(name) and not Path(name).is_absolute():
            return name
    return None


def _check_local_path(model_id: str) -> None:
    path = Path(model_id).expanduser()
    if path.exists():
        if not path.is_dir():
            raise NotFoundError(f"model path {model_id} is a file; give the folder saved with save_pretrained")
        return
    if _looks_like_path(model_id):
        raise NotFoundError(f"model folder {model_id} does not exist")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _not_found(model_id: str, revision: str | None, error: Exception) -> NotFoundError:
    """One line for a model that neither exists locally nor can be fetched (offline, unknown id, gated, revision)."""
    at = f" at revision {revision}" if revision else ""
    if Path(model_id).expanduser().is_dir():
        return NotFoundError(f"model folder {model_id} is incomplete: {_first_line(error)}")
    if _offline():
        return NotFoundError(f"model '{model_id}'{at} is not a local folder, and the Hub is off (HF_HUB_OFFLINE=1) "
                             "with no cached copy")
    detail = _first_line(error)
    return NotFoundError(f"model '{model_id}'{at} is not a local folder and cannot be fetched from the Hub"
                         + (f": {detail}" if detail else ""))


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else ""


def _resolved_commit(model_id: str, revision: str | None, filename: str) -> str | None:
    """The hub commit a cached file came from (`.../snapshots/<sha>/...`), so a result pins the exact weights."""
    if Path(model_id).expanduser().exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, filename, revision=revision)
    except Exception:  # noqa: BLE001 - only a nicety; the requested revision is recorded instead
        return None
    match = re.search(r"snapshots[/\\]([0-9a-f]{40})[/\\]", str(cached)) if isinstance(cached, str) else None
    return match.group(1) if match else None


# --- devices -------------------------------------------------------------------------------------------------------


def _cuda_indices_of(primary, device_map_used: dict | None) -> list[int]:
    """Every torch CUDA index the model's weights sit on."""
    if primary.type != "cuda":
        return []
    if not device_map_used:
        return [primary.index]
    indices: set[int] = set()
    offloaded = False
    for place in device_map_used.values():
        if isinstance(place, int):
            indices.add(place)
            continue
        text = str(place)
        match = re.fullmatch(r"cuda(?::(\d+))?", text)
        if match:
            indices.add(int(match.group(1) or 0))
        elif text in ("cpu", "disk"):
            offloaded = True
    if offloaded:
        logger.warning("part of the model is offloaded to CPU or disk: its energy there is not in the GPU figure")
    return sorted(indices) or [primary.index]


def _nvml_indices(cuda_indices: list[int]) -> list[int]:
    """Translate torch CUDA indices into NVML indices by GPU UUID (they differ under CUDA_VISIBLE_DEVICES).

    Falls back to the torch index, with a warning, where NVML or the UUID is unavailable.
    """
    if not cuda_indices:
        return []
    import torch

    uuids = [getattr(torch.cuda.get_device_properties(index), "uuid", None) for index in cuda_indices]
    matched = nvml_indices_for_uuids([str(uuid) if uuid is not None else None for uuid in uuids])
    result = []
    for index, nvml_index in zip(cuda_indices, matched):
        if nvml_index is None:
            logger.warning("cannot match cuda:%d to an NVML GPU by UUID; assuming NVML index %d", index, index)
            nvml_index = index
        result.append(nvml_index)
    return result


def _release_cuda_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA's OutOfMemoryError and the CPU allocator's out-of-memory RuntimeError."""
    import torch

    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "DefaultCPUAllocator: can't allocate memory" in text or "not enough memory" in text
    )


def _torch_dtype(dtype_name: str):
    import torch

    return None if dtype_name == "auto" else getattr(torch, dtype_name)


def _dtype_label(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def count_parameters(*modules) -> int:
    """Parameters of one or more torch modules, each shared (tied) tensor counted once."""
    seen: set[int] = set()
    total = 0
    for module in modules:
        for parameter in module.parameters():
            if id(parameter) not in seen:
                seen.add(id(parameter))
                total += parameter.numel()
    return total


# --- transformers --------------------------------------------------------------------------------------------------


def _load_text_model(kind, model_id, revision, dtype_name, primary, random_weights, trust_remote_code, device_map,
                     chat_template_kwargs=None):
    import transformers

    config = _load_config(kind, model_id, revision, trust_remote_code)
    check_text_kind(kind, config, model_id)
    tokenizer = processor = None
    if kind in IMAGE_KINDS:
        processor = _load_image_processor(model_id, revision, trust_remote_code)
    else:
        tokenizer = _load_tokenizer(model_id, revision, trust_remote_code)
        check_tokenizer(tokenizer, model_id)
        if chat_template_kwargs is not None:
            check_chat_template(tokenizer, model_id, chat_template_kwargs)
    if kind == "speech-to-text":
        processor = _load_feature_extractor(model_id, revision, trust_remote_code)
    auto_class = getattr(transformers, _TEXT_LOADERS[kind])
    torch_dtype = _torch_dtype(dtype_name)
    common = {"trust_remote_code": trust_remote_code} if trust_remote_code else {}
    try:
        if random_weights:
            model = _build_from_config(auto_class, config, torch_dtype, primary, device_map, common)
            loader = f"transformers.{auto_class.__name__}.from_config"
        else:
            model = auto_class.from_pretrained(
                model_id,
                revision=revision,
                dtype="auto" if torch_dtype is None else torch_dtype,
                device_map=device_map if device_map is not None else primary,
                **common,
            )
            loader = f"transformers.{auto_class.__name__}"
    except ValueError as error:
        if "trust_remote_code" in str(error) or "Unrecognized configuration class" in str(error):
            raise ConfigError(f"{model_id} cannot be loaded as {_KIND_NEEDS[kind]}: {_first_line(error)}") from None
        raise
    except OSError as error:
        raise _not_found(model_id, revision, error) from None
    model.eval()
    if processor is not None:  # which backend's processor ran (PIL, or torchvision's where installed) is recorded
        loader = f"{loader} + {type(processor).__name__}"
    used_map = getattr(model, "hf_device_map", None) if device_map is not None else None
    cuda_indices = _cuda_indices_of(primary, used_map)
    device = str(primary) if not used_map else f"cuda:{cuda_indices[0]}"
    architectures = getattr(config, "architectures", None) or [type(model).__name__]
    info = {
        "id": model_id,
        "revision": _resolved_commit(model_id, revision, "config.json") or revision,
        "dtype": _dtype_label(model.dtype),
        "num_parameters": count_parameters(model),
        "random_weights": random_weights,
        "trust_remote_code": trust_remote_code,
        "architecture": architectures[0],
        "loader": loader,
        "device": device,
        "device_map": _jsonable_map(used_map),
    }
    return LoadedModel(kind=kind, model=model, tokenizer=tokenizer, device=device,
                       gpu_indices=_nvml_indices(cuda_indices), info=info, cuda_indices=cuda_indices,
                       processor=processor)


def _load_feature_extractor(model_id, revision, trust_remote_code):
    """The audio feature extractor saved with a speech model (`preprocessor_config.json`), or one ConfigError line."""
    from transformers import AutoFeatureExtractor

    try:
        return AutoFeatureExtractor.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"{model_id} has no usable audio feature extractor (preprocessor_config.json): "
                          f"{_first_line(error)}") from None


def _load_config(kind, model_id, revision, trust_remote_code):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    except OSError as error:
        if _is_local_pipeline(model_id):
            raise ConfigError(f"{model_id} is a diffusers pipeline; task kind '{kind}' needs {_KIND_NEEDS[kind]}"
                              ) from None
        raise _not_found(model_id, revision, error) from None
    except ValueError as error:
        if _is_local_pipeline(model_id):
            raise ConfigError(f"{model_id} is a diffusers pipeline; task kind '{kind}' needs {_KIND_NEEDS[kind]}"
                              ) from None
        hint = "" if trust_remote_code else " (if it ships its own code and you trust it, pass --trust-remote-code)"
        raise ConfigError(f"{model_id}: transformers cannot read its config: {_first_line(error)}{hint}") from None


def _is_local_pipeline(model_id: str) -> bool:
    return (Path(model_id).expanduser() / "model_index.json").is_file()


def check_text_kind(kind: str, config, model_id: str) -> None:
    """Refuse, from the config alone, a model of the wrong kind for the task (one ConfigError line)."""
    from transformers.models.auto import modeling_auto

    known = {
        "text-gen": set(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values()),
        "summarization": set(modeling_auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES.values()),
        "text-classification": set(modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES.values()),
        "question-answering": set(modeling_auto.MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES.values()),
        "sentence-similarity": set(modeling_auto.MODEL_MAPPING_NAMES.values()),
        "speech-to-text": {"WhisperForConditionalGeneration"},
        "image-classification": set(modeling_auto.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES.values()),
        "object-detection": set(modeling_auto.MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES.values()),
        "image-captioning": set(modeling_auto.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES.values()),
    }[kind]
    architectures = list(getattr(config, "architectures", None) or [])
    described = architectures[0] if architectures else getattr(config, "model_type", "model")
    is_encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
    if kind == "text-gen" and is_encoder_decoder:
        raise ConfigError(f"{model_id} is an encoder-decoder model ({described}); task kind 'text-gen' needs "
                          f"{_KIND_NEEDS[kind]} (seq2seq models run the summarization task)")
    if kind in ("question-answering", "sentence-similarity") and is_encoder_decoder:
        raise ConfigError(f"{model_id} is an encoder-decoder model ({described}); task kind '{kind}' needs "
                          f"{_KIND_NEEDS[kind]}")
    if kind == "speech-to-text" and getattr(config, "model_type", None) != "whisper":
        raise ConfigError(f"{model_id} is a {described}; task kind '{kind}' needs {_KIND_NEEDS[kind]}")
    if kind == "summarization" and not is_encoder_decoder:
        raise ConfigError(f"{model_id} is not an encoder-decoder model ({described}); task kind 'summarization' "
                          f"needs {_KIND_NEEDS[kind]}")
    if architectures and not any(
        name in known or name.endswith(_ARCHITECTURE_SUFFIXES[kind]) for name in architectures
    ):
        raise ConfigError(f"{model_id} is a {described}; task kind '{kind}' needs {_KIND_NEEDS[kind]}")
    if kind == "image-captioning" and any(
        getattr(config, name, None) is not None for name in ("image_token_id", "image_token_index")
    ):
        raise ConfigError(f"{model_id} is a {described}, a chat vision-language model that needs a text prompt with "
                          f"image tokens; task kind 'image-captioning' needs {_KIND_NEEDS[kind]}")


def _load_tokenizer(model_id, revision, trust_remote_code):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"{model_id} has no usable tokenizer: {_first_line(error)}") from None


def _load_image_processor(model_id, revision, trust_remote_code):
    """The model's own image processor (its `preprocessor_config.json`), as a user of the model would load it."""
    from transformers import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"{model_id} has no usable image processor: {_first_line(error)}") from None


def _build_from_config(auto_class, config, torch_dtype, primary, device_map, common):
    """Random weights, seeded: built directly on the target device, or on CPU then dispatched by accelerate."""
    import torch

    if torch_dtype is None:
        torch_dtype = getattr(config, "dtype", None) or torch.float32
        if isinstance(torch_dtype, str):
            torch_dtype = getattr(torch, torch_dtype)
    devices = [primary.index] if primary.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        if device_map is None:
            with torch.device(primary):
                return auto_class.from_config(config, dtype=torch_dtype, **common)
        model = auto_class.from_config(config, dtype=torch_dtype, **common)
    return _dispatch(model, device_map, torch_dtype)


def _dispatch(model, device_map, torch_dtype):
    """Spread a model built in memory over the GPUs, as `from_pretrained(device_map=...)` would."""
    from accelerate import dispatch_model, infer_auto_device_map
    from accelerate.utils import get_balanced_memory

    if isinstance(device_map, str):
        if device_map not in ("auto", "balanced", "balanced_low_0", "sequential"):
            raise ConfigError(f"unknown --device-map '{device_map}'; use auto, balanced, balanced_low_0 or sequential")
        no_split = getattr(model, "_no_split_modules", None) or []
        max_memory = None
        if device_map != "sequential":
            max_memory = get_balanced_memory(model, dtype=torch_dtype, no_split_module_classes=no_split,
                                             low_zero=device_map == "balanced_low_0")
        device_map = infer_auto_device_map(model, max_memory=max_memory, no_split_module_classes=no_split,
                                           dtype=torch_dtype)
    model = dispatch_model(model, device_map=device_map)
    model.hf_device_map = device_map
    return model


def _jsonable_map(device_map: dict | None) -> dict | None:
    if not device_map:
        return None
    return {str(name): place if isinstance(place, int) else str(place) for name, place in device_map.items()}


# --- diffusers -----------------------------------------------------------------------------------------------------


def _load_pipeline(model_id, revision, dtype_name, primary, random_weights, trust_remote_code, device_map):
    import diffusers

    index = _load_pipeline_index(model_id, revision)
    pipeline_cls = getattr(diffusers, str(index.get("_class_name")), None)
    if pipeline_cls is not None:
        check_pipeline_kind(pipeline_cls, model_id)
    elif not trust_remote_code:
        raise ConfigError(f"{model_id} uses pipeline class {index.get('_class_name')!r}, which diffusers does not "
                          "have (if it ships its own code and you trust it, pass --trust-remote-code)")
    torch_dtype = _torch_dtype(dtype_name)
    if device_map is not None:
        device_map = _pipeline_device_map(device_map)
    try:
        if random_weights:
            if pipeline_cls is None:
                raise ConfigError("--random-weights needs a pipeline class that diffusers has")
            pipeline = _pipeline_from_configs(pipeline_cls, index, model_id, revision, torch_dtype, primary)
            loader = f"diffusers.{pipeline_cls.__name__} (components from config)"
        else:
            kwargs: dict[str, Any] = {"revision": revision}
            if torch_dtype is not None:
                kwargs[_diffusers_dtype_arg()] = torch_dtype
            if trust_remote_code:
                kwargs["trust_remote_code"] = True
            if device_map is not None:
                kwargs["device_map"] = device_map
            pipeline = diffusers.DiffusionPipeline.from_pretrained(model_id, **kwargs)
            if device_map is None:
                pipeline.to(primary)
            loader = "diffusers.DiffusionPipeline"
    except OSError as error:
        raise _not_found(model_id, revision, error) from None
    check_pipeline_kind(type(pipeline), model_id)
    pipeline.set_progress_bar_config(disable=True)
    modules = [c for c in pipeline.components.values() if _is_torch_module(c)]
    used_map = getattr(pipeline, "hf_device_map", None) if device_map is not None else None
    used_map = used_map if isinstance(used_map, dict) else None
    cuda_indices = _cuda_indices_of(primary, used_map)
    device = str(primary) if not used_map else f"cuda:{cuda_indices[0]}"
    denoiser = getattr(pipeline, "unet", None) or getattr(pipeline, "transformer", None) or modules[0]
    info = {
        "id": model_id,
        "revision": _resolved_commit(model_id, revision, "model_index.json") or revision,
        "dtype": _dtype_label(denoiser.dtype),
        "num_parameters": count_parameters(*modules),
        "random_weights": random_weights,
        "trust_remote_code": trust_remote_code,
        "architecture": type(pipeline).__name__,
        "loader": loader,
        "device": device,
        "device_map": _jsonable_map(used_map),
    }
    return LoadedModel(kind="image-gen", model=pipeline, tokenizer=None, device=device,
                       gpu_indices=_nvml_indices(cuda_indices), info=info, cuda_indices=cuda_indices)


def _load_pipeline_index(model_id, revision) -> dict:
    """The pipeline's `model_index.json` (which components, of which classes)."""
    from diffusers import DiffusionPipeline

    try:
        return dict(DiffusionPipeline.load_config(model_id, revision=revision))
    except OSError as error:
        local = Path(model_id).expanduser()
        if local.is_dir():
            what = "a transformers model" if (local / "config.json").is_file() else "not a saved pipeline"
            raise ConfigError(f"{model_id} has no model_index.json ({what}); task kind 'image-gen' needs "
                              f"{_KIND_NEEDS['image-gen']}") from None
        raise _not_found(model_id, revision, error) from None


def check_pipeline_kind(pipeline_cls, model_id: str) -> str:
    """Refuse a pipeline that does not turn a prompt alone into an image (one ConfigError line).

    Returns how an accepted class was judged (`diffusers' text-to-image table` or `its call signature`).

    diffusers' own auto-pipeline tables decide where they know the class (text-to-image yes; image-to-image,
    inpainting, video, audio no); ControlNet pipelines need a control image; any other class must take a prompt,
    a step count and a size, and no input image.
    """
    from diffusers.pipelines import auto_pipeline

    def names(table: str) -> set[str]:
        return {cls.__name__ for cls in getattr(auto_pipeline, table, {}).values()}

    name = pipeline_cls.__name__
    refuse = f"{model_id} is a {name}, not a text-to-image pipeline"
    needs = f"task kind 'image-gen' needs {_KIND_NEEDS['image-gen']}"
    if "controlnet" in inspect.signature(pipeline_cls.__init__).parameters:
        raise ConfigError(f"{refuse} (it needs a control image); {needs}")
    if name in names("AUTO_TEXT2IMAGE_PIPELINES_MAPPING"):
        return "diffusers' text-to-image table"
    other_tables = [table for table in dir(auto_pipeline)
                    if table.startswith("AUTO_") and table.endswith("_MAPPING") and "TEXT2IMAGE" not in table]
    for table in other_tables:
        if name in names(table):
            what = table.removeprefix("AUTO_").removesuffix("_PIPELINES_MAPPING").lower()
            raise ConfigError(f"{refuse} (diffusers lists it as {what}); {needs}")
    params = inspect.signature(pipeline_cls.__call__).parameters
    missing = [param for param in ("prompt", "num_inference_steps", "height", "width") if param not in params]
    takes_image = [param for param in ("image", "mask_image", "control_image") if param in params]
    if missing or takes_image:
        why = f"its call takes {', '.join(takes_image)}" if takes_image else f"its call has no {', '.join(missing)}"
        raise ConfigError(f"{refuse} ({why}); {needs}")
    return "its call signature"


def _pipeline_device_map(device_map):
    if device_map == "auto":
        logger.info("diffusers pipelines spread over GPUs with device_map='balanced'; using it for 'auto'")
        return "balanced"
    if device_map != "balanced":
        raise ConfigError(f"--device-map '{device_map}' is not supported for diffusers pipelines; use balanced")
    return device_map


def _diffusers_dtype_arg() -> str:
    """`dtype` in recent diffusers, `torch_dtype` (now deprecated there) in older ones."""
    from diffusers.pipelines import pipeline_utils

    return "dtype" if hasattr(pipeline_utils, "_resolve_dtype") else "torch_dtype"


def _is_torch_module(component) -> bool:
    import torch

    return isinstance(component, torch.nn.Module)


def _pipeline_from_configs(pipeline_cls, index, model_id, revision, torch_dtype, primary):
    """Build each torch component from its config with random weights; load the rest (tokenizers, scheduler)."""
    import torch

    dtype = torch_dtype or torch.float32
    components: dict[str, Any] = {}
    init_params = inspect.signature(pipeline_cls.__init__).parameters
    devices = [primary.index] if primary.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        for name, value in index.items():
            if name.startswith("_") or name not in init_params:
                continue
            if not (isinstance(value, list | tuple) and len(value) == 2):
                components[name] = value  # a plain setting such as requires_safety_checker
                continue
            library, class_name = value
            if library is None or class_name is None:
                components[name] = None
                continue
            cls = _component_class(library, class_name, model_id)
            if issubclass(cls, torch.nn.Module):
                with torch.device(primary):
                    module = _module_from_config(cls, model_id, name, revision, dtype)
                if module.dtype != dtype:
                    module = module.to(dtype)
                components[name] = module.eval()
            else:
                components[name] = cls.from_pretrained(model_id, subfolder=name, revision=revision)
    return pipeline_cls(**components)


def _component_class(library: str, class_name: str, model_id: str):
    import diffusers

    for module_name in (library, f"diffusers.pipelines.{library}"):
        with contextlib.suppress(ImportError):
            cls = getattr(importlib.import_module(module_name), class_name, None)
            if cls is not None:
                return cls
    cls = getattr(diffusers, class_name, None)
    if cls is None:
        raise ConfigError(f"{model_id}: component class {library}.{class_name} is not available")
    return cls


def _module_from_config(cls, model_id, subfolder, revision, dtype):
    from diffusers import ModelMixin

    if issubclass(cls, ModelMixin):
        return cls.from_config(cls.load_config(model_id, subfolder=subfolder, revision=revision))
    from transformers import AutoConfig, PreTrainedModel

    if issubclass(cls, PreTrainedModel):
        config = AutoConfig.from_pretrained(model_id, subfolder=subfolder, revision=revision)
        return cls._from_config(config, dtype=dtype)
    raise ConfigError(f"{model_id}: cannot build component {subfolder} ({cls.__name__}) from its config")
