"""Built-in input sets (deterministic, representative lengths, hashed) and dataset inputs (local files, offline hub)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from harness.errors import ConfigError, NotFoundError
from harness.kinds import KINDS, TASK_KINDS
from harness.results.schema import InputSetInfo
from harness.tasks.inputs import (
    BUILTIN_VERSIONS,
    LENGTH_TARGETS,
    WORD_RANGES,
    builtin_inputs,
    builtin_items,
    builtin_set_name,
    content_sha256,
    load_inputs,
    reference_mean_words,
)
from harness.tasks.overrides import apply_overrides
from harness.tasks.registry import load_task

# The content hash of each built-in set's first 1000 items. These pin the sets: if one changes (a word list,
# a template, a generator), results stop being comparable, so bump BUILTIN_VERSIONS and the tasks' versions
# and update the hash here.
PINNED_SHA256_1000 = {
    "text-gen": "2ea68ca3e9bdceb1ae6c6043cb1728975d2799c33c5c408d325920b472346321",
    "summarization": "fca16ace5499b4f34b6c86eb7cb421944db8f57b823f4abe31330b2df6fab9a9",
    "text-classification": "5ad76bc85617dd02322a527b566b2b8f76ee920672a8f4607fc096a578b15ea3",
    "image-gen": "9628eb85941c24cb5c86c4c02edb655e6d16e79eb4b4806125049c24e402dc90",
    # image kinds: their first 100 images (IMAGES_CHECKED)
    "image-classification": "c61939fe6d270fd1a4d04536453c5a39359e1a787bb74d18ef03367b1c60b96f",
    "object-detection": "db73d2577866c9e57f9b46e9a179e52119e77d7e9c557502cdf16bd5924961d2",
    "image-captioning": "85b584bfccd40f5f6c3414e5f1122922771a20e8c7a9a32fad23e28447455117",
    "question-answering": "b2b214b8f76f161e67eb8addab80bd5e4e8b35e87b0452a4ff1aa9c313e0f006",
    "sentence-similarity": "5508d060380e9b9506630256520ec983909ac7dd4023ec56b350a1539e4202ae",
    # speech-to-text: its first 100 clips (IMAGES_CHECKED)
    "speech-to-text": "19ad9611d66ae56953388c6dd7e0c737f114f94c062a4b4eb4d9989d2e4ffbb7",
}

IMAGES_CHECKED = 100
"""Image and audio sets are checked on their first 100 items: 1000 decoded images (or clips) would take a gigabyte
and many seconds."""


def checked(kind: str, n: int) -> int:
    return min(n, IMAGES_CHECKED) if KINDS[kind].inputs in ("image", "audio") else n


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_builtin_set_is_pinned(kind):
    info = builtin_inputs(kind, checked(kind, 1000)).info
    assert info["name"] == f"{kind}-builtin-v{BUILTIN_VERSIONS[kind]}" == builtin_set_name(kind)
    assert info["sha256"] == PINNED_SHA256_1000[kind], (
        f"the {kind} built-in set changed: bump its version in BUILTIN_VERSIONS and the task's version"
    )


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_builtin_set_is_deterministic_within_a_process(kind):
    first = builtin_inputs(kind, 50)
    builtin_items.cache_clear()
    second = builtin_inputs(kind, 50)
    assert first.items == second.items and first.info == second.info


def test_builtin_set_does_not_depend_on_the_hash_seed():
    code = "from harness.tasks.inputs import builtin_inputs as b; print(b('text-gen', 200).info['sha256'])"
    hashes = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        hashes.add(out.stdout.strip())
    assert hashes == {builtin_inputs("text-gen", 200).info["sha256"]}


WORDED_KINDS = ("text-gen", "summarization", "text-classification", "image-gen")
"""The kinds whose built-in items are drawn to a length in words (`LENGTH_TARGETS`, by their recipe)."""

SHAPED_KINDS = ("text-gen", "summarization", "text-classification")
"""The kinds whose built-in lengths reproduce a published reference mean (image prompts have none)."""


def target_of(kind: str):
    return LENGTH_TARGETS[KINDS[kind].builtin_items]


def test_the_worded_and_shaped_kinds_are_those_of_the_recipes():
    assert tuple(kind for kind in KINDS if KINDS[kind].builtin_items in WORD_RANGES) == WORDED_KINDS
    assert tuple(kind for kind in KINDS if reference_mean_words(kind) is not None) == SHAPED_KINDS

MEAN_TOLERANCE = 0.02
"""Built-in mean words per query within 2 % of the reference's published mean (and the mixture's own mean)."""
PERCENTILE_TOLERANCE = 0.03
"""Built-in p50 and p90 of 1000 items within 3 % of the mixture's own percentiles."""


def _percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _word_lengths(kind, n=1000):
    return [len(item.split()) for item in builtin_items(kind, n)]


@pytest.mark.parametrize("kind", WORDED_KINDS)
def test_builtin_lengths_stay_in_range_and_spread(kind):
    low, high = WORD_RANGES[KINDS[kind].builtin_items]
    lengths = _word_lengths(kind)
    assert min(lengths) >= low and max(lengths) <= high
    # Spread over the range, not piled at one end.
    assert max(lengths) - min(lengths) >= (high - low) // 2
    assert len(set(builtin_items(kind, 1000))) == 1000


@pytest.mark.parametrize("kind", SHAPED_KINDS)
def test_builtin_lengths_reproduce_the_reference_shape(kind):
    target = target_of(kind)
    published = reference_mean_words(kind)
    assert abs(target.mean() - published) <= MEAN_TOLERANCE * published
    for n in (300, 1000):  # a short run's prefix has the reference's mean too
        lengths = _word_lengths(kind, n)
        mean = sum(lengths) / n
        assert abs(mean - published) <= MEAN_TOLERANCE * published, (kind, n, mean, published)
    for p in (0.5, 0.9):
        expected = target.quantile(p)
        assert abs(_percentile(lengths, p) - expected) <= PERCENTILE_TOLERANCE * expected, (kind, p)


@pytest.mark.parametrize("kind", SHAPED_KINDS)
def test_each_component_holds_an_equal_share_with_its_own_lengths(kind):
    target = target_of(kind)
    k = len(target.components)
    lengths = _word_lengths(kind, 999)
    for step, component in enumerate(target.components):
        mine = lengths[step::k]
        assert len(mine) == 999 // k
        assert abs(sum(mine) / len(mine) - component.mean()) <= 0.03 * component.mean(), component.name
        low, high = component.knots[0][1], component.knots[-1][1]
        assert min(mine) >= low and max(mine) <= high


def test_text_gen_reaches_the_reference_length_where_the_old_set_did_not():
    # The first built-in set averaged about 40 words a prompt; the reference's queries average about 277.
    assert sum(_word_lengths("text-gen")) / 1000 > 250


@pytest.mark.parametrize("kind", TASK_KINDS)
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_builtin_set_has_exactly_n_items_and_a_stable_prefix(kind, n):
    n = checked(kind, n)
    inputs = builtin_inputs(kind, n)
    assert len(inputs.items) == n and inputs.info["num_items"] == n
    assert inputs.items == builtin_items(kind, checked(kind, 1000))[:n]
    InputSetInfo.model_validate(inputs.info)


def test_the_hash_covers_every_item():
    items = list(builtin_items("image-gen", 7))
    original = content_sha256(items)
    items[3] = items[3] + " "
    assert content_sha256(items) != original
    assert content_sha256(list(reversed(items))) != content_sha256(items)
    assert original == content_sha256(tuple(builtin_items("image-gen", 7)))


def test_summaries_read_like_their_sources():
    news, dialogue, abstract = builtin_items("summarization", 6)[3:6]  # components cycle cnn, samsum, arxiv
    assert news.count("\n\n") >= 3  # paragraphs
    assert news.rstrip().endswith((".", "\""))
    turns = dialogue.split("\n")
    assert len(turns) >= 3 and all(": " in turn for turn in turns[:-1])  # the cut may end the last turn early
    assert "\n" not in abstract


def test_load_inputs_uses_the_builtin_set_by_default():
    spec = load_task("text-classification")
    inputs = load_inputs(spec, 12)
    assert inputs.items == builtin_items("text-classification", 12)
    assert inputs.info["source"] == "builtin" and inputs.info["num_items"] == 12
    with pytest.raises(ConfigError):
        load_inputs(spec, 0)


# ---------------------------------------------------------------------------------------------- datasets


def dataset_spec(path, column="text"):
    return apply_overrides(load_task("text-gen"), {"inputs": "dataset", "dataset.path": str(path),
                                                   "dataset.column": column})


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_local_jsonl_dataset(tmp_path):
    path = write_jsonl(tmp_path / "prompts.jsonl", [{"text": f"prompt number {i}", "id": i} for i in range(10)])
    inputs = load_inputs(dataset_spec(path), 4)
    assert inputs.items == tuple(f"prompt number {i}" for i in range(4))
    info = InputSetInfo.model_validate(inputs.info)
    assert info.source == "file" and info.column == "text" and info.num_items == 4
    assert info.sha256 == content_sha256(inputs.items)


def test_local_csv_dataset(tmp_path):
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "review"])
        writer.writerows([[1, "great, really"], [0, "bad"], [1, "fine"]])
    inputs = load_inputs(dataset_spec(path, "review"), 3)
    assert inputs.items == ("great, really", "bad", "fine")


def test_missing_column_lists_the_columns(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "a", "label": 1}])
    with pytest.raises(ConfigError) as caught:
        load_inputs(dataset_spec(path, "text"), 1)
    assert "has no column 'text'; its columns are: prompt, label" in str(caught.value)


def test_short_dataset_is_cycled_and_says_so(tmp_path):
    path = write_jsonl(tmp_path / "few.jsonl", [{"text": t} for t in ("a b", "c d", "e f")])
    inputs = load_inputs(dataset_spec(path), 7)
    assert inputs.items == ("a b", "c d", "e f", "a b", "c d", "e f", "a b")
    assert "cycled: 3 rows repeated to 7" in inputs.info["name"] and inputs.info["num_items"] == 7


def test_empty_text_rows_are_refused(tmp_path):
    path = write_jsonl(tmp_path / "holes.jsonl", [{"text": "fine"}, {"text": "  "}])
    with pytest.raises(ConfigError, match="row 1 of column 'text'"):
        load_inputs(dataset_spec(path), 2)


def test_missing_local_file(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        load_inputs(dataset_spec(tmp_path / "absent.jsonl"), 2)


def test_hub_dataset_offline_fails_fast_with_one_line():
    assert os.environ.get("HF_DATASETS_OFFLINE") == "1"
    spec = apply_overrides(load_task("text-gen"), {"inputs": "dataset"})
    with pytest.raises(NotFoundError) as caught:
        load_inputs(spec, 5)
    message = str(caught.value)
    assert message.startswith("dataset 'AIEnergyScore/text_generation'") and "\n" not in message


class _Clip:
    """A stand-in media item: only its canonical bytes matter to the hash."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def content_bytes(self) -> bytes:
        return self.data


def test_the_hash_of_non_text_items_covers_every_item_and_its_order():
    clips = [_Clip(b"\x00\x01"), _Clip(b"\x02")]
    original = content_sha256(clips)
    assert content_sha256([_Clip(b"\x00\x01"), _Clip(b"\x03")]) != original
    assert content_sha256(list(reversed(clips))) != original
    # Length prefixes keep item boundaries: the same bytes split differently are different inputs.
    assert content_sha256([_Clip(b"\x00"), _Clip(b"\x01\x02")]) != original
    pairs = [("what is it?", "a context"), ("why?", "because")]
    assert content_sha256(pairs) != content_sha256([("what is it?", "a context")])
