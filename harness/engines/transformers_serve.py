"""`transformers serve` with continuous batching: transformers' own OpenAI-compatible server.

It has no cap on the sequences it batches and does not take `min_tokens`/`ignore_eos`, so it runs natural-length
chat tasks only (a fixed-length task is refused before the server starts).
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.engines.base import LoadRequest
from harness.engines.served import ServedEngine

CPU_CACHE_SHARE = 0.05
"""The share of free host memory a CPU server's KV cache may take (a gigabyte on a 24 GB machine)."""


class TransformersServeEngine(ServedEngine):
    name = "transformers-serve"
    library = "transformers"
    module = "fastapi"
    install = "pip install 'ai-energy-harness[serving]' (transformers[serving])"
    forces_length = False

    def command(self, request: LoadRequest, model_path: str, port: int, batch_cap: int | None) -> list[str]:
        device = "cpu" if request.device == "cpu" else "cuda:0"  # the server sees only the run's GPU
        dtype = "auto" if request.dtype == "auto" else str(request.dtype)
        cli = Path(sys.executable).with_name("transformers")
        # On a CPU the KV cache is host memory, and by default continuous batching claims 60 % of what is free.
        cache = ["--cb-max-memory-percent", str(CPU_CACHE_SHARE)] if device == "cpu" else []
        return [str(cli) if cli.exists() else "transformers", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--continuous-batching", *cache, "--device", device, "--dtype", dtype, "--default-seed", "0",
                *(["--trust-remote-code"] if request.trust_remote_code else []), model_path]
