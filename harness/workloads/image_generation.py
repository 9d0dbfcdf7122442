"""Image generation with a diffusers text-to-image pipeline: N denoising steps, then the VAE decodes real images.

Each prompt gets its own generator seeded from the task's seed and the prompt's text, so an image depends only on
its prompt and the task (not on the batch size, the batch's position or the repetition), and starting noise is
drawn on the CPU so it is the same on every machine.
"""

from __future__ import annotations

import inspect
import logging
import zlib
from typing import Any

from harness.errors import ConfigError
from harness.workloads.base import BatchOutput, Workload
from harness.workloads.models import LoadedModel

logger = logging.getLogger(__name__)


class ImageGenerationWorkload(Workload):
    """Prompts in, one decoded image per prompt out (`generation`: steps, height, width, guidance scale, seed)."""

    kind = "image-gen"
    generative = False

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        settings = spec.generation
        self.seed = int(settings.seed)
        self.call_kwargs: dict[str, Any] = {
            "num_inference_steps": int(settings.num_inference_steps),
            "height": int(settings.height),
            "width": int(settings.width),
            "output_type": "pil",
        }
        params = inspect.signature(self.model.__call__).parameters
        if "guidance_scale" in params:
            self.call_kwargs["guidance_scale"] = float(settings.guidance_scale)
        else:
            logger.info("%s takes no guidance_scale; the task's value is not used", type(self.model).__name__)

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
