"""Static SVG plots with no JavaScript and no external files: they render offline and from `file://`.

Dot plots use a linear axis (a bar's length on a log axis means nothing); the scatter plots use log axes
because energy, latency and size span orders of magnitude, with 1-2-5 ticks written as plain numbers. Every
point carries a text label or a `<title>`, and the page prints the same numbers in a data table. All text is
escaped (`html.escape`), since labels are model names from result files.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from leaderboard.templating import params as params_text
from leaderboard.templating import sig

FONT = 'font-family="DejaVu Sans,Verdana,Arial,sans-serif"'
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#57606a")
TEXT = 'fill="#1b1f23"'
MAX_POINT_LABELS = 12
"""Scatter plots label the frontier and at most this many points in all; the rest keep a tooltip."""


@dataclass(frozen=True)
class Dot:
    """One model's energy (mean and 95 % CI) in the plot's unit."""

    label: str
    value: float
    low: float
    high: float
    series: str = ""


@dataclass(frozen=True)
class Point:
    """One model's point; `group` joins the points of one model (e.g. its batch sizes) into its own line."""

    label: str
    x: float
    y: float
    series: str = ""
    group: str = ""


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values for a log axis covering [low, high]: decades, plus 2 and 5 when the span is short."""
    if low <= 0 or high <= 0:
        raise ValueError("log axes need positive values")
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if last == first:
        last += 1
    multipliers = (1, 2, 5) if last - first <= 2 else (1,)
    return [m * 10.0 ** e for e in range(first, last + 1) for m in multipliers
            if low / 1.0001 <= m * 10.0 ** e <= high * 1.0001] or [low, high]


def tick_text(value: float) -> str:
    """A tick value as people write it: 0.005, 0.01, 20 (two significant digits, no trailing zeros)."""
    text = sig(value, 2)
    return text.rstrip("0").rstrip(".") if "." in text else text


def linear_ticks(high: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2 or 5 x 10^n) up to at least `high`."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(math.ceil(high / step - 1e-9)) + 1)]


def _log_domain(values: Sequence[float]) -> tuple[float, float]:
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    low, high = min(positive), max(positive)
    low = 10.0 ** math.floor(math.log10(low))
    high = 10.0 ** math.ceil(math.log10(high))
    if high <= low:
        high = low * 10
    return low, high


def _scale_log(value: float, low: float, high: float, start: float, end: float) -> float:
    value = min(max(value, low), high)
    return start + (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low)) * (end - start)


def _svg_open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {FONT} role="img" aria-label="{escape(title)}">',
            f'<title>{escape(title)}</title>']


def _empty(width: int, height: int, message: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(message)}"><text x="{width / 2}" '
            f'y="{height / 2}" text-anchor="middle" {FONT} font-size="13" fill="#57606a">{escape(message)}</text>'
            f'</svg>\n')


def _colors(series: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(series)))}


def _legend(colors: dict[str, str], x: float, y: float) -> list[str]:
    parts = []
    if len(colors) > 1:
        for i, (name, color) in enumerate(colors.items()):
            parts.append(f'<rect x="{x}" y="{y + i * 16}" width="10" height="10" fill="{color}"/>'
                         f'<text x="{x + 14}" y="{y + i * 16 + 9}" font-size="12" {TEXT}>{escape(name)}</text>')
    return parts


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def energy_dots_svg(dots: Sequence[Dot], title: str, unit: str, width: int = 640) -> str:
    """A dot plot on a linear axis from 0: one row per model, lowest first, with its 95 % CI as a whisker."""
    if not dots:
        return _empty(width, 60, "no GPU measurements yet")
    dots = sorted(dots, key=lambda d: (d.value, d.label))
    colors = _colors([d.series for d in dots])
    left, right, row = 210, width - 24, 20
    top = 40 + 16 * (len(colors) if len(colors) > 1 else 0)
    height = top + row * len(dots) + 44
    ticks = linear_ticks(max(d.high for d in dots))
    span = ticks[-1] or 1.0

    def x_of(value: float) -> float:
        return left + (right - left) * max(value, 0.0) / span

    parts = _svg_open(width, height, title)
    parts.append(f'<text x="8" y="20" font-size="14" font-weight="bold" {TEXT}>{escape(title)}</text>')
    parts += _legend(colors, left, 30)
    for tick in ticks:
        x = x_of(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 38}" stroke="#d0d7de"/>'
                     f'<text x="{x:.1f}" y="{height - 24}" font-size="12" text-anchor="middle" {TEXT}>'
                     f'{tick_text(tick)}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 6}" font-size="12" text-anchor="middle" {TEXT}>'
                 f'{escape(unit)}</text>')
    for i, dot in enumerate(dots):
        y = top + i * row + row / 2
        parts.append(
            f'<g><title>{escape(dot.label)}: {sig(dot.value)} '
            f'(95 % CI [{sig(dot.low, grouped=False)}, {sig(dot.high, grouped=False)}])'
            f'{" · " + escape(dot.series) if dot.series else ""}</title>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" font-size="12" text-anchor="end" {TEXT}>'
            f'{escape(_short(dot.label, 30))}</text>'
            f'<line x1="{x_of(dot.low):.1f}" y1="{y:.1f}" x2="{x_of(dot.high):.1f}" y2="{y:.1f}" '
            f'stroke="#1b1f23"/>'
            f'<circle cx="{x_of(dot.value):.1f}" cy="{y:.1f}" r="5" fill="{colors[dot.series]}"/></g>')
    parts.append("</svg>\n")
    return "".join(parts)


def frontier(points: Sequence[Point]) -> list[Point]:
    """The efficient frontier: points no other point beats on both x and y (lower is better), by x."""
    best: list[Point] = []
    for p in sorted(points, key=lambda p: (p.x, p.y, p.label)):
        if not best or p.y < best[-1].y:
            best.append(p)
    return best


def scatter_svg(points: Sequence[Point], title: str, x_label: str, y_label: str, *, x_format=None,
                mark_frontier: bool = False, width: int = 640, height: int = 420,
                max_labels: int = MAX_POINT_LABELS) -> str:
    """Two log axes; labelled points, the frontier drawn as a line, and each multi-point model's own line (its own
    frontier when `mark_frontier`); the overall frontier's points are labelled first, then the models' own."""
    points = [p for p in points if p.x > 0 and p.y > 0]
    if not points:
        return _empty(width, 60, "no GPU measurements yet")
    fmt = x_format or tick_text
    colors = _colors([p.series for p in points])
    left, right, top, bottom = 64, width - 16, 36 + 16 * (len(colors) if len(colors) > 1 else 0), height - 52
    x_low, x_high = _log_domain([p.x for p in points])
    y_low, y_high = _log_domain([p.y for p in points])

    def xy(p: Point) -> tuple[float, float]:
        return _scale_log(p.x, x_low, x_high, left, right), _scale_log(p.y, y_low, y_high, bottom, top)

    parts = _svg_open(width, height, title)
    parts.append(f'<text x="8" y="20" font-size="14" font-weight="bold" {TEXT}>{escape(title)}</text>')
    parts += _legend(colors, left + 8, 28)
    for tick in log_ticks(x_low, x_high):
        x = _scale_log(tick, x_low, x_high, left, right)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#d0d7de"/>'
                     f'<text x="{x:.1f}" y="{bottom + 16}" font-size="12" text-anchor="middle" {TEXT}>'
                     f'{fmt(tick)}</text>')
    for tick in log_ticks(y_low, y_high):
        y = _scale_log(tick, y_low, y_high, bottom, top)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#d0d7de"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="12" text-anchor="end" {TEXT}>'
                     f'{tick_text(tick)}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 10}" font-size="12" text-anchor="middle" {TEXT}>'
                 f'{escape(x_label)}</text>'
                 f'<text transform="translate(14 {(top + bottom) / 2}) rotate(-90)" font-size="12" '
                 f'text-anchor="middle" {TEXT}>{escape(y_label)}</text>')
    by_group: dict[str, list[Point]] = defaultdict(list)
    for p in points:
        if p.group:
            by_group[p.group].append(p)
    own_edges: list[Point] = []
    for group, group_points in by_group.items():
        if len(group_points) > 1:
            # With the frontier marked, a model's line is its own Pareto frontier (e.g. over its batch sizes):
            # the settings worth choosing for that model; its dominated points stay as dots.
            line = frontier(group_points) if mark_frontier else sorted(group_points, key=lambda p: p.x)
            own_edges += line if mark_frontier else []
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, line))
            title = "<title>one model's own frontier</title>" if mark_frontier else ""
            parts.append(f'<polyline class="model-line" data-group="{escape(group)}" fill="none" '
                         f'stroke="{colors[group_points[0].series]}" stroke-dasharray="3 3" points="{coords}">'
                         f'{title}</polyline>')
    edge = frontier(points) if mark_frontier else []
    if len(edge) > 1:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, edge))
        parts.append(f'<polyline class="frontier" fill="none" stroke="#1b1f23" stroke-width="1.5" '
                     f'points="{coords}"><title>efficient frontier</title></polyline>')
    labelled = {id(p) for p in [*edge, *own_edges][:max_labels]}
    for p in sorted(points, key=lambda p: p.y):
        if len(labelled) >= max_labels:
            break
        labelled.add(id(p))
    for p in points:
        x, y = xy(p)
        on_edge = any(p is e for e in edge)
        ring = ' stroke="#1b1f23" stroke-width="1.5"' if on_edge else ""
        parts.append(f'<g><title>{escape(p.label)}: {escape(x_label)} {fmt(p.x)}, {escape(y_label)} {sig(p.y)}'
                     f'{" · " + escape(p.series) if p.series else ""}{" · on the frontier" if on_edge else ""}'
                     f'</title><circle cx="{x:.1f}" cy="{y:.1f}" r="{5 if on_edge else 4}" '
                     f'fill="{colors[p.series]}"{ring}/>')
        if id(p) in labelled:
            anchor = "end" if x > (left + right) / 2 else "start"
            dx = -7 if anchor == "end" else 7
            parts.append(f'<text class="point-label" x="{x + dx:.1f}" y="{y - 6:.1f}" font-size="11" '
                         f'text-anchor="{anchor}" {TEXT}>{escape(_short(p.label, 28))}</text>')
        parts.append("</g>")
    parts.append("</svg>\n")
    return "".join(parts)


def energy_vs_latency_svg(points: Sequence[Point], title: str) -> str:
    """Energy per query against latency per query (ML.ENERGY's central view), with the efficient frontier."""
    return scatter_svg(points, title, "latency per query, p50 (s)", "GPU Wh per query", mark_frontier=True)


SERVED_MAX_LABELS = 40
"""The serving plot's labels are short (`c=8`): it labels this many points, most plots every one."""


def served_frontier_svg(points: Sequence[Point], title: str) -> str:
    """Served runs: GPU J per output token (steady state) against inter-token latency p50, one colour and one line
    per model and engine joining its own frontier over the concurrency levels, each point labelled `c=N`."""
    return scatter_svg(points, title, "inter-token latency p50 (s)", "GPU J per output token (steady)",
                       mark_frontier=True, max_labels=SERVED_MAX_LABELS)


def energy_vs_params_svg(points: Sequence[Point], title: str) -> str:
    """Energy per query against parameter count."""
    return scatter_svg(points, title, "parameters", "GPU Wh per query", x_format=lambda v: params_text(int(v)))


def timeline_svg(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str,
                 width: int = 640, height: int = 220) -> str:
    """Power (W) over time (s) for each GPU: `series` is (name, t_s, power_w)."""
    series = [(name, t, p) for name, t, p in series if t and p]
    if not series:
        return _empty(width, 60, "no power timeline in this result")
    left, right, top, bottom = 52, width - 14, 30, height - 36
    t_max = max(max(t) for _, t, _ in series) or 1.0
    p_max = max(max(p) for _, _, p in series) * 1.1 or 1.0
    parts = _svg_open(width, height, title)
    parts.append(f'<text x="{left}" y="18" font-size="13" font-weight="bold" {TEXT}>{escape(title)}</text>')
    for i in range(5):
        value = p_max * i / 4
        y = bottom - (bottom - top) * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#d0d7de"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="11" text-anchor="end" {TEXT}>{value:.0f}</text>')
        t_value = t_max * i / 4
        x = left + (right - left) * i / 4
        parts.append(f'<text x="{x:.1f}" y="{bottom + 14}" font-size="11" text-anchor="middle" {TEXT}>'
                     f'{sig(t_value, 2)}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 6}" font-size="11" text-anchor="middle" {TEXT}>'
                 f'seconds</text><text transform="translate(12 {(top + bottom) / 2}) rotate(-90)" font-size="11" '
                 f'text-anchor="middle" {TEXT}>GPU power (W)</text>')
    span_x, span_y = right - left, bottom - top
    for i, (name, t_s, power_w) in enumerate(series):
        # %-formatting: a model page draws thousands of points, and it is the fastest spelling of the same text.
        coords = " ".join(["%.1f,%.1f" % (left + span_x * t / t_max, bottom - span_y * p / p_max)  # noqa: UP031
                           for t, p in zip(t_s, power_w)])
        parts.append(f'<polyline fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="1.5" '
                     f'points="{coords}"><title>{escape(name)}</title></polyline>')
    parts.append("</svg>\n")
    return "".join(parts)
