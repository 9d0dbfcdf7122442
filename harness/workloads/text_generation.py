"""Text generation with a causal LM: greedy decoding of exactly N new tokens per prompt (left-padded batches)."""

from __future__ import annotations

from typing import Any

from harness.workloads.greedy_text import GreedyTextWorkload


class TextGenerationWorkload(GreedyTextWorkload):
    """Prompts in, `generation.max_new_tokens` greedy tokens out per prompt."""

    kind = "text-gen"
    padding_side = "left"
    new_tokens_share_context = True

    def _new_ids(self, inputs: dict, output_ids: Any) -> Any:
        return output_ids[:, inputs["input_ids"].shape[1]:]  # the prompt comes back first
