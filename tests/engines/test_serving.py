"""Serving through a real server: `transformers serve` on a tiny random-weight chat model built at test time, on
the CPU, with the fake NVML as the GPU. The whole path: server started and stopped, closed-loop streaming client,
steady window, attribution adding up, identity, and the failures a user meets."""

from __future__ import annotations

import json
import os
import sys
import time

import psutil
import pytest

from harness import runner
from harness.commands.rendering import headline_lines
from harness.engines.server import ServerError, ServerProcess, free_port
from harness.engines.transformers_serve import TransformersServeEngine
from harness.errors import ConfigError
from harness.results.identity import result_workload_key
from tests.cli_helpers import run_cli_captured

pytest.importorskip("fastapi", reason="the serving extra (transformers[serving]) is not installed")


def _fake_gpu(tmp_path, monkeypatch, processes=()):
    script = tmp_path / "gpu.json"
    script.write_text(json.dumps({"gpus": [{"name": "Fake NVIDIA H100 80GB HBM3", "power_w": 200,
                                            "processes": [{"pid": pid, "start_s": 0, "end_s": 1e9}
                                                          for pid in processes]}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))


def _request(model, **changes):
    settings = dict(task="text-gen-chat", model=str(model), engine="transformers-serve", device="cpu",
                    dtype="float32", batch_size=4, num_queries=12, warmup_queries=2, idle_seconds=0.2,
                    measure_gpus=[0], overrides={"generation.max_new_tokens": "24"}, write=False)
    settings.update(changes)
    return runner.RunRequest(**settings)


def test_a_served_chat_run_measures_the_steady_state_and_stops_its_server(tiny_models_dir, tmp_path, monkeypatch):
    _fake_gpu(tmp_path, monkeypatch)
    seen: list[frozenset[int]] = []
    real_owned = TransformersServeEngine.owned_pids

    def spy(self, loaded):
        pids = real_owned(self, loaded)
        seen.append(pids)
        return pids

    monkeypatch.setattr(TransformersServeEngine, "owned_pids", spy)
    result, _ = runner.execute(_request(tiny_models_dir / "text-gen-chat"))

    assert result.engine.name == "transformers-serve" and result.engine.version
    assert result.engine.command[:2] == ["transformers", "serve"] and "PORT" in result.engine.command
    serving = result.serving
    assert (serving.concurrency, serving.requests, serving.failed_requests) == (4, 12, 0)
    assert "steady" in result.repetitions[0].readings
    steady = result.repetitions[0].readings["steady"]
    assert 0 < steady.duration_s < result.repetitions[0].readings["total"].duration_s
    assert serving.gpu_energy_per_output_token_j.mean > 0
    # A CPU run's steady window lasts about a second: the counter's 100 ms edges make it unusable, and it says so.
    assert "counter-edge error" in serving.steady_unusable
    assert serving.gpu_energy_per_output_token_j.unusable == serving.steady_unusable
    assert serving.ttft_s.p50 <= serving.e2e_latency_s.p50 <= serving.e2e_latency_s.p99
    assert serving.attributed_share == pytest.approx(1.0, abs=0.05)
    assert serving.gpu_prefill_energy_per_request_j.mean + serving.gpu_decode_energy_per_request_j.mean == \
        pytest.approx(serving.gpu_energy_per_request_j.mean)
    assert result.output_lengths is not None and result.output_lengths.num_queries == 12
    # The server and its processes were the engine's own while it ran, and are gone now.
    server_pids = set().union(*seen) - {os.getpid()}
    assert server_pids and not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                                   for pid in server_pids)
    lines = "\n".join(headline_lines(result))
    assert "served by transformers-serve at concurrency 4:" in lines and "per request (measured by attribution)" \
        in lines and "inter-token p50" in lines
    # Never one workload with the same task run through generate.
    assert result_workload_key(result) != result_workload_key(
        result.model_copy(update={"engine": None, "serving": None}))


def test_fixed_length_text_gen_is_refused_before_the_server_starts(tiny_models_dir, monkeypatch, tmp_path):
    _fake_gpu(tmp_path, monkeypatch)
    started = []
    monkeypatch.setattr(ServerProcess, "start", lambda self: started.append(self) or self)
    with pytest.raises(ConfigError, match=r"cannot ask for exactly 10 new tokens .*text-gen-chat"):
        runner.execute(_request(tiny_models_dir / "text-gen-chat", task="text-gen", overrides={}))
    assert not started


def test_concurrency_is_for_served_engines_only(capsys, tiny_models_dir, tmp_path):
    code, _, err = run_cli_captured(capsys, "run", "--task", "text-gen", "--model",
                                    str(tiny_models_dir / "text-gen"), "--concurrency", "4", "--device", "cpu")
    assert code == 2 and err.strip().startswith("error: --concurrency is for engines behind a server")


def test_a_server_that_dies_at_start_is_one_line_quoting_its_log(tiny_models_dir, tmp_path, monkeypatch):
    _fake_gpu(tmp_path, monkeypatch)
    crash = [sys.executable, "-c", "import sys; print('loading model'); print('CUDA out of memory: boom');"
             " sys.exit(3)"]
    monkeypatch.setattr(TransformersServeEngine, "command", lambda self, *args: crash)
    with pytest.raises(ServerError, match=r"exited \(code 3\) before it answered: loading model \| CUDA out of "
                                          r"memory: boom \(log: .*\.log\)"):
        runner.execute(_request(tiny_models_dir / "text-gen-chat"))


def test_stopping_a_server_stops_its_whole_process_tree(tmp_path):
    tree = [sys.executable, "-c", "import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"]
    server = ServerProcess(tree, log_path=tmp_path / "server.log").start()
    deadline = time.monotonic() + 20
    while len(server.pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = server.pids()
    assert len(pids) == 2
    server.stop()
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids)


def test_a_running_server_is_measured_through_its_endpoint(tiny_models_dir, tmp_path, monkeypatch, capsys):
    """`--endpoint`: the harness starts nothing; the server's processes on the GPU are not contention, and the
    result says other clients' load could not be excluded."""
    port = free_port()
    model = tiny_models_dir / "text-gen-chat"
    server = ServerProcess(TransformersServeEngine().command(
        runner.LoadRequest(kind="text-gen", model_id=str(model), device="cpu", dtype="float32"), str(model), port,
        None), log_path=tmp_path / "server.log").start()
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/v1/models")
        _fake_gpu(tmp_path, monkeypatch, processes=sorted(server.pids()))
        results = tmp_path / "results"
        code, out, err = run_cli_captured(
            capsys, "run", "--task", "text-gen-chat", "--endpoint", f"http://127.0.0.1:{port}/v1", "--model",
            str(model), "--gpus", "0", "--concurrency", "2", "--num-queries", "6", "--warmup-queries", "1",
            "--idle-seconds", "0.2", "--set", "generation.max_new_tokens=16", "--device", "cpu", "--quiet",
            "--results-dir", str(results))
        assert code == 0, err
        (path,) = list(results.rglob("*.json"))
        result = json.loads(path.read_text())
        codes = {w["code"] for w in result["warnings"]}
        assert result["engine"]["name"] == "endpoint"
        assert "shared-endpoint" in codes and "contention" not in codes
        assert server.alive()  # measured, not stopped: it is not the harness's
    finally:
        server.stop()
