"""The inputs a run feeds its model: a built-in, seeded set per task kind, or a dataset.

Built-in sets need no hub access and are identical on every machine and Python version: they are drawn
from the word lists and templates in `harness/tasks/wordlists/` with `random.Random(seed)`, using only
`Random.random()` (the one method whose sequence Python guarantees across versions) and never `hash()`.
Item *i* of a set never depends on how many items were asked for, so the first N items of a set are the
same for every N. Lengths are representative of each task, in words: prompts 20-60, articles 400-800,
reviews 40-200, image prompts 10-30.

An item is one query's input (`InputItem`): a string for text kinds, a tuple of strings for pair kinds, or a
decoded image or audio clip (an object with `content_bytes()`) for media kinds. Text kinds' sets come from the
word-list generators below; other kinds register a per-item maker in `ITEM_MAKERS` and, for datasets, a row
reader in `ROW_READERS`.

Every input set records its content hash: sha256 of the items as a JSON list (UTF-8, no spaces, no ASCII
escaping) when they are all strings, else of each item's canonical bytes, so any change to the inputs shows in
the result file. A change to a generator or a word list
bumps the set's version in `BUILTIN_VERSIONS` (its name, e.g. `text-gen-builtin-v1`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import random
import re
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, NotFoundError
from harness.tasks import images
from harness.tasks.spec import LOCAL_DATASET_SUFFIXES, DatasetSource, TaskSpec, is_local_dataset

logger = logging.getLogger(__name__)

WORDLIST_FILE = Path(__file__).with_name("wordlists") / "builtin_v1.json"

BUILTIN_VERSIONS = {"text-gen": 1, "summarization": 1, "text-classification": 1, "image-gen": 1,
                    "image-classification": 1, "object-detection": 1, "image-captioning": 1}
BUILTIN_SEEDS = {"text-gen": 101, "summarization": 202, "text-classification": 303, "image-gen": 404,
                 "image-classification": 707, "object-detection": 808, "image-captioning": 909}

WORD_RANGES = {
    "text-gen": (20, 60), "summarization": (400, 800), "text-classification": (40, 200), "image-gen": (10, 30),
}
"""Inclusive range of each built-in item's length in words (whitespace-separated)."""


InputItem = Any
"""One query's input: `str` (text kinds), `tuple[str, ...]` (pair kinds: question and context, two sentences) or
an object with a `content_bytes() -> bytes` method (a decoded image or audio clip)."""

ItemMaker = Callable[[int], InputItem]
"""Builds item *i* of a non-text kind's built-in set from the item's own seed (so item i never depends on how
many items were asked for). Seeded with `random.Random(seed).random()` or numpy's legacy `RandomState`, whose
streams are frozen across versions."""

ITEM_MAKERS: dict[str, ItemMaker] = {kind: images.make_image_maker(kind) for kind in images.SIZE_TABLE_BY_KIND}
"""Kind -> per-item maker, for kinds whose built-in items are not generated from the word lists."""

RowReader = Callable[[Any, str], InputItem]
"""Turns one dataset row's value (of `DatasetSource.column`) into an item, or raises ValueError saying why the
row cannot be used (the caller names the dataset, row and column)."""


def _text_row(value: Any, kind: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is not non-empty text")
    return value


DATASET_FOLDER: ContextVar[Path | None] = ContextVar("dataset_folder", default=None)
"""While rows are read: the local dataset file's folder, which relative file paths in its rows are relative to
(None for hub datasets: relative to the working directory)."""


def _image_row(value: Any, kind: str) -> Any:
    return images.read_image_row(value, kind, DATASET_FOLDER.get())


ROW_READERS: dict[str, RowReader] = {kind: _image_row for kind in images.SIZE_TABLE_BY_KIND}
"""Kind -> row reader, for kinds whose dataset rows are not plain text (`_text_row` is the default)."""


@dataclass(frozen=True)
class InputSet:
    """The items a repetition runs, in order, and `info` (validates as `harness.results.schema.InputSetInfo`)."""

    items: tuple[InputItem, ...]
    info: dict


def _item_bytes(item: InputItem) -> bytes:
    if isinstance(item, str | tuple | list):
        return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return item.content_bytes()


def content_sha256(items: Sequence[InputItem]) -> str:
    """sha256 (hex) of the items, the hash results record: a compact JSON list when every item is text (the
    hash every text set has always had), else each item's length-prefixed canonical bytes in order."""
    if all(isinstance(item, str) for item in items):
        text = json.dumps(list(items), ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    hasher = hashlib.sha256()
    for item in items:
        data = _item_bytes(item)
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


def builtin_set_name(kind: str) -> str:
    """The versioned name of a kind's built-in set, e.g. `text-gen-builtin-v1`."""
    return f"{kind}-builtin-v{BUILTIN_VERSIONS[kind]}"


# ---------------------------------------------------------------------------------------------- templates


@functools.cache
def _vocabulary() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[tuple[Any, ...], ...]]]:
    """Word lists and templates, parsed once. A template is a tuple of literal strings and slot names."""
    data = json.loads(WORDLIST_FILE.read_text(encoding="utf-8"))
    words = {name: tuple(values) for name, values in data["words"].items()}
    templates = {name: tuple(_split_template(t) for t in values) for name, values in data["templates"].items()}
    return words, templates


_SLOT = re.compile(r"\{([a-z_]+?)(\d?)\}")


def _split_template(template: str) -> tuple[Any, ...]:
    """'Explain {topic} to {audience}.' -> ('Explain ', ('topic',), ' to ', ('audience',), '.')."""
    parts: list[Any] = []
    position = 0
    for match in _SLOT.finditer(template):
        parts.append(template[position : match.start()])
        parts.append((match.group(1),))
        position = match.end()
    parts.append(template[position:])
    return tuple(part for part in parts if part != "")


_NUMBER_SLOTS = {
    "num": (3, 90), "n": (2, 5), "pct": (2, 45), "money": (4, 950), "year": (2027, 2036),
    "stars_positive": (4, 5), "stars_negative": (1, 2),
}
"""Template slots filled with an integer in [low, high] instead of a word."""


class _Draw:
    """Seeded choices built on `Random.random()` only (stable across Python versions)."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed).random
        self.words, self.templates = _vocabulary()

    def below(self, n: int) -> int:
        return int(self._random() * n)

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return low + self.below(high - low + 1)

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.below(len(options))]

    def chance(self, p: float) -> bool:
        return self._random() < p

    def fill(self, template_group: str) -> str:
        """A random template of the group with every slot filled."""
        template = self.pick(self.templates[template_group])
        return "".join(part if isinstance(part, str) else self._slot(part[0]) for part in template)

    def _slot(self, name: str) -> str:
        bounds = _NUMBER_SLOTS.get(name)
        if bounds is not None:
            return str(self.between(*bounds))
        return self.pick(self.words[name])


def _fit(words: list[str], low: int, high: int) -> list[str]:
    """Cut a word list to at most `high` words, ending on a full stop if the cut fell mid-sentence."""
    if len(words) <= high:
        return words
    words = words[:high]
    if not words[-1].endswith((".", "?", "!", "\"")):
        words[-1] = words[-1].rstrip(",;:") + "."
    return words


def _compose(draw: _Draw, first: Callable[[], str], more: Callable[[], str], low: int, high: int,
             separator: Callable[[], str] = lambda: " ") -> str:
    """Sentences until a random target length in [low, high] words is reached, cut to at most `high`."""
    target = draw.between(low, high)
    pieces = [first()]
    count = len(pieces[0].split())
    while count < target:
        sentence = more()
        pieces.append(separator())
        pieces.append(sentence)
        count += len(sentence.split())
    text = "".join(pieces)
    if count > high:
        paragraphs = text.split("\n\n")
        kept: list[str] = []
        budget = high
        for paragraph in paragraphs:
            words = paragraph.split(" ")
            if len(words) >= budget:
                kept.append(" ".join(_fit(words, low, budget)))
                break
            kept.append(paragraph)
            budget -= len(words)
        text = "\n\n".join(kept)
    return text


# ---------------------------------------------------------------------------------------------- generators


def _text_gen_prompt(draw: _Draw, low: int, high: int) -> str:
    return _compose(draw, lambda: draw.fill("text_gen_opener"), lambda: draw.fill("text_gen_followup"), low, high)


def _news_article(draw: _Draw, low: int, high: int) -> str:
    sentences_left = [draw.between(2, 4)]

    def separator() -> str:
        sentences_left[0] -= 1
        if sentences_left[0] <= 0:
            sentences_left[0] = draw.between(2, 5)
            return "\n\n"
        return " "

    def body() -> str:
        return draw.fill("news_closer") if draw.chance(0.05) else draw.fill("news_body")

    return _compose(draw, lambda: draw.fill("news_lead"), body, low, high, separator)


def _review(draw: _Draw, low: int, high: int) -> str:
    positive = draw.chance(0.5)
    closing = draw.fill("review_closer_positive" if positive else "review_closer_negative")
    body_words = draw.between(low, high) - len(closing.split())
    group = "review_positive" if positive else "review_negative"
    body = _compose(draw, lambda: draw.fill("review_opener"), lambda: draw.fill(group), body_words, body_words)
    return f"{body} {closing}"


def _image_prompt(draw: _Draw, low: int, high: int) -> str:
    w = draw.words
    target = draw.between(low, high)
    core = f"{draw.pick(w['style'])} of {draw.pick(w['subject'])} {draw.pick(w['action'])} {draw.pick(w['setting'])}"
    tags = (w["lighting"], w["detail"], w["camera"], w["detail"], w["detail"])
    pieces = [core]
    count = len(core.split())
    index = 0
    while count < target:
        tag = draw.pick(tags[index % len(tags)])
        pieces.append(tag)
        count += len(tag.split())
        index += 1
    words = ", ".join(pieces).split(" ")
    return " ".join(words[:high]).rstrip(",")


GENERATORS: dict[str, Callable[[_Draw, int, int], str]] = {
    "text-gen": _text_gen_prompt,
    "summarization": _news_article,
    "text-classification": _review,
    "image-gen": _image_prompt,
}


@functools.lru_cache(maxsize=8)
def builtin_items(kind: str, num_items: int) -> tuple[InputItem, ...]:
    """The first `num_items` items of a kind's built-in set (deterministic; cached)."""
    if kind not in GENERATORS and kind not in ITEM_MAKERS:
        raise ConfigError(f"no built-in input set for task kind {kind!r}")
    if num_items < 1:
        raise ConfigError(f"the number of inputs must be at least 1 (got {num_items})")
    base = BUILTIN_SEEDS[kind] * 1_000_003
    # One generator per item: item i does not depend on num_items, and the set can grow without changing.
    if kind in ITEM_MAKERS:
        maker = ITEM_MAKERS[kind]
        return tuple(maker(base + index) for index in range(num_items))
    low, high = WORD_RANGES[kind]
    generator = GENERATORS[kind]
    return tuple(generator(_Draw(base + index), low, high) for index in range(num_items))


def builtin_inputs(kind: str, num_items: int) -> InputSet:
    items = builtin_items(kind, num_items)
    info = {
        "source": "builtin", "name": builtin_set_name(kind), "revision": None, "split": None, "column": None,
        "num_items": len(items), "sha256": content_sha256(items),
    }
    return InputSet(items, info)


# ---------------------------------------------------------------------------------------------- datasets


def _load_rows(source: DatasetSource) -> Any:
    """The split as a `datasets.Dataset`; missing files, unknown ids and offline misses are one-line errors."""
    import datasets  # imported here: the built-in sets must not pay for it

    if is_local_dataset(source.path):
        path = Path(source.path).expanduser()
        if not path.is_file():
            raise NotFoundError(f"dataset file {path} does not exist")
        builder = LOCAL_DATASET_SUFFIXES[path.suffix.lower()]
        where = f"dataset file {path}"
        call = lambda: datasets.load_dataset(builder, data_files=str(path), split="train")  # noqa: E731
    else:
        where = f"dataset {source.path!r} (revision {source.revision}, split {source.split!r})"
        call = lambda: datasets.load_dataset(  # noqa: E731
            source.path, source.name, revision=source.revision, split=source.split
        )
    bars_were_on = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # "Generating train split" would break the one-line promise of an error
    try:
        return call()
    except Exception as error:  # datasets raises many types (offline, missing split, bad file): all user-fixable
        logger.debug("loading %s failed", where, exc_info=True)
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        raise NotFoundError(f"{where} could not be loaded: {error.__class__.__name__}: {first_line}") from None
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()


def dataset_inputs(source: DatasetSource, num_items: int, kind: str = "text-gen") -> InputSet:
    """The first `num_items` rows of `source.column`, cycled when the split is shorter (the name says so)."""
    table = _load_rows(source)
    if source.column not in table.column_names:
        raise ConfigError(
            f"dataset {source.path!r} has no column {source.column!r}; its columns are: {', '.join(table.column_names)}"
        )
    available = len(table)
    if available == 0:
        raise ConfigError(f"dataset {source.path!r} is empty")
    table = table.select(range(min(available, num_items)))
    if hasattr(table.features.get(source.column), "decode"):
        # An Image or Audio column: read its stored bytes, so an undecodable row is named, not a traceback.
        table = table.cast_column(source.column, type(table.features[source.column])(decode=False))
    values = list(table[source.column])
    read_row = ROW_READERS.get(kind, _text_row)
    rows = []
    folder = DATASET_FOLDER.set(Path(source.path).expanduser().parent if is_local_dataset(source.path) else None)
    try:
        for index, value in enumerate(values):
            try:
                rows.append(read_row(value, kind))
            except ValueError as error:
                raise ConfigError(f"dataset {source.path!r}: row {index} of column {source.column!r} {error}"
                                  ) from None
    finally:
        DATASET_FOLDER.reset(folder)
    name = source.path
    if available < num_items:
        repeats = math.ceil(num_items / available)
        rows = (rows * repeats)[:num_items]
        name = f"{source.path} (cycled: {available} rows repeated to {num_items})"
        logger.warning("%s has %d rows; cycling them to %d queries", source.path, available, num_items)
    local = is_local_dataset(source.path)
    info = {
        "source": "file" if local else "dataset",
        "name": name,
        "revision": None if local else source.revision,
        "split": None if local else source.split,
        "column": source.column,
        "num_items": len(rows),
        "sha256": content_sha256(rows),
    }
    return InputSet(tuple(rows), info)


def load_inputs(spec: TaskSpec, num_queries: int) -> InputSet:
    """Exactly `num_queries` inputs for the task: its built-in set, or its dataset when `inputs: dataset`."""
    if num_queries < 1:
        raise ConfigError(f"num_queries must be at least 1 (got {num_queries})")
    if spec.inputs == "builtin":
        return builtin_inputs(spec.kind, num_queries)
    if spec.dataset is None:
        raise ConfigError(f"task {spec.id!r} asks for dataset inputs but names no dataset")
    return dataset_inputs(spec.dataset, num_queries, spec.kind)
