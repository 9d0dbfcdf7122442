"""Object detection: image processor, forward pass, then the processor's `post_process_object_detection`.

The post-processing (scores, a threshold, boxes scaled back to each image's own size) is part of what a user of
detection pays for, so it runs inside the timed batch; the boxes it keeps are the batch's outputs.
"""

from __future__ import annotations

from typing import Any

from harness.engines import LoadedModel
from harness.errors import ConfigError
from harness.workloads.base import BatchOutput
from harness.workloads.image_inputs import ImageInputWorkload


class ObjectDetectionWorkload(ImageInputWorkload):
    """Images in, scored boxes out (`generation.threshold`); one forward pass per batch."""

    kind = "object-detection"
    generative = False
    auto_class = "AutoModelForObjectDetection"
    known_architectures = "MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES"
    architecture_suffixes = ("ForObjectDetection",)

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        if not callable(getattr(self.processor, "post_process_object_detection", None)):
            raise ConfigError(f"{loaded.info.get('id', 'model')}'s image processor ({type(self.processor).__name__}) "
                              "has no post_process_object_detection; task kind 'object-detection' needs a detector's")
        self.threshold = float(spec.generation.threshold)

    def _run(self, batch: list) -> BatchOutput:
        outputs = self.model(**self.encode(batch))
        detections = self.processor.post_process_object_detection(
            outputs, threshold=self.threshold, target_sizes=[(item.height, item.width) for item in batch]
        )
        kept = tuple(tensor for found in detections for tensor in (found["scores"], found["labels"], found["boxes"]))
        return BatchOutput(num_queries=len(batch), images=len(batch), outputs=kept)
