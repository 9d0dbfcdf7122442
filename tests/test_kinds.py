"""The task-kind vocabulary: one descriptor per kind (`harness.kinds.KINDS`), the tables derived from it, and the
code every kind must have (a forgotten one fails here, not in a user's run)."""

from __future__ import annotations

import dataclasses
import json
import string
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from harness.kinds import IMAGE_KINDS, KINDS, PAIR_KINDS, TASK_KINDS, TEXT_KINDS, KindDescriptor, TaskKind
from harness.results.schema import LengthUnit
from harness.tasks.spec import GenerationMode

# What the derived tuples were when they were written out by hand: deriving them must not change them.
EXPECTED_TASK_KINDS = (
    "text-gen", "summarization", "text-classification", "question-answering", "sentence-similarity",
    "image-gen", "image-classification", "object-detection", "image-captioning", "speech-to-text",
)
EXPECTED_TEXT_KINDS = ("text-gen", "summarization", "text-classification", "question-answering", "sentence-similarity")
EXPECTED_IMAGE_KINDS = ("image-classification", "object-detection", "image-captioning")
EXPECTED_PAIR_KINDS = ("question-answering", "sentence-similarity")


def test_the_literal_names_exactly_the_described_kinds_in_their_order():
    assert set(typing.get_args(TaskKind)) == set(KINDS)
    assert typing.get_args(TaskKind) == tuple(KINDS)  # the JSON Schema lists them in the reading order too


def test_the_derived_tuples_are_what_they_were():
    assert TASK_KINDS == EXPECTED_TASK_KINDS
    assert TEXT_KINDS == EXPECTED_TEXT_KINDS
    assert IMAGE_KINDS == EXPECTED_IMAGE_KINDS
    assert PAIR_KINDS == EXPECTED_PAIR_KINDS


def test_each_descriptor_is_filed_under_its_name_and_frozen():
    for name, kind in KINDS.items():
        assert kind.name == name
    with pytest.raises(dataclasses.FrozenInstanceError):
        KINDS["text-gen"].title = "Chat"  # type: ignore[misc]


@pytest.mark.parametrize("name", TASK_KINDS)
def test_each_descriptor_agrees_with_itself(name):
    kind = KINDS[name]
    assert kind.title and kind.needs and kind.query
    assert kind.generative == (kind.outputs == "tokens")  # a kind that decodes tokens has a prefill phase
    assert all(kind.output_words) == (kind.outputs == "tokens")
    # Only generation settings with a mode take modes, and each of those takes `fixed`.
    assert bool(kind.modes) == (kind.settings in ("text", "speech"))
    assert not kind.modes or "fixed" in kind.modes
    assert set(kind.modes) <= set(typing.get_args(GenerationMode))
    assert kind.input_size_unit in typing.get_args(LengthUnit)
    assert kind.input_size_unit == {"image": "pixels", "audio": "seconds"}.get(kind.inputs, "tokens")
    assert kind.default_engine in ("transformers", "diffusers")


def test_titles_are_distinct_and_every_built_in_set_has_its_own_seed():
    assert len({kind.title for kind in KINDS.values()}) == len(KINDS)
    assert len({kind.builtin_seed for kind in KINDS.values()}) == len(KINDS)  # kinds sharing a recipe stay apart


def test_the_needs_are_the_words_the_loaders_have_always_said():
    assert KINDS["speech-to-text"].needs == "a Whisper-family speech-to-text model (WhisperForConditionalGeneration)"
    assert KINDS["image-gen"].needs == "a diffusers text-to-image pipeline"
    assert KINDS["image-captioning"].needs.startswith("an image-to-text model that captions from the image alone")


# ---------------------------------------------------------------------------------------------- the code per kind


@pytest.mark.parametrize("name", TASK_KINDS)
def test_every_kind_has_the_code_it_needs(name):
    from harness.tasks.inputs import ROW_READERS, builtin_items, has_recipe
    from harness.tasks.spec import NO_TOKEN_LIMIT_BECAUSE, SETTINGS_CLASSES
    from harness.testing.demo_models import _BUILDERS
    from leaderboard.views import _QUERY_FIELDS

    kind = KINDS[name]
    assert name in _BUILDERS, f"no demo model builder for {name} in harness/testing/demo_models.py"
    assert has_recipe(kind.builtin_items), f"no built-in input recipe {kind.builtin_items!r} in harness/tasks/inputs.py"
    assert len(builtin_items(name, 2)) == 2
    assert kind.inputs in ROW_READERS
    assert kind.settings in SETTINGS_CLASSES
    assert name in TEXT_KINDS or kind.inputs in NO_TOKEN_LIMIT_BECAUSE
    fields = {field for _, field, _, _ in string.Formatter().parse(kind.query) if field}
    assert fields <= set(_QUERY_FIELDS), f"{name}'s query names a field leaderboard/views.py does not fill"


def test_every_kind_has_a_workload_that_agrees_with_its_descriptor():
    from harness.workloads import WORKLOADS

    assert set(WORKLOADS) == set(KINDS)
    for name, workload in WORKLOADS.items():
        kind = KINDS[name]
        assert getattr(workload, "generative", kind.generative) == kind.generative, name
        assert getattr(workload, "input_size_unit", kind.input_size_unit) == kind.input_size_unit, name


# ---------------------------------------------------------------------------------------------- a new kind

NEW_KIND = '''    KindDescriptor(
        name="fill-mask", title="Masked words", inputs="text", outputs="class", generative=False,
        settings=None, input_size_unit="tokens", builtin_items="reviews", builtin_seed=4242, builtin_version=1,
        needs="a masked language model (…ForMaskedLM)", query="a text{cut} with one word guessed in one forward pass",
    ),
'''

PROBE = r'''
import json, sys, types
from pathlib import Path
import harness

path = Path(harness.__file__).with_name("kinds.py")
source = path.read_text(encoding="utf-8")
end_of_table = '\n)}\n"""Every task kind by name'
end_of_literal = '"image-captioning", "speech-to-text",\n]'
assert source.count(end_of_table) == 1 and source.count(end_of_literal) == 1, "kinds.py's layout changed"
source = source.replace(end_of_table, "\n" + sys.argv[1] + end_of_table[1:])
source = source.replace(end_of_literal, '"image-captioning", "speech-to-text", "fill-mask",\n]')
module = types.ModuleType("harness.kinds")
module.__file__ = str(path)
sys.modules["harness.kinds"] = harness.kinds = module
exec(compile(source, str(path), "exec"), module.__dict__)

from harness.kinds import IMAGE_KINDS, KINDS, PAIR_KINDS, TASK_KINDS, TEXT_KINDS
from harness.tasks.inputs import BUILTIN_SEEDS, BUILTIN_VERSIONS, _text_row, builtin_inputs, builtin_items, row_reader
from harness.tasks.overrides import override_keys
from harness.tasks.spec import SETTINGS_BY_KIND, parse_task
from harness.testing.demo_models import _BUILDERS
from leaderboard.views import TASK_TITLES, describe_query, task_order

task = parse_task({"id": "masks", "version": "1", "kind": "fill-mask", "description": "d", "max_input_tokens": 64,
                   "sources": {"a": "b"}})
print(json.dumps({
    "task_kinds": TASK_KINDS[-1], "text": "fill-mask" in TEXT_KINDS,
    "not_image_or_pair": "fill-mask" not in IMAGE_KINDS + PAIR_KINDS,
    "settings": SETTINGS_BY_KIND["fill-mask"].__name__, "seed": BUILTIN_SEEDS["fill-mask"],
    "version": BUILTIN_VERSIONS["fill-mask"], "set": builtin_inputs("fill-mask", 3).info["name"],
    "own_items": builtin_items("fill-mask", 3) != builtin_items("text-classification", 3),
    "reader_is_text": row_reader("fill-mask") is _text_row, "task": task.kind,
    "generation": type(task.generation).__name__, "override_keys": "max_input_tokens" in override_keys("fill-mask"),
    "title": TASK_TITLES["fill-mask"], "order": task_order("fill-mask", "fill-mask")[0],
    "query": describe_query("fill-mask", task.model_dump(mode="json"), 1),
    "missing_demo_models": sorted(set(KINDS) - set(_BUILDERS)),
}))
'''


def test_a_new_descriptor_reaches_every_derived_table():
    # A fresh interpreter whose kinds.py has one more entry (and its name in the literal): nothing else is edited.
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", PROBE, NEW_KIND], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {
        "task_kinds": "fill-mask", "text": True, "not_image_or_pair": True,
        "settings": "ClassificationSettings", "seed": 4242, "version": 1, "set": "fill-mask-builtin-v1",
        "own_items": True, "reader_is_text": True, "task": "fill-mask", "generation": "ClassificationSettings",
        "override_keys": True, "title": "Masked words", "order": 10,
        "query": "One query: a text (at most 64 tokens) with one word guessed in one forward pass; 1 query per batch.",
        # the code only the kind can have is what is left to write, and the check above names it
        "missing_demo_models": ["fill-mask"],
    }


def test_a_descriptor_refuses_a_missing_fact():
    with pytest.raises(TypeError):
        KindDescriptor(name="x", title="X")  # type: ignore[call-arg]
