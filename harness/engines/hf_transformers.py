"""The transformers engine: a model loaded with transformers' own Auto classes and run in this process.

Which Auto class loads a kind, and which architectures a kind accepts, are the workload's to say (its
`auto_class`, `known_architectures`, `architecture_suffixes` and `check_config`); this engine applies them,
refusing a model of the wrong kind from its config alone, before any weights load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.engines.base import LoadedModel, LoadRequest
from harness.engines.model_files import check_tokenizer
from harness.engines.torch_engine import (
    TorchEngine,
    count_parameters,
    cuda_indices_of,
    first_line,
    model_info,
    not_found,
    resolved_commit,
    torch_dtype,
)
from harness.errors import ConfigError
from harness.kinds import KINDS


class TransformersEngine(TorchEngine):
    name = "transformers"
    library = "transformers"

    def silence_progress_bars(self) -> None:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

    def _load(self, request: LoadRequest, workload: Any, model_id: str, dtype_name: str, primary: Any) -> LoadedModel:
        import transformers

        kind, revision, trust_remote_code = request.kind, request.revision, request.trust_remote_code
        config = _load_config(kind, model_id, revision, trust_remote_code)
        check_architecture(workload, config, model_id)
        tokenizer = processor = None
        if workload.needs_tokenizer:
            tokenizer = _load_tokenizer(model_id, revision, trust_remote_code)
            check_tokenizer(tokenizer, model_id)
        if workload.processor == "image":
            processor = _load_image_processor(model_id, revision, trust_remote_code)
        elif workload.processor == "audio":
            processor = _load_feature_extractor(model_id, revision, trust_remote_code)
        workload.check_components(tokenizer, model_id, request)
        auto_class = getattr(transformers, workload.auto_class)
        dtype = torch_dtype(dtype_name)
        common = {"trust_remote_code": trust_remote_code} if trust_remote_code else {}
        try:
            if request.random_weights:
                model = _build_from_config(auto_class, config, dtype, primary, request.device_map, common)
                loader = f"transformers.{auto_class.__name__}.from_config"
            else:
                model = auto_class.from_pretrained(
                    model_id,
                    revision=revision,
                    dtype="auto" if dtype is None else dtype,
                    device_map=request.device_map if request.device_map is not None else primary,
                    **common,
                )
                loader = f"transformers.{auto_class.__name__}"
        except ValueError as error:
            if "trust_remote_code" in str(error) or "Unrecognized configuration class" in str(error):
                raise ConfigError(f"{model_id} cannot be loaded as {KINDS[kind].needs}: {first_line(error)}") from None
            raise
        except OSError as error:
            raise not_found(model_id, revision, error) from None
        model.eval()
        if processor is not None:  # which backend's processor ran (PIL, or torchvision's where installed) is recorded
            loader = f"{loader} + {type(processor).__name__}"
        used_map = getattr(model, "hf_device_map", None) if request.device_map is not None else None
        cuda_indices = cuda_indices_of(primary, used_map)
        device = str(primary) if not used_map else f"cuda:{cuda_indices[0]}"
        architectures = getattr(config, "architectures", None) or [type(model).__name__]
        # The config's name when transformers has such a class, else the class that was loaded: a made-up name
        # in a config is never recorded as what ran.
        architecture = architectures[0] if str(architectures[0]) in dir(transformers) else type(model).__name__
        info = model_info(request, model_id, revision=resolved_commit(model_id, revision, "config.json") or revision,
                          dtype=model.dtype, num_parameters=count_parameters(model), architecture=architecture,
                          loader=loader, device=device, device_map=used_map)
        return LoadedModel(kind=kind, model=model, tokenizer=tokenizer, device=device, info=info,
                           cuda_indices=cuda_indices, processor=processor)


def check_architecture(workload: Any, config: Any, model_id: str) -> None:
    """Refuse, from the config alone, a model of the wrong kind for the workload (one ConfigError line): the
    workload's own rules first, then its architectures (transformers' table for the kind, or a name ending)."""
    from transformers.models.auto import modeling_auto

    workload.check_config(config, model_id)
    kind = workload.kind
    table = workload.known_architectures
    known = set(getattr(modeling_auto, table).values()) if isinstance(table, str) else set(table)
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(
        name in known or name.endswith(workload.architecture_suffixes) for name in architectures
    ):
        raise ConfigError(f"{model_id} is a {described_architecture(config)}; task kind '{kind}' needs "
                          f"{KINDS[kind].needs}")


def described_architecture(config: Any) -> str:
    """How a refusal names a model: its first architecture, else its model type."""
    architectures = list(getattr(config, "architectures", None) or [])
    return architectures[0] if architectures else getattr(config, "model_type", "model")


def _load_config(kind, model_id, revision, trust_remote_code):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    except OSError as error:
        if _is_local_pipeline(model_id):
            raise ConfigError(f"{model_id} is a diffusers pipeline; task kind '{kind}' needs {KINDS[kind].needs}"
                              ) from None
        raise not_found(model_id, revision, error) from None
    except ValueError as error:
        if _is_local_pipeline(model_id):
            raise ConfigError(f"{model_id} is a diffusers pipeline; task kind '{kind}' needs {KINDS[kind].needs}"
                              ) from None
        hint = "" if trust_remote_code else " (if it ships its own code and you trust it, pass --trust-remote-code)"
        raise ConfigError(f"{model_id}: transformers cannot read its config: {first_line(error)}{hint}") from None


def _is_local_pipeline(model_id: str) -> bool:
    return (Path(model_id).expanduser() / "model_index.json").is_file()


def _load_tokenizer(model_id, revision, trust_remote_code):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"{model_id} has no usable tokenizer: {first_line(error)}") from None


def _load_image_processor(model_id, revision, trust_remote_code):
    """The model's own image processor (its `preprocessor_config.json`), as a user of the model would load it."""
    from transformers import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"{model_id} has no usable image processor: {first_line(error)}") from None


def _load_feature_extractor(model_id, revision, trust_remote_code):
    """The audio feature extractor saved with a speech model (`preprocessor_config.json`), or one ConfigError line."""
    from transformers import AutoFeatureExtractor

    try:
        return AutoFeatureExtractor.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"{model_id} has no usable audio feature extractor (preprocessor_config.json): "
                          f"{first_line(error)}") from None


def _build_from_config(auto_class, config, dtype, primary, device_map, common):
    """Random weights, seeded: built directly on the target device, or on CPU then dispatched by accelerate."""
    import torch

    if dtype is None:
        dtype = getattr(config, "dtype", None) or torch.float32
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
    devices = [primary.index] if primary.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        if device_map is None:
            with torch.device(primary):
                return auto_class.from_config(config, dtype=dtype, **common)
        model = auto_class.from_config(config, dtype=dtype, **common)
    return _dispatch(model, device_map, dtype)


def _dispatch(model, device_map, dtype):
    """Spread a model built in memory over the GPUs, as `from_pretrained(device_map=...)` would."""
    from accelerate import dispatch_model, infer_auto_device_map
    from accelerate.utils import get_balanced_memory

    if isinstance(device_map, str):
        if device_map not in ("auto", "balanced", "balanced_low_0", "sequential"):
            raise ConfigError(f"unknown --device-map '{device_map}'; use auto, balanced, balanced_low_0 or sequential")
        no_split = getattr(model, "_no_split_modules", None) or []
        max_memory = None
        if device_map != "sequential":
            max_memory = get_balanced_memory(model, dtype=dtype, no_split_module_classes=no_split,
                                             low_zero=device_map == "balanced_low_0")
        device_map = infer_auto_device_map(model, max_memory=max_memory, no_split_module_classes=no_split,
                                           dtype=dtype)
    model = dispatch_model(model, device_map=device_map)
    model.hf_device_map = device_map
    return model
