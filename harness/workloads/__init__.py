"""Workloads: what each task kind does with a model, keyed by (engine, kind).

Every module of this package is imported once here, and each `Workload` subclass it defines registers itself
(`base.WORKLOAD_REGISTRY`): a new kind or a new engine's workload is a new module, with no table to edit.
`workload_class` picks a task's workload; `load_model` loads a model the way that workload's engine does.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from harness.engines import LoadedModel, LoadRequest, engine_named
from harness.errors import ConfigError
from harness.kinds import KINDS
from harness.workloads.base import WORKLOAD_REGISTRY, BatchOutput, Workload

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def engine_for(kind: str, engine: str | None = None) -> str:
    """The engine a run of `kind` uses: the one asked for, else the kind's default (`harness.kinds.KINDS`)."""
    return engine or KINDS[kind].default_engine


def workload_class(spec: Any, engine: str | None = None) -> type[Workload]:
    """The workload that runs a task on an engine (default: its kind's), or one ConfigError line saying which
    engines can run the task's kind."""
    name = engine_for(spec.kind, engine)
    for candidate in WORKLOAD_REGISTRY.get((name, spec.kind), []):
        if candidate.handles(spec, name):
            return candidate
    engine_named(name)  # an unknown engine is named as such
    for candidate in WORKLOAD_REGISTRY.get((name, spec.kind), []):
        reason = candidate.why_not(spec, name)
        if reason:
            raise ConfigError(reason)
    able = sorted({e for (e, kind), classes in WORKLOAD_REGISTRY.items()
                   if kind == spec.kind and any(c.handles(spec, e) for c in classes)})
    raise ConfigError(f"engine '{name}' cannot run task kind '{spec.kind}' as task {spec.id!r} sets it"
                      + (f"; engines that can: {', '.join(able)}" if able else ""))


WORKLOADS: dict[str, type[Workload]] = {
    kind: WORKLOAD_REGISTRY[(KINDS[kind].default_engine, kind)][0] for kind in KINDS
}
"""Each kind's first workload on its default engine (fixed-length generation for text-gen)."""


def load_model(kind: str, model_id: str, *, engine: str | None = None, workload: type[Workload] | None = None,
               **options: Any) -> LoadedModel:
    """Load `model_id` (a hub id or a local folder) for task `kind`, as `workload` (default: the kind's first
    workload on `engine`, chat generation when `chat_template_kwargs` is given) needs it; `options` are
    `harness.engines.LoadRequest`'s (revision, dtype, device, random_weights, device_map, ...)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown task kind '{kind}'; kinds: {', '.join(KINDS)}")
    if workload is None:
        candidates = WORKLOAD_REGISTRY.get((engine_for(kind, engine), kind), [])
        chat = options.get("chat_template_kwargs") is not None
        workload = next((c for c in candidates if chat == c.chat_template), candidates[0] if candidates else None)
        if workload is None:
            raise ConfigError(f"engine '{engine_for(kind, engine)}' cannot run task kind '{kind}'")
    request = LoadRequest(kind=kind, model_id=str(model_id), **options)
    return engine_named(workload.engine).load(request, workload)


__all__ = ["WORKLOADS", "BatchOutput", "Workload", "engine_for", "load_model", "workload_class"]
