"""Workload tests: the tiny saved models, loaded through the real `load_model`."""

from __future__ import annotations

import pytest

from harness.workloads import load_model


@pytest.fixture(scope="module")
def load_tiny(tiny_models_dir):
    """Load the tiny model of a kind on CPU in float32 (once per module and kind)."""
    cache = {}

    def load(kind: str, **kwargs):
        key = (kind, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = load_model(kind, str(tiny_models_dir / kind), dtype="float32", device="cpu", **kwargs)
        return cache[key]

    return load
