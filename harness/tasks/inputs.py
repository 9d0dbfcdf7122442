"""The inputs a run feeds its model: a built-in, seeded set per task kind, or a dataset.

Built-in sets need no hub access and are identical on every machine and Python version: they are drawn
from the word lists and templates in `harness/tasks/wordlists/` with `random.Random(seed)`, using only
`Random.random()` (the one method whose sequence Python guarantees across versions) and never `hash()`.
Item *i* of a set never depends on how many items were asked for, so the first N items of a set are the
same for every N.

Lengths, in words (whitespace-separated), follow `LENGTH_TARGETS`: for text generation, summarisation and
classification, a mixture of three equal components, one per source dataset of AI Energy Score's set (item i is
component i mod 3), each drawing its length from a piecewise-linear quantile function; the mixture's mean is the
reference set's published mean (docs/comparability.md says where each figure comes from and what is a choice).
Image prompts stay uniform in 10-30 words: no length figure is published for the reference's prompts.

An item is one query's input (`InputItem`): a string for text kinds, a tuple of strings for pair kinds, or a
decoded image or audio clip (an object with `content_bytes()`) for media kinds. A kind's built-in set is drawn by
the recipe its `KindDescriptor.builtin_items` names (seeded with its `builtin_seed`): text recipes are the
word-list generators below (`GENERATORS`, `LENGTH_TARGETS`), the others per-item makers in `ITEM_MAKERS`; kinds may
share a recipe. Dataset rows are read by the kind's input modality (`ROW_READERS`).

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
from harness.kinds import KINDS
from harness.tasks import audio, images, text_pairs
from harness.tasks.spec import LOCAL_DATASET_SUFFIXES, DatasetSource, TaskSpec, is_local_dataset

logger = logging.getLogger(__name__)

WORDLIST_FILE = Path(__file__).with_name("wordlists") / "builtin_v1.json"

BUILTIN_VERSIONS = {name: kind.builtin_version for name, kind in KINDS.items()}
"""Kind -> its built-in set's version (`KindDescriptor.builtin_version`)."""
BUILTIN_SEEDS = {name: kind.builtin_seed for name, kind in KINDS.items()}
"""Kind -> the seed its built-in set is drawn from (`KindDescriptor.builtin_seed`)."""


InputItem = Any
"""One query's input: `str` (text kinds), `tuple[str, ...]` (pair kinds: question and context, two sentences) or
an object with a `content_bytes() -> bytes` method (a decoded image or audio clip)."""

ItemMaker = Callable[[int], InputItem]
"""Builds item *i* of a non-text recipe's built-in set from the item's own seed (so item i never depends on how
many items were asked for). Seeded with `random.Random(seed).random()` or numpy's legacy `RandomState`, whose
streams are frozen across versions."""

RowReader = Callable[[Any, str], InputItem]
"""Turns one dataset row's value (of `DatasetSource.column`, or a tuple of `columns`) into an item, or raises
ValueError saying why the row cannot be used (the caller names the dataset, row and column)."""


def _text_row(value: Any, kind: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is not non-empty text")
    return value


DATASET_FOLDER: ContextVar[Path | None] = ContextVar("dataset_folder", default=None)
"""While rows are read: the local dataset file's folder, which relative file paths in its rows are relative to
(None for hub datasets: relative to the working directory)."""


def _image_row(value: Any, kind: str) -> Any:
    return images.read_image_row(value, kind, DATASET_FOLDER.get())


def _audio_row(value: Any, kind: str) -> Any:
    return audio.read_audio_row(value, kind, DATASET_FOLDER.get())


def _text_pair_row(value: Any, kind: str) -> tuple[str, ...]:
    if not all(isinstance(text, str) and text.strip() for text in value):
        raise ValueError("is not non-empty text in every column")
    return tuple(value)


ROW_READERS: dict[str, RowReader] = {
    "text": _text_row,
    "prompt": _text_row,
    "text-pair": _text_pair_row,
    "image": _image_row,
    "audio": _audio_row,
}
"""Input modality (`KindDescriptor.inputs`) -> the reader of a dataset row. A pair kind's reader gets a tuple of its
columns' values."""


def row_reader(kind: str) -> RowReader:
    """The reader of a kind's dataset rows (plain text for a kind this harness does not know)."""
    descriptor = KINDS.get(kind)
    return _text_row if descriptor is None else ROW_READERS[descriptor.inputs]


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


# ---------------------------------------------------------------------------------------------- lengths


@dataclass(frozen=True)
class UniformWords:
    """Every length in [low, high] equally likely."""

    low: int
    high: int

    def draw(self, draw: _Draw, index: int) -> tuple[str, int]:
        return "", draw.between(self.low, self.high)

    @property
    def bounds(self) -> tuple[int, int]:
        return self.low, self.high


@dataclass(frozen=True)
class Component:
    """One source's share of a mixture: its lengths given by quantile knots ((0, min), ..., (1, max)) in words,
    joined linearly. Sampling needs only `Random.random()`, a comparison and a multiply: the same on every machine."""

    name: str
    knots: tuple[tuple[float, float], ...]

    def words_at(self, u: float) -> int:
        """The length at quantile `u` (0 <= u < 1), rounded to whole words."""
        for (u0, w0), (u1, w1) in zip(self.knots, self.knots[1:], strict=False):
            if u < u1:
                return int(w0 + (w1 - w0) * (u - u0) / (u1 - u0) + 0.5)
        return int(self.knots[-1][1] + 0.5)

    def mean(self) -> float:
        return sum((u1 - u0) * (w0 + w1) / 2 for (u0, w0), (u1, w1) in zip(self.knots, self.knots[1:], strict=False))

    def cdf(self, words: float) -> float:
        """The share of this component's lengths at or below `words` (of the continuous quantile function)."""
        if words <= self.knots[0][1]:
            return 0.0
        for (u0, w0), (u1, w1) in zip(self.knots, self.knots[1:], strict=False):
            if words < w1:
                return u0 + (u1 - u0) * (words - w0) / (w1 - w0)
        return 1.0


_GOLDEN = 0.6180339887498949
"""The golden ratio's fractional part: its multiples mod 1 spread most evenly over [0, 1)."""


@dataclass(frozen=True)
class WordMixture:
    """Equal shares of components; item i belongs to component i mod k (k components) at quantile
    frac(j * 0.618...) with j = i // k, the golden-ratio sequence: every prefix of a set covers each component's
    quantiles evenly (so even a few hundred items match the target's mean and percentiles), and item i still
    depends on nothing but i. A multiply and an exact `%`: the same on every machine."""

    components: tuple[Component, ...]

    def draw(self, draw: _Draw, index: int) -> tuple[str, int]:
        share, step = divmod(index, len(self.components))
        component = self.components[step]
        return component.name, component.words_at((share * _GOLDEN) % 1.0)

    @property
    def bounds(self) -> tuple[int, int]:
        return (int(min(c.knots[0][1] for c in self.components)),
                int(max(c.knots[-1][1] for c in self.components) + 0.5))

    def mean(self) -> float:
        return sum(c.mean() for c in self.components) / len(self.components)

    def quantile(self, p: float) -> float:
        """The mixture's p-quantile in words (bisection on the mean of the components' CDFs)."""
        low, high = self.bounds
        low, high = float(low), float(high)
        for _ in range(60):
            middle = (low + high) / 2
            if sum(c.cdf(middle) for c in self.components) / len(self.components) < p:
                low = middle
            else:
                high = middle
        return (low + high) / 2


LengthTarget = UniformWords | WordMixture

REFERENCE_INPUT_TOKENS = {"prompts": 369_139, "articles": 383_715, "reviews": 156_925}
"""Input tokens of each reference set's 1000 queries (text generation, summarisation, text classification), by the
recipe that imitates it, as AI Energy Score's methodology publishes them (Table 1, "Input Tokens";
huggingface.github.io/AIEnergyScore). None is published for image prompts."""

WORDS_PER_TOKEN = 0.75
"""English words per subword token, the usual rule of thumb for BPE tokenizers (OpenAI: "1 token ~= 3/4 words"); the
methodology does not name the tokenizer it counted with, so the word targets are as exact as this ratio."""


def reference_mean_words(kind: str) -> float | None:
    """The mean words per query of the reference set a kind's built-in set imitates (published tokens / 1000 x
    `WORDS_PER_TOKEN`), or None."""
    tokens = REFERENCE_INPUT_TOKENS.get(KINDS[kind].builtin_items) if kind in KINDS else None
    return None if tokens is None else tokens / 1000 * WORDS_PER_TOKEN

# Knots are (quantile, words). Only each mixture's mean is a published figure (the reference's input tokens per
# query, Table 1 of AI Energy Score's methodology, at 0.75 words per token); the shares are the methodology's
# "equally sampling from three existing datasets"; each component's shape is a choice that keeps the sources'
# order (docs/comparability.md, "Input lengths").
LENGTH_TARGETS: dict[str, LengthTarget] = {
    "prompts": WordMixture((  # 369,139 tokens / 1000 queries -> 277 words
        Component("wikitext", ((0, 40), (0.5, 260), (0.9, 520), (1, 700))),
        Component("oscar", ((0, 60), (0.5, 330), (0.9, 700), (1, 900))),
        Component("ultrachat", ((0, 8), (0.5, 110), (0.9, 320), (1, 480))),
    )),
    "articles": WordMixture((  # 383,715 tokens / 1000 queries -> 288 words
        Component("cnn_dailymail", ((0, 150), (0.5, 500), (0.9, 920), (1, 1200))),
        Component("samsum", ((0, 15), (0.5, 75), (0.9, 190), (1, 300))),
        Component("arxiv", ((0, 70), (0.5, 200), (0.9, 340), (1, 450))),
    )),
    "reviews": WordMixture((  # 156,925 tokens / 1000 queries -> 118 words
        Component("imdb", ((0, 30), (0.5, 160), (0.9, 400), (1, 600))),
        Component("yelp", ((0, 5), (0.5, 95), (0.9, 260), (1, 400))),
        Component("tweet_eval", ((0, 6), (0.5, 18), (0.9, 28), (1, 40))),
    )),
    "image-prompts": UniformWords(10, 30),
}
"""Text recipe -> the distribution of its built-in items' lengths in words (whitespace-separated)."""

WORD_RANGES = {recipe: target.bounds for recipe, target in LENGTH_TARGETS.items()}
"""Inclusive range of each built-in item's length in words (from `LENGTH_TARGETS`)."""


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
        return self._fill_parts(self.pick(self.templates[template_group]))

    def fill_text(self, template: str, values: dict[str, str]) -> str:
        """`template`'s slots filled, each from `values` when it is there, else drawn and remembered in `values`
        (so two templates filled with the same `values` speak of the same things)."""
        return self._fill_parts(_split_template(template), values)

    def _fill_parts(self, template: tuple[Any, ...], values: dict[str, str] | None = None) -> str:
        parts = []
        for part in template:
            if isinstance(part, str):
                parts.append(part)
            elif values is None:
                parts.append(self._slot(part[0]))
            else:
                if part[0] not in values:
                    values[part[0]] = self._slot(part[0])
                parts.append(values[part[0]])
        return "".join(parts)

    def _slot(self, name: str) -> str:
        bounds = _NUMBER_SLOTS.get(name)
        if bounds is not None:
            return str(self.between(*bounds))
        return self.pick(self.words[name])


_WORD_AND_SPACE = re.compile(r"\S+\s*")


def _cut(text: str, target: int) -> str:
    """The first `target` words of `text` (separators between them kept), ending on a full stop if the cut fell
    mid-sentence."""
    pieces = _WORD_AND_SPACE.findall(text)
    if len(pieces) <= target:
        return text
    last = pieces[target - 1].rstrip()
    if not last.endswith((".", "?", "!", "\"")):
        last = last.rstrip(",;:") + "."
    return "".join(pieces[: target - 1]) + last


def _compose(first: Callable[[], str], more: Callable[[], str], target: int,
             separator: Callable[[], str] = lambda: " ") -> str:
    """Sentences until `target` words are reached, cut to exactly `target` (line and paragraph breaks kept)."""
    pieces = [first()]
    count = len(pieces[0].split())
    while count < target:
        sentence = more()
        pieces.append(separator())
        pieces.append(sentence)
        count += len(sentence.split())
    return _cut("".join(pieces), target)


def _paragraphs(draw: _Draw, low: int = 2, high: int = 5) -> Callable[[], str]:
    """A separator that starts a new paragraph every `low`-`high` sentences."""
    sentences_left = [draw.between(low, high)]

    def separator() -> str:
        sentences_left[0] -= 1
        if sentences_left[0] <= 0:
            sentences_left[0] = draw.between(low, high)
            return "\n\n"
        return " "

    return separator


# ---------------------------------------------------------------------------------------------- generators
# Each takes the draw, the item's component (a LENGTH_TARGETS component name, "" for uniform recipes) and its
# target length in words, and returns text of exactly that many words (image prompts: at least, up to the range).


def _news_article(draw: _Draw, target: int) -> str:
    def body() -> str:
        return draw.fill("news_closer") if draw.chance(0.05) else draw.fill("news_body")

    return _compose(lambda: draw.fill("news_lead"), body, target, _paragraphs(draw))


def _dialogue(draw: _Draw, target: int) -> str:
    """A messenger-style chat: one 'Name: sentence' line per turn, two or three speakers."""
    speakers = [draw.pick(draw.words["first_name"]) for _ in range(2 + draw.below(2))]

    def turn() -> str:
        sentence = draw.fill("text_gen_opener" if draw.chance(0.4) else "text_gen_followup")
        return f"{draw.pick(speakers)}: {sentence}"

    return _compose(turn, turn, target, lambda: "\n")


def _instructions(draw: _Draw, target: int) -> str:
    return _compose(lambda: draw.fill("text_gen_opener"), lambda: draw.fill("text_gen_followup"), target)


def _web_page(draw: _Draw, target: int) -> str:
    groups = ("news_body", "review_positive", "review_negative", "text_gen_followup")
    return _compose(lambda: draw.fill("news_lead"), lambda: draw.fill(draw.pick(groups)), target, _paragraphs(draw))


def _abstract(draw: _Draw, target: int) -> str:
    groups = ("text_gen_opener", "text_gen_followup", "news_body")
    return _compose(lambda: draw.fill("text_gen_opener"), lambda: draw.fill(draw.pick(groups)), target)


def _review(draw: _Draw, target: int) -> str:
    positive = draw.chance(0.5)
    closing = draw.fill("review_closer_positive" if positive else "review_closer_negative")
    group = "review_positive" if positive else "review_negative"
    closing_words = len(closing.split())
    if target < closing_words + 8:  # a tweet-length text: no room for the closing line; a mention opens it
        mention = f"@{draw.pick(draw.words['first_name'])}{draw.pick(draw.words['last_name'])}"
        return _compose(lambda: f"{mention} {draw.fill(group)}", lambda: draw.fill(group), target)
    body = _compose(lambda: draw.fill("review_opener"), lambda: draw.fill(group), target - closing_words)
    return f"{body} {closing}"


def _image_prompt(draw: _Draw, target: int) -> str:
    w = draw.words
    high = WORD_RANGES["image-prompts"][1]
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


ITEM_MAKERS: dict[str, ItemMaker] = {
    "questions-and-contexts": lambda seed: text_pairs.question_and_context(_Draw(seed), _compose),
    "sentence-pairs": lambda seed: text_pairs.sentence_pair(_Draw(seed)),
    **{table: images.make_image_maker(table) for table in images.IMAGE_SIZE_TABLES},
    "speech-clips": audio.speech_like_clip,
}
"""Recipe -> per-item maker, for recipes whose built-in items are not generated from `GENERATORS`."""

GENERATORS: dict[str, dict[str, Callable[[_Draw, int], str]]] = {
    "prompts": {"wikitext": _news_article, "oscar": _web_page, "ultrachat": _instructions},
    "articles": {"cnn_dailymail": _news_article, "samsum": _dialogue, "arxiv": _abstract},
    "reviews": {"imdb": _review, "yelp": _review, "tweet_eval": _review},
    "image-prompts": {"": _image_prompt},
}
"""Text recipe -> component name (as in `LENGTH_TARGETS`) -> the generator of that component's items."""


def has_recipe(recipe: str) -> bool:
    """Whether a built-in recipe (`KindDescriptor.builtin_items`) has code to draw its items."""
    return recipe in ITEM_MAKERS or (recipe in GENERATORS and recipe in LENGTH_TARGETS)


def _builtin_text(recipe: str, seed: int, index: int) -> str:
    draw = _Draw(seed)
    component, target = LENGTH_TARGETS[recipe].draw(draw, index)
    return GENERATORS[recipe][component](draw, target)


@functools.lru_cache(maxsize=8)
def builtin_items(kind: str, num_items: int) -> tuple[InputItem, ...]:
    """The first `num_items` items of a kind's built-in set (deterministic; cached)."""
    descriptor = KINDS.get(kind)
    if descriptor is None or not has_recipe(descriptor.builtin_items):
        raise ConfigError(f"no built-in input set for task kind {kind!r}")
    if num_items < 1:
        raise ConfigError(f"the number of inputs must be at least 1 (got {num_items})")
    recipe, base = descriptor.builtin_items, descriptor.builtin_seed * 1_000_003
    # One generator per item: item i does not depend on num_items, and the set can grow without changing.
    if recipe in ITEM_MAKERS:
        maker = ITEM_MAKERS[recipe]
        return tuple(maker(base + index) for index in range(num_items))
    return tuple(_builtin_text(recipe, base + index, index) for index in range(num_items))


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
    """The first `num_items` rows of the source's column (a tuple of its columns for pair kinds), cycled when the
    split is shorter (the name says so)."""
    table = _load_rows(source)
    columns = source.column_names
    for column in columns:
        if column not in table.column_names:
            raise ConfigError(
                f"dataset {source.path!r} has no column {column!r}; its columns are: {', '.join(table.column_names)}"
            )
    available = len(table)
    if available == 0:
        raise ConfigError(f"dataset {source.path!r} is empty")
    table = table.select(range(min(available, num_items)))
    for column in columns:
        if hasattr(table.features.get(column), "decode"):
            # An Image or Audio column: read its stored bytes, so an undecodable row is named, not a traceback.
            table = table.cast_column(column, type(table.features[column])(decode=False))
    per_column = [list(table[column]) for column in columns]
    values = per_column[0] if len(columns) == 1 else list(zip(*per_column))
    read_row = row_reader(kind)
    rows = []
    folder = DATASET_FOLDER.set(Path(source.path).expanduser().parent if is_local_dataset(source.path) else None)
    try:
        for index, value in enumerate(values):
            try:
                rows.append(read_row(value, kind))
            except ValueError as error:
                raise ConfigError(f"dataset {source.path!r}: row {index} of column {source.column_label!r} {error}"
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
        "column": source.column_label,
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
