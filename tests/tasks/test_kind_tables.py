"""The per-kind tables of `harness.tasks` are derived from `harness.kinds.KINDS` and hold what they held when they
were written out by hand; the checks the spec makes per kind say what they always said."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.kinds import KINDS, TASK_KINDS
from harness.tasks import images
from harness.tasks.inputs import (
    BUILTIN_SEEDS,
    BUILTIN_VERSIONS,
    GENERATORS,
    ITEM_MAKERS,
    LENGTH_TARGETS,
    ROW_READERS,
    _text_row,
    builtin_items,
    has_recipe,
    row_reader,
)
from harness.tasks.spec import NO_TOKEN_LIMIT_BECAUSE, SETTINGS_BY_KIND, parse_task

EXPECTED_SETTINGS = {
    "text-gen": "TextGenerationSettings",
    "summarization": "TextGenerationSettings",
    "text-classification": "ClassificationSettings",
    "question-answering": "ClassificationSettings",
    "sentence-similarity": "ClassificationSettings",
    "image-gen": "ImageGenerationSettings",
    "image-classification": "ClassificationSettings",
    "object-detection": "ObjectDetectionSettings",
    "image-captioning": "TextGenerationSettings",
    "speech-to-text": "SpeechRecognitionSettings",
}
EXPECTED_VERSIONS = {"text-gen": 2, "summarization": 2, "text-classification": 2, "image-gen": 1,
                     "image-classification": 1, "object-detection": 1, "image-captioning": 1,
                     "question-answering": 1, "sentence-similarity": 1, "speech-to-text": 1}
EXPECTED_SEEDS = {"text-gen": 101, "summarization": 202, "text-classification": 303, "image-gen": 404,
                  "image-classification": 707, "object-detection": 808, "image-captioning": 909,
                  "question-answering": 505, "sentence-similarity": 606, "speech-to-text": 1010}
EXPECTED_IMAGE_SIZES = {"image-classification": "imagenet-val", "object-detection": "coco-val2017",
                        "image-captioning": "coco-val2017"}


def test_the_derived_tables_are_what_they_were():
    assert {kind: cls.__name__ for kind, cls in SETTINGS_BY_KIND.items()} == EXPECTED_SETTINGS
    assert list(SETTINGS_BY_KIND) == list(TASK_KINDS)
    assert BUILTIN_VERSIONS == EXPECTED_VERSIONS
    assert BUILTIN_SEEDS == EXPECTED_SEEDS
    assert {kind: KINDS[kind].builtin_items for kind in EXPECTED_IMAGE_SIZES} == EXPECTED_IMAGE_SIZES


def test_every_recipe_has_code_and_no_code_is_unused():
    recipes = {kind.builtin_items for kind in KINDS.values()}
    assert all(has_recipe(recipe) for recipe in recipes)
    assert set(GENERATORS) == set(LENGTH_TARGETS)
    assert set(ITEM_MAKERS) | set(GENERATORS) == recipes
    assert set(images.IMAGE_SIZE_TABLES) <= set(ITEM_MAKERS)


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_every_kind_draws_its_built_in_set_and_reads_its_rows(kind):
    assert len(builtin_items(kind, 2)) == 2
    assert row_reader(kind) is ROW_READERS[KINDS[kind].inputs]


def test_kinds_sharing_a_recipe_draw_their_own_items():
    shared = [kind for kind in KINDS if KINDS[kind].builtin_items == "coco-val2017"]
    assert shared == ["object-detection", "image-captioning"]
    assert builtin_items(shared[0], 2) != builtin_items(shared[1], 2)


def test_an_unknown_kind_has_no_built_in_set_and_reads_text():
    with pytest.raises(ConfigError, match="no built-in input set for task kind 'vision'"):
        builtin_items("vision", 2)
    assert row_reader("vision") is _text_row


def test_every_modality_either_takes_a_token_limit_or_says_why_not():
    modalities = {kind.inputs for kind in KINDS.values()}
    assert modalities == set(ROW_READERS)
    assert set(NO_TOKEN_LIMIT_BECAUSE) == modalities - {"text", "text-pair"}


def _task(kind: str, **fields) -> dict:
    return {"id": "t", "version": "1", "kind": kind, "description": "d", "sources": {"a": "b"}, **fields}


@pytest.mark.parametrize(("kind", "fields", "message"), [
    ("text-gen", {}, "max_input_tokens is required for text tasks (inputs are truncated to it)"),
    ("sentence-similarity", {}, "max_input_tokens is required for text tasks (inputs are truncated to it)"),
    ("image-gen", {"max_input_tokens": 64},
     "max_input_tokens does not apply to image-gen (the text encoder truncates prompts)"),
    ("image-classification", {"max_input_tokens": 64}, "max_input_tokens does not apply to image-classification "
                                                       "(its inputs are images, sized by the model's image processor)"),
    ("image-captioning", {"max_input_tokens": 64}, "max_input_tokens does not apply to image-captioning "
                                                   "(its inputs are images, sized by the model's image processor)"),
    ("speech-to-text", {"max_input_tokens": 64},
     "max_input_tokens does not apply to speech-to-text (its inputs are audio)"),
    ("summarization", {"max_input_tokens": 64, "generation": {"mode": "chat", "min_new_tokens": 1}},
     "chat mode is a text-gen mode; a summarization task generates a fixed number of tokens"),
    ("image-captioning", {"generation": {"mode": "chat", "min_new_tokens": 1}},
     "chat mode is a text-gen mode; a image-captioning task generates a fixed number of tokens"),
    ("text-gen", {"max_input_tokens": 64, "generation": {"mode": "forward"}},
     "forward mode is a summarization mode (the reference's single forward pass); a text-gen task generates its "
     "tokens"),
])
def test_the_per_kind_checks_say_what_they_always_said(kind, fields, message):
    with pytest.raises(ConfigError) as caught:
        parse_task(_task(kind, **fields))
    assert message in str(caught.value)


def test_each_kind_takes_its_own_modes():
    assert parse_task(_task("text-gen", max_input_tokens=64, generation={"mode": "chat", "min_new_tokens": 1}))
    assert parse_task(_task("summarization", max_input_tokens=64, generation={"mode": "forward"}))
    assert parse_task(_task("image-captioning", generation={"mode": "fixed"})).generation.mode == "fixed"
