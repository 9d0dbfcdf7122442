"""The pages that show other projects' published figures (`leaderboard.published_views` says what they show and
how a rebuild avoids reading the records): the model page's "every figure known" table, the published task pages and
the sources page, and what the index and `data/index.json` say of them. `leaderboard.site` calls these.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.published.catalogue import COLLECTIONS
from harness.published.schema import FLAGS, PublishedRecord
from leaderboard.pages import PageWriter, fingerprint
from leaderboard.published_views import (
    FACTS,
    NOT_STATED,
    UNIT_WORDS,
    Published,
    Summary,
    TaskSummary,
    facts_of,
    is_number,
    model_key,
    origin_of,
    plain,
    record_keys,
    repository_url,
    source_label,
    source_text,
    source_url,
    table_anchor,
    task_slug,
)
from leaderboard.templating import render, sig, stars_text
from leaderboard.views import task_order, task_title

# ---- model pages -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownFigure:
    """One line of a model page's "every figure known" table: ours or a source's, with its protocol facts."""

    source: str
    label: str
    """`published by ..., not measured by this harness` ('' for ours)."""
    source_href: str | None
    measured_here: bool
    task: str
    figures: tuple[str, ...]
    """Each figure as written (ours: as this site rounds it), with the source's name for it; the headline first."""
    readings: tuple[str, ...]
    """Each figure's unit as written, as read and normalised (ours: what it is)."""
    stars: str
    facts: dict[str, str]
    link: str
    link_text: str
    note: str


@dataclass(frozen=True)
class ModelFigures:
    lines: tuple[KnownFigure, ...]
    sources: tuple[str, ...]
    """The sources in the table's order (this harness first)."""
    differences: tuple[tuple[str, bool, tuple[str, ...]], ...]
    """(fact, whether the sources differ in it, each source's values joined), one per fact."""


def _output_words(run) -> str:
    """How much a run's query produced, from the per-query settings it recorded (as `harness compare` says it)."""
    generation = json.loads(run.query_spec_json or "{}").get("generation") or {}
    mode, cap, steps = generation.get("mode"), generation.get("max_new_tokens"), generation.get("num_inference_steps")
    if steps is not None:
        size = f", {generation['height']}x{generation['width']}" if generation.get("height") and \
            generation.get("width") else ""
        return f"one image, {steps} steps{size}"
    if mode == "chat":
        lengths = f", mean {sig(run.output_lengths.mean)}" if run.output_lengths else ""
        return f"natural length, capped at {cap} new tokens{lengths}"
    if mode == "forward":
        return "one forward pass (no generation)"
    if cap is not None:
        exact = " (min = max)" if generation.get("min_new_tokens") == cap else ""
        return f"{cap} new tokens{exact}"
    return NOT_STATED


def run_facts(run) -> dict[str, str]:
    """A harness run's protocol facts, worded as `facts_of` words a record's (`harness.published.compare.our_facts`
    says the same of a result file)."""
    served = run.served
    engine = run.engine + (f" {served.engine_version}" if served is not None and served.engine_version else "")
    if run.status == "cpu":
        counted = "CPU only (no GPU measurement)"
    elif run.status == "test-meter":
        counted = "nothing real: the fake NVML meter (test run)"
    else:
        counted = f"GPU only ({run.meter_backend}), " + ("steady state" if served is not None
                                                          else "the measured passes, idle included")
    return {
        "hardware": run.hardware_class, "engine": engine or NOT_STATED,
        "batching": f"serving, concurrency {served.concurrency}" if served is not None
        else f"fixed batch {run.batch_size}",
        "precision": run.dtype, "output length": _output_words(run), "energy counted": counted,
        "queries": str(run.num_queries), "dataset": "this harness's task inputs",
    }


def _our_line(row, release_label: str) -> KnownFigure:
    run = row.run
    figures, note = [], ""
    if run.status in ("cpu", "test-meter"):
        figures, reading = ["no GPU figure"], ""
        note = row.unrated_reason
    else:
        if run.served is not None and run.served.j_per_token is not None:
            figures.append(f"{sig(run.served.j_per_token.mean)} J per output token (steady state)")
        if run.gpu_wh is not None:
            figures.append(f"{sig(run.gpu_wh.mean)} Wh per 1000 queries")
        if run.served is None and run.gpu_j_per_token is not None:
            figures.append(f"{sig(run.gpu_j_per_token.mean)} J per output token")
        figures, reading = figures or ["no GPU figure"], "GPU energy, measured by this harness"
        note = run.unrated_reason or ""
    stars = (f"{stars_text(row.stars)} (this harness, {release_label})" if row.stars is not None
             else "not rated")
    return KnownFigure(source="This harness", label="", source_href=None, measured_here=True,
                       task=task_title(run.task_id, run.task_kind), figures=tuple(figures),
                       readings=(reading,) if reading else (), stars=stars,
                       facts=run_facts(run), link=f"#{row.entry.slug}", link_text=f"run {run.run_id}", note=note)


def _reading(figure) -> str:
    """`joules as written, read as J per output token`; `no unit written, read as kWh per 1000 queries = 21.521125 Wh
    per 1000 queries` where the normalised value is another number."""
    written = f"{figure.unit_as_written} as written" if figure.unit_as_written else "no unit written"
    normalised = "" if is_number(figure.as_written) and float(figure.as_written) == figure.value else \
        f" = {plain(figure.value)} {UNIT_WORDS.get(figure.unit, figure.unit)}"
    return f"{written}, read as {figure.unit_read_as}{normalised}"


def _their_line(record: PublishedRecord) -> KnownFigure:
    collection = COLLECTIONS[record.collection]
    figures = tuple(f"{f.as_written} ({f.name})" for f in record.figures)
    readings = tuple(_reading(f) for f in record.figures)
    rating = record.rating
    stars = f"{stars_text(rating.stars)} ({collection.title}, among {rating.scope})" if rating else \
        "no rating published"
    task = record.task.source_task_title or record.task.source_task
    task += f" ({record.task.source_task})" if record.task.source_task_title else ""
    mapped = task_title(record.task.harness_task, record.task.harness_kind or "") if record.task.harness_task \
        else "no task of this harness"
    notes = [FLAGS[f] for f in record.flags]
    if record.model_variant:
        notes.insert(0, f"variant {record.model_variant}")
    return KnownFigure(source=collection.title, label=source_label(record.source, record.round),
                       source_href=f"sources.html#{collection.id}", measured_here=False,
                       task=f"{task} → {mapped}", figures=figures, readings=readings, stars=stars,
                       facts=facts_of(record), link=source_url(record), link_text=source_text(record),
                       note="; ".join(notes))


def model_figures(model_rows: Sequence, records: Iterable[PublishedRecord], release_label: str) -> ModelFigures:
    """Every figure known for one model: this harness's entries (`leaderboard.site.Row`) first, then each source's
    records in catalogue order (by the source's task, then its figure), with the protocol facts side by side."""
    order = list(COLLECTIONS)
    records = sorted(records, key=lambda r: (order.index(r.collection) if r.collection in order else len(order),
                                             r.task.source_task, r.headline.value, r.id))
    pairs = [("This harness", _our_line(row, release_label)) for row in model_rows]
    pairs += [(COLLECTIONS[r.collection].title, _their_line(r)) for r in records]
    sources = list(dict.fromkeys(["This harness"] + [source for source, _ in pairs]))
    by_source: dict[str, dict[str, list[str]]] = {s: {f: [] for f in FACTS} for s in sources}
    for source, line in pairs:
        for fact in FACTS:
            if line.facts[fact] not in by_source[source][fact]:
                by_source[source][fact].append(line.facts[fact])
    differences = []
    for fact in FACTS:
        values = tuple(_joined(by_source[s][fact]) for s in sources)
        differences.append((fact, len(set(values)) > 1, values))
    return ModelFigures(tuple(line for _, line in pairs), tuple(sources), tuple(differences))


def _joined(values: list[str], most: int = 6) -> str:
    shown = "; ".join(values[:most])
    return shown + (f"; and {len(values) - most} more" if len(values) > most else "") if values else "none"


# ---- pages -------------------------------------------------------------------------------------------------------


def model_hrefs(summary: Summary, slugs: dict[str, str], root: str = "") -> dict[str, str]:
    """The model pages of the models this harness measured that some source published figures for, by model key."""
    hrefs: dict[str, str] = {}
    for model_id in sorted(slugs):
        key = model_key(model_id)
        if key in summary.models and key not in hrefs:
            hrefs[key] = f"{root}models/{slugs[model_id]}.html"
    return hrefs


def schedule_pages(writer: PageWriter, published: Published, summary: Summary, settings: str,
                   hrefs: dict[str, str], context: dict) -> bool:
    """Queue the published task pages and the sources page (rendered, or reused when unchanged); whether any of them
    is to be rendered (then the records must be loaded before pages are rendered in forked workers)."""
    pending = len(writer.pending)
    linked = repr(sorted(hrefs.items()))
    for task in summary.tasks.values():
        slug = task_slug(task.task_id)
        own = repr([(key, hrefs[key]) for key in task.models if key in hrefs])  # the links this page holds
        writer.later(f"tasks/{slug}.html", fingerprint(settings, "published-task", task.task_id, summary.digest, own),
                     lambda task=task, slug=slug: render(
                         "published.html", task=task, title=task_title(task.task_id, task.kind), slug=slug,
                         tables=published.tables(task.task_id, {k: f"../{v}" for k, v in hrefs.items()}),
                         root="../", page="published", **template_helpers(), **context))
    known_here = sorted(hrefs)
    writer.later("sources.html", fingerprint(settings, "sources", summary.digest, linked),
                 lambda: render("sources.html", **sources_view(published, summary, known_here), root="",
                                page="sources", **template_helpers(), **context))
    return len(writer.pending) > pending


def template_helpers() -> dict[str, Callable]:
    return {"plain": plain, "unit_words": lambda unit: UNIT_WORDS.get(unit, unit), "repository_url": repository_url,
            "task_title": task_title, "task_slug": task_slug}


def sources_view(published: Published, summary: Summary, known_here: Sequence[str]) -> dict:
    """What the sources page shows: each collection with its origin, counts, unit readings, flags and where its
    records appear; the tables of records that map onto no harness task; the models known only from them."""
    collections = []
    unmapped = published.tables(None)
    for collection in COLLECTIONS.values():
        records = [r for r in published.records if r.collection == collection.id]
        tasks: dict[str, list[PublishedRecord]] = defaultdict(list)
        for record in records:
            tasks[record.task.source_task].append(record)
        readings = list(dict.fromkeys((r.headline.name, r.headline.unit_as_written, r.headline.unit_read_as,
                                       r.headline.unit_basis, r.headline.unit) for r in records))
        flags: dict[str, int] = defaultdict(int)
        for record in records:
            for flag in record.flags:
                flags[flag] += 1
        collections.append({
            "collection": collection, "origin": origin_of(collection), "records": len(records),
            "tasks": [(name, rs[0].task.source_task_title, len(rs), rs[0].task.harness_task, rs[0].task.harness_kind,
                       table_anchor(collection.id, name)) for name, rs in tasks.items()],
            "readings": readings, "flags": [(FLAGS[f], n) for f, n in flags.items()],
            "unmapped": [t for t in unmapped if t.collection.id == collection.id],
        })
    known = set(known_here)
    only: dict[str, list[PublishedRecord]] = defaultdict(list)
    for record in published.records:
        name = record.model_id or record.model
        if not record_keys(record) & known:
            only[name].append(record)
    only_published = [(name, ", ".join(dict.fromkeys(COLLECTIONS[r.collection].title for r in rs)), len(rs))
                      for name, rs in sorted(only.items(), key=lambda item: item[0].casefold())]
    tasks = sorted(summary.tasks.values(), key=lambda t: task_order(t.task_id, t.kind))
    return {"collections": collections, "only_published": only_published, "summary": summary, "task_list": tasks}


def open_published(option: bool | Path | str | None) -> Published | None:
    """The records a build shows: None with `False` (or None), the shipped ones with `True`, else those of the folder
    given (`harness leaderboard build --published-dir`)."""
    if option is None or option is False:
        return None
    return Published(None if option is True else Path(option))


def known_figures(published: Published | None, summary: Summary | None, model_id: str, model_rows: Sequence,
                  release_label: str) -> ModelFigures | None:
    """A model page's "every figure known" table; None when no source published a figure for the model (decided from
    the summary, so the records are not loaded for it)."""
    if published is None or summary is None or not summary.has_model(model_id):
        return None
    records = published.for_model(model_id)
    return model_figures(model_rows, records, release_label) if records else None


def index_data(summary: Summary) -> dict:
    """What `data/index.json` says of the published records: where their pages are, never their figures."""
    return {"sources_page": "sources.html", "records": summary.records,
            "tasks": [{"task_id": t.task_id, "page": f"tasks/{task_slug(t.task_id)}.html", "records": t.records,
                       "collections": {c.collection: c.records for c in t.collections}}
                      for t in sorted(summary.tasks.values(), key=lambda t: task_order(t.task_id, t.kind))]}


def published_only_view(task: TaskSummary) -> dict:
    """An index section for a task this harness has no result for, only published figures (the keys the index's
    task views have, empty)."""
    return {"id": task.task_id, "slug": task_slug(task.task_id), "kind": task.kind,
            "title": task_title(task.task_id, task.kind), "query": "", "summary": None, "summary_group": "",
            "groups": [], "rated": [], "unrated": [], "hardware": [], "served": None, "chart_rows": [], "chart_hw": 0,
            "published": task, "published_only": True}
