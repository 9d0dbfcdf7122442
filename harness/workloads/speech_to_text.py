"""Speech to text with a Whisper-family model: log-mel features, then exactly N greedy tokens per clip.

Each query is one clip (`harness.tasks.audio.AudioClip`). The model's own feature extractor turns a batch into
log-mel features (numpy; Whisper pads or cuts every clip to its 30-second window, so clips over 30 s are cut, as
short-form transcription does). The decoder starts from the prompt Whisper's short-form transcription uses,
`<|startoftranscript|> <|language|> <|task|> <|notimestamps|>` with the task's language and task forced (an
English-only checkpoint: `<|startoftranscript|> <|notimestamps|>`), then decodes `generation.max_new_tokens`
tokens greedily with no early stop. Whisper's own `generate` wrapper (language detection, long-form seeking,
temperature fallback) is not used: it can run more decoding passes than asked, so the work would vary.
The prefill pass runs the same clips for one new token (features, encoder, first token).
"""

from __future__ import annotations

from typing import Any

from harness.engines import LoadedModel
from harness.errors import ConfigError
from harness.tasks.audio import SAMPLING_RATE
from harness.workloads.base import BatchOutput, Workload, refuse_model
from harness.workloads.text_inputs import greedy_generation_config


class SpeechToTextWorkload(Workload):
    """Clips in (16 kHz), `generation.max_new_tokens` transcript tokens out per clip."""

    kind = "speech-to-text"
    generative = True
    input_size_unit = "seconds"
    auto_class = "AutoModelForSpeechSeq2Seq"
    known_architectures = ("WhisperForConditionalGeneration",)
    architecture_suffixes = ("WhisperForConditionalGeneration",)
    processor = "audio"

    @classmethod
    def check_config(cls, config: Any, model_id: str) -> None:
        if getattr(config, "model_type", None) != "whisper":
            raise refuse_model(config, model_id, cls.kind)

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        model_id = loaded.info.get("id", "model")
        self.feature_extractor = loaded.processor
        if self.feature_extractor is None:
            raise ConfigError(f"{model_id} has no audio feature extractor; speech-to-text needs one")
        self.sampling_rate = int(getattr(self.feature_extractor, "sampling_rate", SAMPLING_RATE))
        if self.sampling_rate != SAMPLING_RATE:
            raise ConfigError(f"{model_id}'s feature extractor takes {self.sampling_rate} Hz audio; the harness's "
                              f"clips are {SAMPLING_RATE} Hz (Whisper's rate)")
        self.window_s = float(getattr(self.feature_extractor, "chunk_length", 30))
        settings = spec.generation
        self.new_tokens = int(settings.max_new_tokens)
        self.prompt = decoder_prompt(self.model.generation_config, settings.language, settings.task, model_id)
        limit = getattr(self.model.config, "max_target_positions", None)
        if isinstance(limit, int) and len(self.prompt) + self.new_tokens > limit:
            raise ConfigError(f"{model_id} decodes at most {limit} tokens: {len(self.prompt)} prompt tokens + "
                              f"{self.new_tokens} new tokens do not fit; lower generation.max_new_tokens")
        pad = getattr(loaded.tokenizer, "pad_token_id", None)  # None when no tokenizer was loaded
        self.generation_config = _without_forced_ids(greedy_generation_config(self.model, self.new_tokens, pad))
        self.prefill_config = _without_forced_ids(greedy_generation_config(self.model, 1, pad))
        self.workload_settings = {"decoder_prompt": list(self.prompt), "window_s": self.window_s}

    def input_sizes(self, items):
        """Seconds of audio per clip as the model hears it (cut at the feature extractor's window)."""
        if not items:
            return None
        return [min(item.duration_s, self.window_s) for item in items]

    def _run(self, batch: list[Any]) -> BatchOutput:
        return self._generate(batch, self.generation_config)

    def _run_prefill(self, batch: list[Any]) -> BatchOutput:
        return self._generate(batch, self.prefill_config)

    def _generate(self, batch: list[Any], generation_config) -> BatchOutput:
        import torch
        from transformers.generation.utils import GenerationMixin

        features = self.feature_extractor([clip.samples() for clip in batch], sampling_rate=self.sampling_rate,
                                          return_tensors="pt")["input_features"]
        features = features.to(self.input_device, dtype=self.model.dtype)
        prompt = torch.tensor([self.prompt] * len(batch), device=self.input_device)
        # GenerationMixin's generate, not Whisper's wrapper: exactly the prompt, then exactly N greedy tokens.
        output_ids = GenerationMixin.generate(self.model, input_features=features, decoder_input_ids=prompt,
                                              generation_config=generation_config)
        new_ids = output_ids[:, len(self.prompt):]
        return BatchOutput(num_queries=len(batch), output_tokens=int(new_ids.shape[0] * new_ids.shape[1]),
                           outputs=(new_ids,))


def decoder_prompt(generation_config: Any, language: str, task: str, model_id: str) -> list[int]:
    """Whisper's short-form decoder prompt with `language` and `task` forced, from the checkpoint's own ids."""
    start = getattr(generation_config, "decoder_start_token_id", None)
    no_timestamps = getattr(generation_config, "no_timestamps_token_id", None)
    if start is None or no_timestamps is None:
        raise ConfigError(f"{model_id}'s generation config lacks Whisper's decoder_start_token_id or "
                          "no_timestamps_token_id; it is not a Whisper-family checkpoint")
    if not getattr(generation_config, "is_multilingual", False):
        if language not in ("en", "english"):
            raise ConfigError(f"{model_id} is English-only; set generation.language to en (got {language!r})")
        return [int(start), int(no_timestamps)]
    languages = getattr(generation_config, "lang_to_id", None) or {}
    tasks = getattr(generation_config, "task_to_id", None) or {}
    token = language if language.startswith("<|") else f"<|{language}|>"
    if token not in languages:
        known = ", ".join(sorted(name.strip("<|>") for name in languages)[:12])
        raise ConfigError(f"{model_id} has no language {language!r} (generation.language); it has: {known}, ...")
    if task not in tasks:
        raise ConfigError(f"{model_id} has no task {task!r}; it has: {', '.join(sorted(tasks))}")
    return [int(start), int(languages[token]), int(tasks[task]), int(no_timestamps)]


def _without_forced_ids(config):
    """Older Whisper configs force decoder ids themselves; the prompt already says all of it."""
    if getattr(config, "forced_decoder_ids", None) is not None:
        config.forced_decoder_ids = None
    return config
