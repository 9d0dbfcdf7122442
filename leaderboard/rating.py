"""Star ratings: pure functions from energies to 1-5 stars, and releases that freeze the band edges.

The rule (AI Energy Score's): within a rating group (task, hardware class, size class for text generation,
and workload), the range of GPU energy per 1000 queries among the rated entries, from the lowest to the
highest, is cut into five bands; the lowest band gets 5 stars. `linear` bands have equal widths in Wh;
`log` bands have equal widths in log(Wh), so one outlier cannot crowd every other model into one band.

A value exactly on an edge gets the better band (more stars). Two guards keep a small gap from looking
like a large one: a group needs `MIN_GROUP_SIZE` models to be rated, and the bands span at least
`MIN_RANGE_RATIO` times the lowest value (a tight group's models then share the top bands).
Under a release, a value below the release's lowest edge gets 5 stars and one above its highest edge gets
1 star, so a result published between releases is rated without moving anyone's label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import ConfigError, HarnessError, NotFoundError, validation_problem
from harness.files import read_bounded, write_json_atomic
from leaderboard.aggregate import Entry, Refusal, aggregate

Banding = Literal["linear", "log"]
BANDINGS: tuple[str, ...] = ("linear", "log")
NUM_STARS = 5
UNRATED_REASONS = {
    "cpu": "not rated: no GPU measurement (CPU only)",
    "test-meter": "not rated: fake NVML meter (test run)",
}
"""Why an entry of each unrated status gets no stars (site tables and labels say the same)."""

MIN_GROUP_SIZE = 3
"""Fewer models than this in a group are shown unrated: with two, any gap at all would be 5 stars vs 1."""
MIN_RANGE_RATIO = 2.0
"""The bands span at least a factor of 2 above the group's lowest value, so in a tight group a gap under
20 % never costs more than one star (with linear bands each band is then at least 20 % of the lowest value)."""
RELEASES_DIR = Path("leaderboard") / "releases"
"""Where releases are read and written by default: relative to the working directory (a clone's own
`leaderboard/releases/` when run from its root), never inside the installed package; `--releases-dir` moves it."""
RELEASE_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"

RULES = {
    "linear": "Within each rating group, the range of GPU energy per 1000 queries (lowest to highest) is cut "
              "into five bands of equal width in Wh; the lowest band gets 5 stars, the highest 1 star. A value "
              "on an edge gets the better band. The range spans at least twice the lowest value, and a group "
              "needs at least three models to be rated.",
    "log": "Within each rating group, the range of GPU energy per 1000 queries (lowest to highest) is cut into "
           "five bands of equal width on a logarithmic scale; the lowest band gets 5 stars, the highest 1 star. "
           "A value on an edge gets the better band. The range spans at least twice the lowest value, and a "
           "group needs at least three models to be rated.",
}


def band_edges(values_wh: Sequence[float], banding: str = "linear") -> tuple[float, ...]:
    """The six edges (lowest value .. the larger of highest value and `MIN_RANGE_RATIO` x lowest), in Wh/1k."""
    if not values_wh:
        raise ValueError("no values to rate")
    if any(not math.isfinite(v) or v <= 0 for v in values_wh):
        raise ValueError("energies must be finite and positive")
    low, high = min(values_wh), max(max(values_wh), min(values_wh) * MIN_RANGE_RATIO)
    if banding == "linear":
        width = (high - low) / NUM_STARS
        inner = [low + i * width for i in range(1, NUM_STARS)]
    elif banding == "log":
        log_low, log_high = math.log(low), math.log(high)
        width = (log_high - log_low) / NUM_STARS
        inner = [math.exp(log_low + i * width) for i in range(1, NUM_STARS)]
    else:
        raise ValueError(f"unknown banding {banding!r} (choose from {', '.join(BANDINGS)})")
    return (low, *inner, high)


def _at_most(value: float, edge: float) -> bool:
    return value <= edge or math.isclose(value, edge, rel_tol=1e-9, abs_tol=0.0)


def stars_for(value_wh: float, edges: Sequence[float]) -> int:
    """Stars (1-5) for one energy given six band edges; 5 for the lowest band, edges go to the better band."""
    if len(edges) != NUM_STARS + 1:
        raise ValueError(f"need {NUM_STARS + 1} edges, got {len(edges)}")
    for band, edge in enumerate(edges[1:]):
        if _at_most(value_wh, edge):
            return NUM_STARS - band
    return 1


class RatedModel(BaseModel):
    """One entry as rated when the release was cut."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    model_id: str
    run_id: str
    gpu_energy_per_1k_queries_wh: float = Field(gt=0)
    stars: int = Field(ge=1, le=NUM_STARS)


class ReleaseGroup(BaseModel):
    """The frozen band edges of one rating group."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    task_id: str
    hardware_class: str
    size_class: str | None = None
    workload: str
    edges_wh: list[float] = Field(min_length=NUM_STARS + 1, max_length=NUM_STARS + 1)
    rated: list[RatedModel]


class Release(BaseModel):
    """A release: the band edges in force for every rating group, and the ratings when it was cut."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    release_id: str = Field(pattern=RELEASE_ID_PATTERN)
    created_at: datetime
    banding: Banding
    rule: str
    groups: dict[str, ReleaseGroup]

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.utcoffset() is None or value.utcoffset().total_seconds() != 0:
            raise ValueError("created_at must be UTC with an explicit offset")
        return value


@dataclass(frozen=True)
class Rating:
    """The stars an entry shows, and under what: a release id, or `provisional` when none has been cut."""

    stars: int | None
    release_id: str
    banding: str
    edges_wh: tuple[float, ...] | None
    reason: str = ""


def _groups(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.latest.status == "gpu" and entry.latest.gpu_wh is not None:
            groups.setdefault(entry.rating_group, []).append(entry)
    return groups


def too_few_reason(count: int) -> str:
    """Why a group with `count` models shows no stars."""
    return (f"not rated: {count} model{'s' if count != 1 else ''} in this group, "
            f"stars need at least {MIN_GROUP_SIZE}")


def rate_live(entries: Iterable[Entry], banding: str = "linear", release_id: str = "provisional") -> dict:
    """Ratings computed from the entries themselves (no release cut yet): entry key -> `Rating`."""
    ratings = {}
    for members in _groups(entries).values():
        if len(members) < MIN_GROUP_SIZE:
            for entry in members:
                ratings[entry.key] = Rating(None, release_id, banding, None, too_few_reason(len(members)))
            continue
        edges = band_edges([e.latest.gpu_wh.mean for e in members], banding)
        for entry in members:
            ratings[entry.key] = Rating(stars_for(entry.latest.gpu_wh.mean, edges), release_id, banding, edges)
    return ratings


def rate_with_release(entries: Iterable[Entry], release: Release) -> dict:
    """Ratings against a release's frozen edges; groups the release does not know wait for the next one."""
    ratings = {}
    for group_key, members in _groups(entries).items():
        group = release.groups.get(group_key)
        for entry in members:
            if group is None:
                ratings[entry.key] = Rating(None, release.release_id, release.banding, None,
                                            "not rated yet: this group joins at the next release")
            else:
                edges = tuple(group.edges_wh)
                ratings[entry.key] = Rating(stars_for(entry.latest.gpu_wh.mean, edges), release.release_id,
                                            release.banding, edges)
    return ratings


def cut_release(entries: Iterable[Entry], release_id: str, banding: str = "linear",
                created_at: datetime | None = None) -> Release:
    """Freeze the band edges of every rating group with at least `MIN_GROUP_SIZE` rated entries."""
    if banding not in BANDINGS:
        raise ConfigError(f"unknown banding {banding!r} (choose from {', '.join(BANDINGS)})")
    if not re.match(RELEASE_ID_PATTERN, release_id):
        raise ConfigError(f"release id {release_id!r} must be letters, digits, '.', '_' or '-' (e.g. 2026-11)")
    groups = {}
    for group_key, members in sorted(_groups(entries).items()):
        if len(members) < MIN_GROUP_SIZE:
            continue
        edges = band_edges([e.latest.gpu_wh.mean for e in members], banding)
        first = members[0].latest
        groups[group_key] = ReleaseGroup(
            task_id=first.task_id, hardware_class=first.hardware_class, size_class=first.size_class,
            workload=first.workload, edges_wh=list(edges),
            rated=[RatedModel(model_id=e.latest.model_id, run_id=e.latest.run_id,
                              gpu_energy_per_1k_queries_wh=e.latest.gpu_wh.mean,
                              stars=stars_for(e.latest.gpu_wh.mean, edges))
                   for e in sorted(members, key=lambda e: (e.latest.gpu_wh.mean, e.latest.model_id))],
        )
    if not groups:
        raise HarnessError(f"no rating group has {MIN_GROUP_SIZE} GPU-measured models yet: nothing to release")
    return Release(release_id=release_id, created_at=created_at or datetime.now(timezone.utc), banding=banding,
                   rule=RULES[banding], groups=groups)


def write_release(release: Release, releases_dir: Path = RELEASES_DIR) -> Path:
    """Write `<releases_dir>/<id>.json` (sorted keys); an existing release is never overwritten."""
    path = Path(releases_dir) / f"{release.release_id}.json"
    return write_json_atomic(path, release.model_dump(mode="json"), overwrite=False)


def load_release(path: Path) -> Release:
    """Read one release file; a broken one is a one-line error."""
    path = Path(path)
    try:
        return Release.model_validate_json(read_bounded(path, error=ConfigError))  # never a FIFO or a device
    except ValidationError as error:
        raise ConfigError(f"release {path} is invalid: {validation_problem(error)}") from None


def list_releases(releases_dir: Path = RELEASES_DIR) -> list[Release]:
    """Every release in the folder, oldest first."""
    folder = Path(releases_dir)
    if not folder.is_dir():
        return []
    releases = [load_release(p) for p in sorted(folder.glob("*.json"))]
    return sorted(releases, key=lambda r: (r.created_at, r.release_id))


def find_release(release_id: str | None, releases_dir: Path = RELEASES_DIR) -> Release | None:
    """The named release, or the latest when `release_id` is None (None when no release exists)."""
    releases = list_releases(releases_dir)
    if release_id is None:
        return releases[-1] if releases else None
    for release in releases:
        if release.release_id == release_id:
            return release
    known = ", ".join(r.release_id for r in releases) or "none yet"
    raise NotFoundError(f"no release {release_id!r} in {releases_dir} (known: {known})")


def rate(entries: Sequence[Entry], release: Release | None, banding: str = "linear") -> dict:
    """Ratings in force: against `release` when given, else provisional ones from the entries."""
    if release is None:
        return rate_live(entries, banding)
    return rate_with_release(entries, release)


def release_from_results(results_dir: Path, release_id: str, banding: str = "linear",
                         releases_dir: Path = RELEASES_DIR) -> tuple[Path, Release, tuple[Refusal, ...]]:
    """Cut a release from the rated entries of a results folder and write it (never over an existing one).

    Returns where it was written, the release, and the files left out (each with its reason).
    """
    if not Path(results_dir).exists():
        raise NotFoundError(f"results folder {results_dir} does not exist")
    board = aggregate(Path(results_dir))
    entries = [entry for task in board.tasks.values() for entry in task.rated]
    release = cut_release(entries, release_id, banding)
    return write_release(release, releases_dir), release, tuple(board.refused)
