"""SGLang's server, started as `python -m sglang.launch_server`, with `--max-running-requests` set to the run's
concurrency."""

from __future__ import annotations

from harness.engines.base import LoadRequest
from harness.engines.served import ServedEngine, python_module_command


class SglangEngine(ServedEngine):
    name = "sglang"
    library = "sglang"
    module = "sglang"
    install = "pip install 'sglang[all]'"
    batch_cap_option = "--max-running-requests"

    def command(self, request: LoadRequest, model_path: str, port: int, batch_cap: int | None) -> list[str]:
        args = ["--model-path", model_path, "--host", "127.0.0.1", "--port", str(port), "--random-seed", "0",
                "--dtype", str(request.dtype)]
        if batch_cap is not None:
            args += [self.batch_cap_option, str(batch_cap)]
        if request.trust_remote_code:
            args.append("--trust-remote-code")
        return python_module_command("sglang.launch_server", *args)
