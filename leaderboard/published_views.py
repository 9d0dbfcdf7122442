"""Other projects' published measurements on the site (`harness.published`), as what they are.

They are never rated, ranked or averaged with this harness's results, nor with another source's: nothing here
reaches `leaderboard.rating` or a rating group. Every number is shown as the source wrote it, beside its unit as
written and the unit it was read in; what a source does not state is shown as not stated. What a visitor sees:

- `tasks/<task>.html` ("Published elsewhere"), for each harness task some source maps onto: one table per source and
  round and the source's own task, sorted by the source's own figure, with its stars (tied to its round), hardware
  and protocol facts; the index links to it after the task's own tables;
- on the index's answer card of a task with no GPU-measured result of this harness, the lowest figure of one source's
  table, labelled "published by <source> (<round>), not measured by this harness";
- on the model page of each model this harness measured, every figure known for it (ours and each source's) in one
  table, with the protocol facts that make them differ;
- `sources.html`: each source and round with its repository, commit, licence status and unit reading, the records
  whose task maps onto no harness task, and the models known only from published figures.

Loading the 2838 shipped records takes about 0.1 s, so a rebuild does without them: `Published.digest` (a hash of
the record files' bytes and of the catalogue) keys every page that shows them, and the little the index and the
fingerprints need (`Summary`) is kept in the site (`SUMMARY_FILE`) and reused while the digest is unchanged. The
records are parsed only when a page that shows them has to be rendered.

This module: the records (`Published`), their summary, the tables and the answer card, and how they are worded;
`leaderboard.published_pages`: the model pages' table and the pages themselves.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path, PurePosixPath

from harness.errors import HarnessError, NotFoundError
from harness.files import loads_json_bounded, read_bounded, unique_slug
from harness.published.catalogue import COLLECTIONS, ORIGINS, Collection, Origin
from harness.published.compare import their_facts
from harness.published.schema import FLAGS, PublishedRecord
from harness.published.store import load_published, published_folder
from leaderboard.pages import PageWriter, fingerprint

SUMMARY_FILE = ".leaderboard-published.json"
"""Where in the site the `Summary` of the published records is kept for the next build (not a page)."""

SUMMARY_FORMAT = 1

SOURCE_NAMES = {"mlenergy": "ML.ENERGY", "aies": "AI Energy Score"}
"""How a label names each source (`harness.published.schema.Source`); the round follows in brackets."""

UNIT_WORDS = {"Wh/1000 queries": "Wh per 1000 queries", "J/token": "J per output token", "J/request": "J per request",
              "J/image": "J per image", "J/video": "J per video"}
"""The normalised units (`harness.published.schema.NORMALISED_UNITS`) in words."""

CARD_UNIT = "Wh/1000 queries"
"""The unit of this harness's own headline: a source that publishes in it is preferred for an answer card."""

FACTS = ("hardware", "engine", "batching", "precision", "output length", "energy counted", "queries", "dataset")
"""The protocol facts a table or a model page sets side by side (`harness.published.compare.their_facts`'s, and the
dataset)."""

NOT_STATED = "not stated"


def source_label(source: str, round_: str) -> str:
    """`published by AI Energy Score (v1), not measured by this harness`: how every published figure is introduced
    where it could be mistaken for one of ours."""
    return f"published by {SOURCE_NAMES.get(source, source)} ({round_}), not measured by this harness"


def sentence(text: str) -> str:
    """`text` with its first letter in capitals (Jinja's `capitalize` would lower every other one)."""
    return text[:1].upper() + text[1:]


def plain(value: float | None) -> str:
    """A number from a record exactly as it is stored (the shortest form that reads back as the same float), in
    positional notation: nothing rounded, nothing added."""
    if value is None:
        return NOT_STATED
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text.removesuffix(".0")


def facts_of(record: PublishedRecord) -> dict[str, str]:
    """A record's protocol facts in words; what the source does not state is `not stated`."""
    return {**their_facts(record), "dataset": record.protocol.dataset or NOT_STATED}


def settings_words(record: PublishedRecord) -> str:
    return ", ".join(f"{key} {value}" for key, value in record.protocol.settings.items())


def model_key(name: str) -> str:
    """Models are matched by id without regard to case (`harness.published.store.records_for_model`)."""
    return name.strip().casefold()


def record_keys(record: PublishedRecord) -> set[str]:
    return {key for key in (model_key(record.model_id or ""), model_key(record.model)) if key}


def source_url(record: PublishedRecord) -> str:
    """The source file at its pinned commit (at the row, for a CSV line)."""
    p = record.provenance
    line = re.fullmatch(r"line (\d+)", p.row)
    return f"https://github.com/{p.repository}/blob/{p.commit}/{p.path}" + (f"#L{line.group(1)}" if line else "")


def source_text(record: PublishedRecord) -> str:
    """`gpqa.json, configurations[0]`: the file and the row, short enough for a table cell."""
    name = PurePosixPath(record.provenance.path).name
    return name if record.provenance.row == "whole file" else f"{name}, {record.provenance.row}"


def repository_url(origin: Origin) -> str:
    return f"https://github.com/{origin.repository}/tree/{origin.commit}"


def origin_of(collection: Collection) -> Origin:
    return ORIGINS[collection.importer]


# ---- the summary: what the index and the fingerprints need, without the records ----------------------------------


@dataclass(frozen=True)
class Card:
    """An answer card's published figure: the lowest of one source's table for the task, with what it is."""

    collection: str
    source: str
    round: str
    title: str
    """The collection's title (`AI Energy Score v1 (February 2025)`)."""
    model: str
    figure_name: str
    as_written: str
    unit_as_written: str | None
    unit_read_as: str
    value: float
    unit: str
    stars: int | None
    scope: str | None
    source_task: str
    hardware: str
    batching: str
    precision: str
    table_size: int
    anchor: str
    """The table's id on the task's published page."""

    @property
    def label(self) -> str:
        return source_label(self.source, self.round)

    @property
    def label_sentence(self) -> str:
        return sentence(self.label)

    @property
    def unit_words(self) -> str:
        return UNIT_WORDS.get(self.unit, self.unit)


@dataclass(frozen=True)
class CollectionCount:
    collection: str
    title: str
    records: int
    units: str
    """The units its figures for the task are normalised to, in words (`J per output token, J per request`)."""
    anchor: str
    """The first of its tables on the task's page."""


@dataclass(frozen=True)
class TaskSummary:
    task_id: str
    kind: str
    records: int
    collections: tuple[CollectionCount, ...]
    card: Card | None
    models: tuple[str, ...] = ()
    """The model keys of its records: its page changes only when one of them gets a model page of ours."""


@dataclass(frozen=True)
class Summary:
    """Enough of the published records for the index and every page's fingerprint; `digest` says which records."""

    digest: str
    records: int
    tasks: dict[str, TaskSummary]
    models: frozenset[str]
    """Every model key (`model_key`) some record has."""

    def has_model(self, model_id: str) -> bool:
        return model_key(model_id) in self.models

    def to_json(self) -> str:
        return json.dumps({"format": SUMMARY_FORMAT, "digest": self.digest, "records": self.records,
                           "tasks": [asdict(t) for t in self.tasks.values()], "models": sorted(self.models)},
                          sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Summary:
        """A summary written by `to_json`; anything else is a `ValueError` (or a `TypeError`, `KeyError`)."""
        data = loads_json_bounded(text, SUMMARY_FILE)
        if data.get("format") != SUMMARY_FORMAT:
            raise ValueError("another summary format")
        tasks = {}
        for item in data["tasks"]:
            card = Card(**item["card"]) if item["card"] is not None else None
            counts = tuple(CollectionCount(**c) for c in item["collections"])
            tasks[item["task_id"]] = TaskSummary(**{**item, "collections": counts, "card": card,
                                                    "models": tuple(item["models"])})
        models = data["models"]
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ValueError("models is not a list of names")
        return cls(digest=str(data["digest"]), records=int(data["records"]), tasks=tasks, models=frozenset(models))


# ---- tables ------------------------------------------------------------------------------------------------------


class PublishedRow:
    """One record as a row of a published table."""

    def __init__(self, record: PublishedRecord, facts: dict[str, str], model_href: str | None):
        self.record = record
        self.facts = facts
        self.model_href = model_href
        self.figures = {f.name: f for f in record.figures}
        self.url = source_url(record)
        self.source_text = source_text(record)
        self.settings = settings_words(record)
        self.flags = [FLAGS[f] for f in record.flags]

    @property
    def headline(self):
        return self.record.headline


class PublishedTable:
    """The records of one source and round for one of the source's tasks, sorted by the source's own figure; the
    protocol facts every row shares are said once, the others are columns."""

    def __init__(self, collection: Collection, records: Sequence[PublishedRecord],
                 model_hrefs: dict[str, str] | None = None):
        first = records[0]
        self.collection = collection
        self.origin = origin_of(collection)
        self.source_task = first.task.source_task
        self.source_task_title = first.task.source_task_title
        self.harness_task = first.task.harness_task
        self.note = first.task.note
        self.anchor = table_anchor(collection.id, self.source_task)
        self.label = source_label(first.source, first.round)
        self.label_sentence = sentence(self.label)
        hrefs = model_hrefs or {}
        ordered = sorted(records, key=lambda r: (r.headline.value, r.model.casefold(), r.id))
        self.rows = [PublishedRow(r, facts_of(r), next((hrefs[k] for k in sorted(record_keys(r)) if k in hrefs),
                                                       None)) for r in ordered]
        values = {fact: [] for fact in FACTS}
        for row in self.rows:
            for fact in FACTS:
                if row.facts[fact] not in values[fact]:
                    values[fact].append(row.facts[fact])
        self.constant = [(fact, v[0]) for fact, v in values.items() if len(v) == 1]
        self.varying = [fact for fact, v in values.items() if len(v) > 1]
        names: list[str] = []
        readings: list[tuple] = []
        for row in self.rows:
            for f in row.record.figures:
                if f.name not in names:
                    names.append(f.name)
                reading = (f.name, f.unit_as_written, f.unit_read_as, f.unit_basis, f.unit)
                if reading not in readings:
                    readings.append(reading)
        self.figure_names = names
        self.readings = readings
        """(figure name, unit as written, read as, why, normalised unit), each distinct reading once."""
        self.unit_per_row = len({r[0] for r in readings}) != len(readings)
        """Whether one figure name is read in more than one unit here (then each row says its own)."""
        self.show_normalised = any(float(r.headline.as_written) != r.headline.value for r in self.rows
                                   if is_number(r.headline.as_written))
        self.headline_unit = self.rows[0].headline.unit
        self.has_stars = any(r.record.rating is not None for r in self.rows)
        self.has_mean_batch = any(r.record.protocol.mean_batch_size is not None for r in self.rows)
        self.has_mean_tokens = any(r.record.protocol.mean_output_tokens is not None for r in self.rows)
        self.has_settings = any(r.settings for r in self.rows)
        self.has_flags = any(r.flags for r in self.rows)

    @property
    def caption(self) -> str:
        title = self.source_task_title or self.source_task
        words = f"{title} ({self.source_task})" if self.source_task_title else title
        return f"{self.collection.title}: {words}, {len(self.rows)} figures, {self.label}"

    @property
    def unit_words(self) -> str:
        return UNIT_WORDS.get(self.headline_unit, self.headline_unit)


def is_number(text: str) -> bool:
    """Whether a figure as written reads as a number (every importer checks it does; a page never assumes)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def task_slug(task_id: str) -> str:
    """The name of a task's published page (`tasks/<slug>.html`), as the index names the task's section."""
    return unique_slug(task_id)


def table_anchor(collection: str, source_task: str) -> str:
    return f"pub-{collection}-{unique_slug(source_task)}"


# ---- the records, loaded once and only when needed ---------------------------------------------------------------


class Published:
    """The published records of one folder for one build: their digest at once, the records on first use."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else published_folder()
        if not self.folder.is_dir():
            raise NotFoundError(f"published records folder {self.folder} does not exist")
        self.digest = _digest(self.folder)

    @cached_property
    def records(self) -> list[PublishedRecord]:
        return load_published(self.folder)

    def preload(self) -> None:
        """Parse and group the records now (before pages are rendered in forked workers, which would each do it)."""
        _ = self.by_table, self.by_model

    @cached_property
    def by_table(self) -> dict[tuple[str | None, str, str], list[PublishedRecord]]:
        """(harness task or None, collection, source task) -> its records, in collection order."""
        tables: dict[tuple[str | None, str, str], list[PublishedRecord]] = defaultdict(list)
        for record in self.records:
            tables[(record.task.harness_task, record.collection, record.task.source_task)].append(record)
        return tables

    @cached_property
    def by_model(self) -> dict[str, list[PublishedRecord]]:
        models: dict[str, list[PublishedRecord]] = defaultdict(list)
        for record in self.records:
            for key in record_keys(record):
                models[key].append(record)
        return models

    def tables(self, harness_task: str | None, model_hrefs: dict[str, str] | None = None) -> list[PublishedTable]:
        """The tables of a harness task (None: the records that map onto no harness task), in collection order."""
        order = list(COLLECTIONS)
        keys = sorted((k for k in self.by_table if k[0] == harness_task),
                      key=lambda k: (order.index(k[1]) if k[1] in order else len(order), k[2]))
        return [PublishedTable(COLLECTIONS[k[1]], self.by_table[k], model_hrefs) for k in keys]

    def for_model(self, model_id: str) -> list[PublishedRecord]:
        return self.by_model.get(model_key(model_id), [])

    def summary(self) -> Summary:
        tasks = {}
        harness_tasks = sorted({k[0] for k in self.by_table if k[0] is not None})
        for task_id in harness_tasks:
            tables = self.tables(task_id)
            counts: dict[str, list[PublishedTable]] = defaultdict(list)
            for table in tables:
                counts[table.collection.id].append(table)
            kind = tables[0].rows[0].record.task.harness_kind or task_id
            tasks[task_id] = TaskSummary(
                task_id=task_id, kind=kind, records=sum(len(t.rows) for t in tables),
                collections=tuple(CollectionCount(
                    collection=c, title=COLLECTIONS[c].title, records=sum(len(t.rows) for t in ts),
                    units=", ".join(dict.fromkeys(UNIT_WORDS.get(r[4], r[4]) for t in ts for r in t.readings)),
                    anchor=ts[0].anchor) for c, ts in counts.items()),
                card=_card(tables),
                models=tuple(sorted({k for t in tables for row in t.rows for k in record_keys(row.record)})))
        return Summary(digest=self.digest, records=len(self.records), tasks=tasks,
                       models=frozenset(self.by_model))

    def summary_in(self, writer: PageWriter) -> Summary:
        """The summary, kept in the site being written: the previous site's when the digest is unchanged (the
        records are not even parsed), else made from the records."""
        made: list[Summary] = []

        def make() -> str:
            made.append(self.summary())
            return made[0].to_json()

        writer.page(SUMMARY_FILE, fingerprint("published-summary", self.digest), make)
        if made:
            return made[0]
        try:
            kept = Summary.from_json(read_bounded(Path(writer.root) / SUMMARY_FILE))
            if kept.digest == self.digest:
                return kept
        except (HarnessError, OSError, ValueError, TypeError, KeyError, AttributeError):
            pass  # not one this code wrote: make it again
        summary = self.summary()
        writer.text(SUMMARY_FILE, summary.to_json())
        return summary


def _catalogue() -> str:
    """What the pages show of the catalogue and the flags, in one string (they are code, not records)."""
    return repr((sorted(COLLECTIONS.items()), sorted(ORIGINS.items()), sorted(FLAGS.items()), SUMMARY_FORMAT))


def _digest(folder: Path) -> str:
    digest = hashlib.sha1(_catalogue().encode("utf-8"))
    for collection in COLLECTIONS:
        path = folder / f"{collection}.jsonl"
        digest.update(f"\x1e{collection}\x1f".encode())
        if path.is_file():
            digest.update(read_bounded(path))
    return digest.hexdigest()


def _card(tables: list[PublishedTable]) -> Card | None:
    """The lowest figure of one source's table: a source that publishes in this harness's unit (Wh per 1000 queries,
    AI Energy Score's) first, its newest round first, then the others in catalogue order; the collection's largest
    table for the task. A row the source's own app does not show is never picked."""
    def preference(table: PublishedTable) -> tuple:
        return (table.headline_unit != CARD_UNIT, -_month(table.collection.published), -len(table.rows))

    for table in sorted(tables, key=preference):
        rows = [r for r in table.rows if "not-shown-by-source" not in r.record.flags]
        if not rows:
            continue
        record = rows[0].record  # the table is sorted by the source's own figure
        headline, rating, facts = record.headline, record.rating, rows[0].facts
        return Card(collection=record.collection, source=record.source, round=record.round,
                    title=table.collection.title, model=record.model, figure_name=headline.name,
                    as_written=headline.as_written, unit_as_written=headline.unit_as_written,
                    unit_read_as=headline.unit_read_as, value=headline.value, unit=headline.unit,
                    stars=rating.stars if rating else None, scope=rating.scope if rating else None,
                    source_task=table.source_task, hardware=facts["hardware"], batching=facts["batching"],
                    precision=facts["precision"], table_size=len(table.rows), anchor=table.anchor)
    return None


def _month(published: str) -> int:
    year, _, month = published.partition("-")
    return int(year) * 12 + int(month or 0)
