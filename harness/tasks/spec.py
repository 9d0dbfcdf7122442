"""What a task is: the typed, frozen `TaskSpec` a task file (`tasks/*.yaml`) is loaded into.

A task fixes everything that moves the numbers: the inputs, how many queries, the batch size, the dtype
and the generation settings. The spec refuses settings that would make the workload vary from run to run
(sampling, beams, `min_new_tokens != max_new_tokens`) and unknown keys (a typo must not silently drop a
setting). Every task carries a `version`, bumped by any change that moves numbers; results record it.

Finding task files is `harness.tasks.registry`; changing a spec with `--set` is `harness.tasks.overrides`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from harness.errors import ConfigError, validation_problem
from harness.kinds import DTYPES, KINDS, PAIR_KINDS, TEXT_KINDS, StrictModel, TaskKind

LOCAL_DATASET_SUFFIXES = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}
"""Local file suffix -> the `datasets` builder that reads it."""


OVERRIDABLE_KEYS = ("inputs", "dataset", "num_queries", "batch_size", "dtype", "max_input_tokens", "generation")



GenerationMode = Literal["fixed", "chat", "forward"]
"""`fixed`: exactly N greedy tokens per prompt (text-gen, summarization); `chat` (text-gen only): the prompt in the
model's chat template, answered greedily until end-of-sequence or the `max_new_tokens` cap; `forward`
(summarization only): no generation, one forward pass per batch with the decoder over the article shifted right, as
AI Energy Score's reference measures summarisation (the new-token settings are then unused)."""


class TextGenerationSettings(StrictModel):
    """Greedy decoding: a fixed number of new tokens (every run does the same work), or, in `chat` mode, an answer
    of the model's natural length up to `max_new_tokens`; in `forward` mode (summarization), nothing is generated.

    `enable_thinking` (chat only) is passed to the chat template for models with a reasoning switch; None leaves the
    template's own default (and passes nothing). Both are part of the workload identity.
    """

    mode: GenerationMode = "fixed"
    min_new_tokens: int = Field(10, ge=1)
    max_new_tokens: int = Field(10, ge=1)
    do_sample: Literal[False] = False
    num_beams: Literal[1] = 1
    enable_thinking: bool | None = None

    @model_validator(mode="after")
    def _fixed_length(self) -> TextGenerationSettings:
        if self.mode == "chat":
            if self.min_new_tokens != 1:
                raise ValueError(f"chat mode answers at the model's natural length: min_new_tokens must be 1 (got "
                                 f"{self.min_new_tokens}); max_new_tokens is the cap")
            return self
        if self.enable_thinking is not None:
            raise ValueError("enable_thinking applies to chat mode only (generation.mode: chat)")
        if self.min_new_tokens != self.max_new_tokens:
            raise ValueError(
                f"min_new_tokens ({self.min_new_tokens}) must equal max_new_tokens ({self.max_new_tokens}): "
                "otherwise the number of generated tokens, and the energy, varies with the model's output"
            )
        return self


class ImageGenerationSettings(StrictModel):
    """One image per prompt: fixed denoising steps, size in pixels, guidance and seed (image-gen).

    `height`, `width` and `guidance_scale` left unset (null) mean the pipeline's own defaults, as AI Energy Score
    runs each pipeline; the result records the values used (`workload_settings`) and they are part of its identity.
    """

    num_inference_steps: int = Field(30, ge=1)
    height: int | None = Field(None, ge=8)
    width: int | None = Field(None, ge=8)
    guidance_scale: float | None = Field(None, ge=0)
    seed: int = Field(0, ge=0)

    @field_validator("height", "width")
    @classmethod
    def _multiple_of_8(cls, value: int | None) -> int | None:
        if value is not None and value % 8:
            raise ValueError(f"must be a multiple of 8 (the VAE's downsampling factor), got {value}")
        return value


class ClassificationSettings(StrictModel):
    """A single forward pass per batch: nothing to generate, nothing to set (text-classification, question-answering,
    sentence-similarity, image-classification)."""


class ObjectDetectionSettings(StrictModel):
    """The forward pass, then the processor's `post_process_object_detection` keeping boxes scored at least
    `threshold` (how many boxes survive changes the post-processing's work a little; fixed per task)."""

    threshold: float = Field(0.5, ge=0, le=1)


class SpeechRecognitionSettings(TextGenerationSettings):
    """Greedy transcription of a fixed number of new tokens in a forced language and task (speech-to-text).

    Forcing both keeps the model from detecting a language per clip (extra decoder work that varies with the audio)
    and fixes the decoder prompt, so every clip costs the same decoding.
    """

    mode: Literal["fixed"] = "fixed"  # a transcript of natural length would make the work vary with the audio
    language: str = Field("en", min_length=1)
    task: Literal["transcribe", "translate"] = "transcribe"


GenerationSettings = (
    SpeechRecognitionSettings | TextGenerationSettings | ImageGenerationSettings | ClassificationSettings
    | ObjectDetectionSettings
)

SETTINGS_CLASSES: dict[str | None, type[StrictModel]] = {
    "text": TextGenerationSettings,
    "speech": SpeechRecognitionSettings,
    "image": ImageGenerationSettings,
    "detection": ObjectDetectionSettings,
    None: ClassificationSettings,
}
"""A kind's settings family (`KindDescriptor.settings`) -> the class its `generation` is validated as."""

SETTINGS_BY_KIND: dict[str, type[StrictModel]] = {name: SETTINGS_CLASSES[kind.settings] for name, kind in KINDS.items()}
"""Kind -> its generation settings class (from `harness.kinds.KINDS`)."""

NO_TOKEN_LIMIT_BECAUSE: dict[str, str] = {
    "prompt": "the text encoder truncates prompts",
    "image": "its inputs are images, sized by the model's image processor",
    "audio": "its inputs are audio",
}
"""Input modality (`KindDescriptor.inputs`) -> why `max_input_tokens` does not apply to it (text kinds need it)."""

MODE_ELSEWHERE = {
    "chat": "chat mode is a {owners} mode; a {kind} task generates a fixed number of tokens",
    "forward": "forward mode is a {owners} mode (the reference's single forward pass); a {kind} task generates its "
               "tokens",
}
"""A generation mode given to a kind that does not take it (`KindDescriptor.modes`) -> the error, naming the kinds
that do."""


def is_local_dataset(path: str) -> bool:
    """A local file (read with a `datasets` file builder) rather than a hub dataset id, judged by its suffix."""
    return Path(path).suffix.lower() in LOCAL_DATASET_SUFFIXES


class DatasetSource(StrictModel):
    """A hub dataset (id + revision + split) or a local .json/.jsonl/.csv/.parquet/.txt file, and its input column.

    Relative local paths are relative to the working directory. A file is one split: `split` is ignored for it.
    Pair kinds (`harness.kinds.PAIR_KINDS`) read two columns, `columns` (e.g. question and context), in order.
    """

    path: str = Field(min_length=1)
    revision: str | None = None
    name: str | None = None
    split: str = "test"
    column: str | None = Field(None, min_length=1)
    columns: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_way_to_name_columns(self) -> DatasetSource:
        if (self.column is None) == (self.columns is None):
            raise ValueError("give either dataset.column (one input column) or dataset.columns (a pair kind's two)")
        if self.columns is not None and any(not name for name in self.columns):
            raise ValueError("dataset.columns holds an empty column name")
        return self

    @property
    def column_names(self) -> list[str]:
        """The columns each query is read from, in order."""
        return list(self.columns) if self.columns is not None else [str(self.column)]

    @property
    def column_label(self) -> str:
        """How results record the columns (`InputSetInfo.column`): `text`, or `question,context` for a pair."""
        return ",".join(self.column_names)


class TaskSpec(StrictModel):
    """One standardised workload. Field order matters: `kind` is validated before `generation`, which depends on it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str = Field(min_length=1)
    kind: TaskKind
    description: str
    aliases: list[str] = Field(default_factory=list)
    inputs: Literal["builtin", "dataset"] = "builtin"
    dataset: DatasetSource | None = None
    num_queries: int = Field(1000, ge=1)
    batch_size: int = Field(1, ge=1)
    dtype: str = "bfloat16"
    max_input_tokens: int | None = Field(None, ge=1)
    generation: GenerationSettings = Field(default=None, validate_default=True, union_mode="left_to_right")
    sources: dict[str, str]

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        # `version: 1.0` in YAML is a float; a version is a label, keep it as written.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        if value not in DTYPES:
            raise ValueError(f"must be one of {', '.join(DTYPES)} (got {value!r})")
        return value

    @field_validator("generation", mode="before")
    @classmethod
    def _settings_for_kind(cls, value: Any, info) -> Any:
        kind = info.data.get("kind")
        if kind not in SETTINGS_BY_KIND:
            return value  # the kind's own error is reported first
        settings_cls = SETTINGS_BY_KIND[kind]
        if value is None:
            return settings_cls()
        if isinstance(value, BaseModel) and not isinstance(value, settings_cls):
            value = value.model_dump()
        if isinstance(value, dict):
            try:
                return settings_cls.model_validate(value)
            except ValidationError as error:
                raise ValueError(validation_problem(error)) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        expected = SETTINGS_BY_KIND[self.kind]
        if not isinstance(self.generation, expected):
            raise ValueError(f"generation settings of a {self.kind} task must be {expected.__name__}")
        mode = getattr(self.generation, "mode", None)
        if mode is not None and mode not in KINDS[self.kind].modes:
            owners = " or ".join(name for name, kind in KINDS.items() if mode in kind.modes)
            problem = MODE_ELSEWHERE.get(mode, "{mode} mode is not a {kind} mode")
            raise ValueError(problem.format(owners=owners, kind=self.kind, mode=mode))
        if self.kind in TEXT_KINDS and self.max_input_tokens is None:
            raise ValueError("max_input_tokens is required for text tasks (inputs are truncated to it)")
        if self.kind not in TEXT_KINDS and self.max_input_tokens is not None:
            raise ValueError(f"max_input_tokens does not apply to {self.kind} "
                             f"({NO_TOKEN_LIMIT_BECAUSE[KINDS[self.kind].inputs]})")
        if self.dataset is not None:
            wanted = 2 if self.kind in PAIR_KINDS else 1
            if len(self.dataset.column_names) != wanted:
                what = ("two columns (dataset.columns: [first, second])" if wanted == 2
                        else "one column (dataset.column)")
                raise ValueError(f"a {self.kind} dataset names {what}; got {self.dataset.column_label!r}")
        if self.inputs == "dataset":
            if self.dataset is None:
                raise ValueError("inputs is 'dataset' but no dataset is given (set dataset.path and dataset.column)")
            if not is_local_dataset(self.dataset.path) and not self.dataset.revision:
                raise ValueError(
                    f"dataset {self.dataset.path!r} is a hub dataset: pin dataset.revision (a commit) so the run "
                    "can be repeated"
                )
        if not self.sources:
            raise ValueError("sources must say where the task's settings come from")
        return self

    @property
    def names(self) -> list[str]:
        """The id and every alias: what `load_task` accepts for this task."""
        return [self.id, *self.aliases]



def parse_task(data: Mapping[str, Any], source: str = "<task>") -> TaskSpec:
    """Validate a task mapping; any problem is one ConfigError line naming `source`."""
    try:
        return TaskSpec.model_validate(dict(data))
    except ValidationError as error:
        raise ConfigError(f"{source}: {validation_problem(error)}") from None

