"""Text classification: one forward pass of a sequence classifier per batch, the predicted label per text."""

from __future__ import annotations

import logging
from typing import Any

from harness.engines import LoadedModel
from harness.workloads.base import BatchOutput
from harness.workloads.encoder_text import EncoderTextWorkload
from harness.workloads.text_inputs import count_input_tokens, encode

logger = logging.getLogger(__name__)


class TextClassificationWorkload(EncoderTextWorkload):
    """Texts in (right-padded, truncated to `max_input_tokens`), one label out per text; no generation."""

    kind = "text-classification"
    auto_class = "AutoModelForSequenceClassification"
    known_architectures = "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"
    architecture_suffixes = ("ForSequenceClassification",)

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        if getattr(self.model.config, "pad_token_id", None) is None:
            # Decoder-based classifiers find each text's last token through the pad id; without one they refuse
            # batches of more than one.
            self.model.config.pad_token_id = self.tokenizer.pad_token_id

    def _run(self, batch: list[str]) -> BatchOutput:
        inputs = encode(self.tokenizer, batch, self.max_input_tokens, self.input_device)
        logits = self.model(**inputs).logits
        labels = logits.argmax(dim=-1)
        return BatchOutput(
            num_queries=len(batch), input_tokens=count_input_tokens(inputs), outputs=(labels,)
        )
