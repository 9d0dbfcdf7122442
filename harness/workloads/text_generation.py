"""Text generation with a causal LM: greedy decoding of exactly N new tokens per prompt.

`min_new_tokens == max_new_tokens` stops no sequence early, so every query does the same amount of decoding
and `output_tokens` is exactly N per query. The prefill pass runs the same prompts for one new token.
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


class TextGenerationWorkload(Workload):
    """Prompts in, `generation.max_new_tokens` greedy tokens out per prompt (left-padded batches)."""

    kind = "text-gen"
    generative = True

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.tokenizer = loaded.tokenizer
        prepare_tokenizer(self.tokenizer, "left", loaded.info.get("id", "model"))
        self.new_tokens = int(spec.generation.max_new_tokens)
        self.max_input_tokens = input_token_limit(
            self.tokenizer, self.model.config, spec.max_input_tokens, reserve=self.new_tokens
        )
        self.generation_config = greedy_generation_config(self.model, self.new_tokens, self.tokenizer.pad_token_id)
        self.prefill_config = greedy_generation_config(self.model, 1, self.tokenizer.pad_token_id)

    def _run(self, batch: list[str]) -> BatchOutput:
        return self._generate(batch, self.generation_config)

    def _run_prefill(self, batch: list[str]) -> BatchOutput:
        return self._generate(batch, self.prefill_config)

    def _generate(self, batch: list[str], generation_config) -> BatchOutput:
        inputs = encode(self.tokenizer, batch, self.max_input_tokens, self.input_device, _GENERATE_INPUTS)
        output_ids = self.model.generate(**inputs, generation_config=generation_config)
        input_length = inputs["input_ids"].shape[1]
        new_ids = output_ids[:, input_length:]
        return BatchOutput(
            num_queries=len(batch),
            input_tokens=count_input_tokens(inputs),
            output_tokens=int(new_ids.shape[0] * new_ids.shape[1]),
            output_digest=digest(new_ids),
        )
