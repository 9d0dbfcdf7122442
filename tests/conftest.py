"""Test-wide setup: offline hub, and tiny random-weight models built once per session from configs."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from tests.cli_helpers import SCRIPTED_POWER_W  # noqa: E402


@pytest.fixture(autouse=True)
def _fallback_dir_in_tmp(tmp_path_factory, monkeypatch):
    """A result kept by the runner's fallback goes to a temporary folder, never to the tester's home."""
    monkeypatch.setenv("HARNESS_FALLBACK_DIR", str(tmp_path_factory.mktemp("fallback")))


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory):
    """Folder with one tiny saved model per task kind (`<kind>/`) and the chat demo's (`text-gen-chat/`), built
    offline with `save_pretrained`."""
    from harness.testing.demo_models import DEMO_TASKS, build_demo_model

    root = tmp_path_factory.mktemp("tiny-models")
    for kind in DEMO_TASKS:
        build_demo_model(kind, root / kind)
    return root



@pytest.fixture
def fake_gpu(tmp_path, monkeypatch):
    """One scripted GPU drawing a constant 200 W, selected through HARNESS_FAKE_NVML as a user would."""
    script = tmp_path / "fake-gpu.json"
    script.write_text(json.dumps({"gpus": [{"name": "Fake NVIDIA H100 80GB HBM3", "power_w": SCRIPTED_POWER_W}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))
    return script
