"""Image classification: the image processor and one forward pass per batch, the predicted label per image."""

from __future__ import annotations

from typing import Any

from harness.workloads.base import BatchOutput, Workload
from harness.workloads.image_inputs import encode_images, pixels_per_item, require_processor
from harness.workloads.models import LoadedModel


class ImageClassificationWorkload(Workload):
    """Images in (through the model's image processor), one label out per image; no generation."""

    kind = "image-classification"
    generative = False
    input_size_unit = "pixels"

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.processor = require_processor(loaded.processor, loaded.info.get("id", "model"), self.kind)

    def input_sizes(self, items):
        return pixels_per_item(list(items)) if items else None

    def _run(self, batch: list) -> BatchOutput:
        inputs = encode_images(self.processor, batch, self.input_device, self.model.dtype)
        labels = self.model(**inputs).logits.argmax(dim=-1)
        return BatchOutput(num_queries=len(batch), images=len(batch), outputs=(labels,))
