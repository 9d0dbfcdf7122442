"""From what a run measured to a filed result: derive the figures, assemble the document, check it, write it.

The runner only sequences a run (warm-up, idle, repetitions inside windows) and hands over what it measured as a
`MeasuredRun` of plain data; everything about the result file (its figures, conditions, plausibility checks and
where it is filed) is decided here. Nothing is filed under the results folder until the result has passed its own
checks; a finished run is never thrown away: a result that fails them, or that cannot be written where asked, is
kept in a fallback folder (`harness.results.store`) and the error line names it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from harness.errors import MeasurementError, validation_problem
from harness.results.checks import run_checks
from harness.results.conditions import run_conditions
from harness.results.figures import derive_figures, idle_drift, temperature_trend_warnings
from harness.results.schema import IdleBaseline, Repetition, ResultFile, Timeline
from harness.results.statistics import length_summary
from harness.results.store import keep_unfiled, new_run_id, result_target, save_result


@dataclass
class MeasuredRun:
    """Everything one run measured and knows about itself, as plain JSON-ready data (the schema's layout)."""

    started_at: datetime
    finished_at: datetime
    harness_version: str
    git_sha: str | None
    task: dict
    input_set: dict
    model: dict
    engine: dict
    settings: dict
    environment: dict
    repetitions: list[dict]
    idle: dict | None = None
    idle_after: dict | None = None
    timelines: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    input_sizes: Sequence[float] | None = None
    input_size_unit: str = "tokens"
    answer_lengths: Sequence[int] = ()
    """New tokens of each query of the first pass, where the model chose them (natural-length generation)."""
    max_new_tokens: int | None = None
    """The answers' cap, to count how many reached it."""
    workload_settings: dict | None = None
    serving: dict | None = None
    """A served run's summary (`harness.results.serving.serving_summary`)."""


def assemble_result(run: MeasuredRun) -> ResultFile:
    """The checked result of a measured run; a MeasurementError (the run kept in a fallback folder) when it does
    not fit the schema or fails a plausibility check."""
    warnings = list(run.warnings) + _output_digest_warnings(run.repetitions)
    idle = IdleBaseline.model_validate(run.idle) if run.idle is not None else None
    idle_after = IdleBaseline.model_validate(run.idle_after) if run.idle_after is not None else None
    idle_protocol, drift_warnings = idle_drift(idle, idle_after)
    warnings.extend(w.model_dump() for w in drift_warnings)
    repetitions = [Repetition.model_validate(rep) for rep in run.repetitions]
    figures, figure_warnings = derive_figures(repetitions, idle)
    figure_warnings += temperature_trend_warnings(repetitions, [Timeline.model_validate(t) for t in run.timelines],
                                                  run.started_at.timestamp())
    document = {
        "run_id": new_run_id(run.started_at),
        "created_at": run.finished_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "harness_version": run.harness_version,
        "git_sha": run.git_sha,
        "task": run.task,
        "input_set": run.input_set,
        "model": run.model,
        "engine": run.engine,
        "settings": run.settings,
        "environment": run.environment,
        "idle": idle,
        "idle_protocol": idle_protocol,
        "input_lengths": length_summary(run.input_sizes, run.input_size_unit) if run.input_sizes else None,
        "output_lengths": _output_lengths(run.answer_lengths, run.max_new_tokens),
        "serving": run.serving,
        "workload_settings": run.workload_settings,
        "repetitions": repetitions,
        "timelines": run.timelines,
        "warnings": warnings + [w.model_dump() for w in figure_warnings],
        "figures": figures,
    }
    try:
        result = ResultFile.model_validate(document)
    except ValidationError as error:
        kept = keep_unfiled(_jsonable(document), document["run_id"])
        raise MeasurementError(f"the run's own result does not fit the schema ({validation_problem(error)}); "
                               f"not filed, kept for diagnosis at {kept}") from None
    result = result.model_copy(update={"conditions": run_conditions(result)})
    errors = [f for f in run_checks(result) if f.severity == "error"]
    if errors:
        kept = keep_unfiled(result.model_dump(mode="json"), result.run_id)
        raise MeasurementError(f"the run's own result failed a plausibility check, not filed under the results "
                               f"(kept for diagnosis at {kept}): {errors[0].name}: {errors[0].message}")
    return result


def file_result(result: ResultFile, results_dir: Path | None, output: Path | None, *, strict: bool = False) -> Path:
    """Write a checked result where `harness run` was asked to (`--output`, else under `--results-dir`, else where
    what it measured belongs: `store.default_results_dir`); in strict mode a result measured under non-standard
    conditions is refused, with nothing written."""
    refuse_non_standard(result, strict)
    return save_result(result, result_target(Path(results_dir) if results_dir is not None else None,
                                             Path(output) if output else None, result))


def refuse_non_standard(result: ResultFile, strict: bool) -> None:
    if strict and not result.conditions.standard:
        raise MeasurementError(f"strict mode: non-standard conditions, nothing written: "
                               f"{'; '.join(result.conditions.reasons)}")


def _jsonable(document: dict) -> dict:
    """A result document that failed validation, as JSON (models dumped, anything else as text)."""
    return json.loads(json.dumps(document, default=lambda v: v.model_dump(mode="json") if hasattr(v, "model_dump")
                                 else str(v)))


def _output_digest_warnings(repetitions: Sequence[dict]) -> list[dict]:
    """Every workload is deterministic (greedy decoding, seeded noise): repetitions whose outputs differ say so."""
    digests = {rep["output_digest"] for rep in repetitions if rep.get("output_digest") is not None}
    if len(digests) <= 1:
        return []
    return [{"code": "outputs-differ", "severity": "warning", "gpu_index": None, "repetition": None,
             "message": f"the outputs of the first queries differ between repetitions ({len(digests)} distinct "
                        "digests): the model did not do the same work each time (non-deterministic kernels?)"}]


def _output_lengths(lengths: Sequence[int], cap: int | None) -> dict | None:
    """New tokens per query where the model chose them, and how many answers used the whole cap."""
    if not lengths:
        return None
    return {**length_summary(lengths), "at_cap": sum(1 for n in lengths if cap is not None and n >= cap)}


__all__ = ["MeasuredRun", "assemble_result", "file_result", "refuse_non_standard"]
