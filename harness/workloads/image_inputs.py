"""Feeding images to a model as a user would: the model's own image processor, inside the timed batch.

Shared by the three image workloads. Items are `harness.tasks.images.ImageItem`s (H x W x 3 uint8 arrays); the
processor resizes, rescales, normalises (and for detection pads the batch, with a pixel mask). Floating inputs are
cast to the model's dtype, as `pipeline` does.
"""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError


def require_processor(processor: Any, model_id: str, kind: str) -> Any:
    if processor is None:
        raise ConfigError(f"{model_id} has no image processor; task kind '{kind}' needs one (preprocessor_config.json)")
    return processor


def encode_images(processor: Any, batch: list, device: Any, dtype: Any) -> dict:
    """The processor's tensors for `batch`, on `device`; floating ones (pixel values) in `dtype`."""
    encoding = processor(images=[item.pixels for item in batch], return_tensors="pt")
    return {name: tensor.to(device, dtype=dtype) if tensor.is_floating_point() else tensor.to(device)
            for name, tensor in encoding.items()}


def pixels_per_item(items: list) -> list[int]:
    """Each image's size as it comes in, in pixels (width x height), before the processor resizes it."""
    return [item.width * item.height for item in items]
