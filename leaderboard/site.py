"""`harness leaderboard build`: every result file in, a static site out (works from `file://` and any host).

The site is written into a temporary folder next to `--out` and swapped in with renames only when every
page is written, so a failed build never leaves half a site and the previous site stays until then. The
folder as a whole is the atomic unit, which is why single files inside it are written plainly. A folder
that was not built by this command is never replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError, HarnessError, NotFoundError
from harness.files import csv_text, remove_stale_temporaries, temporary_prefix, umask, unique_slug
from harness.results.schema import readable_model_name
from harness.version import __version__
from leaderboard import carbon, plots, published_pages
from leaderboard.aggregate import (
    SIZE_CLASS_LIMITS,
    Board,
    Entry,
    Refusal,
    RunRecord,
    build_board,
    load_records,
    paused_gc,
    summary_cache,
)
from leaderboard.label import label_data, render_badge, render_label
from leaderboard.pages import PageWriter, fingerprint
from leaderboard.rating import (
    BANDINGS,
    MIN_GROUP_SIZE,
    MIN_RANGE_RATIO,
    RELEASES_DIR,
    RULES,
    UNRATED_REASONS,
    Rating,
    Release,
    find_release,
    list_releases,
    rate,
)
from leaderboard.templating import cache_compiled_templates, day, params, render, sig
from leaderboard.views import (
    REFERENCE_GPU,
    Demo,
    demo_query,
    describe_query,
    everyday,
    is_demo,
    is_reference,
    per_query,
    served_view,
    settings_words,
    summarise,
    task_order,
    task_query,
    task_title,
)

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
SITE_MARKER = ".leaderboard-site"
"""A file every built site holds; `--out` is only ever replaced when it holds it (or is empty)."""

TEMPLATES_CACHE_DIR = "templates"
"""Where in `--cache-dir` the compiled templates are kept (`leaderboard.templating.cache_compiled_templates`)."""

DOT_PLOT_MAX_ROWS = 40
"""The energy dot plot shows the most efficient rows; the tables below list every one."""


def _size_class_words() -> dict[str, str]:
    """`A: up to 20B parameters`, ... from the size class limits themselves."""
    words, lower = {}, None
    for name, limit in SIZE_CLASS_LIMITS:
        top = params(int(limit))
        words[name] = f"up to {top}" if lower is None else f"{params(int(lower))} to {top}"
        lower = limit
    words["C"] = f"over {params(int(lower))}"
    return {k: f"{v} parameters" for k, v in words.items()}


SIZE_CLASS_WORDS = _size_class_words()

@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the command's summary line and for tests."""

    out_dir: Path
    num_files: int
    num_runs: int
    num_entries: int
    refused: tuple[Refusal, ...]
    release_id: str
    banding: str
    index_bytes: int
    seconds: float
    pages_rendered: int = 0
    pages_reused: int = 0
    """Pages taken unchanged from the previous site (`leaderboard.pages`) instead of rendered."""


@dataclass(frozen=True)
class Row:
    """One entry as a table row: the entry, its rating, and derived figures."""

    entry: Entry
    rating: Rating | None
    model_href: str
    label_href: str
    badge_href: str
    derived: carbon.Derived | None
    unrated_reason: str

    @property
    def run(self) -> RunRecord:
        return self.entry.latest

    @property
    def stars(self) -> int | None:
        return self.rating.stars if self.rating else None

    @property
    def name(self) -> str:
        return readable_model_name(self.run.model_id, self.run.model_name)

    @property
    def wh_per_query(self) -> float | None:
        return per_query(self.run.gpu_wh.mean) if self.run.gpu_wh else None


def model_slugs(model_ids: Sequence[str]) -> dict[str, str]:
    """A page name per model id (`org__model`); no two ids share one (`harness.files.unique_slug`)."""
    return {model_id: unique_slug(model_id, model_id.replace("/", "__"), lambda slug: slug.replace("__", "/"))
            for model_id in model_ids}


def _figure_json(figure) -> dict | None:
    if figure is None:
        return None
    return {"mean": figure.mean, "ci95_low": figure.ci95_low, "ci95_high": figure.ci95_high, "n": figure.n}


def _row_json(row: Row) -> dict:
    run = row.run
    return {
        "model_id": run.model_id,
        "model_name": row.name,
        "gpu_energy_per_query_wh": row.wh_per_query,
        "num_parameters": run.num_parameters,
        "task_id": run.task_id,
        "task_version": run.task_version,
        "hardware_class": run.hardware_class,
        "size_class": run.size_class,
        "workload": run.workload,
        "status": run.status,
        "run_id": run.run_id,
        "created_at": run.created_at.isoformat(),
        "harness_version": run.harness_version,
        "source": run.source,
        "gpu_energy_per_1k_queries_wh": _figure_json(run.gpu_wh),
        "gpu_energy_above_idle_per_1k_queries_wh": _figure_json(run.gpu_above_idle_wh),
        "gpu_mean_power_w": _figure_json(run.gpu_power_w),
        "cpu_energy_per_1k_queries_wh": _figure_json(run.cpu_wh),
        "cpu_energy_estimated": run.cpu_estimated,
        "latency_p50_s": _figure_json(run.latency_p50_s),
        "latency_p95_s": _figure_json(run.latency_p95_s),
        "throughput_queries_per_s": _figure_json(run.throughput_qps),
        "gpu_energy_per_output_token_j": _figure_json(run.gpu_j_per_token),
        "output_lengths": dataclasses.asdict(run.output_lengths) if run.output_lengths else None,
        "batch_size": run.batch_size,
        "dtype": run.dtype,
        "stars": row.stars,
        "rating_release": row.rating.release_id if row.rating else None,
        "co2e_per_1k_queries_g": row.derived.co2e_g if row.derived else None,
        "older_run_ids": [r.run_id for r in row.entry.older],
        "model_page": row.model_href,
        "label": row.label_href,
        **({"serving": _served_json(run)} if run.served else {}),  # only served runs: other entries keep their keys
    }


def _served_json(run: RunRecord) -> dict:
    """A served run's figures for the task's JSON, with units in their names."""
    s = run.served
    return {"concurrency": s.concurrency, "batch_cap": s.batch_cap, "engine": run.engine,
            "engine_version": s.engine_version, "requests": s.requests, "failed_requests": s.failed_requests,
            "gpu_energy_per_output_token_j": _figure_json(s.j_per_token), "output_tokens_per_s": s.tokens_per_s,
            "gpu_mean_power_w": s.power_w, "steady_window_s": s.steady_window_s, "steady_unusable": s.unusable,
            "inter_token_latency_p50_s": s.itl_p50_s, "inter_token_latency_p90_s": s.itl_p90_s,
            "ttft_p50_s": s.ttft_p50_s, "e2e_latency_p50_s": s.e2e_p50_s,
            "gpu_energy_per_request_j": s.request_j, "gpu_prefill_energy_per_request_j": s.prefill_request_j,
            "gpu_decode_energy_per_request_j": s.decode_request_j, "attributed_share": s.attributed_share}


CSV_COLUMNS = ("model_id", "num_parameters", "task_id", "hardware_class", "size_class", "workload", "status",
               "stars", "rating_release", "gpu_energy_per_1k_queries_wh", "gpu_energy_ci95_low_wh",
               "gpu_energy_ci95_high_wh", "co2e_per_1k_queries_g", "latency_p50_s", "throughput_queries_per_s",
               "run_id", "created_at", "harness_version")


def _csv(rows: Sequence[Row]) -> str:
    return csv_text(CSV_COLUMNS, ([
        run.model_id, run.num_parameters, run.task_id, run.hardware_class, run.size_class or "", run.workload,
        run.status, row.stars if row.stars is not None else "", row.rating.release_id if row.rating else "",
        run.gpu_wh.mean if run.gpu_wh else "", run.gpu_wh.ci95_low if run.gpu_wh else "",
        run.gpu_wh.ci95_high if run.gpu_wh else "", row.derived.co2e_g if row.derived else "",
        run.latency_p50_s.mean, run.throughput_qps.mean, run.run_id, run.created_at.isoformat(),
        run.harness_version,
    ] for row in rows for run in [row.run]))


_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=False).encode
"""Without `indent`, json uses its C encoder (with it, the pure-Python one: most of the time of a large task file)."""


def _dump(data: dict) -> str:
    """Sorted keys, one top-level key per line and, in a list of objects, one object per line: a diff between two
    builds shows the entries that changed, and the C encoder stays in use."""
    lines = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            text = "[\n" + ",\n".join(f"  {_ENCODE(item)}" for item in value) + "\n ]"
        else:
            text = _ENCODE(value)
        lines.append(f" {_ENCODE(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.is_symlink():
        raise HarnessError(f"refusing to replace {out_dir}: it is a symbolic link (give the folder itself)")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise HarnessError(f"--out {out_dir} is a file, not a folder")
        if any(out_dir.iterdir()) and not (out_dir / SITE_MARKER).exists():
            raise HarnessError(f"refusing to replace {out_dir}: it is not empty and was not built by "
                               f"`harness leaderboard build`")


def _recover(out_dir: Path) -> None:
    """Put back what a killed build left beside `out_dir`: a previous site renamed aside in the instant between the
    two renames of a swap goes back to `out_dir` when nothing is there; staging folders of builds that are gone
    (and such a site, when `out_dir` is there) are removed (`harness.files.remove_stale_temporaries`)."""
    if not os.path.lexists(out_dir):
        for old in sorted(out_dir.parent.glob(f".{glob.escape(out_dir.name[:60])}.old-*.tmp"), reverse=True):
            if old.is_dir() and not old.is_symlink() and (old / SITE_MARKER).is_file():
                with contextlib.suppress(OSError):
                    old.rename(out_dir)
                    logger.warning("restored the previous site %s, left aside by a build that was killed", out_dir)
                    break
    remove_stale_temporaries(out_dir)


def _swap_in(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f"{temporary_prefix(out_dir, 'old-')}{time.time_ns()}.tmp")
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


PROTOCOL_WORDS = {"harness": "this harness's protocol", "aies": "AI Energy Score's protocol"}
"""How the site names the protocols of `harness.tasks.resolution.PROTOCOLS`."""


def release_group_title(group) -> str:
    """A release group's heading in words (task, size class, hardware, protocol); its key stays in the data.

    The protocol is read from the group's workload words (`RunRecord.workload` names it when it is not the
    default, `harness`): a release file records no other trace of it."""
    parts = [task_title(group.task_id, group.task_id)]
    if group.size_class:
        words = SIZE_CLASS_WORDS.get(group.size_class)
        parts.append(f"size class {group.size_class}" + (f" ({words})" if words else ""))
    parts.append(group.hardware_class)
    protocol = next((part.removeprefix("protocol ") for part in group.workload.split(" · ")
                     if part.startswith("protocol ")), "harness")
    parts.append(PROTOCOL_WORDS.get(protocol, f"protocol {protocol}"))
    return " · ".join(parts)


BASE_URL_PATTERN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%+-]+)*/?")
"""An http(s) address without query, fragment, quotes or spaces: it is pasted into Markdown and HTML snippets."""


def resolve_base_url(base_url: str | None) -> str | None:
    """`--base-url` without its trailing slash (None: snippets keep the `SITE/` placeholder); a bad one is an error."""
    if base_url is None:
        return None
    if not BASE_URL_PATTERN.fullmatch(base_url):
        raise ConfigError(f"--base-url {base_url!r} is not an http(s) address such as https://example.org/energy "
                          f"(no query, fragment, spaces or quotes)")
    return base_url.rstrip("/")


def resolve_options(release_id: str | None, banding: str | None, releases_dir: Path) -> tuple[Release | None, str]:
    """The release in force (named, else the latest, else none) and the banding; a conflict is an error."""
    if banding is not None and banding not in BANDINGS:
        raise ConfigError(f"unknown banding {banding!r} (choose from {', '.join(BANDINGS)})")
    release = find_release(release_id, releases_dir)
    if release is None:
        return None, banding or "linear"
    if banding is not None and banding != release.banding:
        raise ConfigError(f"release {release.release_id} froze {release.banding} bands; --banding {banding} "
                          f"applies only before a release (cut a new release to change it)")
    return release, release.banding


def build_rows(board: Board, ratings: dict, slugs: dict[str, str], grid: carbon.GridIntensity,
               pue: float) -> dict[str, list[Row]]:
    rows: dict[str, list[Row]] = {}
    for task_id, task in board.tasks.items():
        task_rows = []
        for entry in (*task.rated, *task.unrated):
            run = entry.latest
            page = f"models/{slugs[run.model_id]}.html"
            base = f"labels/{slugs[run.model_id]}/{entry.slug}"
            derived = carbon.derive(run.gpu_wh.mean, grid, pue) if run.gpu_wh is not None else None
            task_rows.append(Row(entry, ratings.get(entry.key), page, f"{base}.svg", f"{base}-badge.svg",
                                 derived, UNRATED_REASONS.get(run.status, "")))
        rows[task_id] = task_rows
    return rows


@dataclass(frozen=True)
class GroupView:
    """One rating group as one table: its rows (most efficient first), title and star legend."""

    key: str
    table_id: str
    title: str
    reference: bool
    rows: list[Row]
    legend: list[tuple[int, str]]
    reason: str


def _legend(edges: Sequence[float] | None) -> list[tuple[int, str]]:
    """(stars, range in Wh per 1000 queries) for each band, best first."""
    if not edges:
        return []
    inner = edges[1:-1]
    bands = [(5, f"up to {sig(inner[0])}")]
    bands += [(4 - i, f"{sig(low)} to {sig(high)}") for i, (low, high) in enumerate(zip(inner, inner[1:]))]
    bands.append((1, f"above {sig(inner[-1])}"))
    return bands


def _group_title(run: RunRecord) -> str:
    parts = []
    if run.size_class:
        parts.append(f"Size class {run.size_class} ({SIZE_CLASS_WORDS[run.size_class]})")
    # The group is one workload (harness.results.identity): its title says what the work is, never how one
    # run's settings happened to be typed.
    parts += [run.hardware_class, f"task v{run.task_version}", f"{run.num_queries} queries",
              f"batch size {run.batch_size}", run.dtype]
    if run.generation_words:
        parts.append(run.generation_words)
    if run.served is not None:  # served runs are rated apart, by engine: their heading says so
        parts.append(f"served by {run.engine} (batch size = requests in flight)")
    return " · ".join(parts)


def group_views(task_slug: str, rated_rows: Sequence[Row]) -> list[GroupView]:
    """One view per rating group: reference hardware first, then size class, hardware and workload."""
    by_group: dict[str, list[Row]] = defaultdict(list)
    for row in rated_rows:
        by_group[row.entry.rating_group].append(row)
    views = []
    for key, members in by_group.items():
        first = members[0]
        rating = first.rating
        views.append(GroupView(
            key=key, table_id="", title=_group_title(first.run), reference=is_reference(first.run.hardware_class),
            rows=members, legend=_legend(rating.edges_wh if rating else None),
            reason=(rating.reason if rating and rating.stars is None else "")))
    views.sort(key=lambda v: (not v.reference, v.rows[0].run.size_class or "", v.rows[0].run.hardware_class,
                              v.key))
    return [GroupView(**{**v.__dict__, "table_id": f"tbl-{task_slug}-{i + 1}"}) for i, v in enumerate(views)]


def _task_view(task, task_rows: list[Row], demo: Demo | None = None) -> dict:
    task_slug = unique_slug(task.task_id)
    rated = [r for r in task_rows if r.run.status == "gpu"]
    reference = [r for r in rated if is_reference(r.run.hardware_class)]
    sample = (rated or task_rows)[0].run
    hardware = sorted({r.run.hardware_class for r in task_rows})
    # "x times as much" compares like with like: the models of the best model's own rating group (its size
    # class, hardware and workload), never a 70B model with a 1B one.
    pool = [r for r in (reference or rated) if r.run.gpu_wh is not None]
    best = min(pool, key=lambda r: (r.run.gpu_wh.mean, r.run.model_id), default=None)
    peers = [r for r in pool if r.entry.rating_group == best.entry.rating_group] if best else []
    return {
        "id": task.task_id, "slug": task_slug, "kind": task.task_kind,
        "title": task_title(task.task_id, task.task_kind),
        **_queries(task, sample, demo),
        "summary": summarise(peers), "summary_group": _group_title(best.run) if best else "",
        "groups": group_views(task_slug, rated), "rated": rated,
        "unrated": [r for r in task_rows if r.run.status != "gpu"], "hardware": hardware,
        "served": served_view(task_rows),
    }


def _queries(task, sample: RunRecord, demo: Demo | None) -> dict[str, str]:
    """What one query of the task is (`query`) and, on a demo site, what the demo ran instead (`demo_query`): the
    real task from its shipped spec where the demo gave it, else only what the demo ran, named as the demo's."""
    if demo is None:
        return {"query": describe_query(task.task_kind, json.loads(sample.query_spec_json), sample.batch_size),
                "demo_query": ""}
    if task.task_id in demo.task_specs:
        return {"query": task_query(task.task_kind, demo.task_specs[task.task_id]), "demo_query": demo_query(sample)}
    return {"query": demo_query(sample), "demo_query": ""}


def _chart_rows(view: dict) -> list[Row]:
    """What the charts plot: the reference-hardware rows (all rows when the task has none)."""
    return [r for r in view["rated"] if is_reference(r.run.hardware_class)] or view["rated"]


def point_label(row: Row, rows: Sequence[Row]) -> str:
    """A scatter point's label: the model's name, with what tells its points apart when it has several (a
    sweep): batch size, and precision or generation settings where those differ too."""
    own = [r for r in rows if r.run.model_id == row.run.model_id]
    if len(own) < 2:
        return row.name
    parts = [f"batch {row.run.batch_size}"]
    if len({r.run.dtype for r in own}) > 1:
        parts.append(row.run.dtype)
    if len({r.run.generation_words for r in own}) > 1 and row.run.generation_words:
        parts.append(row.run.generation_words)
    return f"{row.name} · {', '.join(parts)}"


def latency_points(rows: Sequence[Row], tag=lambda r: "") -> list[plots.Point]:
    """Energy against latency, one point per row; a model's points (its batch sizes) form one group, whose own
    Pareto frontier the plot draws."""
    return [plots.Point(point_label(r, rows), r.run.latency_p50_s.mean, per_query(r.run.gpu_wh.mean), tag(r),
                        r.run.model_id) for r in rows]


def model_frontiers(model_rows: Sequence[Row]) -> list[dict]:
    """The model page's energy-vs-latency plot for each task and hardware where it has several GPU-measured
    points (a sweep of batch sizes, say), with the points as a table."""
    by_task: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in model_rows:
        if row.run.status == "gpu":
            by_task[(row.run.task_id, row.run.hardware_class)].append(row)
    views = []
    for (task_id, hardware), rows in by_task.items():
        if len(rows) < 2:
            continue
        rows = sorted(rows, key=lambda r: (r.run.latency_p50_s.mean, r.run.batch_size))
        title = f"{task_title(task_id, rows[0].run.task_kind)} on {hardware}: energy vs latency"
        points = latency_points(rows)
        edge = {id(p) for p in plots.frontier(points)}
        views.append({"title": title, "svg": plots.energy_vs_latency_svg(points, title),
                      "points": [(r, id(p) in edge) for r, p in zip(rows, points)]})
    return views


def _task_plots(view: dict) -> dict[str, str]:
    """The task's charts as SVG files, drawn from `_chart_rows`."""
    rows = view["chart_rows"]
    series = {r.run.hardware_class for r in rows}
    tag = (lambda r: r.run.hardware_class) if len(series) > 1 else (lambda r: "")
    title = view["title"]
    best = sorted(rows, key=lambda r: r.run.gpu_wh.mean)[:DOT_PLOT_MAX_ROWS]
    dots = [plots.Dot(r.name, per_query(r.run.gpu_wh.mean), per_query(r.run.gpu_wh.ci95_low),
                      per_query(r.run.gpu_wh.ci95_high), tag(r)) for r in best]
    latency = latency_points(rows, tag)
    size = [plots.Point(r.name, r.run.num_parameters, per_query(r.run.gpu_wh.mean), tag(r)) for r in rows]
    return {
        "energy": plots.energy_dots_svg(dots, f"{title}: GPU energy per query", "GPU Wh per query (linear scale)"),
        "latency": plots.energy_vs_latency_svg(latency, f"{title}: energy vs latency per query"),
        "params": plots.energy_vs_params_svg(size, f"{title}: energy vs parameters"),
    }


PLOT_KINDS = ("energy", "latency", "params")


def _served_plot(view: dict) -> str:
    """The task's served runs: J per output token against inter-token latency, a line per model and engine."""
    points = [plots.Point(f"c={s.row.run.served.concurrency}", s.row.run.served.itl_p50_s,
                          s.row.run.served.j_per_token.mean, s.series, s.series) for s in view["served"].plotted]
    return plots.served_frontier_svg(points, f"{view['title']}: served under load, energy vs inter-token latency")


def _lazy(make):
    """`make()` computed on first call and remembered: work shared by pages that may all be reused."""
    made = []
    return lambda: made[0] if made else made.append(make()) or made[0]


def _row_fingerprint(row: Row) -> str | None:
    """What a row shows rests on its runs' bytes and sources, its rating, derived figures and links."""
    runs = (row.entry.latest, *row.entry.older)
    return fingerprint(*(f"{r.digest}\x1f{r.source}" if r.digest else None for r in runs), repr(row.rating),
                       repr(row.derived), row.model_href, row.label_href, row.badge_href, row.unrated_reason)


def _settings_fingerprint(context: dict) -> str:
    """The build's settings every page shows (release, bands, grid, PUE, ...); the day of the data only the index
    shows (`as_of`), so a newer file does not change every page."""
    release = context["release"]
    plain = sorted((k, repr(v)) for k, v in context.items()
                   if k not in ("release", "as_of", "refused") and not callable(v))
    return fingerprint(repr(plain), release.model_dump_json() if release else "")


def _model_page(model_id: str, model_rows: list[Row], context: dict,
                known: published_pages.ModelFigures | None = None) -> str:
    timelines = [
        plots.timeline_svg([(f"GPU {t.gpu_index}", t.t_s, t.power_w) for t in row.run.timelines],
                           f"Power timeline · run {row.run.run_id}")
        for row in model_rows
    ]
    return render("model.html", model_id=model_id, model_name=model_rows[0].name, rows=model_rows,
                  timelines=timelines, frontiers=model_frontiers(model_rows),
                  num_parameters=model_rows[0].run.num_parameters, root="../", page="model",
                  task_title=task_title, everyday=everyday, settings_words=settings_words, known=known, **context)


def _demo_site(demo: bool | Demo, records: Sequence[RunRecord]) -> Demo | None:
    """The build's demonstration, if it is one (asked for, or every run used the demo preset); None otherwise."""
    if demo is False and not is_demo(records):
        return None
    demo = demo if isinstance(demo, Demo) else Demo()
    return dataclasses.replace(demo, simulated_gpu=demo.simulated_gpu or any(r.status == "test-meter" for r in records))


def build_site(results_dir: Path, out_dir: Path, *, release_id: str | None = None, banding: str | None = None,
               grid: str = carbon.DEFAULT_GRID, pue: str | float = 1.0, releases_dir: Path = RELEASES_DIR,
               workers: int | None = None, cache_dir: Path | None = None, base_url: str | None = None,
               published: bool | Path = False, demo: bool | Demo = False) -> BuildReport:
    """Build the whole site from `results_dir` into `out_dir`; see the module docstring for the guarantees.

    `cache_dir` keeps checked summaries between builds (`leaderboard.cache`); None checks every file. Pages
    whose inputs are unchanged are taken from the site being replaced (`leaderboard.pages`). `base_url`, the
    address the site is published at, fills in the embed snippets (None: they keep a `SITE/` placeholder).
    `published`: other projects' published figures to show beside the results (`leaderboard.published_pages`):
    True for the shipped records (the command's default), a folder for those in it, False for none.
    `demo`: the site is a demonstration (`harness demo` passes a `views.Demo` with the real tasks' specs); every page
    then says so in a banner. A site whose every run used the `demo` preset is one too, whatever `demo` says.
    """
    started = time.perf_counter()
    base_url = resolve_base_url(base_url)
    with paused_gc():
        report = _build(Path(results_dir), Path(out_dir), release_id, banding, grid, pue, releases_dir, workers,
                        cache_dir, base_url, published, demo)
    return dataclasses.replace(report, seconds=time.perf_counter() - started)


def _build(results_dir: Path, out_dir: Path, release_id: str | None, banding: str | None, grid: str,
           pue: str | float, releases_dir: Path, workers: int | None, cache_dir: Path | None,
           base_url: str | None, published: bool | Path = False, demo: bool | Demo = False) -> BuildReport:
    started = time.perf_counter()
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    if not results_dir.exists():
        raise NotFoundError(f"results folder {results_dir} does not exist")
    grid_info = carbon.resolve_grid(grid)
    pue_value = carbon.resolve_pue(pue)
    release, banding = resolve_options(release_id, banding, releases_dir)
    _recover(out_dir)
    _check_out_dir(out_dir)
    published_set = published_pages.open_published(published)

    cache = summary_cache(cache_dir) if cache_dir is not None else None
    records, refused, num_files = load_records(results_dir, workers=workers, cache=cache)
    board = build_board(records, refused, num_files)
    demo_site = _demo_site(demo, records)
    cache_compiled_templates(Path(cache_dir) / TEMPLATES_CACHE_DIR if cache_dir is not None else None)
    all_entries = [e for task in board.tasks.values() for e in task.rated]
    ratings = rate(all_entries, release, banding)
    slugs = model_slugs(list(board.models))
    rows = build_rows(board, ratings, slugs, grid_info, pue_value)
    rows_by_model: dict[str, list[Row]] = defaultdict(list)
    for task_rows in rows.values():
        for row in task_rows:
            rows_by_model[row.run.model_id].append(row)
    release_label = release.release_id if release else "provisional"
    as_of = max((r.run.created_at for rs in rows.values() for r in rs), default=None)
    context = {
        "release": release, "release_label": release_label, "banding": banding, "rule": RULES[banding],
        "grid": grid_info, "pue": pue_value, "harness_version": __version__, "as_of": as_of,
        "grids": list(carbon.GRID_INTENSITIES.values()), "pue_presets": list(carbon.PUE_PRESETS.values()),
        "smartphone_wh": carbon.SMARTPHONE_CHARGE_WH, "smartphone_source": carbon.SMARTPHONE_CHARGE_SOURCE,
        "search_wh": carbon.WEB_SEARCH_WH, "search_source": carbon.WEB_SEARCH_SOURCE,
        "led_w": carbon.LED_BULB_W, "refused": board.refused, "min_group_size": MIN_GROUP_SIZE,
        "min_range_ratio": MIN_RANGE_RATIO, "size_class_words": SIZE_CLASS_WORDS, "reference_gpu": REFERENCE_GPU,
        "base_url": base_url, "group_title": release_group_title,
        **({"has_published": True} if published_set is not None else {}),
        **({"demo": demo_site} if demo_site is not None else {}),
    }

    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(out_dir, "building-"), suffix=".tmp",
                                    dir=out_dir.parent))
    except OSError as error:
        raise HarnessError(f"cannot write the site to {out_dir}: {error.strerror or error}") from None
    try:
        tmp.chmod(0o777 & ~umask())  # mkdtemp makes it 0700: a web server as another user must read it
        writer = PageWriter(tmp, out_dir if (out_dir / SITE_MARKER).exists() else None)
        writer.text(SITE_MARKER, "Built by `harness leaderboard build`; this folder is replaced by the next build.\n")
        for name in ("site.css", "site.js"):
            writer.text(f"static/{name}", (STATIC_DIR / name).read_text(encoding="utf-8"))
        settings = _settings_fingerprint(context)
        row_keys = {id(row): _row_fingerprint(row) for task_rows in rows.values() for row in task_rows}
        tasks_view = []
        task_keys = []
        ordered = sorted(board.tasks.values(), key=lambda t: task_order(t.task_id, t.task_kind))
        for task in ordered:
            # Most efficient first: the order a visitor expects before sorting anything themselves.
            task_rows = sorted(rows[task.task_id], key=lambda r: (r.run.status != "gpu",
                                                                  r.run.gpu_wh.mean if r.run.gpu_wh else 0.0,
                                                                  r.run.model_id))
            view = _task_view(task, task_rows, demo_site)
            view["chart_rows"] = _chart_rows(view)
            view["chart_hw"] = len({r.run.hardware_class for r in view["chart_rows"]})
            key = fingerprint(settings, "task", task.task_id, task.task_kind, *(row_keys[id(r)] for r in task_rows))
            task_keys.append(key)
            plotted = _lazy(lambda view=view: _task_plots(view))
            for kind in PLOT_KINDS:
                writer.page(f"plots/{view['slug']}-{kind}.svg", fingerprint(key, kind),
                            lambda kind=kind, plotted=plotted: plotted()[kind])
            if view["served"] is not None and view["served"].plotted:
                writer.page(f"plots/{view['slug']}-served.svg", fingerprint(key, "served"),
                            lambda view=view: _served_plot(view))
            writer.later(f"data/tasks/{view['slug']}.json", fingerprint(key, "json"), lambda task=task, view=view,
                         task_rows=task_rows: _dump({
                             "task_id": task.task_id, "task_kind": task.task_kind, "task_title": view["title"],
                             "query": view["query"], "release": release_label, "banding": banding,
                             "grid": grid_info.code, "pue": pue_value,
                             "entries": [_row_json(r) for r in task_rows]}))
            writer.later(f"data/{view['slug']}.csv", fingerprint(key, "csv"), lambda task_rows=task_rows:
                         _csv(task_rows))
            tasks_view.append(view)
        # Other projects' published figures: their summary (kept in the site), sections and pages, never rated.
        summary = published_set.summary_in(writer) if published_set is not None else None
        index_tasks = list(tasks_view)
        for view in tasks_view:
            view.update(published=summary.tasks.get(view["id"]) if summary else None, published_only=False)
        if summary is not None:
            index_tasks += [published_pages.published_only_view(t) for t in summary.tasks.values()
                            if t.task_id not in board.tasks]
            index_tasks.sort(key=lambda v: task_order(v["id"], v["kind"]))
        index_key = fingerprint(settings, "index", day(as_of) if as_of else "", *task_keys,
                                *(f"{r.source}\x1f{r.reason}" for r in board.refused),
                                summary.digest if summary else "")
        # The index, task data and model pages render together (`flush`: in worker processes in a cold build).
        writer.later("index.html", index_key, lambda: render(
            "index.html", tasks=index_tasks, has_results=bool(tasks_view), root="", page="index",
            **published_pages.template_helpers(), **context))
        needs_records = False
        for model_id, model_rows in rows_by_model.items():
            slug = slugs[model_id]
            for row in model_rows:
                data = _lazy(lambda row=row: label_data(row.entry, row.rating, row.unrated_reason))
                writer.later(row.label_href, fingerprint(row_keys[id(row)], "label"),
                             lambda data=data: render_label(data()))
                writer.later(row.badge_href, fingerprint(row_keys[id(row)], "badge"),
                             lambda data=data: render_badge(data()))
            model_rows = sorted(model_rows, key=lambda r: task_order(r.run.task_id, r.run.task_kind))
            known_here = summary is not None and summary.has_model(model_id)
            pending = len(writer.pending)
            writer.later(f"models/{slug}.html",
                         fingerprint(settings, "model", model_id, *(row_keys[id(r)] for r in model_rows),
                                     summary.digest if known_here else ""),
                         lambda model_id=model_id, model_rows=model_rows: _model_page(
                             model_id, model_rows, context, published_pages.known_figures(
                                 published_set, summary, model_id, model_rows, release_label)))
            needs_records |= known_here and len(writer.pending) > pending
        if summary is not None:
            hrefs = published_pages.model_hrefs(summary, slugs)
            needs_records |= published_pages.schedule_pages(writer, published_set, summary, settings, hrefs, context)
            if needs_records:
                published_set.preload()  # once, before any worker process is forked to render pages
        # The summary cache is written while the workers render (its 10 000 summaries take about half a second).
        writer.flush(workers if workers is not None else (os.cpu_count() or 1),
                     meanwhile=cache.save if cache is not None else None)
        index_bytes = writer.sizes["index.html"]
        writer.page("methodology.html", fingerprint(settings, "methodology"),
                    lambda: render("methodology.html", root="", page="methodology", **context))
        releases = list(reversed(list_releases(releases_dir)))
        writer.page("releases.html", fingerprint(settings, "releases", *(r.model_dump_json() for r in releases)),
                    lambda: render("releases.html", releases=releases, root="", page="releases", **context))
        writer.text("data/index.json", _dump({
            "as_of": as_of.isoformat() if as_of else None,
            "release": release_label, "banding": banding, "rule": RULES[banding],
            "grid": {"code": grid_info.code, "g_co2e_per_kwh": grid_info.g_co2e_per_kwh, "year": grid_info.year,
                     "source": grid_info.source},
            "pue": pue_value,
            "num_files": board.num_files, "num_runs": board.num_runs,
            "tasks": [{"task_id": t["id"], "task_kind": t["kind"], "rated_entries": len(t["rated"]),
                       "unrated_entries": len(t["unrated"]), "data": f"tasks/{t['slug']}.json",
                       "csv": f"{t['slug']}.csv"} for t in tasks_view],
            "models": [{"model_id": m, "page": f"models/{slugs[m]}.html"} for m in sorted(rows_by_model)],
            "refused": [{"source": r.source, "reason": r.reason} for r in board.refused],
            **({"demonstration": demo_site.banner} if demo_site is not None else {}),
            **({"published": published_pages.index_data(summary)} if summary is not None else {}),
        }))
        writer.finish()
        _swap_in(tmp, out_dir)
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(error, OSError):  # disk full, permissions: the old site stays as it was
            raise HarnessError(f"cannot write the site to {out_dir}: {error.strerror or error}; the previous "
                               f"site is unchanged") from None
        raise
    return BuildReport(
        out_dir=out_dir, num_files=board.num_files, num_runs=board.num_runs,
        num_entries=sum(len(r) for r in rows.values()), refused=board.refused, release_id=release_label,
        banding=banding, index_bytes=index_bytes, seconds=time.perf_counter() - started,
        pages_rendered=writer.rendered, pages_reused=writer.reused,
    )
