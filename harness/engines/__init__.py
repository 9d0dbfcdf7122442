"""Engines: what loads a model and runs its batches (transformers and diffusers in this process; a serving engine
behind a server). `ENGINES` holds every engine by name, each one module of this package (see `base`).

Adding an engine: a module here defining an `Engine` subclass with a `name` (importing its libraries inside
functions), and the workloads it runs, each a `harness.workloads` module keyed by (engine, kind).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from harness.engines.base import ENGINES, RUN_EXTRA_MODULES, Engine, LoadedModel, LoadRequest
from harness.errors import ConfigError

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")



def engine_named(name: str) -> Engine:
    """The engine called `name`, or one ConfigError line listing the engines there are."""
    engine = ENGINES.get(name)
    if engine is None:
        raise ConfigError(f"unknown engine '{name}'; engines: {', '.join(sorted(ENGINES))}")
    return engine()


def require_run_extra(engine: str | None = None) -> None:
    """A one-line ConfigError, before anything starts, when the light install lacks what running a model needs
    (on `engine`: a served engine needs its client and server packages, not the in-process libraries)."""
    (engine_named(engine) if engine is not None else Engine()).require()


__all__ = ["ENGINES", "RUN_EXTRA_MODULES", "Engine", "LoadRequest", "LoadedModel", "engine_named",
           "require_run_extra"]
