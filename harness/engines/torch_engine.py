"""What the in-process PyTorch engines (transformers, diffusers) share: devices and dtypes, the hub or a local
folder, loading failures turned into one line, batches under `torch.inference_mode` with CUDA synchronised after
each, and out-of-memory errors named with the model, batch size and device.

With `random_weights=True` an engine builds the architecture from its config with random weights (same compute, no
weight download); the result records it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.engines.base import Engine, LoadedModel, LoadRequest, Output, distribution_version
from harness.engines.model_files import check_model_folder, check_model_name
from harness.errors import ConfigError, HarnessError, NotFoundError, OutOfMemoryError
from harness.files import local_model_id
from harness.files import looks_like_local_path as looks_like_path

logger = logging.getLogger(__name__)

_DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "auto": "auto",
}


class TorchEngine(Engine):
    """An engine that runs the model in this process with PyTorch; subclasses implement `_load`."""


    def load(self, request: LoadRequest, workload: Any) -> LoadedModel:
        """Check what needs no weights (dtype, device, the model's name and folder), load, and turn every failure
        a user can cause (no such model, no GPU, wrong kind, out of memory) into one `HarnessError` line."""
        dtype_name = normalise_dtype(request.dtype)
        primary = check_device(request.device)
        if request.device_map is not None and primary.type != "cuda":
            raise ConfigError("--device-map spreads a model over GPUs; it needs --device cuda")
        model_id = str(request.model_id)
        check_model_name(model_id)
        check_local_path(model_id)
        check_hub_reachable(model_id, request.revision)
        if Path(model_id).expanduser().is_dir():
            check_model_folder(request.kind, Path(model_id), random_weights=request.random_weights)
        try:
            loaded = self._load(request, workload, model_id, dtype_name, primary)
        except HarnessError:
            raise
        except Exception as error:
            if is_out_of_memory(error):
                release_cuda_memory()
                raise OutOfMemoryError(
                    f"out of memory loading {model_id} ({dtype_name}) on {primary}; try a smaller --dtype "
                    f"(bfloat16/float16), a GPU with more memory, or --device-map auto to spread it over several GPUs"
                ) from None
            if Path(model_id).expanduser().is_dir() and not isinstance(error, AssertionError | NameError):
                # The folder passed the file checks, so a library failing on it means a setting it cannot use
                # (a string where a number goes, a shape that does not fit): the user's files. The exception's
                # class is kept in the line, so a bug of ours still shows what it is.
                raise ConfigError(f"model folder {model_id} cannot be loaded: {error.__class__.__name__}: "
                                  f"{first_line(error)[:300]}") from None
            raise
        loaded.engine = self.name
        loaded.gpu_uuids = gpu_uuids(loaded.cuda_indices)
        if Path(model_id).expanduser().is_dir():  # recorded by a clean id, never the folder's path
            loaded.info["id"] = local_model_id(model_id, request.name)
        elif request.name:
            loaded.info["name"] = request.name
        logger.info("loaded %s (%s, %d parameters) on %s", model_id, loaded.info["architecture"],
                    loaded.info["num_parameters"], loaded.device)
        return loaded

    def _load(self, request: LoadRequest, workload: Any, model_id: str, dtype_name: str, primary: Any) -> LoadedModel:
        raise NotImplementedError

    def run_batch(self, loaded: LoadedModel, run: Callable[[list], Output], items: Sequence[Any]) -> Output:
        import torch

        batch = list(items)
        try:
            with torch.inference_mode():
                output = run(batch)
            self.synchronize(loaded)
        except HarnessError:
            raise
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            release_cuda_memory()
            raise OutOfMemoryError(
                f"out of memory running {loaded.info.get('id')} with batch size {len(batch)} on "
                f"{loaded.device}; try a smaller batch size (--batch-size), --dtype bfloat16/float16, "
                f"or --device-map auto to spread the model over several GPUs"
            ) from None
        return output

    def synchronize(self, loaded: LoadedModel) -> None:
        """Wait for every GPU the model sits on, so the batch's time and energy fall inside its window."""
        if not loaded.cuda_indices:
            return
        import torch

        for index in loaded.cuda_indices:
            torch.cuda.synchronize(index)

    def versions(self) -> dict[str, str | None]:
        return {**super().versions(), "torch": distribution_version("torch")}


# --- checks that need no model -------------------------------------------------------------------------------------


def normalise_dtype(dtype: str) -> str:
    name = _DTYPE_NAMES.get(str(dtype).lower().removeprefix("torch."))
    if name is None:
        raise ConfigError(f"unknown dtype '{dtype}'; use float32, float16, bfloat16 or auto")
    return name


def check_device(device: str):
    """Parse `cpu`, `cuda` or `cuda:N` and make sure it exists; returns a `torch.device` with an index for CUDA."""
    import torch

    match = re.fullmatch(r"(cpu|cuda)(?::(\d+))?", str(device).strip())
    if match is None or (match.group(1) == "cpu" and match.group(2) is not None):
        raise ConfigError(f"unknown device '{device}'; use cpu, cuda or cuda:N")
    if match.group(1) == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise NotFoundError(f"no CUDA GPU is available for --device {device} (torch sees none); use --device cpu")
    count = torch.cuda.device_count()
    index = int(match.group(2)) if match.group(2) is not None else torch.cuda.current_device()
    if index >= count:
        raise NotFoundError(f"no CUDA GPU {index}: torch sees {count} GPU(s) (cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index)


def check_local_path(model_id: str) -> None:
    path = Path(model_id).expanduser()
    if path.exists():
        if not path.is_dir():
            raise NotFoundError(f"model path {model_id} is a file; give the folder saved with save_pretrained")
        return
    if looks_like_path(model_id):
        raise NotFoundError(f"model folder {model_id} does not exist")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


HUB_TIMEOUT_S = 3.0
"""How long the Hub may take to answer before a run says it cannot be reached (the libraries would retry for most
of a minute, printing every retry)."""


@functools.lru_cache(maxsize=4)
def hub_unreachable(endpoint: str) -> str | None:
    """Why the Hub at `endpoint` cannot be reached, else None: one HEAD request, answered (any HTTP status) within
    `HUB_TIMEOUT_S` or not, asked once per process. A thread bounds the wait, name lookup included."""
    import threading
    import urllib.error
    import urllib.request

    outcome: list[str | None] = []

    def ask() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_TIMEOUT_S).close()
            outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # it answered
        except (OSError, ValueError) as error:
            outcome.append(str(getattr(error, "reason", None) or error) or error.__class__.__name__)

    thread = threading.Thread(target=ask, name="hub-reachable", daemon=True)
    thread.start()
    thread.join(HUB_TIMEOUT_S + 0.5)
    return outcome[0] if outcome else f"no answer within {HUB_TIMEOUT_S:g} s"


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def check_hub_reachable(model_id: str, revision: str | None) -> None:
    """A hub id with no network is one line at once (not a minute of retries ending on a missing file): what to do
    instead, a local folder or the cached copy with HF_HUB_OFFLINE=1. Nothing is asked for a local folder or when
    the Hub is off."""
    if _offline() or Path(model_id).expanduser().is_dir():
        return
    endpoint = hub_endpoint()
    why = hub_unreachable(endpoint)
    if why is None:
        return
    at = f" at revision {revision}" if revision else ""
    cached = any(_cached(model_id, revision, name) for name in ("config.json", "model_index.json"))
    hint = ("a copy is in the Hugging Face cache: set HF_HUB_OFFLINE=1 to use it" if cached else
            "give a local folder saved with save_pretrained (--model PATH), or set HF_HUB_OFFLINE=1 to use a copy "
            "in the Hugging Face cache")
    raise NotFoundError(f"model '{model_id}'{at} is not a local folder, and the Hub ({endpoint}) cannot be reached "
                        f"({why}): {hint}")


def _cached(model_id: str, revision: str | None, filename: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, filename, revision=revision), str)
    except Exception:  # noqa: BLE001 - only chooses the hint
        return False


def not_found(model_id: str, revision: str | None, error: Exception) -> NotFoundError:
    """One line for a model that neither exists locally nor can be fetched (offline, unknown id, gated, revision)."""
    at = f" at revision {revision}" if revision else ""
    if Path(model_id).expanduser().is_dir():
        return NotFoundError(f"model folder {model_id} is incomplete: {first_line(error)}")
    if _offline():
        return NotFoundError(f"model '{model_id}'{at} is not a local folder, and the Hub is off (HF_HUB_OFFLINE=1) "
                             "with no cached copy")
    detail = first_line(error)
    return NotFoundError(f"model '{model_id}'{at} is not a local folder and cannot be fetched from the Hub"
                         + (f": {detail}" if detail else ""))


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else ""


def resolved_commit(model_id: str, revision: str | None, filename: str) -> str | None:
    """The hub commit a cached file came from (`.../snapshots/<sha>/...`), so a result pins the exact weights."""
    if Path(model_id).expanduser().exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, filename, revision=revision)
    except Exception:  # noqa: BLE001 - only a nicety; the requested revision is recorded instead
        return None
    match = re.search(r"snapshots[/\\]([0-9a-f]{40})[/\\]", str(cached)) if isinstance(cached, str) else None
    return match.group(1) if match else None


# --- devices -------------------------------------------------------------------------------------------------------


def cuda_indices_of(primary, device_map_used: dict | None) -> list[int]:
    """Every torch CUDA index the model's weights sit on."""
    if primary.type != "cuda":
        return []
    if not device_map_used:
        return [primary.index]
    indices: set[int] = set()
    offloaded = False
    for place in device_map_used.values():
        if isinstance(place, int):
            indices.add(place)
            continue
        text = str(place)
        match = re.fullmatch(r"cuda(?::(\d+))?", text)
        if match:
            indices.add(int(match.group(1) or 0))
        elif text in ("cpu", "disk"):
            offloaded = True
    if offloaded:
        logger.warning("part of the model is offloaded to CPU or disk: its energy there is not in the GPU figure")
    return sorted(indices) or [primary.index]


def gpu_uuids(cuda_indices: list[int]) -> list[str | None]:
    """The UUID of each torch CUDA device (None where torch cannot say), by which the meter finds its own index."""
    if not cuda_indices:
        return []
    import torch

    uuids = [getattr(torch.cuda.get_device_properties(index), "uuid", None) for index in cuda_indices]
    return [str(uuid) if uuid is not None else None for uuid in uuids]


def release_cuda_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA's OutOfMemoryError and the CPU allocator's out-of-memory RuntimeError."""
    import torch

    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "DefaultCPUAllocator: can't allocate memory" in text or "not enough memory" in text
    )


def torch_dtype(dtype_name: str):
    import torch

    return None if dtype_name == "auto" else getattr(torch, dtype_name)


def dtype_label(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def count_parameters(*modules) -> int:
    """Parameters of one or more torch modules, each shared (tied) tensor counted once."""
    seen: set[int] = set()
    total = 0
    for module in modules:
        for parameter in module.parameters():
            if id(parameter) not in seen:
                seen.add(id(parameter))
                total += parameter.numel()
    return total


def jsonable_map(device_map: dict | None) -> dict | None:
    if not device_map:
        return None
    return {str(name): place if isinstance(place, int) else str(place) for name, place in device_map.items()}


def model_info(request: LoadRequest, model_id: str, *, revision: str | None, dtype: Any, num_parameters: int,
               architecture: str, loader: str, device: str, device_map: dict | None) -> dict:
    """The model as `harness.results.schema.ModelInfo` records it (JSON-ready)."""
    return {
        "id": model_id,
        "revision": revision,
        "dtype": dtype_label(dtype),
        "num_parameters": num_parameters,
        "random_weights": request.random_weights,
        "trust_remote_code": request.trust_remote_code,
        "architecture": architecture,
        "loader": loader,
        "device": device,
        "device_map": jsonable_map(device_map),
    }
