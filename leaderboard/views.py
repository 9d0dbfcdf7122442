"""How the site names and explains things to a visitor: task titles and order, what one query is, readable
model names and settings, the reference hardware, and the per-task summary ("the answer first").

Pure functions of `RunRecord`s and rows; the pages only print what these return.
"""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.kinds import KINDS
from leaderboard import carbon
from leaderboard.templating import sig

TASK_TITLES = {name: kind.title for name, kind in KINDS.items()}
"""Human names of the task kinds, in the order the index shows them (the order readers meet them)."""

SHIPPED_TASK_TITLES = {"text-gen-chat": "Chat (answers at natural length)"}
"""Names of the shipped tasks that are a mode of a kind rather than the kind itself (read before the kind's name)."""

REFERENCE_GPU = "H100"
"""AI Energy Score's reference GPU: its hardware classes are shown first and summarised; others apart."""


def task_title(task_id: str, task_kind: str) -> str:
    """`Text generation`, `Chat (answers at natural length)` for a shipped mode of a kind, or
    `Text generation (my-task)` for a custom task of a known kind."""
    if task_id in SHIPPED_TASK_TITLES:
        return SHIPPED_TASK_TITLES[task_id]
    title = TASK_TITLES.get(task_kind, task_kind)
    return title if task_id == task_kind else f"{title} ({task_id})"


def task_order(task_id: str, task_kind: str) -> tuple[int, str]:
    """Sort key: known kinds in `TASK_TITLES` order, then anything else by id."""
    kinds = list(TASK_TITLES)
    return (kinds.index(task_kind) if task_kind in kinds else len(kinds), task_id)


def _words(key: str) -> str:
    return key.split(".")[-1].replace("_", " ")


def settings_words(overrides_json: str) -> str:
    """Run overrides as words (`max new tokens 20, batch size 4`), never raw JSON; '' when none."""
    overrides = json.loads(overrides_json or "{}")
    return ", ".join(f"{_words(k)} {v}" for k, v in sorted(overrides.items()))


MODE_QUERIES = {
    # thinking on/off differs by run: the group titles say it
    "chat": "a chat prompt{cut} in the model's chat template, answered at the model's natural length, up to "
            "{max_new_tokens} tokens (greedy decoding)",
    "forward": "an article{cut} run through the model once, its decoder over the article shifted right (one forward "
               "pass, nothing generated, as AI Energy Score measures summarisation)",
}
"""One query of a generation mode other than `fixed`, for the kinds that take it (`KindDescriptor.modes`)."""


def describe_query(kind: str, spec: dict, batch_size: int) -> str:
    """One query of a task in plain words, from the resolved task spec the result recorded: its kind's
    `KindDescriptor.query` (or its mode's `MODE_QUERIES`) with the recorded settings filled in."""
    gen = spec.get("generation") or {}
    limit = spec.get("max_input_tokens")
    batch = f"; {batch_size} {'query' if batch_size == 1 else 'queries'} per batch"
    descriptor = KINDS.get(kind)
    if descriptor is None:
        return f"One query of task kind {kind}{batch}."
    mode = gen.get("mode")
    template = MODE_QUERIES[mode] if mode in descriptor.modes and mode in MODE_QUERIES else descriptor.query
    # Only the template's own fields are worked out: a value only another kind reads is never touched.
    values = {name: _QUERY_FIELDS[name](gen, limit, descriptor)
              for _, name, _, _ in string.Formatter().parse(template) if name}
    return f"One query: {template.format(**values)}{batch}."


def _out(gen: dict, descriptor) -> str:
    tokens = gen.get("max_new_tokens")
    noun, unknown = descriptor.output_words
    if tokens and gen.get("min_new_tokens") == tokens:
        return f"exactly {tokens} {noun}"
    return f"up to {tokens} {noun}" if tokens else unknown


_QUERY_FIELDS = {
    "cut": lambda gen, limit, _: f" (at most {limit} tokens)" if limit else "",
    "each": lambda gen, limit, _: f" (each at most {limit} tokens)" if limit else "",
    "out": lambda gen, limit, descriptor: _out(gen, descriptor),
    "max_new_tokens": lambda gen, limit, _: gen.get("max_new_tokens"),
    "language": lambda gen, limit, _: (f" ({gen['language']}, {gen.get('task', 'transcribe')})"
                                       if gen.get("language") else ""),
    "size": lambda gen, limit, _: f"{gen['width']}×{gen['height']} " if gen.get("width") and gen.get("height") else "",
    "steps": lambda gen, limit, _: (f" with {gen['num_inference_steps']} denoising steps"
                                    if gen.get("num_inference_steps") else ""),
    "threshold": lambda gen, limit, _: (f" scored at least {gen['threshold']:g}"
                                        if gen.get("threshold") is not None else ""),
}
"""What each field of a `KindDescriptor.query` (or `MODE_QUERIES`) template says, from the recorded generation
settings, the input token limit and the kind."""


@dataclass(frozen=True)
class Demo:
    """A demonstration site (`harness demo`): tiny random-weight models run on a CPU, with cut-down settings.

    `task_specs` holds each task's own resolved spec as shipped (task id -> its JSON, with `num_queries` and
    `batch_size`), so the pages describe the real task and name the demo's settings as the demo's; a site found to
    be a demo from its results alone (every run used the `demo` preset) has none, and names its settings as the
    demo's only."""

    task_specs: dict = field(default_factory=dict)
    simulated_gpu: bool = False
    """Whether a stand-in GPU meter (the fake NVML) measured any run: the banner then says so."""

    @property
    def banner(self) -> str:
        on = "on a CPU with a simulated GPU" if self.simulated_gpu else "on a CPU"
        return (f"Demonstration: tiny random-weight models {on}; the numbers show the method, not any model's "
                f"cost.")


DEMO_PRESET = "demo"
"""The run preset of `harness demo` (configs/presets/demo.yaml): a site whose every run used it is a demonstration."""


def is_demo(runs: Sequence) -> bool:
    """Whether a set of runs (`RunRecord`s) is a demonstration: there are some, and every one used the demo
    preset."""
    return bool(runs) and all(r.preset == DEMO_PRESET for r in runs)


def demo_query(run) -> str:
    """What a demo run did, named as the demo's: `This demo ran 8 queries, one repetition, each cut down: a
    64×64 image with 2 denoising steps; 1 query per batch.`"""
    what = describe_query(run.task_kind, json.loads(run.query_spec_json or "{}"), run.batch_size)
    repeats = "one repetition" if run.repeats == 1 else f"{run.repeats} repetitions"
    return f"This demo ran {run.num_queries} queries, {repeats}, each cut down: {what.removeprefix('One query: ')}"


def task_query(kind: str, spec: dict) -> str:
    """The real task's query and size in words: `One query: ...; 1 query per batch. The task is 1000 queries.`"""
    return (f"{describe_query(kind, spec, int(spec.get('batch_size') or 1))} The task is "
            f"{spec.get('num_queries', '?')} queries.")


@dataclass(frozen=True)
class Summary:
    """The answer first: a task's most efficient rated model, per query and in everyday terms."""

    best_name: str
    best_href: str
    hardware_class: str
    wh_per_query: float
    phone_charge_pct: float
    web_searches: float
    worst_ratio: float | None
    num_models: int


def per_query(wh_per_1k: float) -> float:
    """Wh per query from Wh per 1000 queries (the unit results are published in)."""
    return wh_per_1k / 1000.0


def summarise(rows: Sequence) -> Summary | None:
    """Best and worst GPU-measured row (lowest and highest mean Wh); None when there is none."""
    measured = [r for r in rows if r.run.status == "gpu" and r.run.gpu_wh is not None]
    if not measured:
        return None
    ranked = sorted(measured, key=lambda r: (r.run.gpu_wh.mean, r.run.model_id))
    best, worst = ranked[0], ranked[-1]
    wh = per_query(best.run.gpu_wh.mean)
    return Summary(
        best_name=best.name, best_href=best.model_href, hardware_class=best.run.hardware_class,
        wh_per_query=wh, phone_charge_pct=wh / carbon.SMARTPHONE_CHARGE_WH * 100.0,
        web_searches=wh / carbon.WEB_SEARCH_WH,
        worst_ratio=worst.run.gpu_wh.mean / best.run.gpu_wh.mean if len(ranked) > 1 else None,
        num_models=len({r.run.model_id for r in measured}),
    )


def everyday(wh_per_query: float) -> str:
    """`0.2 % of a phone charge, or 0.7 web searches`: per-query equivalents readers already know."""
    return (f"{sig(wh_per_query / carbon.SMARTPHONE_CHARGE_WH * 100.0, 2)} % of a phone charge, or "
            f"{sig(wh_per_query / carbon.WEB_SEARCH_WH, 2)} web searches")


def is_reference(hardware_class: str) -> bool:
    """Hardware classes on the reference GPU come first and feed the summary."""
    return REFERENCE_GPU in hardware_class


@dataclass(frozen=True)
class ServedRow:
    """One served configuration (model, engine, concurrency) as a row of a task's "Served under load" table."""

    row: object
    """The entry's table row (`leaderboard.site.Row`): its run's `served` figures are what this row shows."""
    group: int
    """Which model (on which hardware) it is a configuration of: the latency limit picks one row per group."""
    group_name: str
    series: str
    """The plot's line and colour: the model, its engine and, where several, its hardware."""
    problem: str | None
    """Why it is never picked (unusable steady figures, non-standard conditions, a test meter); None: it may be."""

    @property
    def config_words(self) -> str:
        """`concurrency 8 on vllm 0.11.0`."""
        run, served = self.row.run, self.row.run.served
        engine = f"{run.engine} {served.engine_version}" if served.engine_version else run.engine
        return f"concurrency {served.concurrency} on {engine}"


@dataclass(frozen=True)
class ServedView:
    """A task's served runs: the rows (by model, hardware, engine, concurrency), the model groups in that order, and
    whether the table needs a hardware column."""

    rows: tuple[ServedRow, ...]
    groups: tuple[str, ...]
    show_hardware: bool

    @property
    def has_notes(self) -> bool:
        """Whether any row has something to say (why it is never picked, failed requests): else no Note column."""
        return any(s.problem or s.row.run.served.failed_requests for s in self.rows)

    @property
    def plotted(self) -> tuple[ServedRow, ...]:
        """The rows the plot shows: those whose steady figures may be used."""
        return tuple(s for s in self.rows if s.problem is None)


def served_problem(run) -> str | None:
    """Why a served run's configuration is never picked by the latency limit, in words; None when it may be."""
    if run.status == "test-meter":
        return "fake NVML meter (test run)"
    if run.status == "cpu":
        return "no GPU measurement"
    if run.status == "non-standard":
        return f"non-standard conditions ({'; '.join(run.non_standard_reasons)})"
    if run.served.unusable:
        return f"steady figures unusable: {run.served.unusable}"
    return None


def served_view(rows: Sequence) -> ServedView | None:
    """The "Served under load" section of a task from its rows (`leaderboard.site.Row`); None when no run of the
    task went through a server, so a task without served runs shows nothing new."""
    served = [r for r in rows if r.run.served is not None]
    if not served:
        return None
    served.sort(key=lambda r: (r.name.lower(), r.run.model_id, r.run.hardware_class, r.run.engine,
                               r.run.served.concurrency, r.run.run_id))
    show_hardware = len({r.run.hardware_class for r in served}) > 1
    groups: dict[tuple[str, str], int] = {}
    names: list[str] = []
    out = []
    for r in served:
        key = (r.run.model_id, r.run.hardware_class)
        if key not in groups:
            groups[key] = len(groups)
            names.append(f"{r.name} on {r.run.hardware_class}" if show_hardware else r.name)
        series = f"{r.name} · {r.run.engine}" + (f" · {r.run.hardware_class}" if show_hardware else "")
        out.append(ServedRow(r, groups[key], names[groups[key]], series, served_problem(r.run)))
    return ServedView(tuple(out), tuple(names), show_hardware)
