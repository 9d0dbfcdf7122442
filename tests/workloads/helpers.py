"""Task specs for workload tests: the repository's own task files, with `--set`-style overrides."""

from __future__ import annotations

from harness.tasks.overrides import apply_overrides
from harness.tasks.registry import load_task


def task_spec(kind: str, **overrides):
    """The task spec for `kind`; keyword `generation__max_new_tokens=5` means `--set generation.max_new_tokens=5`."""
    return apply_overrides(load_task(kind), {key.replace("__", "."): str(value) for key, value in overrides.items()})
