"""`harness compare RESULT`: a harness result beside what others published for the same model.

The published figure is shown as written and in its source's unit; ours is converted into that unit (never theirs
into ours), and the ratio is ours over theirs. Which figures are set side by side: the records whose model id (or
model as written) is the result's model id, compared without regard to case, and whose task maps onto the result's
task kind (those mapped onto the result's own task first). What differs is listed fact by fact, ours beside each
collection's: hardware, engine, batching, precision, output length, what energy is counted, queries. Nothing here
makes a published figure a harness one, and nothing averages or ranks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.published.catalogue import COLLECTIONS
from harness.published.schema import Figure, PublishedRecord
from harness.published.store import load_published, records_for_model
from harness.results.schema import ResultFile
from harness.results.store import load_result

J_PER_WH = 3600.0


@dataclass(frozen=True)
class FigurePair:
    """One published figure beside ours, in the published figure's unit."""

    figure: Figure
    ours: float | None
    """Our figure in `figure.unit`; None where this run measured nothing comparable."""

    @property
    def ratio(self) -> float | None:
        """Ours over theirs."""
        if self.ours is None or not self.figure.value:
            return None
        return self.ours / self.figure.value


@dataclass(frozen=True)
class Line:
    """One published record beside this result: each of its figures (headline first) with ours."""

    record: PublishedRecord
    pairs: tuple[FigurePair, ...]


@dataclass
class CollectionComparison:
    collection: str
    lines: list[Line]
    differences: list[tuple[str, str, str]]
    """(fact, ours, theirs), theirs joining the distinct values of the collection's matching records."""


@dataclass
class Comparison:
    result: ResultFile
    ours: dict[str, float]
    """Our figures by normalised unit (`harness.published.schema.NORMALISED_UNITS`)."""
    collections: list[CollectionComparison] = field(default_factory=list)
    other_tasks: dict[str, int] = field(default_factory=dict)
    """The same model's records in tasks of another kind or with no harness task: count by `collection: task`."""
    searched: int = 0

    @property
    def matched(self) -> int:
        return sum(len(c.lines) for c in self.collections) + sum(self.other_tasks.values())


def our_figures(result: ResultFile) -> dict[str, float]:
    """This result's GPU figures in each published unit it can be compared in: per 1000 queries, per request (query),
    per output token (the steady state's for a served run), per image."""
    figures, serving = result.figures, result.serving
    ours: dict[str, float] = {}
    per_1k = figures.gpu_energy_per_1k_queries_wh
    if per_1k is not None:
        ours["Wh/1000 queries"] = per_1k.mean
        ours["J/request"] = per_1k.mean * J_PER_WH / 1000
    if serving is not None and serving.gpu_energy_per_request_j is not None:
        ours["J/request"] = serving.gpu_energy_per_request_j.mean
    per_token = (serving.gpu_energy_per_output_token_j if serving is not None else None) \
        or figures.gpu_energy_per_output_token_j
    if per_token is not None:
        ours["J/token"] = per_token.mean
    if figures.images_per_wh is not None and figures.images_per_wh.mean > 0:
        ours["J/image"] = J_PER_WH / figures.images_per_wh.mean
    return ours


def _output_rule(result: ResultFile) -> str:
    generation = result.task.spec.get("generation") or {}
    mode, cap = generation.get("mode"), generation.get("max_new_tokens")
    lengths = f", mean {result.output_lengths.mean:.0f}" if result.output_lengths is not None else ""
    steps = generation.get("num_inference_steps")
    if steps is not None:
        size = {**generation, **(result.workload_settings or {})}
        shown = f", {size['height']}x{size['width']}" if size.get("height") and size.get("width") else ""
        return f"one image, {steps} steps{shown}"
    if mode == "chat":
        return f"natural length, capped at {cap} new tokens{lengths}"
    if mode == "forward":
        return "one forward pass (no generation)"
    if cap is not None:
        return f"{cap} new tokens (min = max)"
    return "none stated"


def our_facts(result: ResultFile) -> dict[str, str]:
    serving = result.serving
    engine = result.engine_name + (f" {result.engine.version}" if result.engine and result.engine.version else "")
    return {
        "hardware": result.hardware_class,
        "engine": engine,
        "batching": f"serving, concurrency {serving.concurrency}" if serving is not None
        else f"fixed batch {result.settings.batch_size}",
        "precision": result.model.dtype,
        "output length": _output_rule(result),
        "energy counted": f"GPU only ({result.environment.meter_backend}), "
        + ("steady state" if serving is not None else "the measured passes, idle included"),
        "queries": str(result.settings.num_queries),
    }


def their_facts(record: PublishedRecord) -> dict[str, str]:
    """The protocol facts of a record, worded as `our_facts` words ours (per-row means, such as the mean batch or the
    mean output length, are the line's, not the protocol's)."""
    p, hw = record.protocol, record.hardware
    count = f"{hw.num_gpus}x " if hw.num_gpus is not None else "(count not stated) "
    if p.batching == "serving":
        batching = f"serving, batch cap {p.max_concurrency}"
    elif p.batching == "fixed-batch":
        batching = f"fixed batch {p.batch_size}"
    else:
        batching = "not stated"
    length = p.output_length or "not stated"
    steps = p.settings.get("inference_steps", p.settings.get("Denoising steps"))
    if p.output_length is None and steps is not None:
        height, width = p.settings.get("image_height"), p.settings.get("image_width")
        length = f"one image, {steps} steps" + (f", {height}x{width}" if height and width else "")
    return {
        "hardware": f"{count}{hw.gpu or 'GPU not stated'}",
        "engine": " ".join(x for x in (p.engine, p.engine_version) if x) or "not stated",
        "batching": batching, "precision": p.precision or "not stated", "output length": length,
        "energy counted": p.energy_counted or "not stated",
        "queries": str(p.queries) if p.queries is not None else "not stated",
    }


def _differences(result: ResultFile, records: list[PublishedRecord]) -> list[tuple[str, str, str]]:
    ours = our_facts(result)
    theirs: dict[str, list[str]] = {fact: [] for fact in ours}
    for record in records:
        for fact, value in their_facts(record).items():
            if value not in theirs[fact]:
                theirs[fact].append(value)
    return [(fact, ours[fact], "; ".join(theirs[fact][:6]) + (f"; +{len(theirs[fact]) - 6} more"
                                                             if len(theirs[fact]) > 6 else ""))
            for fact in ours]


def _sort_key(result: ResultFile, record: PublishedRecord) -> tuple:
    """Nearest first: the result's own task, then the nearest batch size or concurrency, then the same GPU."""
    concurrency = result.serving.concurrency if result.serving is not None else result.settings.batch_size
    setting = record.protocol.max_concurrency or record.protocol.batch_size
    gpu = (record.hardware.gpu or "").casefold()
    return (record.task.harness_task != result.task.id, setting is None, abs((setting or 0) - concurrency),
            not gpu or gpu not in result.hardware_class.casefold())


def compare(result: ResultFile, records: list[PublishedRecord]) -> Comparison:
    """`result` beside the published `records` of its model."""
    comparison = Comparison(result=result, ours=our_figures(result), searched=len(records))
    same_model = records_for_model(records, result.model.id)
    by_collection: dict[str, list[PublishedRecord]] = {}
    for record in same_model:
        if record.task.harness_kind == result.task.kind:
            by_collection.setdefault(record.collection, []).append(record)
        else:
            key = f"{record.collection}: {record.task.source_task}"
            comparison.other_tasks[key] = comparison.other_tasks.get(key, 0) + 1
    for collection in COLLECTIONS:
        matching = sorted(by_collection.get(collection, []), key=lambda r: _sort_key(result, r))
        if not matching:
            continue
        lines = [Line(record=r, pairs=tuple(FigurePair(figure=f, ours=comparison.ours.get(f.unit)) for f in r.figures))
                 for r in matching]
        comparison.collections.append(CollectionComparison(collection=collection, lines=lines,
                                                           differences=_differences(result, matching)))
    return comparison


def compare_result_file(path: Path, published: Path | None = None) -> Comparison:
    """The result file at `path` beside every published record of its model (`published`: the records folder,
    default the shipped one)."""
    return compare(load_result(Path(path)), load_published(published))
