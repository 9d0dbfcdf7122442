"""`harness leaderboard build`: every result file in, a static site out (works from `file://` and any host).

The site is written into a temporary folder next to `--out` and swapped in with renames only when every
page is written, so a failed build never leaves half a site and the previous site stays until then. The
folder as a whole is the atomic unit, which is why single files inside it are written plainly. A folder
that was not built by this command is never replaced.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import __version__
from harness.errors import ConfigError, HarnessError, NotFoundError
from harness.files import csv_cell, unique_slug
from leaderboard import carbon, plots
from leaderboard.aggregate import Board, Entry, Refusal, RunRecord, aggregate
from leaderboard.label import label_data, render_badge, render_label
from leaderboard.rating import (
    BANDINGS,
    RELEASES_DIR,
    RULES,
    UNRATED_REASONS,
    Rating,
    Release,
    find_release,
    list_releases,
    rate,
)
from leaderboard.templating import render

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
SITE_MARKER = ".leaderboard-site"
"""A file every built site holds; `--out` is only ever replaced when it holds it (or is empty)."""

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
        "stars": row.stars,
        "rating_release": row.rating.release_id if row.rating else None,
        "co2e_per_1k_queries_g": row.derived.co2e_g if row.derived else None,
        "older_run_ids": [r.run_id for r in row.entry.older],
        "model_page": row.model_href,
        "label": row.label_href,
    }


CSV_COLUMNS = ("model_id", "num_parameters", "task_id", "hardware_class", "size_class", "workload", "status",
               "stars", "rating_release", "gpu_energy_per_1k_queries_wh", "gpu_energy_ci95_low_wh",
               "gpu_energy_ci95_high_wh", "co2e_per_1k_queries_g", "latency_p50_s", "throughput_queries_per_s",
               "run_id", "created_at", "harness_version")


def _csv(rows: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        run = row.run
        writer.writerow(csv_cell(cell) for cell in [
            run.model_id, run.num_parameters, run.task_id, run.hardware_class, run.size_class or "", run.workload,
            run.status, row.stars if row.stars is not None else "", row.rating.release_id if row.rating else "",
            run.gpu_wh.mean if run.gpu_wh else "", run.gpu_wh.ci95_low if run.gpu_wh else "",
            run.gpu_wh.ci95_high if run.gpu_wh else "", row.derived.co2e_g if row.derived else "",
            run.latency_p50_s.mean, run.throughput_qps.mean, run.run_id, run.created_at.isoformat(),
            run.harness_version,
        ])
    return buffer.getvalue()


def _dump(data) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


class _Writer:
    """Writes into the temporary site folder and counts what it wrote."""

    def __init__(self, root: Path):
        self.root = root
        self.made: set[Path] = set()

    def text(self, relative: str, text: str) -> int:
        path = self.root / relative
        if path.parent not in self.made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made.add(path.parent)
        data = text.encode("utf-8")
        path.write_bytes(data)
        return len(data)


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise HarnessError(f"--out {out_dir} is a file, not a folder")
        if any(out_dir.iterdir()) and not (out_dir / SITE_MARKER).exists():
            raise HarnessError(f"refusing to replace {out_dir}: it is not empty and was not built by "
                               f"`harness leaderboard build`")


def _swap_in(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{time.time_ns()}")
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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


def build_site(results_dir: Path, out_dir: Path, *, release_id: str | None = None, banding: str | None = None,
               grid: str = carbon.DEFAULT_GRID, pue: str | float = 1.0, releases_dir: Path = RELEASES_DIR,
               workers: int | None = None) -> BuildReport:
    """Build the whole site from `results_dir` into `out_dir`; see the module docstring for the guarantees."""
    started = time.perf_counter()
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    if not results_dir.exists():
        raise NotFoundError(f"results folder {results_dir} does not exist")
    grid_info = carbon.resolve_grid(grid)
    pue_value = carbon.resolve_pue(pue)
    release, banding = resolve_options(release_id, banding, releases_dir)
    _check_out_dir(out_dir)

    board = aggregate(results_dir, workers=workers)
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
        "led_w": carbon.LED_BULB_W, "refused": board.refused,
    }

    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name[:60]}.building-", dir=out_dir.parent))
    except OSError as error:
        raise HarnessError(f"cannot write the site to {out_dir}: {error.strerror or error}") from None
    try:
        writer = _Writer(tmp)
        writer.text(SITE_MARKER, "Built by `harness leaderboard build`; this folder is replaced by the next build.\n")
        for name in ("site.css", "site.js"):
            writer.text(f"static/{name}", (STATIC_DIR / name).read_text(encoding="utf-8"))
        tasks_view = []
        for task_id, task in board.tasks.items():
            task_slug = unique_slug(task_id)
            # Most efficient first: the order a visitor expects before sorting anything themselves.
            task_rows = sorted(rows[task_id], key=lambda r: (r.run.status != "gpu",
                                                             r.run.gpu_wh.mean if r.run.gpu_wh else 0.0,
                                                             r.run.model_id))
            rated_rows = [r for r in task_rows if r.run.status == "gpu"]
            series = {r.run.hardware_class for r in rated_rows}
            bars = [plots.Bar(r.run.model_id, r.run.gpu_wh.mean, r.run.gpu_wh.ci95_low, r.run.gpu_wh.ci95_high,
                              r.run.hardware_class if len(series) > 1 else "") for r in rated_rows]
            points = [plots.Point(r.run.model_id, r.run.num_parameters, r.run.gpu_wh.mean,
                                  r.run.hardware_class if len(series) > 1 else "") for r in rated_rows]
            writer.text(f"plots/{task_slug}-energy.svg",
                        plots.energy_bars_svg(bars, f"{task_id}: GPU energy per 1000 queries"))
            writer.text(f"plots/{task_slug}-params.svg",
                        plots.energy_vs_params_svg(points, f"{task_id}: energy vs parameters"))
            writer.text(f"data/tasks/{task_slug}.json", _dump({
                "task_id": task_id, "task_kind": task.task_kind, "release": release_label, "banding": banding,
                "grid": grid_info.code, "pue": pue_value, "entries": [_row_json(r) for r in task_rows]}))
            writer.text(f"data/{task_slug}.csv", _csv(task_rows))
            hardware = sorted({r.run.hardware_class for r in task_rows})
            tasks_view.append({"id": task_id, "slug": task_slug, "kind": task.task_kind, "rated": rated_rows,
                               "unrated": [r for r in task_rows if r.run.status != "gpu"], "hardware": hardware})
        index_bytes = writer.text("index.html", render("index.html", tasks=tasks_view, root="", page="index",
                                                       **context))
        for model_id, model_rows in rows_by_model.items():
            slug = slugs[model_id]
            for row in model_rows:
                data = label_data(row.entry, row.rating, row.unrated_reason)
                writer.text(row.label_href, render_label(data))
                writer.text(row.badge_href, render_badge(data))
            timelines = [
                plots.timeline_svg([(f"GPU {t.gpu_index}", t.t_s, t.power_w) for t in row.run.timelines],
                                   f"Power timeline · run {row.run.run_id}")
                for row in model_rows
            ]
            writer.text(f"models/{slug}.html", render(
                "model.html", model_id=model_id, rows=model_rows, timelines=timelines,
                num_parameters=model_rows[0].run.num_parameters, root="../", page="model", **context))
        writer.text("methodology.html", render("methodology.html", root="", page="methodology", **context))
        writer.text("releases.html", render("releases.html", releases=list(reversed(list_releases(releases_dir))),
                                            root="", page="releases", **context))
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
        }))
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
    )
