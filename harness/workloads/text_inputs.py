"""Tokenising a batch as a careful user would: padding on the right side, a pad token, truncation to a limit.

Shared by the three text workloads. Decoder-only generation pads on the left (so every prompt ends where
generation starts); encoders pad on the right. Inputs are truncated to the task's `max_input_tokens`, and never
beyond what the model can take.
"""

from __future__ import annotations

import logging
from typing import Any

from harness.errors import ConfigError

logger = logging.getLogger(__name__)

# Tokenizers without a real limit report a huge `model_max_length`; anything above this is treated as "none".
_NO_LIMIT = 1_000_000


def prepare_tokenizer(tokenizer: Any, padding_side: str, model_id: str) -> None:
    """Set the padding side and make sure there is a pad token (the EOS token when the model has none).

    Padding positions are masked out, so the choice of pad token does not change results; it only has to exist,
    and EOS is what generation libraries use. The choice is deterministic.
    """
    if tokenizer is None:
        raise ConfigError(f"{model_id} has no tokenizer; text tasks need one")
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ConfigError(f"{model_id}'s tokenizer has neither a pad nor an end-of-sequence token to pad batches")
        tokenizer.pad_token = tokenizer.eos_token
        logger.info("%s has no pad token; padding with its end-of-sequence token %r", model_id, tokenizer.eos_token)


def input_token_limit(tokenizer: Any, model_config: Any, task_limit: int | None, reserve: int = 0) -> int | None:
    """The truncation length: the task's limit, capped by what the model takes (less `reserve` new tokens).

    The model's own limit is the tokenizer's `model_max_length`, or else the config's `max_position_embeddings`.
    """
    model_limit = getattr(tokenizer, "model_max_length", None)
    if not isinstance(model_limit, int) or model_limit >= _NO_LIMIT:
        model_limit = getattr(model_config, "max_position_embeddings", None)
    if isinstance(model_limit, int) and model_limit < _NO_LIMIT:
        model_limit -= reserve
        if model_limit < 1:
            raise ConfigError(f"the model takes {model_limit + reserve} tokens, too few for {reserve} new tokens")
        if task_limit is not None and task_limit > model_limit:
            logger.info("inputs truncated to %d tokens (the model's limit), below the task's %d", model_limit,
                        task_limit)
        return model_limit if task_limit is None else min(task_limit, model_limit)
    return task_limit


def encode(tokenizer: Any, batch: list[str], max_length: int | None, device: Any, keys: tuple[str, ...] | None = None,
           add_special_tokens: bool = True):
    """Tokenise `batch` padded to its longest item and truncated to `max_length`, as tensors on `device`.

    `keys` keeps only those tokenizer outputs (generation needs just input_ids and attention_mask);
    `add_special_tokens` False for text a chat template has rendered (it holds its own BOS).
    """
    encoding = tokenizer(
        batch,
        return_tensors="pt",
        padding=True,
        truncation=max_length is not None,
        max_length=max_length,
        add_special_tokens=add_special_tokens,
    )
    return {name: tensor.to(device) for name, tensor in encoding.items() if keys is None or name in keys}


def tokens_per_item(tokenizer: Any, items: list[str], max_length: int | None,
                    add_special_tokens: bool = True) -> list[int]:
    """Input tokens of each item as the model is fed it (special tokens included, truncated to `max_length`)."""
    encoding = tokenizer(list(items), padding=False, truncation=max_length is not None, max_length=max_length,
                         add_special_tokens=add_special_tokens)
    return [len(ids) for ids in encoding["input_ids"]]


def count_input_tokens(encoding: dict) -> int:
    """Real (unpadded) input tokens in the batch, special tokens included."""
    return int(encoding["attention_mask"].sum().item())


def greedy_generation_config(model: Any, new_tokens: int, pad_token_id: int | None, *, natural: bool = False):
    """The model's own generation config, with decoding fixed: greedy, one beam, exactly `new_tokens` new tokens
    (or, `natural`, stopping at the model's end-of-sequence tokens with `new_tokens` as the cap).

    Keeping the checkpoint's config (special token ids, forced tokens) is what `model.generate` would do for a
    user; only what makes the workload vary (sampling, beams, lengths, stopping early) is overridden.
    """
    import copy

    from transformers import GenerationConfig

    base = getattr(model, "generation_config", None)
    config = copy.deepcopy(base) if base is not None else GenerationConfig()
    config.update(
        do_sample=False,
        num_beams=1,
        max_new_tokens=new_tokens,
        min_new_tokens=None if natural else new_tokens,
        min_length=None,  # min_new_tokens governs; a checkpoint's min_length must not add to it
        pad_token_id=pad_token_id,
    )
    return config


def chat_template_kwargs(spec: Any) -> dict[str, Any] | None:
    """What a chat-mode text-gen task passes to `apply_chat_template` besides the messages (the reasoning switch
    when the task sets it); None for every other task (no chat template is used)."""
    generation = getattr(spec, "generation", None)
    if spec.kind != "text-gen" or getattr(generation, "mode", "fixed") != "chat":
        return None
    return {} if generation.enable_thinking is None else {"enable_thinking": bool(generation.enable_thinking)}


def check_chat_template(tokenizer: Any, model_id: str, template_kwargs: dict[str, Any]) -> None:
    """Chat tasks need the model's own chat template, and a switch the task sets must be one the template reads.

    Checked when the tokenizer loads, before the weights do.
    """
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise ConfigError(f"{model_id}'s tokenizer has no chat template (tokenizer.chat_template); a chat task "
                          "needs one: use the text-gen task for plain prompts")
    texts = template.values() if isinstance(template, dict) else [template]
    for name in template_kwargs:
        if not any(name in text for text in texts):
            raise ConfigError(f"{model_id}'s chat template does not read {name}: drop generation.{name} for this "
                              "model (it has no reasoning switch)")


def render_chat(tokenizer: Any, prompts: list[str], template_kwargs: dict[str, Any]) -> list[str]:
    """Each prompt as one user turn in the model's chat template, ending with the assistant turn's opening."""
    return [tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                          add_generation_prompt=True, **template_kwargs)
            for prompt in prompts]


def answer_lengths(new_ids: Any, eos_ids: set[int]) -> list[int]:
    """Generated tokens of each answer: up to and including its first end-of-sequence token, else all of them
    (the answer reached the cap). Positions after a finished answer are padding and are not counted."""
    lengths = []
    for row in new_ids.tolist():
        stop = next((i for i, token in enumerate(row) if token in eos_ids), None)
        lengths.append(len(row) if stop is None else stop + 1)
    return lengths
