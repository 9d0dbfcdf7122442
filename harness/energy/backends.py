"""Which GPU backend measures this machine: one table of vendors, and stand-ins plugged in by entry point.

`GPU_BACKENDS` maps a backend's name to its factory, in the order vendors are probed (NVML, then amdsmi); adding
a vendor is one module behind `harness.energy.gpu` and one entry here. Stand-ins (the fake NVML and the fake
amdsmi that CI measures) are not named here: energy knows no test double. They register a factory
under the `harness.gpu_backends` entry-point group (pyproject.toml), read once per process and asked first.

A factory takes no argument and returns an initialised `GpuBackend`, or None when it was not asked for on
this machine (a fake: unless its variable names a script). An entry point that answers is final, errors
included, so a stand-in scripted to fail never falls through to a real GPU. A vendor's MeasurementError means its
hardware is not here: the next vendor is probed, and when none opens, the message says why each could not
(`choose_gpu_backend` keeps the reasons for `harness env`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.energy.amd import open_amdsmi_backend
from harness.energy.gpu import GpuBackend
from harness.energy.nvidia import open_nvml_backend
from harness.errors import MeasurementError

logger = logging.getLogger(__name__)

GpuBackendFactory = Callable[[], "GpuBackend | None"]

GPU_BACKENDS: dict[str, GpuBackendFactory] = {
    "nvml": open_nvml_backend,
    "amdsmi": open_amdsmi_backend,
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


@dataclass(frozen=True)
class BackendChoice:
    """The backend that opened (None: none did) and what each one asked said, in the order they were asked."""

    backend: GpuBackend | None
    tried: tuple[tuple[str, str], ...]
    """(name, outcome): `picked` for the one that opened, else why it could not be used."""

    def failure(self) -> MeasurementError:
        """One line saying why no backend opened: each vendor's reason."""
        if not self.tried:
            return MeasurementError("cannot measure the GPU: no GPU backend is available on this machine")
        if len(self.tried) == 1:
            return MeasurementError(f"cannot measure the GPU: {self.tried[0][1]}")
        reasons = "; ".join(f"{name}: {why}" for name, why in self.tried)
        return MeasurementError(f"cannot measure the GPU: no GPU backend opened ({reasons})")


def choose_gpu_backend(nvml: Any | None = None) -> BackendChoice:
    """Ask the stand-ins, then each vendor in order, until one opens (see the module's docstring).

    `nvml`, a pynvml-like object, skips the table (tests pass a `FakeNvml` directly). A stand-in's error is raised
    as it is; a vendor's is kept as its reason.
    """
    if nvml is not None:
        return BackendChoice(open_nvml_backend(nvml), (("nvml", "picked"),))
    for name, factory in plugin_backends().items():
        backend = factory()
        if backend is not None:
            return BackendChoice(backend, ((name, "picked"),))
    tried: list[tuple[str, str]] = []
    for name, factory in GPU_BACKENDS.items():
        try:
            backend = factory()
        except MeasurementError as error:
            tried.append((name, str(error).removeprefix("cannot measure the GPU: ")))
            continue
        if backend is not None:
            return BackendChoice(backend, (*tried, (name, "picked")))
    return BackendChoice(None, tuple(tried))


def open_gpu_backend(nvml: Any | None = None) -> GpuBackend:
    """The initialised GPU backend for this machine (see the module's docstring for the order).

    `nvml`, a pynvml-like object, skips the table (tests pass a `FakeNvml` directly). Raises one
    MeasurementError line, with each vendor's reason, when no backend opens.
    """
    choice = choose_gpu_backend(nvml)
    if choice.backend is None:
        raise choice.failure()
    return choice.backend


def gpu_indices_for_uuids(uuids: Sequence[str | None], *, nvml: Any | None = None,
                          devices: Sequence[int] | None = None) -> list[int | None]:
    """The measuring backend's index of each GPU UUID (None where unknown): CUDA and NVML number GPUs apart.

    torch numbers GPUs fastest-first and renumbers them under CUDA_VISIBLE_DEVICES (on ROCm also
    HIP_VISIBLE_DEVICES and ROCR_VISIBLE_DEVICES); the meter uses the backend's numbering. Where a UUID says
    nothing and `devices` gives the framework's index of each (`cuda:N`), the backend maps that index through the
    visible-devices variables, where it can (`GpuBackend.index_for_visible_device`). No backend here is not an
    error (the meter reports it when it opens): every index is then None.
    """
    try:
        backend = open_gpu_backend(nvml)
    except MeasurementError as error:
        logger.debug("no GPU backend for index translation: %s", error)
        return [None] * len(uuids)
    with backend:
        found = backend.indices_for_uuids(uuids)
        if devices is not None:
            found = [backend.index_for_visible_device(devices[i]) if index is None and i < len(devices) else index
                     for i, index in enumerate(found)]
        return found
