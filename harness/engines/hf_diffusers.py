"""The diffusers engine: a text-to-image pipeline loaded with diffusers' own loading code, run in this process.

A pipeline of the wrong kind (image-to-image, inpainting, video, a ControlNet) is refused from its
`model_index.json` and class before any weights load.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
from pathlib import Path
from typing import Any

from harness.engines.base import LoadedModel, LoadRequest
from harness.engines.torch_engine import (
    TorchEngine,
    count_parameters,
    cuda_indices_of,
    model_info,
    not_found,
    resolved_commit,
    torch_dtype,
)
from harness.errors import ConfigError
from harness.kinds import KINDS

logger = logging.getLogger(__name__)


class DiffusersEngine(TorchEngine):
    name = "diffusers"
    library = "diffusers"

    def silence_progress_bars(self) -> None:
        """diffusers' bars, and transformers' (a pipeline's text encoders load through it)."""
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()

    def _load(self, request: LoadRequest, workload: Any, model_id: str, dtype_name: str, primary: Any) -> LoadedModel:
        import diffusers

        revision, trust_remote_code = request.revision, request.trust_remote_code
        index = _load_pipeline_index(model_id, revision, request.kind)
        pipeline_cls = getattr(diffusers, str(index.get("_class_name")), None)
        if pipeline_cls is not None:
            check_pipeline_kind(pipeline_cls, model_id)
        elif not trust_remote_code:
            raise ConfigError(f"{model_id} uses pipeline class {index.get('_class_name')!r}, which diffusers does not "
                              "have (if it ships its own code and you trust it, pass --trust-remote-code)")
        dtype = torch_dtype(dtype_name)
        device_map = _pipeline_device_map(request.device_map) if request.device_map is not None else None
        try:
            if request.random_weights:
                if pipeline_cls is None:
                    raise ConfigError("--random-weights needs a pipeline class that diffusers has")
                pipeline = _pipeline_from_configs(pipeline_cls, index, model_id, revision, dtype, primary)
                loader = f"diffusers.{pipeline_cls.__name__} (components from config)"
            else:
                kwargs: dict[str, Any] = {"revision": revision}
                if dtype is not None:
                    kwargs[_diffusers_dtype_arg()] = dtype
                if trust_remote_code:
                    kwargs["trust_remote_code"] = True
                if device_map is not None:
                    kwargs["device_map"] = device_map
                pipeline = diffusers.DiffusionPipeline.from_pretrained(model_id, **kwargs)
                if device_map is None:
                    pipeline.to(primary)
                loader = "diffusers.DiffusionPipeline"
        except OSError as error:
            raise not_found(model_id, revision, error) from None
        check_pipeline_kind(type(pipeline), model_id)
        pipeline.set_progress_bar_config(disable=True)
        modules = [c for c in pipeline.components.values() if _is_torch_module(c)]
        used_map = getattr(pipeline, "hf_device_map", None) if device_map is not None else None
        used_map = used_map if isinstance(used_map, dict) else None
        cuda_indices = cuda_indices_of(primary, used_map)
        device = str(primary) if not used_map else f"cuda:{cuda_indices[0]}"
        denoiser = getattr(pipeline, "unet", None) or getattr(pipeline, "transformer", None) or modules[0]
        info = model_info(request, model_id,
                          revision=resolved_commit(model_id, revision, "model_index.json") or revision,
                          dtype=denoiser.dtype, num_parameters=count_parameters(*modules),
                          architecture=type(pipeline).__name__, loader=loader, device=device, device_map=used_map)
        return LoadedModel(kind=request.kind, model=pipeline, tokenizer=None, device=device, info=info,
                           cuda_indices=cuda_indices)


def _load_pipeline_index(model_id, revision, kind) -> dict:
    """The pipeline's `model_index.json` (which components, of which classes)."""
    from diffusers import DiffusionPipeline

    try:
        return dict(DiffusionPipeline.load_config(model_id, revision=revision))
    except OSError as error:
        local = Path(model_id).expanduser()
        if local.is_dir():
            what = "a transformers model" if (local / "config.json").is_file() else "not a saved pipeline"
            raise ConfigError(f"{model_id} has no model_index.json ({what}); task kind '{kind}' needs "
                              f"{KINDS[kind].needs}") from None
        raise not_found(model_id, revision, error) from None


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
    needs = f"task kind 'image-gen' needs {KINDS['image-gen'].needs}"
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


def _pipeline_from_configs(pipeline_cls, index, model_id, revision, dtype, primary):
    """Build each torch component from its config with random weights; load the rest (tokenizers, scheduler)."""
    import torch

    dtype = dtype or torch.float32
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
