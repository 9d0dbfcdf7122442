"""The Python API: measure any block of code, run a benchmark, load results into pandas.

    import harness

    with harness.measure(gpus=[0]) as m:         # any code: training steps, a notebook cell, a server call
        model.generate(**batch)
    print(m.reading.gpu_energy_j, m.reading.duration_s, m.warnings)

    result = harness.run(task="text-gen", model="HuggingFaceTB/SmolLM2-135M", num_queries=100)
    print(result.figures.gpu_energy_per_1k_queries_wh.mean)  # None on a CPU run: no GPU was measured

    df = harness.load_results("results/")       # one row per run, units in the column names
    df = harness.load_results("results/", published=True)   # and others' published figures (column `source`)

    runs = datasets.load_dataset("json", data_files="results/**/*.json", features=harness.result_features())

Each function is the same code the CLI runs (`open_meter`, `runner.execute`, `results.table`), never a copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.energy import open_gpu_backend, open_meter
from harness.energy.reading import EnergyReading, MeasurementWarning
from harness.errors import ConfigError, HarnessError
from harness.tasks.resolution import DEFAULT_SAMPLE_HZ, MAX_SAMPLE_HZ

BLOCK_KEY = "block"


@dataclass
class Measurement:
    """What `measure()` yields; filled in when the block ends (also when it raises)."""

    gpu_indices: list[int]
    reading: EnergyReading | None = None
    warnings: list[MeasurementWarning] = field(default_factory=list)
    """The window's own warnings and the meter's (contention, throttling, power limits, ...)."""

    @property
    def duration_s(self) -> float | None:
        return None if self.reading is None else self.reading.duration_s

    @property
    def gpu_energy_j(self) -> dict[int, float]:
        """Energy per GPU index, in joules (total, idle included: what the card drew)."""
        return {} if self.reading is None else dict(self.reading.gpu_energy_j)

    @property
    def gpu_total_energy_j(self) -> float | None:
        return None if self.reading is None else self.reading.gpu_total_energy_j

    @property
    def host_energy_j(self) -> dict[str, float | None]:
        """CPU and RAM energy in joules with their methods (`rapl`, `estimated` or `none`)."""
        if self.reading is None:
            return {}
        return {"cpu_energy_j": self.reading.cpu_energy_j, "cpu_method": self.reading.cpu_method,
                "ram_energy_j": self.reading.ram_energy_j, "ram_method": self.reading.ram_method}

    def as_dict(self) -> dict:
        return {"gpu_indices": self.gpu_indices, "reading": None if self.reading is None else self.reading.as_dict(),
                "warnings": [{"code": w.code, "message": w.message, "severity": w.severity,
                              "gpu_index": w.gpu_index} for w in self.warnings]}


NO_GPU_CODE = "no-gpu-measured"
"""The warning of a `measure()` that measured no GPU: `gpu_energy_j` is then empty, and says nothing by itself."""


def _every_gpu() -> tuple[list[int], str]:
    """Every GPU the machine's backend sees, and why there is none (host only) when there is no GPU backend."""
    try:
        backend = open_gpu_backend()
    except HarnessError as error:
        return [], str(error).removeprefix("cannot measure the GPU: ")
    with backend:
        return list(range(backend.device_count())), "the GPU backend sees no GPU"


def _no_gpu_warning(gpus, why: str) -> MeasurementWarning:
    if gpus == "all":
        return MeasurementWarning(NO_GPU_CODE, f"no GPU was measured ({why}): gpu_energy_j is empty and only host "
                                               "(CPU and RAM) energy was read", severity="warning")
    return MeasurementWarning(NO_GPU_CODE, "no GPU was measured (gpus=None: host energy only)", severity="info")


@contextmanager
def measure(gpus: Sequence[int] | str | None = "all", *, sample_hz: float = DEFAULT_SAMPLE_HZ, strict: bool = False,
            measure_host: bool = True) -> Iterator[Measurement]:
    """Measure the energy of the `with` block, like the harness measures a repetition.

    `gpus`: NVML indices to measure, `"all"` (default: every GPU NVML sees, none when there is no NVML) or
    None/[] for host energy only. A block that measured no GPU says so in its warnings (`no-gpu-measured`: a warning
    when `"all"` found none, with why; information when host energy only was asked for). CUDA is synchronised at
    both edges. `strict` refuses to start when another process uses a measured GPU. The reading is on the yielded
    object once the block ends.
    """
    why = ""
    if gpus == "all":
        indices, why = _every_gpu()
    elif gpus is None or (isinstance(gpus, Sequence) and not isinstance(gpus, str | bytes)
                          and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in gpus)):
        indices = list(gpus or [])
    else:
        raise ConfigError(f"gpus must be 'all', a list of GPU indices (whole numbers from 0) or None, not {gpus!r}")
    if isinstance(sample_hz, bool) or not isinstance(sample_hz, int | float) or not 0 < sample_hz <= MAX_SAMPLE_HZ:
        raise ConfigError(f"sample_hz must be a number of Hz above 0 and at most {MAX_SAMPLE_HZ:g}, not {sample_hz!r}")
    handle = Measurement(gpu_indices=indices)
    with open_meter(indices, sample_hz=sample_hz, strict=strict, measure_host=measure_host) as meter:
        meter.begin(BLOCK_KEY)
        try:
            yield handle
        finally:
            handle.reading = meter.end(BLOCK_KEY)
            handle.warnings = [*([_no_gpu_warning(gpus, why)] if not indices else []), *handle.reading.warnings,
                               *meter.run_warnings()]


def run(task: str, model: str, *, output: str | Path | None = None, results_dir: str | Path | None = None,
        overrides: Mapping[str, Any] | None = None, **settings: Any):
    """Run one benchmark, as `harness run` does, and return its `ResultFile`.

    Nothing is written unless asked: `output` (a file or folder) or `results_dir` (filed as the CLI files
    results). `settings` are `harness run`'s options by their Python names (`device`, `num_queries`,
    `batch_size`, `repeats`, `preset`, `dtype`, `random_weights`, `measure_gpus`, ...); `overrides` are
    `--set` keys (`{"generation.num_inference_steps": 20}`). The CLI's defaults apply (device `cuda`).
    """
    from harness.runner import RunRequest, execute

    for name, value in (("task", task), ("model", model)):
        if not isinstance(value, str | Path):
            raise ConfigError(f"{name} must be a task id or file (text), not {type(value).__name__}"
                              if name == "task" else f"model must be a hub id or folder (text), not "
                              f"{type(value).__name__}")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a mapping of task settings, not {type(overrides).__name__}")
    for name, value in (("output", output), ("results_dir", results_dir)):
        if value is not None and not isinstance(value, str | Path):
            raise ConfigError(f"{name} must be a path, not {type(value).__name__}")
    fields = RunRequest.__dataclass_fields__
    unknown = sorted(set(settings) - set(fields) | ({"write", "task", "model"} & set(settings)))
    if unknown:
        known = ", ".join(sorted(set(fields) - {"task", "model", "output", "results_dir", "overrides", "write"}))
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {known}")
    write = output is not None or results_dir is not None
    request = RunRequest(task=str(task), model=str(model), overrides=dict(overrides or {}), write=write,
                         output=Path(output) if output is not None else None,
                         results_dir=Path(results_dir) if results_dir is not None else None, **settings)
    result, _path = execute(request)
    return result


def load_results(path: str | Path | Sequence[str | Path], *, skip_invalid: bool = False, published: bool = False):
    """Result files (a folder, a file, a glob or a submission bundle) as a flat pandas DataFrame.

    One row per run, units in the column names, one fixed dtype per column (`harness.results.table.COLUMNS`).
    An invalid file is a one-line error unless `skip_invalid`; finding no result at all is a `NotFoundError`, never an
    empty table. Bad arguments raise the harness's own errors (`ConfigError`), as the CLI's options do.

    `published=True` adds every figure other projects published (`harness.published`, the records shipped in
    `published/`), one row each: the `source` column says which rows are those (their collection, `aies-v1`,
    `mlenergy-v3`) and which were measured by the harness (`measured`). They are other protocols' numbers: group by
    `source` before comparing anything. With them, a path holding no result is no error.
    """
    from harness.errors import NotFoundError
    from harness.ops.export import table_rows
    from harness.results.table import results_frame

    paths = [path] if isinstance(path, str | Path) else path
    if not isinstance(paths, Sequence) or not paths or not all(isinstance(p, str | Path) for p in paths):
        raise ConfigError(f"path must be a result file, folder, glob or bundle, or a list of them, not {path!r}")
    if not isinstance(published, bool):
        raise ConfigError(f"published must be True or False, not {published!r}")
    rows = table_rows(paths, skip_invalid=skip_invalid)
    if not rows and not published:
        shown = ", ".join(str(p) for p in paths)
        raise NotFoundError(f"no result files found in {shown}" + (" (every file was invalid)" if skip_invalid else ""))
    if published:
        from harness.published import load_published
        from harness.published.table import published_rows

        rows += published_rows(load_published())
    return results_frame(rows)


def result_features():
    """The `datasets.Features` of a result file, derived from its schema: with them any set of result files (any
    task, hardware, schema version, order) loads with fixed types, where `datasets` alone types every column
    from the first file it reads:

        datasets.load_dataset("json", data_files="results/**/*.json", features=harness.result_features())
    """
    from harness.results.hf_dataset import result_features as features

    return features()
