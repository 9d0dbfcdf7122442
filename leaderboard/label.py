"""The energy label (260x364 SVG, like AI Energy Score's) and a small badge for READMEs and model cards.

Both are rendered through the autoescaping Jinja2 environment, so a model id such as
`<script>alert(1)</script>` is drawn as text. Long names are shortened on the drawing and kept whole in
the SVG `<title>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from leaderboard.aggregate import Entry
from leaderboard.rating import Rating
from leaderboard.templating import render, sig, stars_text

LABEL_WIDTH_PX = 260
LABEL_HEIGHT_PX = 364
STAR_COLORS = {5: "#1f883d", 4: "#4c9a2a", 3: "#b08800", 2: "#d4711d", 1: "#cf222e"}
UNRATED_COLOR = "#6e7781"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class LabelData:
    """What a label says; every text here comes from a result file and is escaped when drawn."""

    model_id: str
    task_id: str
    hardware_class: str
    size_class: str | None
    scored_on: str
    gpu_wh: float | None
    stars: int | None
    release_id: str
    reason: str
    harness_version: str

    @property
    def model_short(self) -> str:
        return _short(self.model_id, 28)

    @property
    def task_short(self) -> str:
        return _short(self.task_id, 30)

    @property
    def hardware_short(self) -> str:
        return _short(self.hardware_class, 34)

    @property
    def release_short(self) -> str:
        return _short(self.release_id, 16)

    @property
    def energy_text(self) -> str:
        return "—" if self.gpu_wh is None else f"{sig(self.gpu_wh)} Wh"

    @property
    def energy_unit(self) -> str:
        return "GPU energy per 1000 queries" if self.gpu_wh is not None else "no GPU measurement"

    @property
    def rating_line(self) -> str:
        if self.stars is None:
            return _short(self.reason or "not rated", 44)
        return f"{self.stars} of 5 stars"


def label_data(entry: Entry, rating: Rating | None, unrated_reason: str = "") -> LabelData:
    """The label of one entry under its rating (None: not rated, with `unrated_reason`)."""
    run = entry.latest
    return LabelData(
        model_id=run.model_id,
        task_id=run.task_id,
        hardware_class=run.hardware_class,
        size_class=run.size_class,
        scored_on=run.created_at.strftime("%Y-%m-%d"),
        gpu_wh=run.gpu_wh.mean if run.gpu_wh is not None else None,
        stars=rating.stars if rating else None,
        release_id=rating.release_id if rating else "—",
        reason=(rating.reason if rating and rating.stars is None else unrated_reason),
        harness_version=run.harness_version,
    )


def render_label(data: LabelData) -> str:
    """The 260x364 SVG label."""
    return render("label.svg.j2", d=data)


def _text_width_px(text: str) -> int:
    return int(len(text) * 6.8) + 12


def render_badge(data: LabelData) -> str:
    """A shields-style badge: `energy | ★★★★☆ 1.23 Wh/1k`."""
    left = "energy"
    value = "—" if data.gpu_wh is None else f"{sig(data.gpu_wh)} Wh/1k"
    right = f"{value} · {data.reason or 'not rated'}" if data.stars is None else f"{stars_text(data.stars)} {value}"
    right = _short(right, 48)
    color = STAR_COLORS.get(data.stars, UNRATED_COLOR) if data.stars else UNRATED_COLOR
    return render("badge.svg.j2", d=data, left=left, right=right, left_w=_text_width_px(left),
                  right_w=_text_width_px(right), color=color)


def label_for_result(result, source: str, release) -> LabelData:
    """The label of a single result file under `release` (None: not rated until a release exists)."""
    from leaderboard.aggregate import group_entries, record_from_result
    from leaderboard.rating import UNRATED_REASONS, rate_with_release

    entry = group_entries([record_from_result(result, source)])[0]
    if entry.latest.status != "gpu":
        return label_data(entry, None, UNRATED_REASONS[entry.latest.status])
    if release is None:
        return label_data(entry, None, "not rated: no release cut yet")
    return label_data(entry, rate_with_release([entry], release).get(entry.key))
