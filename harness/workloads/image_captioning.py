"""Image captioning: the image processor, then greedy decoding of exactly N caption tokens per image.

Generative like text-gen and summarisation: `min_new_tokens == max_new_tokens` stops no caption early, so
`output_tokens` is exactly N per image, and the prefill pass (the image encoded, one token decoded) runs in its own
window so the decode figure is the difference. The model gets pixel values only, as a captioner is called
(`generate(pixel_values=...)`): encoder-decoders (ViT + GPT-2) and BLIP-style models; the last N positions of
what `generate` returns are the new tokens whatever the model puts before them (a decoder start or BOS token).
"""

from __future__ import annotations

from typing import Any

from harness.engines import LoadedModel
from harness.errors import ConfigError
from harness.workloads.base import BatchOutput, refuse_model
from harness.workloads.image_inputs import ImageInputWorkload
from harness.workloads.text_inputs import greedy_generation_config


class ImageCaptioningWorkload(ImageInputWorkload):
    """Images in, `generation.max_new_tokens` greedy caption tokens out per image."""

    kind = "image-captioning"
    generative = True
    auto_class = "AutoModelForImageTextToText"
    known_architectures = "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"
    architecture_suffixes = ("VisionEncoderDecoderModel", "ForConditionalGeneration")

    @classmethod
    def check_config(cls, config: Any, model_id: str) -> None:
        if any(getattr(config, name, None) is not None for name in ("image_token_id", "image_token_index")):
            raise refuse_model(config, model_id, cls.kind, "a {architecture}, a chat vision-language model that "
                               "needs a text prompt with image tokens")

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.new_tokens = int(spec.generation.max_new_tokens)
        pad = getattr(getattr(self.model, "generation_config", None), "pad_token_id", None)
        if pad is None:
            pad = getattr(self.model.config, "pad_token_id", None)
        self.generation_config = greedy_generation_config(self.model, self.new_tokens, pad)
        self.prefill_config = greedy_generation_config(self.model, 1, pad)

    def _run(self, batch: list) -> BatchOutput:
        return self._generate(batch, self.generation_config, self.new_tokens)

    def _run_prefill(self, batch: list) -> BatchOutput:
        return self._generate(batch, self.prefill_config, 1)

    def _generate(self, batch: list, generation_config, new_tokens: int) -> BatchOutput:
        inputs = self.encode(batch)
        try:
            output_ids = self.model.generate(**inputs, generation_config=generation_config)
        except ValueError as error:
            # generate checks its inputs first (a decoder start token it cannot find, a prompt it needs).
            raise ConfigError(f"{type(self.model).__name__} cannot caption from the image alone: "
                              f"{str(error).strip().splitlines()[0][:300] if str(error).strip() else error}") from None
        new_ids = output_ids[:, -new_tokens:]
        return BatchOutput(num_queries=len(batch), images=len(batch),
                           output_tokens=int(new_ids.shape[0] * new_ids.shape[1]), outputs=(new_ids,))
