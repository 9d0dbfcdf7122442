"""Run presets: the shipped ones, validation, lookup, and how their overrides meet each task."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError, NotFoundError
from harness.kinds import TASK_KINDS
from harness.tasks.overrides import apply_overrides
from harness.tasks.presets import Preset, default_configs_dir, list_presets, load_preset
from harness.tasks.registry import list_tasks, load_task


def write_preset(folder, name, text):
    presets = folder / "presets"
    presets.mkdir(parents=True, exist_ok=True)
    path = presets / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_presets_load():
    presets = {preset.name: preset for preset in list_presets()}
    assert {"smoke", "demo", "full"} <= presets.keys()
    smoke, demo, full = presets["smoke"], presets["demo"], presets["full"]
    assert smoke.repeats == 1 and smoke.num_queries <= 10 and smoke.idle_seconds <= 5
    assert demo.dtype == "float32" and demo.num_queries == 8 and demo.repeats == 1
    assert full.repeats == 3 and full.num_queries is None  # the task's standard 1000 queries


def test_every_preset_applies_to_every_task():
    for preset in list_presets():
        for spec in list_tasks():
            overrides = {key: str(value) for key, value in preset.set.items()}
            resolved = apply_overrides(spec, overrides)
            assert resolved.id == spec.id


def test_demo_shrinks_images_and_leaves_text_generation_alone():
    demo = load_preset("demo")
    overrides = {key: str(value) for key, value in demo.set.items()}
    image = apply_overrides(load_task("image-gen"), overrides)
    assert image.generation.num_inference_steps < 30 and image.generation.height <= 128
    text = apply_overrides(load_task("text-gen"), overrides)
    assert text.generation == load_task("text-gen").generation


def test_load_by_path_and_from_task_spec(tmp_path):
    path = write_preset(tmp_path, "mine", "repeats: 2\nidle_seconds: 0.5\n")
    preset = load_preset(str(path))
    assert preset == Preset(name="mine", repeats=2, idle_seconds=0.5)
    assert preset.num_queries is None and preset.set == {}
    assert load_preset("mine", tmp_path) == preset


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("repeat: 3\n", "repeat: unknown key"),
        ("repeats: 0\n", "repeats: Input should be greater than or equal to 1"),
        ("dtype: int4\n", "dtype"),
        ("set: {generation.num_steps: 4}\n", "unknown setting 'generation.num_steps'"),
        ("set: {generation.num_inference_steps: 4}\n", "scope it, e.g. 'image-gen:generation.num_inference_steps'"),
        ("set: {'image-gen:generation.max_new_tokens': 4}\n", "unknown setting"),
        ("set: {'vision:num_queries': 4}\n", "unknown task kind 'vision'"),
        ("name: other\n", "named by its file name"),
        ("[1, 2]\n", "must hold a mapping"),
        ("repeats: [\n", "not valid YAML"),
    ],
)
def test_invalid_presets_are_one_line_config_errors(tmp_path, text, message):
    path = write_preset(tmp_path, "bad", text)
    with pytest.raises(ConfigError) as caught:
        load_preset("bad", tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_unknown_preset_suggests_the_nearest():
    with pytest.raises(NotFoundError, match="unknown preset 'smok'; did you mean 'smoke'"):
        load_preset("smok")
    with pytest.raises(NotFoundError, match="does not exist"):
        load_preset("no/such/preset.yaml")


def test_configs_dir_from_the_environment(tmp_path, monkeypatch):
    write_preset(tmp_path, "only", "repeats: 5\n")
    monkeypatch.setenv("HARNESS_CONFIGS_DIR", str(tmp_path))
    assert default_configs_dir() == tmp_path
    assert [preset.name for preset in list_presets()] == ["only"]
    assert load_preset("only").repeats == 5


def test_unscoped_keys_valid_for_every_kind_are_accepted(tmp_path):
    write_preset(tmp_path, "p", "set: {num_queries: 3, dataset.split: validation}\n")
    preset = load_preset("p", tmp_path)
    for kind in TASK_KINDS:
        spec = next(spec for spec in list_tasks() if spec.kind == kind)
        resolved = apply_overrides(spec, {key: str(value) for key, value in preset.set.items()})
        assert resolved.num_queries == 3 and resolved.dataset.split == "validation"
