"""Sentence similarity with an embedding model: both sentences of each pair embedded, then compared by cosine.

Each query is a pair of sentences. A batch of N pairs is one forward pass over its 2N sentences (each truncated to
`max_input_tokens`, padded to the longest); a sentence's embedding is its tokens' last hidden states pooled as
the model says: a sentence-transformers folder's pooling config (`modules.json` -> `1_Pooling/config.json`: mean,
CLS or max), else the mean over real tokens. The pooling used is recorded in the result (`workload_settings`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from harness.engines import LoadedModel
from harness.workloads.base import BatchOutput
from harness.workloads.encoder_text import EncoderTextWorkload
from harness.workloads.text_inputs import count_input_tokens, encode

logger = logging.getLogger(__name__)

POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max"}
"""sentence-transformers' pooling flags -> the pooling this workload runs (any other mode falls back to mean)."""


def pooling_of(model_id: str) -> str:
    """The pooling a local sentence-transformers folder declares, else `mean` (hub ids: the cached copy, if any)."""
    folder = Path(model_id).expanduser()
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8")) if folder.is_dir() else None
    except (OSError, ValueError):
        modules = None
    for module in modules if isinstance(modules, list) else []:
        if isinstance(module, dict) and str(module.get("type", "")).endswith("Pooling"):
            try:
                config = json.loads((folder / str(module.get("path", "")) / "config.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                break
            for flag, mode in POOLING_MODES.items():
                if isinstance(config, dict) and config.get(flag):
                    return mode
            logger.warning("%s: pooling config %s is not mean, CLS or max; using mean pooling", model_id, config)
            break
    return "mean"


class SentenceSimilarityWorkload(EncoderTextWorkload):
    """Sentence pairs in (each sentence right-padded, truncated), one cosine similarity out per pair."""

    kind = "sentence-similarity"
    auto_class = "AutoModel"
    known_architectures = "MODEL_MAPPING_NAMES"
    encoder_only = True
    architecture_suffixes = ("Model", "ForMaskedLM")

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        # The folder it was loaded from (the recorded id of a local folder is its clean id, never its path).
        self.pooling = pooling_of(str(getattr(loaded.model, "name_or_path", "") or loaded.info.get("id", "")))
        self.workload_settings = {"pooling": self.pooling}

    def input_sizes(self, items):
        """Tokens per query: both sentences' tokens, each as the model is fed it."""
        if not items:
            return None
        from harness.workloads.text_inputs import tokens_per_item

        sizes = tokens_per_item(self.tokenizer, [sentence for pair in items for sentence in pair],
                                self.max_input_tokens)
        return [sizes[2 * index] + sizes[2 * index + 1] for index in range(len(items))]

    def _run(self, batch: list[tuple[str, str]]) -> BatchOutput:
        import torch

        sentences = [sentence for pair in batch for sentence in pair]
        inputs = encode(self.tokenizer, sentences, self.max_input_tokens, self.input_device)
        hidden = self.model(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        if self.pooling == "cls":
            embeddings = hidden[:, 0]
        elif self.pooling == "max":
            embeddings = hidden.masked_fill(mask == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
        else:
            embeddings = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        similarity = torch.nn.functional.cosine_similarity(embeddings[0::2].float(), embeddings[1::2].float(), dim=-1)
        return BatchOutput(num_queries=len(batch), input_tokens=count_input_tokens(inputs), outputs=(similarity,))
