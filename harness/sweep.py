"""`harness run` sweeps: one measurement per point of a settings grid, each written as its own result.

The grid is the campaign's (`harness.ops.campaigns.JobSettings`): the command line's lists become one
`JobSettings`, which types every value and expands the combinations, so `harness run --batch-size 1,4,16` and a
campaign's `batch_size: [1, 4, 16]` are the same three points. Every point is resolved and its inputs built before
any model loads, so a bad value anywhere is one error line and nothing is measured. Points of one precision share
one model load (dtype is the only swept setting that changes the loaded model); a point that fails (out of memory
at batch 128) is reported, and the other points' results are kept.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.engines import engine_named, require_run_extra
from harness.errors import ConfigError, HarnessError, InterruptedRun, validation_problem
from harness.files import loads_yaml_value
from harness.ops.campaigns import SWEEPABLE, WHOLE_NUMBER_SETTINGS, JobSettings, request_fields
from harness.results.schema import ResultFile
from harness.runner import (
    PreparedRun,
    Reporter,
    RunRequest,
    load_for,
    load_request,
    measure,
    prepare,
)

log = logging.getLogger(__name__)

LIST_OPTIONS = SWEEPABLE
"""`harness run` options that take a comma-separated sweep (`--batch-size 1,4,16`): the campaign's sweepable
settings; `--set` takes `key=[a,b]`."""


def parse_list(text: str | None) -> str | list[str] | None:
    """`1,4,16` or `[1, 4, 16]` -> ["1", "4", "16"]; a single value stays one value (typed later)."""
    if text is None:
        return None
    inner = text.strip()
    bracketed = inner.startswith("[") and inner.endswith("]")
    if bracketed:
        inner = inner[1:-1]
    if "," not in inner and not bracketed:
        return text.strip()
    return [part.strip() for part in inner.split(",")]


def _set_value(raw: str) -> Any:
    """A `--set` value: `[10, 30]` (YAML flow list) is a sweep; anything else is kept as text for resolution."""
    if raw.strip().startswith("["):
        try:
            value = loads_yaml_value(raw, f"--set value {raw[:40]!r}")
        except yaml.YAMLError:
            raise ConfigError(f"--set value {raw!r} is not a list of values such as [10, 30]") from None
        if isinstance(value, list):
            return value
    return raw


def sweep_settings(options: Mapping[str, str | None], assignments: Mapping[str, str]) -> JobSettings:
    """The command line's settings as the campaign types them; a value of the wrong type is one ConfigError."""
    data: dict[str, Any] = {name: parse_list(options.get(name)) for name in LIST_OPTIONS}
    for name in WHOLE_NUMBER_SETTINGS:
        values = data[name] if isinstance(data[name], list) else [data[name]]
        for value in values:
            if value is not None and not value.lstrip("-").isdigit():
                raise ConfigError(f"--{name.replace('_', '-')} expects whole numbers (a comma list sweeps them), "
                                  f"got {value!r}")
    data["set"] = {key: _set_value(value) for key, value in assignments.items()}
    try:
        return JobSettings.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as error:
        raise ConfigError(f"sweep settings: {validation_problem(error)}") from None


def sweep_requests(base: RunRequest, settings: JobSettings) -> list[RunRequest]:
    """One run request per grid point: `base` with the point's settings (the last setting varies fastest)."""
    return [dataclasses.replace(base, **request_fields(point)) for point in settings.grid()]


def point_labels(requests: Sequence[RunRequest]) -> list[str]:
    """What tells the points apart (`batch_size=16, dtype=float16`): the settings whose values differ."""
    flat = [{**{name: getattr(r, name) for name in LIST_OPTIONS}, **dict(r.overrides)} for r in requests]
    varying = [key for key in dict.fromkeys(k for point in flat for k in point)
               if len({str(point.get(key)) for point in flat}) > 1]
    return [", ".join(f"{key}={point.get(key)}" for key in varying) or "the one point" for point in flat]


@dataclass(frozen=True)
class PointOutcome:
    """One point of a sweep: its result and file, or the error that stopped it."""

    label: str
    result: ResultFile | None = None
    path: Path | None = None
    error: HarnessError | None = None


def run_sweep(requests: Sequence[RunRequest], reporter: Reporter | None = None,
              on_point: Callable[[PointOutcome], None] | None = None) -> list[PointOutcome]:
    """Prepare every point (nothing loads until all are valid), then measure them, one model load per dtype and
    workload (a chat point checks the model's chat template when it loads), and for a served engine per server
    (one per concurrency, its batch cap).

    A point's failure (out of memory, a failed check) is recorded and the sweep goes on; an interrupt stops it.
    """
    if len(requests) > 1 and any(r.output is not None and Path(r.output).suffix.lower() == ".json"
                                 for r in requests):
        raise ConfigError("--output names one result file, but a sweep writes one result per point: give a folder")
    labels = point_labels(requests)
    prepared = [prepare(request) for request in requests]
    for engine in sorted({point.engine for point in prepared}):
        require_run_extra(engine)
    if reporter is None:
        for engine in sorted({point.engine for point in prepared}):
            engine_named(engine).silence_progress_bars()
    by_load: dict[tuple, list[tuple[str, PreparedRun]]] = {}
    for label, point in zip(labels, prepared):
        key = (point.resolved.spec.dtype, point.workload, engine_named(point.engine).load_key(load_request(point)))
        by_load.setdefault(key, []).append((label, point))
    outcomes: dict[str, PointOutcome] = {}

    def record(outcome: PointOutcome) -> None:
        outcomes[outcome.label] = outcome
        if on_point is not None:
            on_point(outcome)

    try:
        _measure_groups(by_load, reporter, record)
    except (KeyboardInterrupt, InterruptedRun):
        written = [outcome.path for outcome in outcomes.values() if outcome.path is not None]
        if not written:
            raise
        raise InterruptedRun(f"interrupted; {len(written)} of {len(labels)} sweep points were measured and "
                             f"written before it ({', '.join(str(path) for path in written)}); the others were "
                             f"not") from None
    return [outcomes[label] for label in labels]


def _measure_groups(by_load: dict[tuple, list[tuple[str, PreparedRun]]], reporter: Reporter | None,
                    record: Callable[[PointOutcome], None]) -> None:
    """Measure each group of points on one model load, recording each point's outcome as it ends."""
    for members in by_load.values():
        try:
            loaded = load_for(members[0][1])
        except InterruptedRun:
            raise
        except HarnessError as error:
            for label, _ in members:
                record(PointOutcome(label, error=error))
            continue
        try:
            for label, point in members:
                try:
                    result, path = measure(point, loaded, reporter)
                except InterruptedRun:
                    raise
                except HarnessError as error:
                    log.warning("sweep point %s failed: %s", label, error)
                    record(PointOutcome(label, error=error))
                    continue
                record(PointOutcome(label, result=result, path=path))
        finally:  # a server an engine started is stopped on Ctrl-C too
            engine_named(loaded.engine).close(loaded)
        del loaded
        _release_memory()


def _release_memory() -> None:
    """Free the previous precision's model before the next one loads."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
