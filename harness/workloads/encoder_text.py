"""What the one-forward-pass text workloads share (classification, question answering, sentence similarity):
the model's tokenizer padding on the right, and inputs cut to the task's `max_input_tokens` (capped at the model's).
"""

from __future__ import annotations

from typing import Any, ClassVar

from harness.engines import LoadedModel
from harness.workloads.base import ENCODER_DECODER, Workload, is_encoder_decoder, refuse_model
from harness.workloads.text_inputs import input_token_limit, prepare_tokenizer


class EncoderTextWorkload(Workload):
    """A text workload with no generation: subclasses implement `_run` over the prepared tokenizer."""

    generative = False
    encoder_only: ClassVar[bool] = False
    """The kind reads one pass of an encoder (a span, an embedding): an encoder-decoder model is refused."""

    @classmethod
    def check_config(cls, config: Any, model_id: str) -> None:
        if cls.encoder_only and is_encoder_decoder(config):
            raise refuse_model(config, model_id, cls.kind, ENCODER_DECODER)

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.tokenizer = loaded.tokenizer
        prepare_tokenizer(self.tokenizer, "right", loaded.info.get("id", "model"))
        self.max_input_tokens = input_token_limit(self.tokenizer, self.model.config, spec.max_input_tokens)
