"""What text generation and summarisation share: greedy decoding of exactly N new tokens, and a prefill pass.

`min_new_tokens == max_new_tokens` stops no sequence early, so every query does the same amount of decoding
and `output_tokens` is exactly N per query. The prefill pass runs the same inputs for one new token. The two
kinds differ only in padding side, whether new tokens must fit in the model's context, and which output
positions are new.
"""

from __future__ import annotations

from typing import Any, ClassVar

from harness.engines import LoadedModel
from harness.workloads.base import BatchOutput, Workload
from harness.workloads.text_inputs import (
    count_input_tokens,
    encode,
    greedy_generation_config,
    input_token_limit,
    prepare_tokenizer,
)

GENERATE_INPUTS = ("input_ids", "attention_mask")
"""What `generate` is given of an encoding (not, say, token type ids a tokenizer adds)."""


class GreedyTextWorkload(Workload):
    """Inputs in (padded on `padding_side`, truncated), `generation.max_new_tokens` greedy tokens out per input."""

    generative = True
    padding_side: ClassVar[str] = "right"
    new_tokens_share_context: ClassVar[bool] = False
    """Decoder-only models hold prompt and new tokens in one context: the prompt is cut to leave room."""

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.tokenizer = loaded.tokenizer
        prepare_tokenizer(self.tokenizer, self.padding_side, loaded.info.get("id", "model"))
        self.new_tokens = int(spec.generation.max_new_tokens)
        reserve = self.new_tokens if self.new_tokens_share_context else 0
        self.max_input_tokens = input_token_limit(
            self.tokenizer, self.model.config, spec.max_input_tokens, reserve=reserve
        )
        self.generation_config = greedy_generation_config(self.model, self.new_tokens, self.tokenizer.pad_token_id)
        self.prefill_config = greedy_generation_config(self.model, 1, self.tokenizer.pad_token_id)

    def _run(self, batch: list[str]) -> BatchOutput:
        return self._generate(batch, self.generation_config)

    def _run_prefill(self, batch: list[str]) -> BatchOutput:
        return self._generate(batch, self.prefill_config)

    def _new_ids(self, inputs: dict, output_ids: Any) -> Any:
        """The generated positions of `output_ids` (kind-specific)."""
        raise NotImplementedError

    def _generate(self, batch: list[str], generation_config) -> BatchOutput:
        inputs = encode(self.tokenizer, batch, self.max_input_tokens, self.input_device, GENERATE_INPUTS)
        output_ids = self.model.generate(**inputs, generation_config=generation_config)
        new_ids = self._new_ids(inputs, output_ids)
        return BatchOutput(
            num_queries=len(batch),
            input_tokens=count_input_tokens(inputs),
            output_tokens=int(new_ids.shape[0] * new_ids.shape[1]),
            outputs=(new_ids,),
        )
