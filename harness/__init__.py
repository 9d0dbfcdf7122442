"""Reproducible energy benchmarks for AI models.

The harness runs a fixed, versioned workload on a model while NVML's hardware energy counter
measures the GPU, and writes a versioned result file whose headline is Wh per 1000 queries.

The Python API (imported on first use, so `import harness` stays light):

- `harness.measure(gpus=..., sample_hz=...)`: a context manager that measures any block of code;
- `harness.run(task=..., model=..., **settings)`: one benchmark run, returning its result;
- `harness.load_results(path)`: result files as a flat pandas DataFrame, one row per run;
- `harness.result_features()`: the result file's types for `datasets.load_dataset("json", ...)`.
"""

from __future__ import annotations

__all__ = ["__version__", "load_results", "measure", "result_features", "run"]


def __getattr__(name: str):
    # Even the version is read on first use: `harness.cli` is imported through this package before its Ctrl-C
    # handler is in place, so nothing slow (importlib.metadata) runs here.
    if name == "__version__":
        from harness.version import __version__

        return __version__
    if name in ("measure", "run", "load_results", "result_features"):
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
