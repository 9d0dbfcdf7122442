"""Chat generation with a causal LM: each prompt as a user turn in the model's chat template, answered greedily at
the model's natural length (until an end-of-sequence token, or the `max_new_tokens` cap).

The answer's length is the model's choice, so `output_tokens` counts each answer's real tokens (up to and including
its first end-of-sequence token) and `output_lengths` gives them per query. In a batch, `generate` runs until the
longest answer ends: finished answers are padded meanwhile, and that padding's cost is part of the batch's energy
(as it is for anyone serving the model this way). The prefill pass runs the same templated prompts for one token.
"""

from __future__ import annotations

from typing import Any

from harness.engines import LoadedModel, LoadRequest
from harness.errors import ConfigError
from harness.workloads.base import BatchOutput
from harness.workloads.greedy_text import GENERATE_INPUTS
from harness.workloads.text_generation import TextGenerationWorkload
from harness.workloads.text_inputs import (
    answer_lengths,
    chat_template_kwargs,
    check_chat_template,
    count_input_tokens,
    encode,
    greedy_generation_config,
    render_chat,
    tokens_per_item,
)


class ChatGenerationWorkload(TextGenerationWorkload):
    """Chat-templated prompts in (truncated on the left, so the assistant turn's opening stays), answers out."""

    kind = "text-gen"
    chat_template = True

    @classmethod
    def handles(cls, spec: Any, engine: str) -> bool:
        return spec.kind == cls.kind and getattr(spec.generation, "mode", "fixed") == "chat"

    @classmethod
    def check_components(cls, tokenizer: Any, model_id: str, request: LoadRequest) -> None:
        """The chat template and the switch the task sets, before the weights load."""
        check_chat_template(tokenizer, model_id, request.chat_template_kwargs or {})

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        model_id = loaded.info.get("id", "model")
        self.template_kwargs = chat_template_kwargs(spec)
        if self.template_kwargs is None:
            raise ConfigError(f"task {spec.id!r} is not a chat task (generation.mode: chat)")
        check_chat_template(self.tokenizer, model_id, self.template_kwargs)
        self.tokenizer.truncation_side = "left"
        self.generation_config = greedy_generation_config(self.model, self.new_tokens, self.tokenizer.pad_token_id,
                                                          natural=True)
        eos = self.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
            self.generation_config.eos_token_id = eos
        if eos is None:
            raise ConfigError(f"{model_id} has no end-of-sequence token: a chat answer could never end before the cap")
        self.eos_ids = {int(t) for t in (eos if isinstance(eos, list | tuple) else [eos])}

    def input_sizes(self, items: Any) -> list[float] | None:
        texts = render_chat(self.tokenizer, list(items), self.template_kwargs)
        return tokens_per_item(self.tokenizer, texts, self.max_input_tokens, add_special_tokens=False)

    def _generate(self, batch: list[str], generation_config) -> BatchOutput:
        texts = render_chat(self.tokenizer, batch, self.template_kwargs)
        inputs = encode(self.tokenizer, texts, self.max_input_tokens, self.input_device, GENERATE_INPUTS,
                        add_special_tokens=False)
        output_ids = self.model.generate(**inputs, generation_config=generation_config)
        new_ids = self._new_ids(inputs, output_ids)
        lengths = answer_lengths(new_ids, self.eos_ids)
        return BatchOutput(
            num_queries=len(batch),
            input_tokens=count_input_tokens(inputs),
            output_tokens=sum(lengths),
            output_lengths=tuple(lengths),
            outputs=(new_ids,),
        )
