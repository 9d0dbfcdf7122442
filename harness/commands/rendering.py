"""How a finished run is summarised on the terminal: the headline first, with its spread and its caveats."""

from __future__ import annotations

from harness.kinds import is_real_gpu_backend
from harness.results.schema import Estimate, ResultFile


def format_estimate(value: Estimate | None, unit: str, digits: int = 4) -> str:
    """`12.31 Wh (95 % CI 12.10-12.52, n=3)`; `n/a` when not measured; just the mean for one repetition (the
    summary says once that there are no intervals); an unusable figure says so and why."""
    if value is None:
        return "n/a"
    text = f"{value.mean:.{digits}g} {unit}"
    if value.ci95_low is not None and value.ci95_high is not None:
        text += f" (95 % CI {value.ci95_low:.{digits}g}-{value.ci95_high:.{digits}g}, n={value.n})"
    elif value.n > 1:
        text += f" (no interval, n={value.n})"
    if value.unusable:
        text += f" UNUSABLE: {value.unusable}"
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
        lines.append(f"GPU energy per 1000 queries: {format_estimate(figures.gpu_energy_per_1k_queries_wh, 'Wh')}"
                     f"{backend}")
        lines.append(f"  above idle: {format_estimate(figures.gpu_energy_above_idle_per_1k_queries_wh, 'Wh')}")
        if figures.gpu_prefill_energy_per_1k_queries_wh is not None:
            lines.append(f"  prefill: {format_estimate(figures.gpu_prefill_energy_per_1k_queries_wh, 'Wh')}, "
                         f"decode: {format_estimate(figures.gpu_decode_energy_per_1k_queries_wh, 'Wh')}")
        if figures.gpu_energy_per_output_token_j is not None and result.output_lengths is not None:
            lines.append(f"  per output token: {format_estimate(figures.gpu_energy_per_output_token_j, 'J')}")
    else:
        lines.append("GPU energy per 1000 queries: not measured (no GPU in this run)")
    if result.output_lengths is not None:
        out = result.output_lengths
        cap = (result.task.spec.get("generation") or {}).get("max_new_tokens")
        capped = f"; {out.at_cap} of {out.num_queries} answers reached the {cap}-token cap" if out.at_cap is not None \
            and cap else ""
        lines.append(f"output lengths: mean {out.mean:.4g}, p50 {out.p50:.4g}, p90 {out.p90:.4g} {out.unit}{capped}")
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
