"""Static SVG plots with no JavaScript and no external files: they render offline and from `file://`.

Energies span orders of magnitude between models, so energy axes are logarithmic. All text is escaped
(`html.escape`), since labels are model ids from result files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from leaderboard.templating import params as params_text
from leaderboard.templating import sig

FONT = 'font-family="DejaVu Sans,Verdana,Arial,sans-serif"'
PALETTE = ("#0969da", "#cf222e", "#1f883d", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#57606a")


@dataclass(frozen=True)
class Bar:
    """One model's energy (mean and 95 % CI), in Wh per 1000 queries."""

    label: str
    value: float
    low: float
    high: float
    series: str = ""


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    series: str = ""


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


def _empty(width: int, height: int, message: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
            f'{FONT} font-size="13" fill="#57606a">{escape(message)}</text></svg>\n')


def _colors(series: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(series)))}


def _legend(colors: dict[str, str], x: float, y: float) -> list[str]:
    parts = []
    if len(colors) > 1:
        for i, (name, color) in enumerate(colors.items()):
            parts.append(f'<rect x="{x}" y="{y + i * 16}" width="10" height="10" fill="{color}"/>'
                         f'<text x="{x + 14}" y="{y + i * 16 + 9}" font-size="11">{escape(name)}</text>')
    return parts


def energy_bars_svg(bars: Sequence[Bar], title: str, width: int = 760) -> str:
    """Horizontal bars of energy per 1000 queries (log scale), lowest first, with 95 % CI whiskers."""
    if not bars:
        return _empty(width, 60, "no GPU measurements yet")
    bars = sorted(bars, key=lambda b: (b.value, b.label))
    colors = _colors([b.series for b in bars])
    left, right, top, row = 250, width - 20, 44 + 16 * (len(colors) if len(colors) > 1 else 0), 16
    height = top + row * len(bars) + 40
    low, high = _log_domain([b.low for b in bars] + [b.high for b in bars] + [b.value for b in bars])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FONT} role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    parts += _legend(colors, left, 30)
    for tick in log_ticks(low, high):
        x = _scale_log(tick, low, high, left, right)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 34}" stroke="#d0d7de"/>'
                     f'<text x="{x:.1f}" y="{height - 20}" font-size="10" text-anchor="middle">{sig(tick, 2)}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 4}" font-size="11" text-anchor="middle">'
                 f'GPU Wh per 1000 queries (log scale)</text>')
    for i, bar in enumerate(bars):
        y = top + i * row
        x_value = _scale_log(bar.value, low, high, left, right)
        x_low = _scale_log(bar.low, low, high, left, right) if bar.low > 0 else left
        x_high = _scale_log(bar.high, low, high, left, right)
        label = bar.label if len(bar.label) <= 38 else bar.label[:37] + "…"
        parts.append(
            f'<g><title>{escape(bar.label)}: {sig(bar.value)} Wh (95 % CI {sig(bar.low)}–{sig(bar.high)})'
            f'{" · " + escape(bar.series) if bar.series else ""}</title>'
            f'<text x="{left - 6}" y="{y + 11}" font-size="11" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{max(x_value - left, 1):.1f}" height="11" '
            f'fill="{colors[bar.series]}" opacity="0.85"/>'
            f'<line x1="{x_low:.1f}" y1="{y + 7.5}" x2="{x_high:.1f}" y2="{y + 7.5}" stroke="#1b1f23"/></g>')
    parts.append("</svg>\n")
    return "".join(parts)


def energy_vs_params_svg(points: Sequence[Point], title: str, width: int = 760, height: int = 420) -> str:
    """Energy per 1000 queries against parameter count, both on log scales."""
    points = [p for p in points if p.x > 0 and p.y > 0]
    if not points:
        return _empty(width, 60, "no GPU measurements yet")
    colors = _colors([p.series for p in points])
    left, right, top, bottom = 70, width - 20, 40, height - 50
    x_low, x_high = _log_domain([p.x for p in points])
    y_low, y_high = _log_domain([p.y for p in points])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FONT} role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    for tick in log_ticks(x_low, x_high):
        x = _scale_log(tick, x_low, x_high, left, right)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#d0d7de"/>'
                     f'<text x="{x:.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">'
                     f'{params_text(int(tick))}</text>')
    for tick in log_ticks(y_low, y_high):
        y = _scale_log(tick, y_low, y_high, bottom, top)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#d0d7de"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end">{sig(tick, 2)}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 8}" font-size="11" text-anchor="middle">'
                 f'parameters (log scale)</text>'
                 f'<text transform="translate(14 {(top + bottom) / 2}) rotate(-90)" font-size="11" '
                 f'text-anchor="middle">GPU Wh per 1000 queries (log)</text>')
    for p in points:
        x = _scale_log(p.x, x_low, x_high, left, right)
        y = _scale_log(p.y, y_low, y_high, bottom, top)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colors[p.series]}" opacity="0.8">'
                     f'<title>{escape(p.label)}: {params_text(int(p.x))} parameters, {sig(p.y)} Wh'
                     f'{" · " + escape(p.series) if p.series else ""}</title></circle>')
    parts += _legend(colors, right - 220, top + 4)
    parts.append("</svg>\n")
    return "".join(parts)


def timeline_svg(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str,
                 width: int = 640, height: int = 220) -> str:
    """Power (W) over time (s) for each GPU: `series` is (name, t_s, power_w)."""
    series = [(name, t, p) for name, t, p in series if t and p]
    if not series:
        return _empty(width, 60, "no power timeline in this result")
    left, right, top, bottom = 52, width - 14, 30, height - 36
    t_max = max(max(t) for _, t, _ in series) or 1.0
    p_max = max(max(p) for _, _, p in series) * 1.1 or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FONT} role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        value = p_max * i / 4
        y = bottom - (bottom - top) * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#d0d7de"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end">{value:.0f}</text>')
        t_value = t_max * i / 4
        x = left + (right - left) * i / 4
        parts.append(f'<text x="{x:.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">'
                     f'{sig(t_value, 2)}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 6}" font-size="11" text-anchor="middle">seconds</text>'
                 f'<text transform="translate(12 {(top + bottom) / 2}) rotate(-90)" font-size="11" '
                 f'text-anchor="middle">GPU power (W)</text>')
    for i, (name, t_s, power_w) in enumerate(series):
        coords = " ".join(f"{left + (right - left) * t / t_max:.1f},{bottom - (bottom - top) * p / p_max:.1f}"
                          for t, p in zip(t_s, power_w))
        parts.append(f'<polyline fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="1.5" '
                     f'points="{coords}"><title>{escape(name)}</title></polyline>')
    parts.append("</svg>\n")
    return "".join(parts)
