"""Image classification: the image processor and one forward pass per batch, the predicted label per image."""

from __future__ import annotations

from harness.workloads.base import BatchOutput
from harness.workloads.image_inputs import ImageInputWorkload


class ImageClassificationWorkload(ImageInputWorkload):
    """Images in (through the model's image processor), one label out per image; no generation."""

    kind = "image-classification"
    generative = False
    auto_class = "AutoModelForImageClassification"
    known_architectures = "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES"
    architecture_suffixes = ("ForImageClassification",)

    def _run(self, batch: list) -> BatchOutput:
        labels = self.model(**self.encode(batch)).logits.argmax(dim=-1)
        return BatchOutput(num_queries=len(batch), images=len(batch), outputs=(labels,))
