"""Derived figures of a run, computed from its repetitions' readings only.

Pure functions: the same code derives the figures when a run ends and re-derives them when a result file
is checked, so a headline cannot drift from the readings it summarises. Every figure is per repetition
first, then summarised with a mean, standard deviation and 95 % confidence interval.

GPU energy figures carry the counter-edge error of the windows they rest on: each window's bound (update period x
mean power, recorded on the reading) is scaled like the figure and added in quadrature to the t half-width; the
decode figure, a difference of two windows, carries both windows' bounds. A GPU figure resting on a window whose
relative edge-error bound exceeds `MAX_EDGE_ERROR` (1 %) is marked unusable, as is one whose interval reaches
below zero or spans more than ±50 % of its mean (`harness.results.statistics.usability_problem`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.kinds import MAX_EDGE_ERROR
from harness.results.schema import Estimate, Figures, IdleBaseline, IdleProtocol, Repetition, RunWarning, Timeline
from harness.results.statistics import estimate, percentiles, relative_half_width, trend

JOULES_PER_WH = 3600.0

IDLE_DRIFT_TOLERANCE = 0.05
"""Idle power after the repetitions more than 5 % away from before is flagged (`idle-drift`)."""


def per_1k_queries_wh(joules: float, num_queries: int) -> float:
    """Energy for `num_queries` queries, scaled to 1000 queries, in Wh."""
    return joules / JOULES_PER_WH * 1000.0 / num_queries


def _maybe(values: Sequence[float | None], edge_errors: Sequence[float | None] | None = None,
           edge_shares: Sequence[float | None] | None = None) -> Estimate | None:
    """An estimate when every repetition has the value, else None (a partial mean would mislead).

    `edge_errors` (same unit as the values, per repetition) widen the interval by their mean; `edge_shares` (each
    window's relative edge-error bound) above `MAX_EDGE_ERROR` make the figure unusable.
    """
    if not values or any(v is None for v in values):
        return None
    known = [float(e) for e in (edge_errors or ()) if e is not None]
    extra = math.fsum(known) / len(known) if known else 0.0
    result = estimate([float(v) for v in values], extra_half_width=extra)
    worst = max((float(s) for s in (edge_shares or ()) if s is not None), default=None)
    if worst is not None and worst > MAX_EDGE_ERROR and result.unusable is None:
        result = result.model_copy(update={"unusable": window_too_short(worst)})
    return result


def window_too_short(edge_share: float, what: str = "a window") -> str:
    """Why a figure resting on a window with this relative counter-edge error bound is not usable, and what to do."""
    return (f"window too short: it rests on {what} whose counter-edge error can reach {edge_share * 100:.1f} % (more "
            f"than {MAX_EDGE_ERROR * 100:g} %); lengthen it (--min-window-s, 10 s by default on a GPU)")


def unusable_figures(figures: Figures) -> list[tuple[str, list[str]]]:
    """(reason, the names of the figures it makes unusable) for each distinct reason, in the figures' order: what a
    run flagged, said once per cause."""
    by_reason: dict[str, list[str]] = {}
    for name in type(figures).model_fields:
        value = getattr(figures, name)
        if isinstance(value, Estimate) and value.unusable:
            by_reason.setdefault(value.unusable, []).append(name)
    return list(by_reason.items())


def _edge_error_j(rep: Repetition, phase: str) -> float | None:
    reading = rep.readings.get(phase)
    if reading is None or reading.gpu_edge_error_j is None:
        return None
    return sum(reading.gpu_edge_error_j.values())


def _edge_share(rep: Repetition, phase: str) -> float | None:
    """The window's relative counter-edge error bound (edge error / energy)."""
    error_j, total_j = _edge_error_j(rep, phase), _gpu_total_j(rep, phase)
    if error_j is None or not total_j:
        return None
    return error_j / total_j


def _prefill_queries(rep: Repetition) -> int:
    return rep.prefill_num_queries or rep.num_queries


def _gpu_total_j(rep: Repetition, phase: str) -> float | None:
    reading = rep.readings.get(phase)
    if reading is None or reading.gpu_method == "none":
        return None
    return sum(reading.gpu_energy_j.values())


def _gpu_above_idle_j(rep: Repetition, phase: str) -> float | None:
    reading = rep.readings.get(phase)
    total = _gpu_total_j(rep, phase)
    if total is None or reading.gpu_idle_energy_j is None:
        return None
    return total - sum(reading.gpu_idle_energy_j.values())


def decode_energy_j(rep: Repetition) -> float | None:
    """Decode energy of the repetition's `num_queries` queries: the full pass minus the prefill pass, each per query
    (the two windows may have run different numbers of queries to reach the minimum window); None for
    non-generative tasks."""
    total, prefill = _gpu_total_j(rep, "total"), _gpu_total_j(rep, "prefill")
    if total is None or prefill is None:
        return None
    return total - prefill * rep.num_queries / _prefill_queries(rep)


def _decode_edge_error_j(rep: Repetition) -> float | None:
    """The decode figure's edge-error bound: both windows' bounds, scaled to the repetition's queries, added."""
    total, prefill = _edge_error_j(rep, "total"), _edge_error_j(rep, "prefill")
    if total is None or prefill is None:
        return None
    return total + prefill * rep.num_queries / _prefill_queries(rep)


def adaptive_stop(repetitions: Sequence[Repetition], target_ci_pct: float) -> bool:
    """True when the GPU headline's 95 % interval (edge error included) is within ±`target_ci_pct` % of its mean."""
    n = [rep.num_queries for rep in repetitions]
    values = [_gpu_total_j(rep, "total") for rep in repetitions]
    if len(values) < 2 or any(v is None for v in values):
        return False
    headline = _maybe([per_1k_queries_wh(v, q) for v, q in zip(values, n)],
                      [None if e is None else per_1k_queries_wh(e, q)
                       for e, q in zip((_edge_error_j(r, "total") for r in repetitions), n)])
    share = relative_half_width(headline)
    return share is not None and share <= target_ci_pct / 100.0


def temperature_trend_warnings(repetitions: Sequence[Repetition], timelines: Sequence[Timeline],
                               started_unix_s: float) -> list[RunWarning]:
    """A `trend-across-repetitions` warning when the measured GPUs' mean temperature per repetition window (from
    the run's timelines, `t_s` seconds after `started_unix_s`) rises or falls significantly over the run."""
    per_rep: list[float] = []
    for rep in repetitions:
        reading = rep.readings["total"]
        t0, t1 = reading.start_unix_s - started_unix_s, reading.start_unix_s - started_unix_s + reading.duration_s
        values = [temp for line in timelines for t, temp in zip(line.t_s, line.temperature_c)
                  if temp is not None and t0 <= t <= t1]
        if not values:
            return []
        per_rep.append(math.fsum(values) / len(values))
    found = trend(per_rep)
    if found is None:
        return []
    return [RunWarning(code="trend-across-repetitions",
                       message=f"GPU temperature moved {found.change_over_run:+.1f} °C from the first repetition to "
                               f"the last ({found.slope_per_repetition:+.2f} °C per repetition, significant at 95 %): "
                               "the card had not reached a steady state")]


def idle_drift(before: IdleBaseline | None, after: IdleBaseline | None) -> tuple[IdleProtocol | None,
                                                                                 list[RunWarning]]:
    """The idle protocol's record: the baseline after the repetitions and its drift from the one before."""
    if before is None:
        return None, []
    drift_pct = None
    before_w = sum(before.gpu_power_w.values())
    if after is not None and before.gpu_power_w and before_w > 0:
        drift_pct = (sum(after.gpu_power_w.values()) / before_w - 1.0) * 100.0
    flagged = drift_pct is not None and abs(drift_pct) > IDLE_DRIFT_TOLERANCE * 100
    warnings = []
    if flagged:
        warnings.append(RunWarning(
            code="idle-drift", message=f"idle GPU power moved {drift_pct:+.1f} % between before and after the "
                                       f"repetitions ({before_w:.1f} W before); \"above idle\" uses the one before"))
    return IdleProtocol(after=after, drift_pct=drift_pct, drift_flagged=flagged), warnings


HEADLINE_FIGURES = ("gpu_energy_per_1k_queries_wh", "gpu_energy_above_idle_per_1k_queries_wh")
"""The `Figures` a result's plausibility check re-derives from its readings (`headline_figures`)."""


def headline_figures(repetitions: Sequence[Repetition]) -> dict[str, Estimate | None]:
    """The `HEADLINE_FIGURES` of the readings, as `derive_figures` puts them in the file.

    On its own so that checking a file (thousands in a leaderboard build) does not also sort every repetition's
    latencies for figures the check never compares.
    """
    n = [rep.num_queries for rep in repetitions]

    def scaled(values: Sequence[float | None]) -> list[float | None]:
        return [None if v is None else per_1k_queries_wh(v, q) for v, q in zip(values, n)]

    total_edge = scaled([_edge_error_j(rep, "total") for rep in repetitions])
    total_share = [_edge_share(rep, "total") for rep in repetitions]
    return {
        "gpu_energy_per_1k_queries_wh": _maybe(scaled([_gpu_total_j(rep, "total") for rep in repetitions]),
                                               total_edge, total_share),
        "gpu_energy_above_idle_per_1k_queries_wh": _maybe(scaled([_gpu_above_idle_j(r, "total")
                                                                  for r in repetitions]), total_edge, total_share),
    }


def derive_figures(repetitions: Sequence[Repetition], idle: IdleBaseline | None) -> tuple[Figures, list[RunWarning]]:
    """Figures for the result file, and warnings about figures that could not be trusted (and were left out)."""
    warnings: list[RunWarning] = []
    totals = [rep.readings["total"] for rep in repetitions]
    gpu_j = [_gpu_total_j(rep, "total") for rep in repetitions]
    n = [rep.num_queries for rep in repetitions]

    def scaled(values: Sequence[float | None], queries: Sequence[int] | None = None) -> list[float | None]:
        return [None if v is None else per_1k_queries_wh(v, q) for v, q in zip(values, queries or n)]

    prefill_n = [_prefill_queries(rep) for rep in repetitions]
    prefill_j = [_gpu_total_j(rep, "prefill") for rep in repetitions]
    decode_j = [decode_energy_j(rep) for rep in repetitions]
    if any(v is not None and v <= 0 for v in decode_j):
        warnings.append(RunWarning(
            code="decode-energy-not-positive",
            message="the full pass used no more energy than the prefill-only pass in some repetition; "
                    "the decode figure is left out (the workload is too short to separate the phases)",
        ))
        decode_j = [None] * len(repetitions)
    total_share = [_edge_share(rep, "total") for rep in repetitions]
    prefill_share = [_edge_share(rep, "prefill") for rep in repetitions]
    power_w = [None if j is None else j / d for j, d in zip(gpu_j, [r.duration_s for r in totals])]
    if all(p is not None for p in power_w):
        rising = trend(power_w)
        if rising is not None:
            warnings.append(RunWarning(
                code="trend-across-repetitions", message=f"GPU mean power moved {rising.relative_change * 100:+.1f} % "
                f"from the first repetition to the last ({rising.slope_per_repetition:+.2f} W per repetition, "
                "significant at 95 %): the card had not reached a steady state (heating up?)"))

    cpu_j = [r.cpu_energy_j for r in totals]
    ram_j = [r.ram_energy_j for r in totals]
    durations = [r.duration_s for r in totals]
    output_tokens = [rep.output_tokens for rep in repetitions]
    images = [rep.images for rep in repetitions]

    tokens_per_j = None
    if all(t for t in output_tokens) and all(j for j in gpu_j):
        tokens_per_j = estimate([t / j for t, j in zip(output_tokens, gpu_j)])
    energy_per_token = _maybe([j / t if j is not None and t else None for j, t in zip(gpu_j, output_tokens)],
                              [e / t if e is not None and t else None
                               for e, t in zip((_edge_error_j(r, "total") for r in repetitions), output_tokens)],
                              total_share)
    images_per_wh = None
    if all(i for i in images) and all(j for j in gpu_j):
        images_per_wh = estimate([i / (j / JOULES_PER_WH) for i, j in zip(images, gpu_j)])

    latency_percentiles = [percentiles(rep.query_latencies_s, (0.50, 0.95)) for rep in repetitions]
    figures = Figures(
        **headline_figures(repetitions),
        gpu_prefill_energy_per_1k_queries_wh=_maybe(scaled(prefill_j, prefill_n),
                                                    scaled([_edge_error_j(r, "prefill") for r in repetitions],
                                                           prefill_n), prefill_share),
        gpu_decode_energy_per_1k_queries_wh=_maybe(scaled(decode_j),
                                                   scaled([_decode_edge_error_j(r) for r in repetitions]),
                                                   [max(a, b) if a is not None and b is not None else None
                                                    for a, b in zip(total_share, prefill_share)]),
        gpu_mean_power_w=_maybe([None if j is None else j / d for j, d in zip(gpu_j, durations)]),
        cpu_energy_per_1k_queries_wh=_maybe(scaled(cpu_j)),
        cpu_energy_estimated=any(r.cpu_method == "estimated" for r in totals),
        ram_energy_per_1k_queries_wh=_maybe(scaled(ram_j)),
        ram_energy_estimated=any(r.ram_method == "estimated" for r in totals),
        latency_p50_s=estimate([p50 for p50, _ in latency_percentiles]),
        latency_p95_s=estimate([p95 for _, p95 in latency_percentiles]),
        throughput_queries_per_s=estimate([q / d for q, d in zip(n, durations)]),
        output_tokens_per_j=tokens_per_j,
        gpu_energy_per_output_token_j=energy_per_token,
        images_per_wh=images_per_wh,
        idle_gpu_power_w=sum(idle.gpu_power_w.values()) if idle and idle.gpu_power_w else None,
    )
    return figures, warnings
