"""Summarisation with an encoder-decoder model: the article is encoded once, N summary tokens decoded greedily.

Transformers 5 has no summarization pipeline; this is what it did: the seq2seq model's `generate`. Output tokens
are the decoder's generated tokens, without its start token. The prefill pass encodes the same articles and
decodes one token.
"""

from __future__ import annotations

import logging
from typing import Any

from harness.models import LoadedModel
from harness.workloads.base import BatchOutput, Workload, digest
from harness.workloads.text_inputs import (
    count_input_tokens,
    encode,
    greedy_generation_config,
    input_token_limit,
    prepare_tokenizer,
)

logger = logging.getLogger(__name__)

_GENERATE_INPUTS = ("input_ids", "attention_mask")


class SummarizationWorkload(Workload):
    """Articles in (truncated to `max_input_tokens`), `generation.max_new_tokens` summary tokens out per article."""

    kind = "summarization"
    generative = True

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.tokenizer = loaded.tokenizer
        prepare_tokenizer(self.tokenizer, "right", loaded.info.get("id", "model"))
        self.new_tokens = int(spec.generation.max_new_tokens)
        self.max_input_tokens = input_token_limit(self.tokenizer, self.model.config, spec.max_input_tokens)
        self.generation_config = greedy_generation_config(self.model, self.new_tokens, self.tokenizer.pad_token_id)
        self.prefill_config = greedy_generation_config(self.model, 1, self.tokenizer.pad_token_id)

    def _run(self, batch: list[str]) -> BatchOutput:
        return self._generate(batch, self.generation_config)

    def _run_prefill(self, batch: list[str]) -> BatchOutput:
        return self._generate(batch, self.prefill_config)

    def _generate(self, batch: list[str], generation_config) -> BatchOutput:
        inputs = encode(self.tokenizer, batch, self.max_input_tokens, self.input_device, _GENERATE_INPUTS)
        output_ids = self.model.generate(**inputs, generation_config=generation_config)
        new_ids = output_ids[:, 1:]  # the first position is the decoder start token, not generated
        return BatchOutput(
            num_queries=len(batch),
            input_tokens=count_input_tokens(inputs),
            output_tokens=int(new_ids.shape[0] * new_ids.shape[1]),
            output_digest=digest(new_ids),
        )
