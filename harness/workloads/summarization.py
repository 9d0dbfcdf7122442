"""Summarisation with an encoder-decoder model, in one of two passes (`generation.mode`).

`fixed` (the harness's own): the article is encoded once and N summary tokens decoded greedily. Transformers 5 has
no summarization pipeline; this is what it did: the seq2seq model's `generate`. Output tokens are the decoder's
generated tokens, without its start token. The prefill pass encodes the same articles and decodes one token.

`forward` (`--preset aies`): AI Energy Score's reference pass, one `forward(input_ids, attention_mask)` per batch
and nothing generated. A BART-family model given no `decoder_input_ids` shifts `input_ids` right itself, so its
decoder runs over as many positions as the article; T5-style models do not, so the shift is made here, explicitly
and inside the timed batch as the reference's model does it, with the model's own
`prepare_decoder_input_ids_from_labels` (or `_shift_right`). The pass is not generative: no prefill/decode split,
no output tokens; input tokens are counted. The kept output (for the digest) is the argmax over the vocabulary at
each decoder position, a small reduction next to the LM head's matmul over the same logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.engines import LoadedModel
from harness.errors import ConfigError
from harness.workloads.base import BatchOutput, is_encoder_decoder, refuse_model
from harness.workloads.greedy_text import GENERATE_INPUTS, GreedyTextWorkload
from harness.workloads.text_inputs import count_input_tokens, encode

SHIFT_METHODS = ("prepare_decoder_input_ids_from_labels", "_shift_right")
"""The model's own ways to build decoder inputs from a target sequence (the article, here), in order of preference:
BART, T5, Pegasus, Marian and the generic encoder-decoder all have the first; older T5-style code only the second."""


def decoder_input_shift(model: Any, model_id: str, device: Any) -> Callable[[Any], Any]:
    """The model's own right shift of `input_ids` into `decoder_input_ids`, tried once on two tokens so a model that
    cannot make them (no such method, no `decoder_start_token_id`) is one ConfigError line before any measurement."""
    import torch

    shift = next((getattr(model, name) for name in SHIFT_METHODS if callable(getattr(model, name, None))), None)
    if shift is None:
        raise ConfigError(f"{model_id} ({type(model).__name__}) cannot build decoder inputs from the article (it has "
                          f"none of {', '.join(SHIFT_METHODS)}): generation.mode forward cannot run it; use the "
                          "task's fixed mode")
    try:
        shifted = shift(torch.tensor([[0, 1]], device=device))
    except (ValueError, TypeError, AttributeError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigError(f"{model_id} cannot build decoder inputs from the article ({first_line}): "
                          "generation.mode forward cannot run it; use the task's fixed mode") from None
    if tuple(shifted.shape) != (1, 2):
        raise ConfigError(f"{model_id}'s {shift.__name__} does not keep the article's length (2 tokens became shape "
                          f"{tuple(shifted.shape)}): generation.mode forward cannot run it")
    return shift


class SummarizationWorkload(GreedyTextWorkload):
    """Articles in (truncated to `max_input_tokens`); `generation.max_new_tokens` summary tokens out per article, or,
    in forward mode, one forward pass per batch with the decoder over the shifted article."""

    kind = "summarization"
    auto_class = "AutoModelForSeq2SeqLM"
    known_architectures = "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"
    architecture_suffixes = ("ForConditionalGeneration", "Seq2SeqLM")
    padding_side = "right"

    @classmethod
    def check_config(cls, config: Any, model_id: str) -> None:
        if not is_encoder_decoder(config):
            raise refuse_model(config, model_id, cls.kind, "not an encoder-decoder model ({architecture})")

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.forward_pass = getattr(spec.generation, "mode", "fixed") == "forward"
        if self.forward_pass:
            self.generative = False  # the runner then opens no prefill window; the figures have no decode part
            self.shift = decoder_input_shift(self.model, loaded.info.get("id", "model"), self.input_device)

    def _run(self, batch: list[str]) -> BatchOutput:
        if not self.forward_pass:
            return super()._run(batch)
        inputs = encode(self.tokenizer, batch, self.max_input_tokens, self.input_device, GENERATE_INPUTS)
        logits = self.model(**inputs, decoder_input_ids=self.shift(inputs["input_ids"])).logits
        return BatchOutput(num_queries=len(batch), input_tokens=count_input_tokens(inputs),
                           outputs=(logits.argmax(dim=-1),))

    def _new_ids(self, inputs: dict, output_ids: Any) -> Any:
        return output_ids[:, 1:]  # the first position is the decoder start token, not generated
