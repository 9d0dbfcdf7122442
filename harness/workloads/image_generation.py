"""Image generation with a diffusers text-to-image pipeline: N denoising steps, then the VAE decodes real images.

Size and guidance are the task's when it sets them, else the pipeline's own defaults (its native sample size times
the VAE's scale factor, the default of its `guidance_scale` argument), as AI Energy Score runs each pipeline. Either
way the values are resolved once, passed explicitly and recorded (`workload_settings`), so what a result says it
ran is what ran.

Each prompt gets its own generator seeded from the task's seed and the prompt's text, so an image depends only on
its prompt and the task (not on the batch size, the batch's position or the repetition), and starting noise is
drawn on the CPU so it is the same on every machine.
"""

from __future__ import annotations

import inspect
import logging
import zlib
from typing import Any

from harness.engines import LoadedModel
from harness.errors import ConfigError
from harness.workloads.base import BatchOutput, Workload

logger = logging.getLogger(__name__)


class ImageGenerationWorkload(Workload):
    """Prompts in, one decoded image per prompt out (`generation`: steps, height, width, guidance scale, seed)."""

    engine = "diffusers"
    kind = "image-gen"
    generative = False

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        settings = spec.generation
        self.seed = int(settings.seed)
        params = inspect.signature(self.model.__call__).parameters
        native = pipeline_native_size(self.model)
        height = settings.height if settings.height is not None else native
        width = settings.width if settings.width is not None else native
        if height is None or width is None:
            raise ConfigError(f"{type(self.model).__name__} has no default image size the harness can read: set "
                              "generation.height and generation.width")
        self.call_kwargs: dict[str, Any] = {
            "num_inference_steps": int(settings.num_inference_steps),
            "height": int(height),
            "width": int(width),
            "output_type": "pil",
        }
        guidance = None
        if "guidance_scale" in params:
            default = params["guidance_scale"].default
            guidance = settings.guidance_scale if settings.guidance_scale is not None else (
                None if default is inspect.Parameter.empty else default)
            if guidance is not None:
                self.call_kwargs["guidance_scale"] = float(guidance)
        elif settings.guidance_scale is not None:
            logger.info("%s takes no guidance_scale; the task's value is not used", type(self.model).__name__)
        self.workload_settings = {"height": int(height), "width": int(width),
                                  "guidance_scale": None if guidance is None else float(guidance)}

    def input_sizes(self, items):
        """Prompt tokens per query in the pipeline's (first) text tokenizer, truncated to its limit as the pipeline
        truncates them; None for a pipeline with no tokenizer the harness can find."""
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is None or not items:
            return None
        from harness.workloads.text_inputs import tokens_per_item

        limit = getattr(tokenizer, "model_max_length", None)
        return tokens_per_item(tokenizer, list(items), limit if isinstance(limit, int) and limit < 10**6 else None)

    def prompt_seed(self, prompt: str) -> int:
        """The seed of one prompt's starting noise: the task's seed plus a stable hash of the prompt."""
        return (self.seed + zlib.crc32(prompt.encode("utf-8"))) % 2**63

    def _run(self, batch: list[str]) -> BatchOutput:
        import torch

        generators = [torch.Generator("cpu").manual_seed(self.prompt_seed(prompt)) for prompt in batch]
        try:
            result = self.model(prompt=batch, generator=generators, **self.call_kwargs)
        except ValueError as error:
            # Pipelines check their arguments (sizes not divisible by 8, unknown options) before any work.
            raise ConfigError(f"{type(self.model).__name__} refused the task's settings: {error}") from None
        images = list(result.images)
        return BatchOutput(
            num_queries=len(batch),
            images=len(images),
            outputs=tuple(images),
        )


def pipeline_native_size(pipeline: Any) -> int | None:
    """The pipeline's default image side in pixels, as diffusers computes it when `height`/`width` are None:
    `default_sample_size` (SDXL-style pipelines) or the denoiser's `sample_size`, times `vae_scale_factor`."""
    scale = getattr(pipeline, "vae_scale_factor", None)
    sample = getattr(pipeline, "default_sample_size", None)
    if sample is None:
        denoiser = getattr(pipeline, "unet", None) or getattr(pipeline, "transformer", None)
        config = getattr(denoiser, "config", None)
        sample = getattr(config, "sample_size", None)
    if isinstance(sample, (list, tuple)):
        sample = sample[0]
    if not isinstance(sample, int) or not isinstance(scale, int):
        return None
    return sample * scale
