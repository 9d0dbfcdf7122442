"""How a finished run is summarised on the terminal: the headline first, with its spread and its caveats."""

from __future__ import annotations

from harness.kinds import is_real_gpu_backend
from harness.results.figures import unusable_figures as figures_not_usable
from harness.results.schema import Estimate, ResultFile
from harness.results.store import GPU_RESULTS_DIR, OTHER_RESULTS_DIR, default_results_dir


def interval_text(low: float, high: float, digits: int = 4) -> str:
    """A 95 % interval as `[a, b]`: never `a-b`, which reads as a range or a minus sign when a bound is negative."""
    return f"[{low:.{digits}g}, {high:.{digits}g}]"


def format_estimate(value: Estimate | None, unit: str, digits: int = 4, *, why: bool = True) -> str:
    """`12.31 Wh (95 % CI [12.10, 12.52], n=3)`; `n/a` when not measured; just the mean for one repetition (the
    summary says once that there are no intervals); a figure that is not usable says so, and why unless `why` is
    False (the caller says it once for several figures)."""
    if value is None:
        return "n/a"
    text = f"{value.mean:.{digits}g} {unit}"
    if value.ci95_low is not None and value.ci95_high is not None:
        text += f" (95 % CI {interval_text(value.ci95_low, value.ci95_high, digits)}, n={value.n})"
    elif value.n > 1:
        text += f" (no interval, n={value.n})"
    if value.unusable:
        text += f", not usable: {value.unusable}" if why else ", not usable (see below)"
    return text


def headline_lines(result: ResultFile) -> list[str]:
    """The lines `harness run` prints after writing a result."""
    figures = result.figures
    lines = [f"{result.task.id} v{result.task.version} | {result.model.id} | {result.hardware_class} | "
             f"{result.settings.num_queries} queries x {result.settings.repeats} repeats, batch "
             f"{result.settings.batch_size}"
             + (" (one repetition: no confidence intervals)" if len(result.repetitions) == 1 else "")]
    settings = result.settings
    if settings.target_ci_pct is not None:
        stop = {"target-ci": f"the ±{settings.target_ci_pct:g} % target was reached",
                "max-repeats": f"--max-repeats {settings.max_repeats} was reached before ±{settings.target_ci_pct:g} %"}
        lines.append(f"adaptive repeats: stopped after {len(result.repetitions)} because "
                     f"{stop.get(settings.stopped_by or '', settings.stopped_by)}")
    if result.conditions is not None and not result.conditions.standard:
        lines.append(f"non-standard conditions (never rated): {'; '.join(result.conditions.reasons)}")
    if figures.gpu_energy_per_1k_queries_wh is not None:
        meter = result.environment.meter_backend
        backend = "" if is_real_gpu_backend(meter) else f" [{meter}]"
        gpu = lambda value, unit: format_estimate(value, unit, why=False)  # noqa: E731 - the reasons come once below
        lines.append(f"GPU energy per 1000 queries: {gpu(figures.gpu_energy_per_1k_queries_wh, 'Wh')}{backend}")
        lines.append(f"  above idle: {gpu(figures.gpu_energy_above_idle_per_1k_queries_wh, 'Wh')}")
        if figures.gpu_prefill_energy_per_1k_queries_wh is not None:
            lines.append(f"  prefill: {gpu(figures.gpu_prefill_energy_per_1k_queries_wh, 'Wh')}, "
                         f"decode: {gpu(figures.gpu_decode_energy_per_1k_queries_wh, 'Wh')}")
        if figures.gpu_energy_per_output_token_j is not None and result.output_lengths is not None:
            lines.append(f"  per output token: {gpu(figures.gpu_energy_per_output_token_j, 'J')}")
        lines.extend(f"  not usable ({', '.join(names)}): {reason}" for reason, names in unusable_figures(result))
    else:
        lines.append("GPU energy per 1000 queries: not measured (no GPU in this run)")
    if result.output_lengths is not None:
        out = result.output_lengths
        cap = (result.task.spec.get("generation") or {}).get("max_new_tokens")
        capped = f"; {out.at_cap} of {out.num_queries} answers reached the {cap}-token cap" if out.at_cap is not None \
            and cap else ""
        lines.append(f"output lengths: mean {out.mean:.4g}, p50 {out.p50:.4g}, p90 {out.p90:.4g} {out.unit}{capped}")
    lines.extend(serving_lines(result))
    cpu_note = " (estimated)" if figures.cpu_energy_estimated else ""
    ram_note = " (estimated)" if figures.ram_energy_estimated else ""
    lines.append(f"CPU energy per 1000 queries: {format_estimate(figures.cpu_energy_per_1k_queries_wh, 'Wh')}"
                 f"{cpu_note}; RAM: {format_estimate(figures.ram_energy_per_1k_queries_wh, 'Wh')}{ram_note}")
    lines.append(f"latency p50 {format_estimate(figures.latency_p50_s, 's')}, p95 "
                 f"{format_estimate(figures.latency_p95_s, 's')}; throughput "
                 f"{format_estimate(figures.throughput_queries_per_s, 'queries/s')}")
    warnings = [w for w in result.warnings if w.severity != "info"]
    if warnings:
        codes = sorted({w.code for w in warnings})
        lines.append(f"warnings ({len(warnings)}): {', '.join(codes)}")
    return lines


GPU_FIGURE_WORDS = {
    "gpu_energy_per_1k_queries_wh": "GPU energy", "gpu_energy_above_idle_per_1k_queries_wh": "above idle",
    "gpu_prefill_energy_per_1k_queries_wh": "prefill", "gpu_decode_energy_per_1k_queries_wh": "decode",
    "gpu_energy_per_output_token_j": "per output token",
}
"""The GPU figures the headline shows, by the words it shows them with."""


def unusable_figures(result: ResultFile) -> list[tuple[str, list[str]]]:
    """(reason, the headline's GPU figures it makes unusable, in words) for each distinct reason."""
    found = [(reason, [GPU_FIGURE_WORDS[n] for n in names if n in GPU_FIGURE_WORDS])
             for reason, names in figures_not_usable(result.figures)]
    return [(reason, names) for reason, names in found if names]


def serving_lines(result: ResultFile) -> list[str]:
    """A served run's own headline: the steady state's energy per token, its latencies, and energy per request."""
    serving = result.serving
    if serving is None:
        return []
    engine = result.engine.name if result.engine is not None else result.engine_name
    lines = [f"served by {engine} at concurrency {serving.concurrency}: "
             f"{format_estimate(serving.gpu_energy_per_output_token_j, 'J')} per output token in the steady state"]
    if serving.steady_window_s is not None:
        lines.append(f"  steady window {serving.steady_window_s.mean:.3g} s, "
                     f"{format_estimate(serving.output_tokens_per_s, 'tokens/s')}")
    if serving.steady_unusable:
        lines.append(f"  steady figures not usable: {serving.steady_unusable}")
    if serving.ttft_s is not None and serving.inter_token_latency_s is not None:
        ttft, itl = serving.ttft_s, serving.inter_token_latency_s
        lines.append(f"  TTFT p50 {ttft.p50 * 1000:.4g} ms, p99 {ttft.p99 * 1000:.4g} ms; inter-token p50 "
                     f"{itl.p50 * 1000:.4g} ms, p99 {itl.p99 * 1000:.4g} ms")
    if serving.gpu_energy_per_request_j is not None:
        prefill, decode = serving.gpu_prefill_energy_per_request_j, serving.gpu_decode_energy_per_request_j
        lines.append(f"  per request (measured by attribution): mean {serving.gpu_energy_per_request_j.mean:.4g} J "
                     f"(prefill {prefill.mean:.4g} J, decode {decode.mean:.4g} J), p90 "
                     f"{serving.gpu_energy_per_request_j.p90:.4g} J")
    if serving.failed_requests:
        lines.append(f"  {serving.failed_requests} of {serving.requests} requests failed")
    return lines


def default_folder_line(results: list[ResultFile]) -> str | None:
    """Where results with no `--results-dir` went, when that is not `results/`: one line saying why."""
    if not results or all(default_results_dir(r) == GPU_RESULTS_DIR for r in results):
        return None
    return (f"filed under {OTHER_RESULTS_DIR}/, not {GPU_RESULTS_DIR}/: no real GPU was measured, and "
            f"{GPU_RESULTS_DIR}/ holds GPU measurements only (--results-dir chooses the folder)")
