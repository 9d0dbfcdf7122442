"""The workload table: every task kind, and every shipped task, has a workload for exactly its kind."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.kinds import TASK_KINDS
from harness.tasks.registry import list_tasks
from harness.tasks.spec import TextGenerationSettings
from harness.workloads import WORKLOADS


def test_every_kind_and_every_shipped_task_has_its_workload():
    assert set(WORKLOADS) == set(TASK_KINDS)
    for kind, workload in WORKLOADS.items():
        assert workload.kind == kind
    assert {spec.kind for spec in list_tasks()} <= set(WORKLOADS)


def test_generative_workloads_are_those_that_decode_tokens():
    """Prefill is measured apart exactly for the kinds whose tasks fix a number of new tokens."""
    for spec in list_tasks():
        assert WORKLOADS[spec.kind].generative == isinstance(spec.generation, TextGenerationSettings), spec.id


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_a_workload_refuses_a_model_loaded_for_another_kind(kind, tiny_models_dir, load_tiny):
    other = next(k for k in TASK_KINDS if k != kind)
    spec = next(spec for spec in list_tasks() if spec.kind == kind)
    with pytest.raises(ConfigError, match=f"cannot run task kind '{kind}' on a model loaded for '{other}'"):
        WORKLOADS[kind](load_tiny(other), spec)
