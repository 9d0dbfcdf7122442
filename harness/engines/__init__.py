"""Engines: what loads a model and runs its batches (transformers and diffusers in this process; a serving engine
behind a server). `ENGINES` holds every engine by name, each one module of this package (see `base`).

Adding an engine: a module here defining an `Engine` subclass with a `name` (importing its libraries inside
functions), and the workloads it runs, each a `harness.workloads` module keyed by (engine, kind).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from harness.engines.base import ENGINES, Engine, LoadedModel, LoadRequest
from harness.errors import ConfigError

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

RUN_EXTRA_MODULES = ("torch", "transformers", "diffusers", "accelerate", "datasets", "safetensors")
"""What running a model needs beyond the core install: the `run` extra of pyproject.toml."""


def engine_named(name: str) -> Engine:
    """The engine called `name`, or one ConfigError line listing the engines there are."""
    engine = ENGINES.get(name)
    if engine is None:
        raise ConfigError(f"unknown engine '{name}'; engines: {', '.join(sorted(ENGINES))}")
    return engine()


def require_run_extra() -> None:
    """A one-line ConfigError, before anything starts, when the light install lacks what running a model needs."""
    missing = [name for name in RUN_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"running a model needs {', '.join(missing)}, which this install lacks: "
                          "pip install 'ai-energy-harness[run]' (GPU machines: next to your CUDA PyTorch)")


__all__ = ["ENGINES", "RUN_EXTRA_MODULES", "Engine", "LoadRequest", "LoadedModel", "engine_named",
           "require_run_extra"]
