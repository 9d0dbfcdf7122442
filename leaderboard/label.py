"""The energy label (260x364 SVG, like AI Energy Score's) and a small badge for READMEs and model cards.

Both are rendered through the autoescaping Jinja2 environment, so a model id such as
`<script>alert(1)</script>` is drawn as text. Long names wrap onto a second line (and only past that are
shortened; the SVG `<title>` keeps them whole). A label shows stars only under a release: provisional stars
move with every new result, so the site's labels and `harness label` both say "not rated" until one is cut.
"""

from __future__ import annotations

from dataclasses import dataclass

from leaderboard.aggregate import Entry
from leaderboard.rating import Rating
from leaderboard.templating import render, sig, stars_text

LABEL_WIDTH_PX = 260
LABEL_HEIGHT_PX = 364
STAR_COLORS = {5: "#1a7f37", 4: "#3d7a1c", 3: "#7d5e00", 2: "#a3480a", 1: "#b3212b"}
"""Badge backgrounds under white text; each has a WCAG AA contrast ratio of at least 4.5 (tested)."""
UNRATED_COLOR = "#57606a"
NAME_LINE_CHARS = 24
RATING_LINE_CHARS = 40
"""The longest rating line (11 px, centred) that fits the label's 228 px between its margins."""
BADGE_TASK_CHARS = 20
"""A badge names its task in at most this many characters: with its value, the badge stays under about 360 px, so
a phone shows it at full size (its 11 px text shrinks with it otherwise)."""
NO_RELEASE_REASON = "not rated: no release cut yet"
MEASURED_WITH = {
    "gpu": "GPU energy measured with NVML",
    "cpu": "no GPU measurement: CPU only",
    "test-meter": "fake NVML meter: a test, not a measurement",
}


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wrap_name(text: str, width: int = NAME_LINE_CHARS, lines: int = 2) -> list[str]:
    """Split a name into at most `lines` lines of `width` characters, preferring a break after / - _ or space."""
    out = []
    rest = text
    while rest and len(out) < lines - 1 and len(rest) > width:
        cut = max((rest.rfind(c, 0, width) for c in "/-_ ."), default=-1)
        cut = cut + 1 if cut > width // 3 else width
        out.append(rest[:cut])
        rest = rest[cut:]
    out.append(_short(rest, width))
    return out


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
    status: str = "gpu"
    task_title: str = ""

    @property
    def model_lines(self) -> list[str]:
        return wrap_name(self.model_id)

    @property
    def task_short(self) -> str:
        return _short(self.task_title or self.task_id, 30)

    @property
    def measured_with(self) -> str:
        return MEASURED_WITH.get(self.status, MEASURED_WITH["cpu"])

    @property
    def hardware_short(self) -> str:
        return _short(self.hardware_class, 34)

    @property
    def release_short(self) -> str:
        return _short(self.release_id, 16)

    @property
    def version_short(self) -> str:
        """The harness version on the footer's own line (a development build's is long: `0.1.dev226+g2e5dad7...`)."""
        return _short(self.harness_version, 36)

    @property
    def energy_text(self) -> str:
        return "—" if self.gpu_wh is None else f"{sig(self.gpu_wh)} Wh"

    @property
    def energy_unit(self) -> str:
        return "GPU energy per 1000 queries" if self.gpu_wh is not None else "no GPU measurement"

    @property
    def rating_line(self) -> str:
        if self.stars is None:
            return _short(self.reason or "not rated", RATING_LINE_CHARS)
        return f"{self.stars} of 5 stars"


def label_data(entry: Entry, rating: Rating | None, unrated_reason: str = "") -> LabelData:
    """The label of one entry under its rating (None: not rated, with `unrated_reason`).

    Provisional ratings are not drawn (see the module docstring).
    """
    from harness.results.schema import readable_model_name
    from leaderboard.views import task_title

    run = entry.latest
    if rating is not None and rating.release_id == "provisional":
        rating = Rating(None, rating.release_id, rating.banding, None, NO_RELEASE_REASON)
    return LabelData(
        model_id=readable_model_name(run.model_id, run.model_name),
        status=run.status,
        task_title=task_title(run.task_id, run.task_kind),
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
    """A shields-style badge that names its task: `text generation energy | ★★★★☆ 1.23 Wh/1k`."""
    task = (data.task_title or data.task_id).split(" (")[0]  # `Chat (answers at natural length)`: `chat`
    left = f"{_short(task, BADGE_TASK_CHARS).lower()} energy"
    value = "no GPU figure" if data.gpu_wh is None else f"{sig(data.gpu_wh)} Wh/1k"
    right = f"{value} · not rated" if data.stars is None else f"{stars_text(data.stars)} {value}"  # why: in the alt
    color = STAR_COLORS.get(data.stars, UNRATED_COLOR) if data.stars else UNRATED_COLOR
    return render("badge.svg.j2", d=data, left=left, right=right, left_w=_text_width_px(left),
                  right_w=_text_width_px(right), color=color, alt=alt_text(data))


def alt_text(data: LabelData) -> str:
    """The label or badge in words, for screen readers and `alt` attributes."""
    rating = data.reason or "not rated" if data.stars is None else f"{data.stars} of 5 stars"
    energy = "no GPU measurement" if data.gpu_wh is None else f"{sig(data.gpu_wh)} Wh of GPU energy per 1000 queries"
    return f"{data.model_id}, {data.task_title or data.task_id}: {rating}, {energy}"


def label_for_result(result, source: str, release) -> LabelData:
    """The label of a single result file under `release` (None: not rated until a release exists)."""
    from leaderboard.aggregate import group_entries, record_from_result
    from leaderboard.rating import UNRATED_REASONS, rate_with_release

    entry = group_entries([record_from_result(result, source)])[0]
    if entry.latest.status != "gpu":
        return label_data(entry, None, UNRATED_REASONS[entry.latest.status])
    if release is None:  # as the site draws it before the first release
        return label_data(entry, Rating(None, "provisional", "linear", None, NO_RELEASE_REASON))
    return label_data(entry, rate_with_release([entry], release).get(entry.key))
