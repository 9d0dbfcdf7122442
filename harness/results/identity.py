"""Workload identity: the one key that says two runs measured the same work.

Two results are the same workload when their resolved task specs agree on everything that changes the
work: task id and version, inputs, number of queries, batch size, dtype, input truncation and generation
settings. How a setting was typed (a task default, a preset, `--num-queries 1000`) never enters; neither
does documentation (description, sources, aliases), nor a dataset block the built-in inputs do not read.
What the workload took from the model where the task left a setting unset (image-gen: size and guidance at the
pipeline's defaults, `ResultFile.workload_settings`) is part of a result's identity: two pipelines run at their
own 512 and 1024 pixels did different work. So is the engine that ran the model, with its settings
(`ResultFile.engine`): a served and an in-process run of one model are different workloads. The kind's default
engine with no settings is left out, so results written before engines were recorded keep their keys. The
engine's version is recorded but is not identity: a library upgrade runs the same work, as a driver update does,
and the leaderboard shows each run's versions. The leaderboard's grouping and `harness collect` compare
`result_workload_key`; the campaign planner, which decides before any model loads, compares the planned key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from harness.files import canonical_json
from harness.kinds import KINDS
from harness.results.schema import ResultFile
from harness.tasks.spec import TaskSpec, TextGenerationSettings

DOCUMENTATION_KEYS = ("description", "sources", "aliases")
"""Spec keys that say what a task is or where its settings come from, but change no work."""

LATER_GENERATION_KEYS = ("mode", "enable_thinking")
"""Generation settings added after results were published (chat mode): at their defaults they are left out of
the identity, so a fixed-length result written before they existed keeps its key; any other value (chat mode,
thinking on or off) makes a different workload."""

UNUSED_IN_FORWARD_MODE = ("min_new_tokens", "max_new_tokens")
"""Summarisation in `forward` mode generates nothing: its new-token settings change no work, so they are left out
and a forward-mode run is the same workload whatever the task file's token count says."""


def workload_identity(spec: TaskSpec | Mapping[str, Any], workload_settings: Mapping[str, Any] | None = None,
                      engine: str | None = None, engine_settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parts of a resolved spec (a `TaskSpec` or its JSON form, as a result records it) that make the work,
    with the generation settings left unset filled in from `workload_settings` (what the model's defaults made
    them), and the engine where it is not the kind's default or has settings."""
    data = spec.model_dump(mode="json") if isinstance(spec, TaskSpec) else dict(spec)
    engine_part = _engine_identity(data.get("kind"), engine, engine_settings)
    identity = {key: value for key, value in data.items() if key not in DOCUMENTATION_KEYS}
    if identity.get("inputs") != "dataset":
        identity.pop("dataset", None)
    if isinstance(identity.get("generation"), Mapping):
        fields = TextGenerationSettings.model_fields
        forward = identity["generation"].get("mode") == "forward"
        identity["generation"] = {name: value for name, value in identity["generation"].items()
                                  if not (name in LATER_GENERATION_KEYS and value == fields[name].default)
                                  and not (forward and name in UNUSED_IN_FORWARD_MODE)}
    if workload_settings and isinstance(identity.get("generation"), Mapping):
        generation = dict(identity["generation"])
        for name, value in workload_settings.items():
            if generation.get(name) is None:
                generation[name] = value
        identity["generation"] = generation
    if engine_part:
        identity["engine"] = engine_part
    return identity


def _engine_identity(kind: Any, engine: str | None, settings: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The engine's part of an identity: None for the kind's default engine with no settings."""
    default = KINDS[kind].default_engine if kind in KINDS else None
    if (engine is None or engine == default) and not settings:
        return None
    return {"name": engine or default, "settings": dict(settings or {})}


def workload_key(spec: TaskSpec | Mapping[str, Any], workload_settings: Mapping[str, Any] | None = None,
                 engine: str | None = None, engine_settings: Mapping[str, Any] | None = None) -> str:
    """sha256 (first 16 hex digits) of the canonical JSON of `workload_identity(...)`."""
    text = canonical_json(workload_identity(spec, workload_settings, engine, engine_settings))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def result_workload_key(result: ResultFile) -> str:
    """The workload key of what a result file measured: its recorded, resolved spec and the settings the model's
    defaults filled in."""
    return workload_key(result.task.spec, result.workload_settings, result.engine_name, _engine_settings(result))


def result_planned_workload_key(result: ResultFile) -> str:
    """The key of the spec the result was planned from (before the model filled in its defaults): what the
    campaign planner, which never loads a model, compares with its jobs."""
    return workload_key(result.task.spec, engine=result.engine_name, engine_settings=_engine_settings(result))


def _engine_settings(result: ResultFile) -> dict[str, Any]:
    return dict(result.engine.settings) if result.engine is not None else {}
