"""Derived figures of a run, computed from its repetitions' readings only.

Pure functions: the same code derives the figures when a run ends and re-derives them when a result file
is checked, so a headline cannot drift from the readings it summarises. Every figure is per repetition
first, then summarised with a mean, standard deviation and 95 % confidence interval.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.results.schema import Estimate, Figures, IdleBaseline, Repetition, RunWarning
from harness.results.statistics import estimate, percentile

JOULES_PER_WH = 3600.0


def per_1k_queries_wh(joules: float, num_queries: int) -> float:
    """Energy for `num_queries` queries, scaled to 1000 queries, in Wh."""
    return joules / JOULES_PER_WH * 1000.0 / num_queries


def _maybe(values: Sequence[float | None]) -> Estimate | None:
    """An estimate when every repetition has the value, else None (a partial mean would mislead)."""
    if not values or any(v is None for v in values):
        return None
    return estimate([float(v) for v in values])


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
    """Decode energy: the full pass minus the prefill pass (None for non-generative tasks)."""
    total, prefill = _gpu_total_j(rep, "total"), _gpu_total_j(rep, "prefill")
    if total is None or prefill is None:
        return None
    return total - prefill


def derive_figures(repetitions: Sequence[Repetition], idle: IdleBaseline | None) -> tuple[Figures, list[RunWarning]]:
    """Figures for the result file, and warnings about figures that could not be trusted (and were left out)."""
    warnings: list[RunWarning] = []
    totals = [rep.readings["total"] for rep in repetitions]
    gpu_j = [_gpu_total_j(rep, "total") for rep in repetitions]
    n = [rep.num_queries for rep in repetitions]

    def scaled(values: Sequence[float | None]) -> list[float | None]:
        return [None if v is None else per_1k_queries_wh(v, q) for v, q in zip(values, n)]

    prefill_j = [_gpu_total_j(rep, "prefill") for rep in repetitions]
    decode_j = [decode_energy_j(rep) for rep in repetitions]
    if any(v is not None and v <= 0 for v in decode_j):
        warnings.append(RunWarning(
            code="decode-energy-not-positive",
            message="the full pass used no more energy than the prefill-only pass in some repetition; "
                    "the decode figure is left out (the workload is too short to separate the phases)",
        ))
        decode_j = [None] * len(repetitions)

    cpu_j = [r.cpu_energy_j for r in totals]
    ram_j = [r.ram_energy_j for r in totals]
    durations = [r.duration_s for r in totals]
    output_tokens = [rep.output_tokens for rep in repetitions]
    images = [rep.images for rep in repetitions]

    tokens_per_j = None
    if all(t for t in output_tokens) and all(j for j in gpu_j):
        tokens_per_j = estimate([t / j for t, j in zip(output_tokens, gpu_j)])
    images_per_wh = None
    if all(i for i in images) and all(j for j in gpu_j):
        images_per_wh = estimate([i / (j / JOULES_PER_WH) for i, j in zip(images, gpu_j)])

    figures = Figures(
        gpu_energy_per_1k_queries_wh=_maybe(scaled(gpu_j)),
        gpu_energy_above_idle_per_1k_queries_wh=_maybe(scaled([_gpu_above_idle_j(r, "total") for r in repetitions])),
        gpu_prefill_energy_per_1k_queries_wh=_maybe(scaled(prefill_j)),
        gpu_decode_energy_per_1k_queries_wh=_maybe(scaled(decode_j)),
        gpu_mean_power_w=_maybe([None if j is None else j / d for j, d in zip(gpu_j, durations)]),
        cpu_energy_per_1k_queries_wh=_maybe(scaled(cpu_j)),
        cpu_energy_estimated=any(r.cpu_method == "estimated" for r in totals),
        ram_energy_per_1k_queries_wh=_maybe(scaled(ram_j)),
        ram_energy_estimated=any(r.ram_method == "estimated" for r in totals),
        latency_p50_s=estimate([percentile(rep.query_latencies_s, 0.50) for rep in repetitions]),
        latency_p95_s=estimate([percentile(rep.query_latencies_s, 0.95) for rep in repetitions]),
        throughput_queries_per_s=estimate([q / d for q, d in zip(n, durations)]),
        output_tokens_per_j=tokens_per_j,
        images_per_wh=images_per_wh,
        idle_gpu_power_w=sum(idle.gpu_power_w.values()) if idle and idle.gpu_power_w else None,
    )
    return figures, warnings
