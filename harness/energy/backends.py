"""Which GPU backend measures this machine: one table of vendors, and stand-ins plugged in by entry point.

`GPU_BACKENDS` maps a backend's name to its factory, in the order vendors are probed; adding a vendor is
one module behind `harness.energy.gpu` and one entry here. Stand-ins (the fake NVML that CI and
`harness demo` measure) are not named here: energy knows no test double. They register a factory under the
`harness.gpu_backends` entry-point group (pyproject.toml), read once per process and asked first.

A factory takes no argument and returns an initialised `GpuBackend`, or None when it was not asked for on
this machine (the fake: unless `HARNESS_FAKE_NVML` names a script). An entry point that answers is final,
errors included, so a stand-in scripted to fail never falls through to a real GPU. A vendor's
MeasurementError means its hardware is not here: the next vendor is probed, and when none opens, the first
vendor's error is the one-line message.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Callable, Sequence
from typing import Any

from harness.energy.gpu import GpuBackend
from harness.energy.nvidia import open_nvml_backend
from harness.errors import MeasurementError

logger = logging.getLogger(__name__)

GpuBackendFactory = Callable[[], "GpuBackend | None"]

GPU_BACKENDS: dict[str, GpuBackendFactory] = {
    "nvml": open_nvml_backend,
}
"""The GPU vendors by `meter_backend` name, in the order they are probed."""

ENTRY_POINT_GROUP = "harness.gpu_backends"
"""The entry-point group stand-ins register their factories under (`name = "module:factory"`)."""


@functools.cache
def plugin_backends() -> dict[str, GpuBackendFactory]:
    """Factories registered under `ENTRY_POINT_GROUP`, loaded once; one that cannot load is skipped and logged,
    and none may take a vendor's name."""
    found: dict[str, GpuBackendFactory] = {}
    for entry in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name in GPU_BACKENDS:
            logger.warning("GPU backend entry point %r ignored: a built-in backend has that name", entry.name)
            continue
        try:
            found[entry.name] = entry.load()
        except Exception as error:  # a broken plugin must not stop a real measurement
            logger.warning("GPU backend entry point %r could not be loaded: %s", entry.name, error)
    return found


def gpu_backends() -> dict[str, GpuBackendFactory]:
    """The whole table in the order it is asked: stand-ins from entry points, then the vendors."""
    return {**plugin_backends(), **GPU_BACKENDS}


def open_gpu_backend(nvml: Any | None = None) -> GpuBackend:
    """The initialised GPU backend for this machine (see the module's docstring for the order).

    `nvml`, a pynvml-like object, skips the table (tests pass a `FakeNvml` directly). Raises one
    MeasurementError line when no backend opens.
    """
    if nvml is not None:
        return open_nvml_backend(nvml)
    for factory in plugin_backends().values():
        backend = factory()
        if backend is not None:
            return backend
    first_error: MeasurementError | None = None
    for factory in GPU_BACKENDS.values():
        try:
            backend = factory()
        except MeasurementError as error:
            first_error = first_error or error
            continue
        if backend is not None:
            return backend
    raise first_error or MeasurementError("cannot measure the GPU: no GPU backend is available on this machine")


def gpu_indices_for_uuids(uuids: Sequence[str | None], *, nvml: Any | None = None) -> list[int | None]:
    """The measuring backend's index of each GPU UUID (None where unknown): CUDA and NVML number GPUs apart.

    torch numbers GPUs fastest-first and renumbers them under CUDA_VISIBLE_DEVICES; the meter uses the
    backend's numbering. No backend here is not an error (the meter reports it when it opens): every index
    is then None.
    """
    try:
        backend = open_gpu_backend(nvml)
    except MeasurementError as error:
        logger.debug("no GPU backend for index translation: %s", error)
        return [None] * len(uuids)
    with backend:
        return backend.indices_for_uuids(uuids)

