"""Run resolution: precedence task file < preset < command line, and every run default, in one place."""

from __future__ import annotations

import math

import pytest

from harness.errors import ConfigError
from harness.tasks import resolution
from harness.tasks.presets import load_preset
from harness.tasks.registry import load_task
from harness.tasks.resolution import SettingsRequest, resolve


def test_precedence_task_then_preset_then_command_line():
    task, demo = load_task("image-gen"), load_preset("demo")
    from_preset = resolve(SettingsRequest(task="image-gen", preset="demo"))
    assert from_preset.spec.generation.height == demo.set["image-gen:generation.height"] != task.generation.height
    assert from_preset.spec.num_queries == demo.num_queries != task.num_queries
    assert from_preset.repeats == demo.repeats and from_preset.idle_seconds == demo.idle_seconds

    explicit = resolve(SettingsRequest(task="image-gen", preset="demo", num_queries=3, repeats=4, idle_seconds=0.5,
                                       overrides={"generation.num_inference_steps": "7", "num_queries": "9"}))
    assert explicit.spec.generation.num_inference_steps == 7    # --set beats the preset
    assert explicit.spec.num_queries == 3                       # an option beats --set of the same setting
    assert explicit.spec.generation.height == demo.set["image-gen:generation.height"]  # preset beats task file
    assert (explicit.repeats, explicit.idle_seconds) == (4, 0.5)
    assert explicit.spec.generation.guidance_scale == task.generation.guidance_scale  # untouched: the task file's


@pytest.mark.parametrize("device, repeats, idle_s", [("cuda", 3, 5.0), ("cuda:1", 3, 5.0), ("cpu", 1, 1.0)])
def test_defaults_depend_on_the_device(device, repeats, idle_s):
    resolved = resolve(SettingsRequest(task="text-gen", device=device))
    assert (resolved.repeats, resolved.idle_seconds) == (repeats, idle_s)
    assert resolved.warmup_queries == resolution.DEFAULT_WARMUP_QUERIES
    assert resolved.sample_hz == resolution.DEFAULT_SAMPLE_HZ
    assert resolved.spec == load_task("text-gen") and resolved.overrides == {}


def test_recorded_overrides_are_those_that_took_effect():
    resolved = resolve(SettingsRequest(task="text-gen", preset="demo", batch_size=2))
    assert resolved.overrides["batch_size"] == "2"
    assert not any(key.startswith("image-gen:") for key in resolved.overrides)


@pytest.mark.parametrize("field, value", [
    ("repeats", 0), ("repeats", 1.5), ("warmup_queries", -1), ("idle_seconds", -0.1), ("idle_seconds", math.nan),
    ("idle_seconds", math.inf), ("sample_hz", 0.0), ("sample_hz", math.nan),
])
def test_bad_run_settings_are_one_line_config_errors(field, value):
    with pytest.raises(ConfigError) as caught:
        resolve(SettingsRequest(task="text-gen", **{field: value}))
    assert "\n" not in str(caught.value)
