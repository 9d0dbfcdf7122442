"""What the one-forward-pass text workloads share (classification, question answering, sentence similarity):
the model's tokenizer padding on the right, and inputs cut to the task's `max_input_tokens` (capped at the model's).
"""

from __future__ import annotations

from typing import Any

from harness.workloads.base import Workload
from harness.workloads.models import LoadedModel
from harness.workloads.text_inputs import input_token_limit, prepare_tokenizer


class EncoderTextWorkload(Workload):
    """A text workload with no generation: subclasses implement `_run` over the prepared tokenizer."""

    generative = False

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.tokenizer = loaded.tokenizer
        prepare_tokenizer(self.tokenizer, "right", loaded.info.get("id", "model"))
        self.max_input_tokens = input_token_limit(self.tokenizer, self.model.config, spec.max_input_tokens)
