"""Extractive question answering: one forward pass over question + context, the answer span read off the logits.

Each query is a (question, context) pair, tokenised as one pair sequence as the transformers question-answering
pipeline does, truncated to `max_input_tokens` by cutting the context, never the question. The answer is the
span whose start and end logits are highest among the context's tokens, with the end at or after the start (the
pipeline also caps the answer's length and splits long contexts into overlapping windows; the harness keeps one
window so every query is one forward pass).
"""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError
from harness.workloads.base import BatchOutput
from harness.workloads.encoder_text import EncoderTextWorkload
from harness.workloads.text_inputs import count_input_tokens


class QuestionAnsweringWorkload(EncoderTextWorkload):
    """(question, context) pairs in, one (start, end) token span out per pair; no generation."""

    kind = "question-answering"
    auto_class = "AutoModelForQuestionAnswering"
    known_architectures = "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES"
    encoder_only = True
    architecture_suffixes = ("ForQuestionAnswering",)

    def _encode(self, batch: list[tuple[str, str]], **options: Any):
        questions, contexts = [pair[0] for pair in batch], [pair[1] for pair in batch]
        try:
            return self.tokenizer(questions, contexts, truncation="only_second", max_length=self.max_input_tokens,
                                  **options)
        except Exception as error:  # tokenizers refuse a question that alone fills the limit
            if "truncat" not in str(error).lower():
                raise
            raise ConfigError(f"a question does not fit in {self.max_input_tokens} input tokens with any of its "
                              f"context: raise max_input_tokens ({str(error).splitlines()[0][:200]})") from None

    def input_sizes(self, items):
        if not items:
            return None
        return [len(ids) for ids in self._encode(list(items))["input_ids"]]

    def _run(self, batch: list[tuple[str, str]]) -> BatchOutput:
        import torch

        encoding = self._encode(batch, padding=True, return_tensors="pt")
        context = _context_mask(encoding)
        inputs = {name: tensor.to(self.input_device) for name, tensor in encoding.items()}
        output = self.model(**inputs)
        start_logits, end_logits = output.start_logits, output.end_logits
        if context is not None:
            context = context.to(start_logits.device)
            start_logits = start_logits.masked_fill(~context, torch.finfo(start_logits.dtype).min)
            end_logits = end_logits.masked_fill(~context, torch.finfo(end_logits.dtype).min)
        start = start_logits.argmax(dim=-1)
        positions = torch.arange(end_logits.shape[-1], device=end_logits.device)
        before_start = positions[None, :] < start[:, None]
        end = end_logits.masked_fill(before_start, torch.finfo(end_logits.dtype).min).argmax(dim=-1)
        return BatchOutput(num_queries=len(batch), input_tokens=count_input_tokens(inputs),
                           outputs=(torch.stack([start, end], dim=-1),))


def _context_mask(encoding):
    """True at the context's tokens (fast tokenizers say which sequence each token is from); None if unknown."""
    import torch

    if not getattr(encoding, "is_fast", False):
        return None
    rows = [[sequence == 1 for sequence in encoding.sequence_ids(index)] for index in range(len(encoding["input_ids"]))]
    return torch.tensor(rows, dtype=torch.bool)
