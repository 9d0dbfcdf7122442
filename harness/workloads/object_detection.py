"""Object detection: image processor, forward pass, then the processor's `post_process_object_detection`.

The post-processing (scores, a threshold, boxes scaled back to each image's own size) is part of what a user of
detection pays for, so it runs inside the timed batch; the boxes it keeps are the batch's outputs.
"""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError
from harness.workloads.base import BatchOutput, Workload
from harness.workloads.image_inputs import encode_images, pixels_per_item, require_processor
from harness.workloads.models import LoadedModel


class ObjectDetectionWorkload(Workload):
    """Images in, scored boxes out (`generation.threshold`); one forward pass per batch."""

    kind = "object-detection"
    generative = False
    input_size_unit = "pixels"

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        model_id = loaded.info.get("id", "model")
        self.processor = require_processor(loaded.processor, model_id, self.kind)
        if not callable(getattr(self.processor, "post_process_object_detection", None)):
            raise ConfigError(f"{model_id}'s image processor ({type(self.processor).__name__}) has no "
                              "post_process_object_detection; task kind 'object-detection' needs a detector's")
        self.threshold = float(spec.generation.threshold)

    def input_sizes(self, items):
        return pixels_per_item(list(items)) if items else None

    def _run(self, batch: list) -> BatchOutput:
        inputs = encode_images(self.processor, batch, self.input_device, self.model.dtype)
        outputs = self.model(**inputs)
        detections = self.processor.post_process_object_detection(
            outputs, threshold=self.threshold, target_sizes=[(item.height, item.width) for item in batch]
        )
        kept = tuple(tensor for found in detections for tensor in (found["scores"], found["labels"], found["boxes"]))
        return BatchOutput(num_queries=len(batch), images=len(batch), outputs=kept)
