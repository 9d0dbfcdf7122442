"""Changing a task with `--set key=value` (and preset keys): dotted keys, kind scopes, values read as YAML.

Keys are dotted (`num_queries`, `generation.num_inference_steps`, `dataset.path`); a key may be scoped to one
task kind (`image-gen:generation.height`) and is then skipped for tasks of other kinds, so one preset can
shrink image workloads and still apply to text tasks.
"""

from __future__ import annotations

import difflib
import logging
import typing
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError, validation_problem
from harness.files import loads_yaml_value
from harness.kinds import TASK_KINDS
from harness.tasks.spec import OVERRIDABLE_KEYS, SETTINGS_BY_KIND, DatasetSource, TaskSpec

logger = logging.getLogger(__name__)


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
        value = loads_yaml_value(raw, f"--set value {raw[:40]!r}") if raw.strip() else None
    except yaml.YAMLError:
        return raw  # validation will say what is wrong with it
    if isinstance(value, bool) and bool not in (annotation, *typing.get_args(annotation)):
        return raw  # `num_queries=true` must not become 1: the text goes to validation, which refuses it
    return value


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
    `generation.min_new_tokens` / `generation.max_new_tokens` sets both (the length must stay fixed), except in
    chat mode, where `max_new_tokens` is only the cap.
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
    mode = applied.get("generation.mode", getattr(spec.generation, "mode", "fixed"))
    if len(given) == 1 and mode != "chat":  # in chat mode max_new_tokens is a cap, min_new_tokens stays 1
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
        raise ConfigError(f"invalid override for task {spec.id!r} ({shown}): {validation_problem(error)}") from None
