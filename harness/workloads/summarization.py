"""Summarisation with an encoder-decoder model: the article is encoded once, N summary tokens decoded greedily.

Transformers 5 has no summarization pipeline; this is what it did: the seq2seq model's `generate`. Output tokens
are the decoder's generated tokens, without its start token. The prefill pass encodes the same articles and
decodes one token.
"""

from __future__ import annotations

from typing import Any

from harness.workloads.greedy_text import GreedyTextWorkload


class SummarizationWorkload(GreedyTextWorkload):
    """Articles in (truncated to `max_input_tokens`), `generation.max_new_tokens` summary tokens out per article."""

    kind = "summarization"
    padding_side = "right"

    def _new_ids(self, inputs: dict, output_ids: Any) -> Any:
        return output_ids[:, 1:]  # the first position is the decoder start token, not generated
