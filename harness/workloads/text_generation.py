"""Text generation with a causal LM: greedy decoding of exactly N new tokens per prompt (left-padded batches)."""

from __future__ import annotations

from typing import Any

from harness.workloads.base import ENCODER_DECODER, is_encoder_decoder, refuse_model
from harness.workloads.greedy_text import GreedyTextWorkload


class TextGenerationWorkload(GreedyTextWorkload):
    """Prompts in, `generation.max_new_tokens` greedy tokens out per prompt."""

    kind = "text-gen"
    auto_class = "AutoModelForCausalLM"
    known_architectures = "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"
    architecture_suffixes = ("ForCausalLM", "LMHeadModel")
    padding_side = "left"
    new_tokens_share_context = True

    @classmethod
    def handles(cls, spec: Any, engine: str) -> bool:
        return super().handles(spec, engine) and getattr(spec.generation, "mode", "fixed") != "chat"

    @classmethod
    def check_config(cls, config: Any, model_id: str) -> None:
        if is_encoder_decoder(config):
            raise refuse_model(config, model_id, cls.kind, ENCODER_DECODER,
                               " (seq2seq models run the summarization task)")

    def _new_ids(self, inputs: dict, output_ids: Any) -> Any:
        return output_ids[:, inputs["input_ids"].shape[1]:]  # the prompt comes back first
