"""Result files as a flat table: one row per run, units in the column names, one fixed type per column.

The columns and their types are listed once, in COLUMNS, so every export (pandas, parquet, CSV, JSON lines,
a `datasets` Dataset) has the same columns whatever the runs hold, and a run without a figure has a missing
value there. Typed formats (pandas, parquet) keep a column's type even where it is empty in every row, so
parquet files of different runs load together; JSON cannot (a `null` has no type, and `datasets` types each
column from the first file it reads), which is why several JSON files of runs do not.

`emissions_rows` gives the same runs in CodeCarbon's `emissions.csv` layout (energy in kWh, emissions in kg
CO2e, powers in W), so dashboards built for CodeCarbon read them. CodeCarbon's `energy_consumed` is GPU + CPU +
RAM energy; ours keeps the three apart (and marks estimated host energy), so read the parts where it matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harness.results.schema import Estimate, ResultFile

ESTIMATE_FIGURES = (
    "gpu_energy_per_1k_queries_wh", "gpu_energy_above_idle_per_1k_queries_wh", "gpu_prefill_energy_per_1k_queries_wh",
    "gpu_decode_energy_per_1k_queries_wh", "gpu_mean_power_w", "cpu_energy_per_1k_queries_wh",
    "ram_energy_per_1k_queries_wh", "latency_p50_s", "latency_p95_s", "throughput_queries_per_s",
    "output_tokens_per_j", "gpu_energy_per_output_token_j", "images_per_wh",
)
"""Figures that are a mean over repetitions: each gives `<name>` (the mean), `_std`, `_ci95_low`, `_ci95_high`."""

_BASE_COLUMNS: dict[str, str] = {
    "run_id": "string", "created_at": "string", "schema_version": "string", "harness_version": "string",
    "git_sha": "string", "task_id": "string", "task_version": "string", "task_kind": "string",
    "model_id": "string", "model_revision": "string", "model_dtype": "string", "model_num_parameters": "Int64",
    "model_random_weights": "boolean", "hardware_class": "string", "num_gpus": "Int64", "gpu_model": "string",
    "meter_backend": "string", "device": "string", "num_queries": "Int64", "batch_size": "Int64",
    "repeats": "Int64", "preset": "string", "input_source": "string", "input_name": "string",
    "input_sha256": "string",
}
_FIGURE_COLUMNS: dict[str, str] = {
    f"{name}{suffix}": "Float64" for name in ESTIMATE_FIGURES for suffix in ("", "_std", "_ci95_low", "_ci95_high")
}
OUTPUT_LENGTH_COLUMNS: dict[str, str] = {
    "output_length_mean_tokens": "Float64", "output_length_p50_tokens": "Float64",
    "output_length_p90_tokens": "Float64", "output_length_at_cap_queries": "Int64",
}
"""`output_lengths` (natural-length generation: new tokens per query of the first measured pass, and how many
answers were stopped by the `max_new_tokens` cap); missing for fixed-length and non-generative tasks."""
_TAIL_COLUMNS: dict[str, str] = {
    "cpu_energy_estimated": "boolean", "ram_energy_estimated": "boolean", "idle_gpu_power_w": "Float64",
    "duration_s": "Float64", "gpu_energy_j": "Float64", "cpu_energy_j": "Float64", "ram_energy_j": "Float64",
    "cpu_method": "string", "ram_method": "string", "num_warnings": "Int64", "warning_codes": "string",
    "torch_version": "string", "torch_cuda_version": "string", "transformers_version": "string",
    "diffusers_version": "string", "driver_version": "string", "python_version": "string", "platform": "string",
    "cpu_model": "string", "source": "string", "source_file": "string", "source_task": "string",
    "source_stars": "Int64", "source_figure_as_written": "string", "source_unit_as_written": "string",
    "source_unit_read_as": "string",
}
"""`source` says what a row is: `measured` (a harness result) or the collection of another project's published
figure (`aies-v1`, `mlenergy-v3`: `harness.published`, only with `load_results(..., published=True)`);
`source_file` is where the row was read (a result file, or the source's repository, commit, file and row). The
other `source_*` columns are a published row's own: its task name, its star rating and its figure as written."""
COLUMNS: dict[str, str] = {**_BASE_COLUMNS, **_FIGURE_COLUMNS, **OUTPUT_LENGTH_COLUMNS, **_TAIL_COLUMNS}
"""Every column of the table and its pandas dtype (nullable types: a missing value never changes a type).
`duration_s` and the `*_energy_j` columns are totals over the run's measured repetitions (`total` windows)."""


def _sum_or_none(values: Iterable[float | None]) -> float | None:
    values = list(values)
    return None if not values or any(v is None for v in values) else float(sum(values))


def result_row(result: ResultFile, source_file: str | None = None) -> dict[str, Any]:
    """One run as a flat dict with exactly the keys of COLUMNS (None where the run has no value); `source_file` is
    where it was read."""
    env = result.environment
    measured = [g for g in env.gpus if g.index in env.measured_gpu_indices]
    totals = [rep.readings["total"] for rep in result.repetitions if "total" in rep.readings]
    codes = sorted({w.code for w in result.warnings})
    row: dict[str, Any] = {
        "run_id": result.run_id, "created_at": result.created_at.isoformat().replace("+00:00", "Z"),
        "schema_version": result.schema_version, "harness_version": result.harness_version,
        "git_sha": result.git_sha, "task_id": result.task.id, "task_version": result.task.version,
        "task_kind": result.task.kind, "model_id": result.model.id, "model_revision": result.model.revision,
        "model_dtype": result.model.dtype, "model_num_parameters": result.model.num_parameters,
        "model_random_weights": result.model.random_weights, "hardware_class": result.hardware_class,
        "num_gpus": len(measured), "gpu_model": ", ".join(sorted({g.name for g in measured})) or None,
        "meter_backend": env.meter_backend, "device": result.model.device,
        "num_queries": result.settings.num_queries, "batch_size": result.settings.batch_size,
        "repeats": result.settings.repeats, "preset": result.settings.preset,
        "input_source": result.input_set.source, "input_name": result.input_set.name,
        "input_sha256": result.input_set.sha256,
    }
    figures = result.figures
    for name in ESTIMATE_FIGURES:
        estimate: Estimate | None = getattr(figures, name)
        row[name] = None if estimate is None else estimate.mean
        row[f"{name}_std"] = None if estimate is None else estimate.std
        row[f"{name}_ci95_low"] = None if estimate is None else estimate.ci95_low
        row[f"{name}_ci95_high"] = None if estimate is None else estimate.ci95_high
    lengths = result.output_lengths
    row.update({
        "output_length_mean_tokens": lengths.mean if lengths else None,
        "output_length_p50_tokens": lengths.p50 if lengths else None,
        "output_length_p90_tokens": lengths.p90 if lengths else None,
        "output_length_at_cap_queries": lengths.at_cap if lengths else None,
    })
    row.update({
        "cpu_energy_estimated": figures.cpu_energy_estimated, "ram_energy_estimated": figures.ram_energy_estimated,
        "idle_gpu_power_w": figures.idle_gpu_power_w,
        "duration_s": _sum_or_none(r.duration_s for r in totals),
        "gpu_energy_j": _sum_or_none(sum(r.gpu_energy_j.values()) if r.gpu_energy_j else None for r in totals),
        "cpu_energy_j": _sum_or_none(r.cpu_energy_j for r in totals),
        "ram_energy_j": _sum_or_none(r.ram_energy_j for r in totals),
        "cpu_method": totals[0].cpu_method if totals else None,
        "ram_method": totals[0].ram_method if totals else None,
        "num_warnings": len(result.warnings), "warning_codes": ",".join(codes),
        "torch_version": env.torch_version, "torch_cuda_version": env.torch_cuda_version,
        "transformers_version": env.transformers_version, "diffusers_version": env.diffusers_version,
        "driver_version": env.driver_version, "python_version": env.python_version, "platform": env.platform,
        "cpu_model": env.cpu_model, "source": "measured", "source_file": source_file, "source_task": None,
        "source_stars": None, "source_figure_as_written": None, "source_unit_as_written": None,
        "source_unit_read_as": None,
    })
    return row


def results_frame(rows: Sequence[dict[str, Any]]):
    """A pandas DataFrame with the columns of COLUMNS in order, each with its fixed dtype."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(rows), columns=list(COLUMNS))
    return frame.astype(COLUMNS)


EMISSIONS_COLUMNS = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "country_iso_code", "region", "os", "python_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model",
    "ram_total_size", "tracking_mode", "pue",
)
"""CodeCarbon's emissions.csv columns that a harness run can fill (same names, order and units: s, kg, W, kWh)."""

J_PER_KWH = 3.6e6


def emissions_row(result: ResultFile, *, g_co2e_per_kwh: float, region: str, pue: float = 1.0,
                  project_name: str = "ai-energy-harness") -> dict[str, Any]:
    """One run in CodeCarbon's layout: energies summed over the measured repetitions, times PUE for emissions."""
    row = result_row(result)
    duration = row["duration_s"] or 0.0
    gpu_kwh, cpu_kwh, ram_kwh = ((row[k] or 0.0) / J_PER_KWH for k in ("gpu_energy_j", "cpu_energy_j", "ram_energy_j"))
    total_kwh = gpu_kwh + cpu_kwh + ram_kwh
    emissions_kg = total_kwh * pue * g_co2e_per_kwh / 1000.0

    def power(kwh: float) -> float:
        return kwh * J_PER_KWH / duration if duration > 0 else 0.0

    env = result.environment
    return {
        "timestamp": row["created_at"], "project_name": project_name, "run_id": result.run_id,
        "experiment_id": f"{result.task.id}@{result.task.version}/{result.model.id}",
        "duration": duration, "emissions": emissions_kg, "emissions_rate": emissions_kg / duration if duration else 0.0,
        "cpu_power": power(cpu_kwh), "gpu_power": power(gpu_kwh), "ram_power": power(ram_kwh),
        "cpu_energy": cpu_kwh, "gpu_energy": gpu_kwh, "ram_energy": ram_kwh, "energy_consumed": total_kwh,
        "country_iso_code": region if len(region) == 2 else "", "region": region, "os": env.platform,
        "python_version": env.python_version, "cpu_count": env.cpu_logical_cores, "cpu_model": env.cpu_model,
        "gpu_count": row["num_gpus"], "gpu_model": row["gpu_model"] or "", "ram_total_size": env.ram_total_gib,
        "tracking_mode": "process", "pue": pue,
    }
