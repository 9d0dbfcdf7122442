"""Feeding images to a model as a user would: the model's own image processor, inside the timed batch.

Shared by the three image workloads (`ImageInputWorkload`). Items are `harness.tasks.images.ImageItem`s (H x W x 3
uint8 arrays); the processor resizes, rescales, normalises (and for detection pads the batch, with a pixel mask).
Floating inputs are cast to the model's dtype, as `pipeline` does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from harness.engines import LoadedModel
from harness.errors import ConfigError
from harness.workloads.base import Workload


class ImageInputWorkload(Workload):
    """What the image workloads share: the model's image processor, and input sizes in pixels."""

    input_size_unit: ClassVar[str] = "pixels"
    needs_tokenizer = False
    processor = "image"

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        if loaded.processor is None:
            raise ConfigError(f"{loaded.info.get('id', 'model')} has no image processor; task kind '{self.kind}' "
                              "needs one (preprocessor_config.json)")
        self.processor = loaded.processor

    def input_sizes(self, items):
        return pixels_per_item(list(items)) if items else None

    def encode(self, batch: list) -> dict:
        return encode_images(self.processor, batch, self.input_device, self.model.dtype)


def encode_images(processor: Any, batch: list, device: Any, dtype: Any) -> dict:
    """The processor's tensors for `batch`, on `device`; floating ones (pixel values) in `dtype`."""
    encoding = processor(images=[item.pixels for item in batch], return_tensors="pt")
    return {name: tensor.to(device, dtype=dtype) if tensor.is_floating_point() else tensor.to(device)
            for name, tensor in encoding.items()}


def pixels_per_item(items: list) -> list[int]:
    """Each image's size as it comes in, in pixels (width x height), before the processor resizes it."""
    return [item.width * item.height for item in items]
