"""Run presets: named bundles of run settings in `configs/presets/<name>.yaml` (`smoke`, `demo`, `full`).

A preset sets what a run does around the task (`repeats`, `warmup_queries`, `idle_seconds`, adaptive repeats
`target_ci_pct` / `max_repeats`, `min_window_s`, `idle_settle_s`, the `protocol` it follows) and may
override task settings (`num_queries`, `batch_size`, `dtype`, and dotted keys under `set`). Every field is
optional: None means "not set here", and the next source down decides.

Precedence, lowest first: the task file < the preset < explicit command-line options and `--set`.

Keys under `set` may be scoped to one task kind (`image-gen:generation.num_inference_steps: 4`); a scoped
key is skipped for tasks of other kinds, so one preset can shrink image workloads and still apply to
text tasks. Every key is checked when the preset loads: an unknown key is a one-line ConfigError.
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from harness.errors import ConfigError, NotFoundError, validation_problem
from harness.files import read_yaml_mapping
from harness.kinds import TASK_KINDS, Dtype, StrictModel
from harness.tasks.overrides import override_keys, split_scope
from harness.tasks.registry import TASK_FILE_SUFFIXES, data_folder

logger = logging.getLogger(__name__)


def default_configs_dir() -> Path:
    """`$HARNESS_CONFIGS_DIR`, else the checkout's `configs/`, else the preset files shipped in the package."""
    return data_folder("HARNESS_CONFIGS_DIR", "configs")


def _known_override_keys() -> dict[str, set[str]]:
    """For each task kind, the dotted keys its tasks accept."""
    return {kind: set(override_keys(kind)) for kind in TASK_KINDS}


class Preset(StrictModel):
    """A validated preset; `name` is its file's stem. Durations in seconds."""

    name: str
    description: str | None = None
    num_queries: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    repeats: int | None = Field(None, ge=1)
    warmup_queries: int | None = Field(None, ge=0)
    idle_seconds: float | None = Field(None, ge=0)
    dtype: Dtype | None = None
    target_ci_pct: float | None = Field(None, gt=0, lt=100)
    max_repeats: int | None = Field(None, ge=1)
    min_window_s: float | None = Field(None, ge=0)
    idle_settle_s: float | None = Field(None, ge=0)
    protocol: str | None = None
    """The measurement protocol this preset reproduces (`harness.tasks.resolution.PROTOCOLS`)."""
    set: dict[str, Any] = Field(default_factory=dict)

    @field_validator("set")
    @classmethod
    def _known_keys(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        known = _known_override_keys()
        every_key = set().union(*known.values())
        for raw_key in overrides:
            scope, key = split_scope(str(raw_key))
            if scope is not None and scope not in known:
                raise ValueError(f"{raw_key!r}: unknown task kind {scope!r} (kinds: {', '.join(TASK_KINDS)})")
            valid = known[scope] if scope is not None else every_key
            if key not in valid:
                suggestion = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
                hint = f"; did you mean {suggestion[0]!r}?" if suggestion else ""
                raise ValueError(f"unknown setting {raw_key!r}{hint}")
            if scope is None and any(key not in keys for keys in known.values()):
                kinds = [kind for kind, keys in known.items() if key in keys]
                raise ValueError(
                    f"{key!r} applies only to {', '.join(kinds)} tasks: scope it, e.g. '{kinds[0]}:{key}'"
                )
        return overrides


def _preset_path(name_or_path: str, configs_dir: Path | None) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in TASK_FILE_SUFFIXES or "/" in name_or_path:
        if not candidate.is_file():
            raise NotFoundError(f"preset file {candidate} does not exist")
        return candidate
    presets_dir = (Path(configs_dir) if configs_dir is not None else default_configs_dir()) / "presets"
    for suffix in TASK_FILE_SUFFIXES:
        path = presets_dir / f"{name_or_path}{suffix}"
        if path.is_file():
            return path
    known = sorted(p.stem for p in presets_dir.glob("*.y*ml")) if presets_dir.is_dir() else []
    suggestion = difflib.get_close_matches(name_or_path, known, n=1, cutoff=0.5)
    hint = f"; did you mean {suggestion[0]!r}?" if suggestion else ""
    listed = ", ".join(known) or "none"
    raise NotFoundError(f"unknown preset {name_or_path!r}{hint} (presets: {listed} in {presets_dir})")


def load_preset(name_or_path: str, configs_dir: Path | None = None) -> Preset:
    """A preset by name (`configs/presets/<name>.yaml`) or by YAML path; problems are one-line errors."""
    path = _preset_path(name_or_path, configs_dir)
    data = read_yaml_mapping(path)
    if "name" in data:
        raise ConfigError(f"{path}: a preset is named by its file name; remove the 'name' key")
    try:
        return Preset.model_validate({**data, "name": path.stem})
    except ValidationError as error:
        raise ConfigError(f"{path}: {validation_problem(error)}") from None


def list_presets(configs_dir: Path | None = None) -> list[Preset]:
    """Every preset in `configs/presets/`, sorted by name."""
    presets_dir = (Path(configs_dir) if configs_dir is not None else default_configs_dir()) / "presets"
    if not presets_dir.is_dir():
        return []
    paths = sorted(p for p in presets_dir.iterdir() if p.suffix in TASK_FILE_SUFFIXES)
    return [load_preset(str(path)) for path in paths]
