"""Task files, the typed spec, name lookup and `--set` overrides."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

from harness.errors import ConfigError, NotFoundError
from harness.kinds import IMAGE_KINDS, TASK_KINDS
from harness.tasks.overrides import applicable_overrides, apply_overrides, override_keys
from harness.tasks.registry import data_folder, default_tasks_dir, list_tasks, load_task, load_task_file
from harness.tasks.spec import ImageGenerationSettings, TaskSpec, TextGenerationSettings

MINIMAL_TEXT_TASK = """\
id: my-task
version: "2"
kind: text-gen
description: A test task.
max_input_tokens: 64
sources: {num_queries: test}
"""


def write(path, text: str):
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- shipped tasks


def test_every_shipped_task_file_loads_and_is_named_after_its_id():
    tasks_dir = default_tasks_dir()
    specs = list_tasks()
    # one shipped task per kind, named after it, and the chat mode of text-gen
    assert {spec.id for spec in specs} == {*TASK_KINDS, "text-gen-chat"}
    for spec in specs:
        assert (tasks_dir / f"{spec.id}.yaml").is_file()
        assert load_task_file(tasks_dir / f"{spec.id}.yaml") == spec


def test_shipped_tasks_follow_the_standard_settings():
    specs = {spec.id: spec for spec in list_tasks()}
    for spec in specs.values():
        assert spec.num_queries == 1000 and spec.batch_size == 1 and spec.inputs == "builtin"
        assert spec.dataset is not None and spec.dataset.path.startswith("AIEnergyScore/")
        assert {"num_queries", "batch_size", "dtype", "dataset"} <= set(spec.sources)
    for text_id in ("text-gen", "summarization"):
        generation = specs[text_id].generation
        assert isinstance(generation, TextGenerationSettings)
        assert generation.min_new_tokens == generation.max_new_tokens == 10
    image = specs["image-gen"].generation
    assert isinstance(image, ImageGenerationSettings)
    # Size and guidance are left to each pipeline's own defaults, as AI Energy Score runs them.
    assert (image.num_inference_steps, image.height, image.width, image.guidance_scale) == (30, None, None, None)
    assert specs["image-gen"].max_input_tokens is None
    for image_id in IMAGE_KINDS:
        assert specs[image_id].max_input_tokens is None and "input_lengths" in specs[image_id].sources
    captioning = specs["image-captioning"].generation
    assert isinstance(captioning, TextGenerationSettings) and captioning.max_new_tokens == 10


@pytest.mark.parametrize(
    ("name", "expected"),
    [("text_generation", "text-gen"), ("image_generation", "image-gen"), ("text_classification", "text-classification"),
     ("TEXT-GEN", "text-gen"), ("summarisation", "summarization"), ("text-to-image", "image-gen")],
)
def test_aliases_and_case_find_the_task(name, expected):
    assert load_task(name).id == expected


@pytest.mark.parametrize(("typo", "suggested"), [("txt-gen", "text-gen"), ("imagegen", "image-gen"),
                                                 ("sumarization", "summarization")])
def test_unknown_task_suggests_the_nearest_name(typo, suggested):
    with pytest.raises(NotFoundError) as caught:
        load_task(typo)
    assert f"unknown task '{typo}'; did you mean '{suggested}'?" in str(caught.value)


def test_unknown_task_without_a_close_name_lists_the_tasks():
    with pytest.raises(NotFoundError) as caught:
        load_task("zzzz")
    message = str(caught.value)
    assert "did you mean" not in message and "text-gen" in message and "\n" not in message


def test_task_by_path(tmp_path):
    path = write(tmp_path / "custom.yaml", MINIMAL_TEXT_TASK)
    spec = load_task(str(path))
    assert spec.id == "my-task" and spec.version == "2"
    assert spec.generation == TextGenerationSettings()  # defaults for the kind
    with pytest.raises(NotFoundError, match="does not exist"):
        load_task(str(tmp_path / "missing.yaml"))


# ---------------------------------------------------------------------------------------------- rejected files


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("num_querys: 10\n", "num_querys: unknown key"),
        ("generation: {min_new_tokens: 5, max_new_tokens: 10}\n", "min_new_tokens (5) must equal max_new_tokens (10)"),
        ("generation: {do_sample: true}\n", "do_sample"),
        ("generation: {num_beams: 4}\n", "num_beams"),
        ("generation: {num_inference_steps: 4}\n", "num_inference_steps: unknown key"),
        ("dtype: float8\n", "dtype: must be one of float32, float16, bfloat16"),
        ("num_queries: 0\n", "num_queries"),
        ("inputs: dataset\n", "no dataset is given"),
        ("inputs: dataset\ndataset: {path: org/data, column: text}\n", "pin dataset.revision"),
    ],
)
def test_invalid_task_files_fail_with_one_line(tmp_path, extra, message):
    path = write(tmp_path / "bad.yaml", MINIMAL_TEXT_TASK + extra)
    with pytest.raises(ConfigError) as caught:
        load_task_file(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_local_dataset_needs_no_revision(tmp_path):
    path = write(tmp_path / "ok.yaml", MINIMAL_TEXT_TASK + "inputs: dataset\ndataset: {path: data.jsonl, column: t}\n")
    assert load_task_file(path).dataset.path == "data.jsonl"


def test_image_task_rejects_text_settings_and_bad_sizes(tmp_path):
    base = MINIMAL_TEXT_TASK.replace("kind: text-gen", "kind: image-gen").replace("max_input_tokens: 64", "")
    write(tmp_path / "a.yaml", base + "generation: {max_new_tokens: 10}\n")
    write(tmp_path / "b.yaml", base + "generation: {height: 500}\n")
    write(tmp_path / "c.yaml", base + "max_input_tokens: 77\n")
    with pytest.raises(ConfigError, match="max_new_tokens: unknown key"):
        load_task_file(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="multiple of 8"):
        load_task_file(tmp_path / "b.yaml")
    with pytest.raises(ConfigError, match="does not apply to image-gen"):
        load_task_file(tmp_path / "c.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: [unclosed\n", "not valid YAML at line"),
        ("- a\n- b\n", "must hold a mapping"),
        (MINIMAL_TEXT_TASK + "version: '3'\n", "duplicate key 'version'"),
        ("", "must hold a mapping"),
    ],
)
def test_malformed_yaml_is_one_line(tmp_path, text, message):
    path = write(tmp_path / "broken.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_task_file(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_numeric_version_is_kept_as_written(tmp_path):
    path = write(tmp_path / "v.yaml", MINIMAL_TEXT_TASK.replace('version: "2"', "version: 1.10"))
    assert load_task_file(path).version == "1.1"  # YAML reads 1.10 as a float; quote versions to keep zeros
    path = write(tmp_path / "v.yaml", MINIMAL_TEXT_TASK.replace('version: "2"', 'version: "1.10"'))
    assert load_task_file(path).version == "1.10"


def test_a_broken_file_does_not_hide_the_others(tmp_path):
    write(tmp_path / "good.yaml", MINIMAL_TEXT_TASK)
    write(tmp_path / "broken.yaml", "id: [\n")
    assert load_task("my-task", tmp_path).id == "my-task"
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_task("broken", tmp_path)
    with pytest.raises(ConfigError, match="broken.yaml"):
        list_tasks(tmp_path)


def test_a_name_used_by_two_tasks_is_refused(tmp_path):
    write(tmp_path / "a.yaml", MINIMAL_TEXT_TASK + "aliases: [shared]\n")
    write(tmp_path / "b.yaml", MINIMAL_TEXT_TASK.replace("my-task", "other") + "aliases: [shared]\n")
    with pytest.raises(ConfigError, match="'shared' is used by both"):
        list_tasks(tmp_path)


def test_specs_are_frozen():
    spec = load_task("text-gen")
    before = spec.num_queries
    with pytest.raises(ValidationError, match="frozen_instance"):
        spec.num_queries = before + 1
    with pytest.raises(ValidationError, match="frozen_instance"):
        spec.generation.max_new_tokens = 1
    assert spec.num_queries == before and spec == load_task("text-gen")


# ---------------------------------------------------------------------------------------------- folders


def test_tasks_dir_from_the_environment(tmp_path, monkeypatch):
    write(tmp_path / "mine.yaml", MINIMAL_TEXT_TASK)
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tmp_path))
    assert default_tasks_dir() == tmp_path
    assert [spec.id for spec in list_tasks()] == ["my-task"]
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tmp_path / "nope"))
    with pytest.raises(NotFoundError, match="HARNESS_TASKS_DIR=.* is not a folder"):
        default_tasks_dir()


def test_missing_repository_folder_names_the_variable(monkeypatch):
    monkeypatch.delenv("HARNESS_NO_SUCH_DIR", raising=False)
    with pytest.raises(NotFoundError, match="set HARNESS_NO_SUCH_DIR"):
        data_folder("HARNESS_NO_SUCH_DIR", "no-such-folder-anywhere")


# ---------------------------------------------------------------------------------------------- overrides


def test_dotted_overrides_are_typed_and_revalidated():
    spec = load_task("image-gen")
    changed = apply_overrides(spec, {"generation.num_inference_steps": "4", "generation.guidance_scale": "5",
                                     "num_queries": "20", "dtype": "float16"})
    assert changed.generation.num_inference_steps == 4 and changed.generation.guidance_scale == 5.0
    assert changed.num_queries == 20 and changed.dtype == "float16"
    assert spec.generation.num_inference_steps == 30  # the original is untouched
    assert isinstance(changed, TaskSpec)


def test_text_fields_keep_the_text_as_given():
    spec = apply_overrides(load_task("image-gen"), {"dataset.revision": "1e10", "dataset.path": "true"})
    assert spec.dataset.revision == "1e10" and spec.dataset.path == "true"
    assert apply_overrides(load_task("text-gen"), {"dataset.name": "null"}).dataset.name is None


def test_switching_to_dataset_inputs():
    spec = apply_overrides(load_task("text-gen"), {"inputs": "dataset"})
    assert spec.inputs == "dataset" and spec.dataset.revision
    local = apply_overrides(load_task("summarization"), {"inputs": "dataset", "dataset.path": "x.csv",
                                                         "dataset.column": "body"})
    assert local.dataset.path == "x.csv" and local.dataset.column == "body"
    with pytest.raises(ConfigError, match="pin dataset.revision"):
        apply_overrides(load_task("summarization"), {"inputs": "dataset"})  # its hub commit is not pinned


def test_one_token_bound_sets_both():
    spec = apply_overrides(load_task("text-gen"), {"generation.max_new_tokens": "50"})
    assert spec.generation.min_new_tokens == spec.generation.max_new_tokens == 50
    with pytest.raises(ConfigError, match=r"min_new_tokens \(20\) must equal max_new_tokens \(50\)"):
        apply_overrides(load_task("text-gen"), {"generation.max_new_tokens": "50", "generation.min_new_tokens": "20"})


@pytest.mark.parametrize(
    ("task", "overrides", "message"),
    [
        ("image-gen", {"generation.num_steps": "4"}, "unknown setting 'generation.num_steps' for image-gen task "
                                                     "'image-gen'; did you mean 'generation.num_inference_steps'?"),
        ("text-gen", {"generation.num_inference_steps": "4"}, "unknown setting 'generation.num_inference_steps'"),
        ("text-gen", {"num_queries": "many"}, "num_queries: Input should be a valid integer"),
        ("text-gen", {"num_queries": "-1"}, "num_queries"),
        ("text-gen", {"generation.do_sample": "true"}, "do_sample"),
        ("image-gen", {"generation.height": "100"}, "multiple of 8"),
        ("text-gen", {"version": "9"}, "cannot override 'version'"),
        ("text-gen", {"kind": "image-gen"}, "cannot override 'kind'"),
        ("text-gen", {"generation": "3"}, "'generation' is a group of settings"),
        ("text-gen", {"dtype": "fp8"}, "dtype: must be one of"),
        ("text-gen", {"max_input_tokens": "null"}, "max_input_tokens is required for text tasks"),
        ("text-gen", {"vision:generation.height": "64"}, "unknown task kind 'vision'"),
        ("text-gen", {"image-gen:generation.hieght": "64"}, "did you mean 'generation.height'?"),
    ],
)
def test_bad_overrides_are_one_line_config_errors(task, overrides, message):
    with pytest.raises(ConfigError) as caught:
        apply_overrides(load_task(task), overrides)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_scoped_overrides_apply_only_to_their_kind():
    overrides = {"image-gen:generation.num_inference_steps": "2", "text-gen:generation.max_new_tokens": "3"}
    image = apply_overrides(load_task("image-gen"), overrides)
    text = apply_overrides(load_task("text-gen"), overrides)
    summary = apply_overrides(load_task("summarization"), overrides)
    assert image.generation.num_inference_steps == 2
    assert text.generation.max_new_tokens == 3 and text.generation.min_new_tokens == 3
    assert summary.generation == load_task("summarization").generation
    assert applicable_overrides("image-gen", {**overrides, "num_queries": "3"}) == {
        "image-gen:generation.num_inference_steps": "2", "num_queries": "3"}


def test_override_keys_cover_each_kind():
    for kind in TASK_KINDS:
        keys = override_keys(kind)
        assert {"num_queries", "batch_size", "dtype", "inputs", "dataset.path", "dataset.revision"} <= keys.keys()
        assert "version" not in keys and "id" not in keys
    assert "generation.num_inference_steps" in override_keys("image-gen")
    assert "generation.max_new_tokens" in override_keys("summarization")
    assert not any(key.startswith("generation.") for key in override_keys("text-classification"))
    speech_keys = override_keys("speech-to-text").keys()
    assert {"generation.language", "generation.task", "generation.max_new_tokens"} <= speech_keys
    assert "dataset.columns" in override_keys("question-answering")


# ---------------------------------------------------------------------------------------------- chat mode


def test_chat_mode_caps_rather_than_fixes_the_length():
    chat = load_task("text-gen-chat")
    assert chat.kind == "text-gen" and chat.generation.mode == "chat"
    assert (chat.generation.min_new_tokens, chat.generation.max_new_tokens) == (1, 1024)
    shorter = apply_overrides(chat, {"generation.max_new_tokens": "256"})
    assert (shorter.generation.min_new_tokens, shorter.generation.max_new_tokens) == (1, 256)
    # Ordinary text-gen keeps its fixed length: one of the two sets both, and min != max is refused.
    fixed = apply_overrides(load_task("text-gen"), {"generation.max_new_tokens": "20"})
    assert (fixed.generation.min_new_tokens, fixed.generation.max_new_tokens) == (20, 20)
    with pytest.raises(ConfigError, match="must equal max_new_tokens"):
        apply_overrides(load_task("text-gen"), {"generation.min_new_tokens": "5", "generation.max_new_tokens": "9"})


@pytest.mark.parametrize(("task", "overrides", "message"), [
    ("text-gen-chat", {"generation.min_new_tokens": "5"}, "min_new_tokens must be 1"),
    ("text-gen", {"generation.enable_thinking": "true"}, "enable_thinking applies to chat mode only"),
    ("summarization", {"generation.mode": "chat", "generation.min_new_tokens": "1"}, "chat mode is a text-gen mode"),
    ("text-gen-chat", {"generation.enable_thinking": "maybe"}, "enable_thinking"),
])
def test_chat_settings_that_make_no_sense_are_one_line_errors(task, overrides, message):
    with pytest.raises(ConfigError, match=message) as error:
        apply_overrides(load_task(task), overrides)
    assert "\n" not in str(error.value)


def test_chat_and_thinking_are_part_of_the_workload_identity():
    from harness.results.identity import workload_key

    chat = load_task("text-gen-chat")
    keys = {workload_key(apply_overrides(chat, {"generation.enable_thinking": value}))
            for value in ("null", "true", "false")}
    fixed = load_task("text-gen")
    as_chat = apply_overrides(fixed, {"generation.mode": "chat", "generation.min_new_tokens": "1"})
    assert len(keys | {workload_key(fixed), workload_key(as_chat)}) == 5
    # A fixed-length spec recorded before chat mode existed (no mode, no enable_thinking) keeps its key.
    recorded = fixed.model_dump(mode="json")
    recorded["generation"] = {k: v for k, v in recorded["generation"].items() if k not in ("mode", "enable_thinking")}
    assert workload_key(recorded) == workload_key(fixed)


def test_summarisation_forward_mode_is_its_own_workload_whatever_the_unused_token_count():
    from harness.results.identity import workload_key
    from harness.tasks.resolution import SettingsRequest, resolve

    fixed = load_task("summarization")
    forward = apply_overrides(fixed, {"generation.mode": "forward"})
    assert workload_key(forward) != workload_key(fixed)
    # Forward mode generates nothing: the new-token settings change no work and no key.
    assert workload_key(apply_overrides(forward, {"generation.max_new_tokens": "1"})) == workload_key(forward)
    assert workload_key(apply_overrides(fixed, {"generation.max_new_tokens": "1"})) != workload_key(fixed)
    assert workload_key(resolve(SettingsRequest(task="summarization", preset="aies")).spec) == workload_key(forward)
