"""Workload identity: the one key that says two runs measured the same work.

Two results are the same workload when their resolved task specs agree on everything that changes the
work: task id and version, inputs, number of queries, batch size, dtype, input truncation and generation
settings. How a setting was typed (a task default, a preset, `--num-queries 1000`) never enters; neither
does documentation (description, sources, aliases), nor a dataset block the built-in inputs do not read.
The leaderboard's grouping, the campaign planner's "already measured" check and `harness collect` all
compare this key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from harness.files import canonical_json
from harness.results.schema import ResultFile
from harness.tasks.spec import TaskSpec

DOCUMENTATION_KEYS = ("description", "sources", "aliases")
"""Spec keys that say what a task is or where its settings come from, but change no work."""


def workload_identity(spec: TaskSpec | Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a resolved spec (a `TaskSpec` or its JSON form, as a result records it) that make the work."""
    data = spec.model_dump(mode="json") if isinstance(spec, TaskSpec) else dict(spec)
    identity = {key: value for key, value in data.items() if key not in DOCUMENTATION_KEYS}
    if identity.get("inputs") != "dataset":
        identity.pop("dataset", None)
    return identity


def workload_key(spec: TaskSpec | Mapping[str, Any]) -> str:
    """sha256 (first 16 hex digits) of the canonical JSON of `workload_identity(spec)`."""
    text = canonical_json(workload_identity(spec))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def result_workload_key(result: ResultFile) -> str:
    """The workload key of what a result file measured (its recorded, resolved spec)."""
    return workload_key(result.task.spec)
