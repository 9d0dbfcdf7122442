"""What the engines behind an OpenAI-compatible server share: starting the server (or finding one already
running), knowing its processes, and stopping it.

A served engine's `LoadedModel.model` is a `ServedModel`: where the server answers and under which name, and the
server process when the harness started it. The harness's own process holds no weights; the server's processes
do the work on the GPU, so they are the engine's own (`owned_pids`), never contention. The server's batch cap is
set to the run's concurrency (the task's `batch_size`: requests in flight), so each concurrency is its own server.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from harness.engines.base import Engine, LoadedModel, LoadRequest
from harness.engines.model_files import check_model_folder, check_model_name, saved_parameters
from harness.engines.server import ServerError, ServerProcess, free_port
from harness.errors import ConfigError, NotFoundError
from harness.files import local_model_id

logger = logging.getLogger(__name__)

SERVING_EXTRA = "pip install 'ai-energy-harness[serving]'"


@dataclass
class ServedModel:
    """A model behind a server: where to send requests, the name the server knows it by, and the server."""

    base_url: str
    name: str
    server: ServerProcess | None = None
    command: list[str] = field(default_factory=list)
    batch_cap: int | None = None
    server_pids: frozenset[int] = frozenset()
    """The processes of a server the harness did not start (found by the port it listens on)."""
    config: dict = field(default_factory=dict)
    """The model's saved config (its context length bounds the prompts), empty where it is not a local folder."""


class ServedEngine(Engine):
    """An engine whose model runs in a server the harness starts; subclasses give the command line."""

    module: ClassVar[str] = ""
    """The Python module the server runs from: checked before anything starts, with `install` as the fix."""
    install: ClassVar[str] = SERVING_EXTRA
    forces_length: ClassVar[bool] = True
    """Whether the server honours `min_tokens` and `ignore_eos` (exactly N new tokens, as fixed-length tasks ask)."""
    batch_cap_option: ClassVar[str | None] = None
    """The server's option capping the requests it batches (set to the run's concurrency); None: it has none."""

    def command(self, request: LoadRequest, model_path: str, port: int, batch_cap: int | None) -> list[str]:
        raise NotImplementedError

    def load(self, request: LoadRequest, workload: Any) -> LoadedModel:
        self.require()
        model_id = str(request.model_id)
        check_model_name(model_id)
        folder = Path(model_id).expanduser()
        if request.random_weights:
            raise ConfigError(f"--random-weights builds weights in this process; the {self.name} server loads them "
                              "from files: save the model first (save_pretrained) and pass its folder")
        if folder.is_dir():
            check_model_folder(request.kind, folder)
        elif model_id.startswith(("/", ".", "~")):
            raise NotFoundError(f"model folder {model_id} does not exist")
        port = free_port()
        batch_cap = request.batch_cap if self.batch_cap_option else None
        command = self.command(request, str(folder) if folder.is_dir() else model_id, port, batch_cap)
        log_path = Path(tempfile.gettempdir()) / "harness-servers" / f"{self.name}-{os.getpid()}-{port}.log"
        server = ServerProcess(command, log_path=log_path, env=self.server_env(request), name=f"{self.name} server")
        server.start()
        try:
            base_url = f"http://127.0.0.1:{port}"
            waited = server.wait_ready(f"{base_url}/v1/models")
            name = served_model_name(base_url, model_id)
            logger.info("%s answered after %.0f s as %r", self.name, waited, name)
        except BaseException:
            server.stop()
            raise
        return self._loaded(request, workload, ServedModel(base_url, name, server, command, batch_cap), folder)

    def _loaded(self, request: LoadRequest, workload: Any, served: ServedModel, folder: Path) -> LoadedModel:
        tokenizer = local_tokenizer(folder) if folder.is_dir() else None
        config = _read_config(folder)
        served.config = config
        device = request.device if request.device != "cpu" else "cpu"
        info = {
            "id": local_model_id(request.model_id, request.name) if folder.is_dir() else request.model_id,  # no path
            "revision": request.revision,
            "dtype": request.dtype if request.dtype != "auto" else str(config.get("torch_dtype") or "auto"),
            "num_parameters": (saved_parameters(folder) if folder.is_dir() else None) or 0,
            "random_weights": False,
            "trust_remote_code": request.trust_remote_code,
            "architecture": (config.get("architectures") or [None])[0],
            "loader": f"{self.name} server",
            "device": device,
        }
        if request.name and not folder.is_dir():
            info["name"] = request.name
        cuda = re.fullmatch(r"cuda(?::(\d+))?", str(request.device))
        return LoadedModel(kind=request.kind, model=served, tokenizer=tokenizer, device=device, info=info,
                           engine=self.name, cuda_indices=[int(cuda.group(1) or 0)] if cuda else [])

    def require(self) -> None:
        """One line, before anything starts, when the client or the server's package is not installed here (the
        harness's own process loads no model: torch and diffusers are the server's business)."""
        for module, install in (("aiohttp", SERVING_EXTRA), (self.module, self.install)):
            if module and importlib.util.find_spec(module.split(".")[0]) is None:
                raise ConfigError(f"engine '{self.name}' needs {module.split('.')[0]}, which is not installed: "
                                  f"{install}")

    def server_env(self, request: LoadRequest) -> dict[str, str]:
        """The server's environment: the harness's, with the GPU of `--device cuda:N` the only one it sees."""
        env = dict(os.environ)
        cuda = re.fullmatch(r"cuda(?::(\d+))?", str(request.device))
        if cuda:
            visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
            index = int(cuda.group(1) or 0)
            env["CUDA_VISIBLE_DEVICES"] = visible[index] if index < len(visible) else str(index)
        return env

    def run_batch(self, loaded: LoadedModel, run, items):
        output = run(list(items))
        self.check_alive(loaded)
        return output

    def load_key(self, request: LoadRequest) -> tuple:
        return (request.batch_cap,) if self.batch_cap_option else ()

    def owned_pids(self, loaded: LoadedModel) -> frozenset[int]:
        served: ServedModel = loaded.model
        started = served.server.pids() if served.server is not None else frozenset()
        return frozenset({os.getpid()}) | started | served.server_pids

    def settings(self, loaded: LoadedModel) -> dict[str, Any]:
        served: ServedModel = loaded.model
        return {"batch_cap": served.batch_cap} if self.batch_cap_option else {}

    def describe(self, loaded: LoadedModel) -> dict[str, Any]:
        served: ServedModel = loaded.model
        return {**super().describe(loaded), "command": _portable_command(served.command)}

    def close(self, loaded: LoadedModel) -> None:
        served = loaded.model
        if isinstance(served, ServedModel) and served.server is not None:
            served.server.stop()

    def check_alive(self, loaded: LoadedModel) -> None:
        """One line quoting the server's log when it died during the run."""
        served: ServedModel = loaded.model
        if served.server is not None and not served.server.alive():
            raise ServerError(f"the {self.name} server died during the run: {served.server.log_tail()}")


def python_module_command(module: str, *args: str) -> list[str]:
    """`python -m module args...` with this interpreter (the server runs in the harness's environment)."""
    return [sys.executable, "-m", module, *args]


def _portable_command(command: list[str]) -> list[str]:
    """The command line as a result records it: the interpreter as `python`, the port as `PORT` (it changes every
    run and says nothing about the work)."""
    out = []
    previous = ""
    for arg in command:
        if arg == sys.executable:
            arg = "python"
        elif not out and os.path.isabs(arg):
            arg = os.path.basename(arg)  # the server's own command, wherever it is installed
        elif previous == "--port":
            arg = "PORT"
        out.append(arg)
        previous = arg
    return out


def served_model_name(base_url: str, wanted: str) -> str:
    """The name the server lists for `wanted` (its path or id), or one ServerError line naming what it serves."""
    try:
        with urllib.request.urlopen(f"{base_url}/v1/models", timeout=30) as response:  # noqa: S310 - loopback
            listed = [entry.get("id") for entry in json.loads(response.read()).get("data", [])]
    except (OSError, ValueError, AttributeError) as error:
        raise ServerError(f"{base_url}/v1/models did not list the served models: {error}") from None
    listed = [name for name in listed if isinstance(name, str)]
    for name in listed:
        if name == wanted or name.rstrip("/") == str(Path(wanted).expanduser()).rstrip("/"):
            return name
    raise ServerError(f"the server at {base_url} serves {', '.join(listed) or 'no model'}, not {wanted}")


def local_tokenizer(folder: Path) -> Any | None:
    """The model's tokenizer in this process, to count and cut prompts as the task says; None without
    transformers (the server then receives the text whole)."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(folder))
    except Exception as error:  # noqa: BLE001 - only for counting; the server has its own
        logger.info("no local tokenizer for %s (%s): prompts are sent as text", folder, error)
        return None


def _read_config(folder: Path) -> dict:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
