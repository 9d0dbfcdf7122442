"""Tasks as data: one YAML file per task in `tasks/`, loaded into a typed, frozen `TaskSpec`.

A task fixes everything that moves the numbers: the inputs, how many queries, the batch size, the dtype
and the generation settings. The spec refuses settings that would make the workload vary from run to run
(sampling, beams, `min_new_tokens != max_new_tokens`) and unknown keys (a typo must not silently drop a
setting). Every task carries a `version`, bumped by any change that moves numbers; results record it.

Precedence when a run resolves its spec: task file < preset (`harness.presets`) < explicit command-line
options and `--set key=value` overrides (`apply_overrides`).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ConfigError, NotFoundError

logger = logging.getLogger(__name__)

TaskKind = Literal["text-gen", "summarization", "text-classification", "image-gen"]
TASK_KINDS: tuple[str, ...] = typing.get_args(TaskKind)
TEXT_KINDS = ("text-gen", "summarization", "text-classification")
DTYPES = ("float32", "float16", "bfloat16")
LOCAL_DATASET_SUFFIXES = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}
"""Local file suffix -> the `datasets` builder that reads it."""

TASK_FILE_SUFFIXES = (".yaml", ".yml")

# Keys a `--set` may change. Identity (id, kind, version, aliases) and documentation are edited in the file.
OVERRIDABLE_KEYS = ("inputs", "dataset", "num_queries", "batch_size", "dtype", "max_input_tokens", "generation")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextGenerationSettings(_Strict):
    """Greedy decoding of a fixed number of new tokens: every run does the same work (text-gen, summarization)."""

    min_new_tokens: int = Field(10, ge=1)
    max_new_tokens: int = Field(10, ge=1)
    do_sample: Literal[False] = False
    num_beams: Literal[1] = 1

    @model_validator(mode="after")
    def _fixed_length(self) -> TextGenerationSettings:
        if self.min_new_tokens != self.max_new_tokens:
            raise ValueError(
                f"min_new_tokens ({self.min_new_tokens}) must equal max_new_tokens ({self.max_new_tokens}): "
                "otherwise the number of generated tokens, and the energy, varies with the model's output"
            )
        return self


class ImageGenerationSettings(_Strict):
    """One image per prompt: fixed denoising steps, size in pixels, guidance and seed (image-gen)."""

    num_inference_steps: int = Field(30, ge=1)
    height: int = Field(512, ge=8)
    width: int = Field(512, ge=8)
    guidance_scale: float = Field(7.5, ge=0)
    seed: int = Field(0, ge=0)

    @field_validator("height", "width")
    @classmethod
    def _multiple_of_8(cls, value: int) -> int:
        if value % 8:
            raise ValueError(f"must be a multiple of 8 (the VAE's downsampling factor), got {value}")
        return value


class ClassificationSettings(_Strict):
    """A single forward pass per batch: nothing to generate, nothing to set (kind text-classification)."""


GenerationSettings = TextGenerationSettings | ImageGenerationSettings | ClassificationSettings

SETTINGS_BY_KIND: dict[str, type[_Strict]] = {
    "text-gen": TextGenerationSettings,
    "summarization": TextGenerationSettings,
    "text-classification": ClassificationSettings,
    "image-gen": ImageGenerationSettings,
}


def is_local_dataset(path: str) -> bool:
    """A local file (read with a `datasets` file builder) rather than a hub dataset id, judged by its suffix."""
    return Path(path).suffix.lower() in LOCAL_DATASET_SUFFIXES


class DatasetSource(_Strict):
    """A hub dataset (id + revision + split) or a local .json/.jsonl/.csv/.parquet/.txt file, and its text column.

    Relative local paths are relative to the working directory. A file is one split: `split` is ignored for it.
    """

    path: str = Field(min_length=1)
    revision: str | None = None
    name: str | None = None
    split: str = "test"
    column: str = Field(min_length=1)


class TaskSpec(_Strict):
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
                raise ValueError(_first_problem(error)) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        expected = SETTINGS_BY_KIND[self.kind]
        if not isinstance(self.generation, expected):
            raise ValueError(f"generation settings of a {self.kind} task must be {expected.__name__}")
        if self.kind in TEXT_KINDS and self.max_input_tokens is None:
            raise ValueError("max_input_tokens is required for text tasks (inputs are truncated to it)")
        if self.kind == "image-gen" and self.max_input_tokens is not None:
            raise ValueError("max_input_tokens does not apply to image-gen (the text encoder truncates prompts)")
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


# ---------------------------------------------------------------------------------------------- error messages


def _first_problem(error: ValidationError) -> str:
    """One line for the first problem of a validation error: `where: message`."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = re.sub(r"^(Value|Assertion) error, ", "", first["msg"])
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    if where and not message.startswith(where):
        return f"{where}: {message}"
    return message


# ---------------------------------------------------------------------------------------------- YAML


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (PyYAML would silently keep the last one)."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML file that must hold one mapping; any problem is a one-line ConfigError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read ({error.__class__.__name__}: {error})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a mapping of settings (key: value), not {type(data).__name__}")
    return data


# ---------------------------------------------------------------------------------------------- folders


def repo_folder(env_var: str, name: str) -> Path:
    """A top-level folder of the repository (`tasks`, `configs`), or the folder named by `env_var`.

    The repository layout is found next to the installed `harness` package (editable install). A wheel
    install has no such folder: the user must point the environment variable at one.
    """
    override = os.environ.get(env_var)
    if override:
        folder = Path(override).expanduser()
        if not folder.is_dir():
            raise NotFoundError(f"{env_var}={override} is not a folder")
        return folder
    folder = Path(__file__).resolve().parent.parent / name
    if not folder.is_dir():
        raise NotFoundError(
            f"no '{name}' folder found next to the harness package ({folder}); set {env_var} to the folder that "
            f"holds the {name} files"
        )
    return folder


def default_tasks_dir() -> Path:
    """The repository's top-level `tasks/` folder, or `$HARNESS_TASKS_DIR`."""
    return repo_folder("HARNESS_TASKS_DIR", "tasks")


# ---------------------------------------------------------------------------------------------- loading


def parse_task(data: Mapping[str, Any], source: str = "<task>") -> TaskSpec:
    """Validate a task mapping; any problem is one ConfigError line naming `source`."""
    try:
        return TaskSpec.model_validate(dict(data))
    except ValidationError as error:
        raise ConfigError(f"{source}: {_first_problem(error)}") from None


def load_task_file(path: Path) -> TaskSpec:
    """Read and validate one task YAML file."""
    path = Path(path)
    return parse_task(read_yaml_mapping(path), str(path))


def _task_files(tasks_dir: Path) -> list[Path]:
    return sorted(p for p in tasks_dir.iterdir() if p.suffix in TASK_FILE_SUFFIXES and not p.name.startswith("."))


def _normalise(name: str) -> str:
    return name.strip().lower()


def _looks_like_path(name: str) -> bool:
    return name.endswith(TASK_FILE_SUFFIXES) or os.sep in name or "/" in name


def list_tasks(tasks_dir: Path | None = None) -> list[TaskSpec]:
    """Every task in the folder, sorted by id; a broken file or a name used twice is a ConfigError."""
    tasks_dir = Path(tasks_dir) if tasks_dir is not None else default_tasks_dir()
    specs = [load_task_file(path) for path in _task_files(tasks_dir)]
    _check_unique_names(specs, tasks_dir)
    return sorted(specs, key=lambda spec: spec.id)


def _check_unique_names(specs: list[TaskSpec], tasks_dir: Path) -> None:
    owner: dict[str, str] = {}
    for spec in specs:
        for name in spec.names:
            key = _normalise(name)
            if key in owner and owner[key] != spec.id:
                raise ConfigError(f"{tasks_dir}: the name {name!r} is used by both task {owner[key]!r} and {spec.id!r}")
            owner[key] = spec.id


def load_task(name_or_path: str, tasks_dir: Path | None = None) -> TaskSpec:
    """A task by id, alias (e.g. AI Energy Score's `text_generation`) or YAML path.

    An unknown name is a NotFoundError suggesting the nearest known name. Files in the folder that do not
    parse are skipped (with a log message) unless the name asked for is theirs, so one broken file does not
    hide the others.
    """
    if _looks_like_path(name_or_path) or Path(name_or_path).is_file():
        path = Path(name_or_path)
        if not path.is_file():
            raise NotFoundError(f"task file {path} does not exist")
        return load_task_file(path)

    tasks_dir = Path(tasks_dir) if tasks_dir is not None else default_tasks_dir()
    wanted = _normalise(name_or_path)
    known: dict[str, TaskSpec] = {}
    broken: dict[str, ConfigError] = {}
    for path in _task_files(tasks_dir):
        try:
            spec = load_task_file(path)
        except ConfigError as error:
            logger.warning("skipping %s", error)
            broken[_normalise(path.stem)] = error
            continue
        for name in spec.names:
            known.setdefault(_normalise(name), spec)
    if wanted in known:
        return known[wanted]
    if wanted in broken:
        raise broken[wanted]
    candidates = sorted(known)
    suggestion = difflib.get_close_matches(wanted, candidates, n=1, cutoff=0.5)
    hint = f"; did you mean {suggestion[0]!r}?" if suggestion else ""
    ids = sorted({spec.id for spec in known.values()})
    raise NotFoundError(f"unknown task {name_or_path!r}{hint} (tasks: {', '.join(ids) or 'none'} in {tasks_dir})")


def load_preset(name_or_path: str, configs_dir: Path | None = None):
    """See `harness.presets.load_preset` (returns a `harness.presets.Preset`)."""
    from harness.presets import load_preset as _load_preset

    return _load_preset(name_or_path, configs_dir)


# ---------------------------------------------------------------------------------------------- overrides


def _fields_of(model: type[BaseModel]) -> dict[str, Any]:
    return {name: info.annotation for name, info in model.model_fields.items()}


def override_keys(kind: str) -> dict[str, Any]:
    """Every dotted key a `--set` may change for a task of this kind, with its annotation."""
    keys: dict[str, Any] = {}
    top = _fields_of(TaskSpec)
    for name in OVERRIDABLE_KEYS:
        if name == "dataset":
            keys.update({f"dataset.{sub}": ann for sub, ann in _fields_of(DatasetSource).items()})
        elif name == "generation":
            keys.update({f"generation.{sub}": ann for sub, ann in _fields_of(SETTINGS_BY_KIND[kind]).items()})
        else:
            keys[name] = top[name]
    return keys


def _accepts_text(annotation: Any) -> bool:
    """True when a field is typed as free text (its value must not be reinterpreted as a YAML number/bool)."""
    if annotation is str:
        return True
    args = typing.get_args(annotation)
    return str in args


def _parse_value(raw: Any, annotation: Any) -> Any:
    """A `--set` value: YAML scalar syntax (`4`, `7.5`, `false`, `null`), except text fields keep the text as given."""
    if not isinstance(raw, str):
        return raw
    if _accepts_text(annotation):
        optional = type(None) in typing.get_args(annotation)
        if optional and raw.strip().lower() in ("null", "none", "~", ""):
            return None
        return raw
    try:
        return yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        return raw  # validation will say what is wrong with it


def split_scope(key: str) -> tuple[str | None, str]:
    """`image-gen:generation.height` -> ("image-gen", "generation.height"); an unscoped key has scope None."""
    scope, sep, rest = key.partition(":")
    return (scope.strip(), rest.strip()) if sep else (None, key.strip())


def applicable_overrides(kind: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides that take effect for a task of this kind: scoped keys of other kinds are dropped.

    What a result should record as its run's overrides (the keys are kept as given).
    """
    return {key: value for key, value in overrides.items() if split_scope(str(key))[0] in (None, kind)}


def _unknown_key_message(key: str, where: str, valid: dict[str, Any]) -> str:
    top = key.split(".")[0]
    if top in TaskSpec.model_fields and top not in OVERRIDABLE_KEYS:
        return f"cannot override {key!r}: it identifies or documents the task; edit the task file instead"
    if key in ("dataset", "generation"):
        example = next(k for k in valid if k.startswith(key + "."))
        return f"{key!r} is a group of settings; set one of its keys, e.g. {example}=..."
    suggestion = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    hint = f"; did you mean {suggestion[0]!r}?" if suggestion else ""
    return f"unknown setting {key!r} for {where}{hint}"


def apply_overrides(spec: TaskSpec, overrides: Mapping[str, Any]) -> TaskSpec:
    """The spec with `--set key=value` overrides applied and validated again.

    Keys are dotted (`num_queries`, `dtype`, `generation.num_inference_steps`, `dataset.path`); a key may be
    scoped to one task kind as `image-gen:generation.height`, and is then skipped for tasks of other kinds
    (presets use this to shrink image workloads without breaking text tasks). String values are read as
    YAML scalars, except for text fields, which keep the text as given. Setting only one of
    `generation.min_new_tokens` / `generation.max_new_tokens` sets both (the length must stay fixed).
    An unknown key or an invalid value is a one-line ConfigError.
    """
    data = spec.model_dump()
    applied: dict[str, Any] = {}
    for raw_key, raw_value in overrides.items():
        scope, key = split_scope(str(raw_key))
        if scope is not None:
            if scope not in TASK_KINDS:
                raise ConfigError(f"override {raw_key!r}: unknown task kind {scope!r} (kinds: {', '.join(TASK_KINDS)})")
            valid_for_scope = override_keys(scope)
            if key not in valid_for_scope:
                problem = _unknown_key_message(key, f"{scope} tasks", valid_for_scope)
                raise ConfigError(f"override {raw_key!r}: {problem}")
            if scope != spec.kind:
                continue
        valid = override_keys(spec.kind)
        if key not in valid:
            raise ConfigError(_unknown_key_message(key, f"{spec.kind} task {spec.id!r}", valid))
        applied[key] = _parse_value(raw_value, valid[key])

    generation_keys = {"generation.min_new_tokens", "generation.max_new_tokens"}
    given = generation_keys & applied.keys()
    if len(given) == 1:
        (only,) = given
        other = (generation_keys - given).pop()
        applied[other] = applied[only]
        logger.info("%s=%s also sets %s (the number of new tokens is fixed)", only, applied[only], other)

    for key, value in applied.items():
        if "." in key:
            group, sub = key.split(".", 1)
            section = dict(data.get(group) or {})
            section[sub] = value
            data[group] = section
        else:
            data[key] = value
    try:
        return TaskSpec.model_validate(data)
    except ValidationError as error:
        shown = ", ".join(f"{k}={v}" for k, v in overrides.items())
        raise ConfigError(f"invalid override for task {spec.id!r} ({shown}): {_first_problem(error)}") from None
