"""The engine interface: what loads a model and runs its batches, so the runner sequences a run without knowing
which library (or server) does the work.

An engine owns everything library-specific about running a model: loading it from a hub id or a local folder
(checking first what can be checked before the weights load), the context a batch runs in, waiting until the
device has finished (so a batch's energy falls inside its window), its versions and settings (recorded in the
result; the settings are part of its workload identity), and the processes it owns (the meter does not count
them as other load on the GPU). What a task kind does with a loaded model is its workload's, keyed by
(engine, kind) in `harness.workloads`.

Each engine is one module of this package defining one `Engine` subclass with a `name`; defining it registers
it (`ENGINES`). An engine module imports its libraries inside functions, so listing engines stays cheap.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from harness.errors import ConfigError

Output = TypeVar("Output")

RUN_EXTRA_MODULES = ("torch", "transformers", "diffusers", "accelerate", "datasets", "safetensors")
"""What running a model in this process needs beyond the core install: the `run` extra of pyproject.toml."""

ENGINES: dict[str, type[Engine]] = {}
"""Every engine by name, filled as engine modules are imported (`harness.engines` imports them all)."""


@dataclass(frozen=True)
class LoadRequest:
    """What to load and how, as the user asked it (`harness run`'s model options)."""

    kind: str
    model_id: str
    revision: str | None = None
    dtype: str = "bfloat16"
    device: str = "cuda"
    random_weights: bool = False
    trust_remote_code: bool = False
    device_map: str | dict | None = None
    name: str | None = None
    """A readable name for the result (`--model-id`); a local folder otherwise names itself from its config."""
    chat_template_kwargs: dict | None = None
    """A chat task's template arguments: the tokenizer must have a chat template reading them (checked before the
    weights load)."""
    batch_cap: int | None = None
    """A served engine's cap on the requests its server batches: the run's concurrency (the task's batch size)."""
    endpoint: str | None = None
    """A server already running (`--endpoint http://127.0.0.1:PORT/v1`): measured, not started."""


@dataclass
class LoadedModel:
    """A model ready to run, and what a result file says about it.

    `cuda_indices` are the GPUs holding part of the model as torch numbers them (`cuda:N`); `gpu_uuids` the same
    GPUs' UUIDs, by which the meter finds its own index of each (torch and NVML number GPUs differently under
    `CUDA_VISIBLE_DEVICES`). `gpu_indices` are the meter's indices once matched (empty on CPU, and until the
    runner has matched them).
    """

    kind: str
    model: Any
    tokenizer: Any | None
    device: str
    info: dict
    engine: str = ""
    cuda_indices: list[int] = field(default_factory=list)
    gpu_uuids: list[str | None] = field(default_factory=list)
    gpu_indices: list[int] = field(default_factory=list)
    processor: Any | None = None
    """What turns media into model inputs: the image processor of image kinds (`AutoImageProcessor`), the audio
    feature extractor of speech-to-text; None for the others."""


def distribution_version(name: str) -> str | None:
    """An installed distribution's version, None where it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


class Engine:
    """Loads models and runs their batches; one subclass per engine, registered by `name`.

    Subclasses implement `load`; the defaults below suit an engine that runs in this process.
    """

    name: ClassVar[str] = ""
    library: ClassVar[str] = ""
    """The distribution whose version is the engine's version (`transformers`, `diffusers`, `vllm`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            ENGINES[cls.name] = cls

    def load(self, request: LoadRequest, workload: Any) -> LoadedModel:
        """Load `request.model_id` for `workload` (the workload class the run will use: it says what its kind
        needs of a model), or raise one `HarnessError` line."""
        raise NotImplementedError

    def run_batch(self, loaded: LoadedModel, run: Callable[[list], Output], items: Sequence[Any]) -> Output:
        """Run one batch through `run` and return once the device has finished (so its energy is in the window)."""
        output = run(list(items))
        self.synchronize(loaded)
        return output

    def synchronize(self, loaded: LoadedModel) -> None:
        """Wait until every device the model runs on has finished its queued work."""

    def version(self) -> str | None:
        return distribution_version(self.library) if self.library else None

    def versions(self) -> dict[str, str | None]:
        """The engine's own library and what it runs on, by distribution name (recorded with the result)."""
        return {self.library: self.version()} if self.library else {}

    def settings(self, loaded: LoadedModel) -> dict[str, Any]:
        """Settings of the engine that change the work (a server's batch cap, say): recorded, and part of the
        workload identity. None of the in-process engines has any: what they run is the task's settings."""
        return {}

    def owned_pids(self, loaded: LoadedModel) -> frozenset[int]:
        """Process ids doing this engine's work on the GPU (a server's workers): never counted as contention."""
        return frozenset({os.getpid()})

    def require(self) -> None:
        """One ConfigError line, before anything starts, when this install lacks what the engine needs (the `run`
        extra, for an engine that runs the model in this process)."""
        missing = [name for name in RUN_EXTRA_MODULES if importlib.util.find_spec(name) is None]
        if missing:
            raise ConfigError(f"running a model needs {', '.join(missing)}, which this install lacks: "
                              "pip install 'ai-energy-harness[run]' (GPU machines: next to your CUDA PyTorch)")

    def silence_progress_bars(self) -> None:
        """A quiet run prints nothing but its result: the engine's own loading bars included."""

    def describe(self, loaded: LoadedModel) -> dict[str, Any]:
        """The engine as a result records it (`harness.results.schema.EngineInfo`)."""
        return {"name": self.name, "version": self.version(), "settings": self.settings(loaded)}

    def run_warnings(self, loaded: LoadedModel) -> list[dict[str, Any]]:
        """What the engine knows makes the measurement less clean (a shared server), as result warnings."""
        return []

    def load_key(self, request: LoadRequest) -> tuple:
        """What must match for two runs to share one loaded model (a server's batch cap: one server per
        concurrency)."""
        return ()

    def close(self, loaded: LoadedModel) -> None:
        """Release what `load` started (a server process); nothing for in-process engines."""
