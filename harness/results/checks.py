"""Plausibility checks on a result file, beyond its schema.

Each `check_*` function returns a list of `CheckResult` (empty when nothing is wrong). Severity `error`
makes a file invalid (the leaderboard refuses it); `warning` is shown to the reader. The figures are
recomputed from the readings, so a file whose headline was edited by hand does not pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from harness.files import unprintable
from harness.kinds import PROTOCOLS
from harness.results.figures import HEADLINE_FIGURES, headline_figures
from harness.results.schema import Estimate, ResultFile

POWER_LIMIT_MARGIN = 1.1
"""Mean power above 1.1x the enforced power limit is not physical for a window longer than a second."""

MIN_COUNTER_WINDOW_S = 0.1
"""NVML's energy counter updates about every 100 ms; a shorter window can read as zero."""

MAX_PLAUSIBLE_GPU_POWER_W = 5000.0
"""No single accelerator draws this much; a guard when the file carries no power limit."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    severity: Literal["error", "warning"]
    message: str


def _gpu_limit_w(result: ResultFile, index: str) -> float:
    for gpu in result.environment.gpus:
        if str(gpu.index) == index and gpu.power_limit_enforced_w:
            return gpu.power_limit_enforced_w
    return MAX_PLAUSIBLE_GPU_POWER_W


def check_non_negative_energies(result: ResultFile) -> list[CheckResult]:
    found = []
    for rep in result.repetitions:
        for phase, reading in rep.readings.items():
            values = dict(reading.gpu_energy_j)
            values.update({"cpu": reading.cpu_energy_j, "ram": reading.ram_energy_j})
            for where, joules in values.items():
                if joules is not None and joules < 0:
                    found.append(CheckResult("non-negative-energy", "error",
                                             f"repetition {rep.index} {phase}: energy of {where} is {joules} J"))
    return found


def check_work_has_energy(result: ResultFile) -> list[CheckResult]:
    found = []
    for rep in result.repetitions:
        total = rep.readings.get("total")
        if total is None:
            found.append(CheckResult("total-reading", "error", f"repetition {rep.index} has no 'total' reading"))
            continue
        if total.gpu_method != "none" and sum(total.gpu_energy_j.values()) <= 0:
            found.append(CheckResult("zero-energy", "error",
                                     f"repetition {rep.index}: GPU energy is zero for {rep.num_queries} queries"))
    return found


def check_windows_took_time(result: ResultFile) -> list[CheckResult]:
    """A measured window that ran queries cannot last zero seconds: every rate built on it (power, throughput)
    would be infinite."""
    return [CheckResult("zero-duration", "error", f"repetition {rep.index} {phase}: the window lasted 0 s")
            for rep in result.repetitions for phase, reading in rep.readings.items() if reading.duration_s <= 0]


def check_power_within_limit(result: ResultFile) -> list[CheckResult]:
    found = []
    for rep in result.repetitions:
        for phase, reading in rep.readings.items():
            if reading.duration_s < 1.0:
                continue
            for index, joules in reading.gpu_energy_j.items():
                power_w = joules / reading.duration_s
                limit_w = _gpu_limit_w(result, index) * POWER_LIMIT_MARGIN
                if not 0 <= power_w <= limit_w:
                    found.append(CheckResult("power-within-limit", "error",
                                             f"repetition {rep.index} {phase}: GPU {index} mean power {power_w:.1f} W "
                                             f"is outside 0..{limit_w:.0f} W"))
    for timeline in result.timelines:
        limit_w = _gpu_limit_w(result, str(timeline.gpu_index)) * POWER_LIMIT_MARGIN * 1.5
        peak = max(timeline.power_w, default=0.0)
        if peak > limit_w or min(timeline.power_w, default=0.0) < 0:
            found.append(CheckResult("timeline-power", "error",
                                     f"GPU {timeline.gpu_index} timeline power reaches {peak:.1f} W "
                                     f"(limit {limit_w:.0f} W)"))
    return found


def check_counts_match(result: ResultFile) -> list[CheckResult]:
    found = []
    settings = result.settings
    count = len(result.repetitions)
    if settings.target_ci_pct is not None and settings.max_repeats is not None:
        if not settings.repeats <= count <= settings.max_repeats:
            found.append(CheckResult("repetition-count", "error",
                                     f"{count} repetitions recorded, adaptive settings say "
                                     f"{settings.repeats}..{settings.max_repeats}"))
    elif count != settings.repeats:
        found.append(CheckResult("repetition-count", "error",
                                 f"{count} repetitions recorded, settings say {settings.repeats}"))
    if sorted(rep.index for rep in result.repetitions) != list(range(len(result.repetitions))):
        found.append(CheckResult("repetition-index", "error", "repetition indices are not 0..n-1"))
    for rep in result.repetitions:
        # A window extended to the minimum length runs whole passes again: a multiple of the task's queries.
        extended = bool(settings.min_window_s)
        for queries in ([rep.num_queries, rep.prefill_num_queries or rep.num_queries] if extended
                        else [rep.num_queries]):
            if queries % settings.num_queries != 0 or queries < settings.num_queries:
                found.append(CheckResult("query-count", "error",
                                         f"repetition {rep.index} ran {queries} queries, not whole passes of "
                                         f"{settings.num_queries}"))
        if not extended and rep.num_queries != settings.num_queries:
            found.append(CheckResult("query-count", "error",
                                     f"repetition {rep.index} ran {rep.num_queries} queries, settings say "
                                     f"{settings.num_queries}"))
        if len(rep.query_latencies_s) != rep.num_queries:
            found.append(CheckResult("latency-count", "error",
                                     f"repetition {rep.index} has {len(rep.query_latencies_s)} latencies for "
                                     f"{rep.num_queries} queries"))
    return found


def check_measured_gpus_known(result: ResultFile) -> list[CheckResult]:
    known = {g.index for g in result.environment.gpus}
    missing = [i for i in result.environment.measured_gpu_indices if i not in known]
    found = []
    if missing:
        found.append(CheckResult("measured-gpus", "error",
                                 f"measured GPU indices {missing} are not in environment.gpus"))
    measured = {str(i) for i in result.environment.measured_gpu_indices}
    for rep in result.repetitions:
        total = rep.readings.get("total")
        if total is not None and total.gpu_method != "none" and set(total.gpu_energy_j) != measured:
            found.append(CheckResult("measured-gpus", "error",
                                     f"repetition {rep.index} reports GPUs {sorted(total.gpu_energy_j)}, "
                                     f"environment says {sorted(measured)}"))
    return found


def check_timestamps(result: ResultFile) -> list[CheckResult]:
    if not result.started_at <= result.finished_at:
        return [CheckResult("timestamps", "error", "started_at is after finished_at")]
    return []


def check_window_length(result: ResultFile) -> list[CheckResult]:
    found = []
    for rep in result.repetitions:
        total = rep.readings.get("total")
        if total is not None and total.gpu_method == "counter" and total.duration_s < MIN_COUNTER_WINDOW_S:
            found.append(CheckResult("short-window", "warning",
                                     f"repetition {rep.index} lasted {total.duration_s * 1000:.0f} ms, under the "
                                     f"energy counter's ~100 ms update period"))
    return found


def check_protocol_known(result: ResultFile) -> list[CheckResult]:
    protocol = result.settings.protocol
    if protocol is not None and protocol not in PROTOCOLS:
        return [CheckResult("protocol", "error", f"unknown protocol {protocol!r} (protocols: {', '.join(PROTOCOLS)})")]
    return []


_last_derived: tuple[ResultFile, dict[str, Estimate | None] | None] | None = None


def _derived(result: ResultFile) -> dict[str, Estimate | None] | None:
    """`headline_figures` of the result's readings, computed once per result however many checks ask; None when
    the readings are so extreme (1e308 J) that the arithmetic overflows: a finding, not a crashed build.

    Re-deriving is most of what checking a file costs (a leaderboard build checks thousands); the checks of
    one result run one after another, so remembering the last one is enough.
    """
    global _last_derived
    if _last_derived is None or _last_derived[0] is not result:
        try:
            derived = headline_figures(result.repetitions)
        except (ArithmeticError, ValueError):  # ValueError: an Estimate refuses an infinite mean
            derived = None
        _last_derived = (result, derived)
    return _last_derived[1]


def check_usability_matches_readings(result: ResultFile) -> list[CheckResult]:
    """From schema 1.2 the headline's `unusable` must be what the readings give (a file cannot drop the mark)."""
    if result.schema_version in ("1.0", "1.1"):
        return []
    derived = _derived(result)
    if derived is None:
        return []  # check_headline_matches_readings says why
    stated, expected = result.figures.gpu_energy_per_1k_queries_wh, derived["gpu_energy_per_1k_queries_wh"]
    if stated is not None and expected is not None and (stated.unusable is None) != (expected.unusable is None):
        return [CheckResult("usability", "error", f"the GPU headline is {'not ' if stated.unusable is None else ''}"
                            f"marked unusable, but the readings say {expected.unusable or 'it is usable'}")]
    return []


def check_headline_matches_readings(result: ResultFile) -> list[CheckResult]:
    """The GPU figures must be what `derive_figures` makes of the readings (a hand-edited headline fails)."""
    derived = _derived(result)
    if derived is None:
        return [CheckResult("headline", "error", "the GPU headline cannot be re-derived from the readings: "
                                                 "their values overflow the arithmetic")]
    found = []
    for name in HEADLINE_FIGURES:
        stated, expected = getattr(result.figures, name), derived[name]
        if (stated is None) != (expected is None):
            found.append(CheckResult("headline", "error",
                                     f"{name} is {'missing' if stated is None else 'given'} but the readings "
                                     f"{'give' if expected is not None else 'do not give'} it"))
        elif stated is not None and not math.isclose(stated.mean, expected.mean, rel_tol=1e-6, abs_tol=1e-12):
            found.append(CheckResult("headline", "error",
                                     f"{name} {stated.mean:.6g} Wh does not match the readings "
                                     f"({expected.mean:.6g} Wh)"))
    return found


def check_figures_shown(result: ResultFile) -> list[CheckResult]:
    """Latency, throughput, power and energy means cannot be negative (energy above idle can, within noise), and
    no interval can end below its start: the pages and labels show them as they are.

    Confidence bounds may dip below zero for a noisy figure over few repetitions; only means are checked for sign.
    """
    found = []
    for name, value in result.figures.__dict__.items():
        if not isinstance(value, Estimate):
            continue
        if value.mean < 0 and not name.startswith("gpu_energy_above_idle"):
            found.append(CheckResult("figure-negative", "error", f"{name} is negative ({value.mean:.6g})"))
        if value.ci95_low is not None and value.ci95_high is not None and value.ci95_high < value.ci95_low:
            found.append(CheckResult("interval-reversed", "error", f"{name}'s interval ends ({value.ci95_high:.6g}) "
                                                                   f"below its start ({value.ci95_low:.6g})"))
    return found


def check_names_printable(result: ResultFile) -> list[CheckResult]:
    """Ids and names are shown on pages, labels (SVG, which is XML) and CSV: no control characters in them, and
    no bidi overrides (a name must read as it is stored)."""
    names = {"run_id": result.run_id, "task.id": result.task.id, "task.version": result.task.version,
             "model.id": result.model.id, "model.name": result.model.name or "",
             "model.revision": result.model.revision or "",
             "hardware_class": result.hardware_class, "harness_version": result.harness_version}
    found = []
    for where, text in names.items():
        if text.isascii() and text.isprintable():
            continue  # the common case, without a look-up per character: printable ASCII has none of them
        bad = unprintable(text)
        if bad is not None:
            found.append(CheckResult("names-printable", "error", f"{where} holds the control character {bad}"))
    return found


CHECKS: tuple[Callable[[ResultFile], list[CheckResult]], ...] = (
    check_names_printable,
    check_non_negative_energies,
    check_work_has_energy,
    check_windows_took_time,
    check_power_within_limit,
    check_counts_match,
    check_measured_gpus_known,
    check_timestamps,
    check_window_length,
    check_headline_matches_readings,
    check_usability_matches_readings,
    check_protocol_known,
    check_figures_shown,
)


def run_checks(result: ResultFile) -> list[CheckResult]:
    """Every plausibility finding for one result, errors first."""
    found = [finding for check in CHECKS for finding in check(result)]
    return sorted(found, key=lambda f: f.severity != "error")
