"""Whether the serving client can ever be the bottleneck: streamed tokens per second one client process sustains,
and the delay the client itself adds to first-token timing, against a server that answers as fast as it can.

    .venv/bin/python benchmarks/serving_client.py [--concurrency 1 64 512] [--tokens 256] [--rounds 4]
                                                  [--clients 1] [--server-processes 1] [--step-ms 0] [--profile 512]

A stand-in server (aiohttp.web, in processes of its own) streams OpenAI-style completions as vLLM does: one
`data:` chunk per token (vLLM's fields, plus `t`, the server's `time.time()` as it wrote the chunk), then a
usage chunk and `data: [DONE]`. It does no work, so whatever limits the rate is the client (or the server's own
Python: the table shows both processes' CPU). `harness.engines.openai_client.run_closed_loop` drives it with N
requests in flight, from `--clients` processes (N split among them). For each concurrency it prints the streamed
tokens per second achieved; the same tokens per second of client CPU (`per CPU s`: what one client process sustains
with a core to itself, the figure to read on a shared machine, where the client gets only part of a core); the
client processes' and the server's CPU (a client at 100 % is the limit); and the client's added delay: the
first-chunk time the client records minus the time the server stamped into that chunk (same machine, same
clock), at p50 and p99, and the same for each request's last chunk (a backlog shows there). `--step-ms` paces the
server like an engine's decode step (every stream gets one token per step), for delays at a realistic rate.
`--profile N` runs one client at concurrency N under cProfile and prints where its time goes.

Goal: one client process sustains at least 20 000 streamed tokens per second (a small model on an H100 at high
batch) at every concurrency, judged on `per CPU s`; where one does not, `--clients` says how many do.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402, F401 - imported (its SSL contexts built) before any timed run

from harness.engines.openai_client import ServedRequest, run_closed_loop  # noqa: E402

GOAL_TOKENS_PER_S = 20_000
MODEL = "bench-model"


# ---- the stand-in server -------------------------------------------------------------------------------------------

def serve(port: int, step_ms: float) -> None:
    """One server process: answers `/v1/models`, streams `/v1/completions` and `/v1/chat/completions` (one token a
    chunk, `max_tokens` of them), and lists the first and last chunk's stamps per request at `/stamps`."""
    from aiohttp import web

    stamps: dict[str, tuple[float, float]] = {}
    created = int(time.time())
    step_s = step_ms / 1000.0

    async def models(_request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        tokens = int(body.get("max_tokens") or 16)
        chat = request.path.endswith("/chat/completions")
        rid = str(body.get("user") or id(request))
        if chat:
            head = (f'data: {{"id":"chatcmpl-{rid}","object":"chat.completion.chunk","created":{created},'
                    f'"model":"{MODEL}","choices":[{{"index":0,"delta":{{"content":" tok"}},"logprobs":null,'
                    '"finish_reason":').encode()
        else:
            head = (f'data: {{"id":"cmpl-{rid}","object":"text_completion","created":{created},"model":"{MODEL}",'
                    '"choices":[{"index":0,"text":" tok","logprobs":null,"finish_reason":').encode()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        first = last = 0.0
        for k in range(tokens):
            if step_s:
                await asyncio.sleep(step_s)
            finish = b'"length"' if k == tokens - 1 else b"null"
            last = time.time()
            first = first or last
            await response.write(head + finish + b',"stop_reason":null}],"t":' + repr(last).encode() + b"}\n\n")
            if not step_s:
                await asyncio.sleep(0)  # the other streams get their token too, as in an engine's batch
        usage = {"id": f"cmpl-{rid}", "object": "text_completion", "created": created, "model": MODEL, "choices": [],
                 "usage": {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": tokens + 8}}
        await response.write(b"data: " + json.dumps(usage, separators=(",", ":")).encode() + b"\n\ndata: [DONE]\n\n")
        await response.write_eof()
        stamps[rid] = (first, last)
        return response

    async def get_stamps(_request: web.Request) -> web.Response:
        out = web.json_response(stamps)
        stamps.clear()
        return out

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/stamps", get_stamps)
    web.run_app(app, host="127.0.0.1", port=port, reuse_port=True, backlog=4096, print=None, access_log=None)


def start_servers(processes: int, step_ms: float) -> tuple[list[subprocess.Popen], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, __file__, "--serve", str(port), "--step-ms", str(step_ms)]
    servers = [subprocess.Popen(command) for _ in range(processes)]  # noqa: S603 - this script, this interpreter
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):  # noqa: S310 - loopback
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    time.sleep(0.5 if processes > 1 else 0)  # the other processes bind the same port (SO_REUSEPORT)
    return servers, port


def collect_stamps(port: int, processes: int) -> dict[str, list[float]]:
    """Every server process's stamps (connections land on any of them: ask until each has answered empty)."""
    stamps: dict[str, list[float]] = {}
    empty = 0
    while empty < 4 * processes:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stamps", timeout=10) as response:  # noqa: S310
            got = json.loads(response.read())
        empty = empty + 1 if not got else 0
        stamps.update(got)
    return stamps


# ---- the client side -----------------------------------------------------------------------------------------------

def make_requests(first: int, count: int, tokens: int, chat: bool) -> list[ServedRequest]:
    if chat:
        return [ServedRequest("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                                                       "max_tokens": tokens, "user": f"r{first + i}"})
                for i in range(count)]
    return [ServedRequest("/v1/completions", {"prompt": [1, 2, 3, 4, 5, 6, 7, 8], "max_tokens": tokens,
                                              "min_tokens": tokens, "ignore_eos": True, "user": f"r{first + i}"})
            for i in range(count)]


def client(job: tuple[str, int, int, int, int, bool]) -> dict:
    """One client process's load: its requests, its concurrency; what it recorded and the CPU it took."""
    base_url, first, count, concurrency, tokens, chat = job
    requests = make_requests(first, count, tokens, chat)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outcome = run_closed_loop(base_url, MODEL, requests, concurrency)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_s": cpu, "wall_s": wall, "steady_s": outcome.steady_s,
            "records": [(first + r.index, r.sent_s, r.first_token_s, r.chunk_s[-1] if r.chunk_s else None,
                         r.done_s, r.output_tokens, r.error, len(r.chunk_s)) for r in outcome.records]}


def measure(base_url: str, port: int, args: argparse.Namespace, concurrency: int, server_pids: list[int]) -> dict:
    clients = min(args.clients, concurrency)
    total = max(args.rounds * concurrency, args.min_requests)
    shares = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    levels = [concurrency // clients + (1 if i < concurrency % clients else 0) for i in range(clients)]
    jobs, first = [], 0
    for share, level in zip(shares, levels):
        jobs.append((base_url, first, share, level, args.tokens, args.chat))
        first += share
    server_cpu0 = sum(_cpu_s(pid) for pid in server_pids)
    wall0 = time.perf_counter()
    if clients == 1:
        outs = [client(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(clients) as pool:
            outs = pool.map(client, jobs)
    wall = time.perf_counter() - wall0
    server_cpu = sum(_cpu_s(pid) for pid in server_pids) - server_cpu0
    stamps = collect_stamps(port, args.server_processes)
    records = [r for out in outs for r in out["records"]]
    failed = [r for r in records if r[6] is not None]
    tokens = sum(r[5] or 0 for r in records if r[6] is None)
    chunks = sum(r[7] for r in records)
    start, end = min(r[1] for r in records), max(r[4] or r[1] for r in records)
    first_delay = [r[2] - stamps[f"r{r[0]}"][0] for r in records if r[2] is not None and f"r{r[0]}" in stamps]
    last_delay = [r[3] - stamps[f"r{r[0]}"][1] for r in records if r[3] is not None and f"r{r[0]}" in stamps]
    return {"concurrency": concurrency, "clients": clients, "requests": len(records), "failed": len(failed),
            "tokens": tokens, "chunks": chunks, "tokens_per_s": tokens / (end - start),
            "client_cpu_pct": 100 * sum(o["cpu_s"] for o in outs) / sum(o["wall_s"] for o in outs),
            "tokens_per_cpu_s": tokens / sum(o["cpu_s"] for o in outs),
            "server_cpu_pct": 100 * server_cpu / wall,
            "first_ms": _quantiles(first_delay), "last_ms": _quantiles(last_delay),
            "error": failed[0][6] if failed else None}


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _quantiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return 1000 * cuts[49], 1000 * cuts[98]


def profile(base_url: str, args: argparse.Namespace) -> None:
    concurrency = args.profile
    requests = make_requests(0, max(args.rounds * concurrency, args.min_requests), args.tokens, args.chat)
    profiler = cProfile.Profile()
    profiler.enable()
    run_closed_loop(base_url, MODEL, requests, concurrency)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("tottime")
    stats.print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64, 512])
    parser.add_argument("--tokens", type=int, default=256, help="tokens per request (one chunk each)")
    parser.add_argument("--rounds", type=int, default=4, help="requests per slot: requests = rounds x concurrency")
    parser.add_argument("--min-requests", type=int, default=32)
    parser.add_argument("--clients", type=int, default=1, help="client processes sharing the load")
    parser.add_argument("--server-processes", type=int, default=1)
    parser.add_argument("--step-ms", type=float, default=0.0, help="server's decode step (0: as fast as it can)")
    parser.add_argument("--chat", action="store_true", help="/v1/chat/completions instead of /v1/completions")
    parser.add_argument("--profile", type=int, metavar="N", help="profile one client at concurrency N, then stop")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.step_ms)
        return
    servers, port = start_servers(args.server_processes, args.step_ms)
    base_url = f"http://127.0.0.1:{port}"
    try:
        if args.profile:
            profile(base_url, args)
            return
        print(f"serving client: {args.tokens} tokens a request, {args.rounds} requests a slot, {args.clients} client "
              f"process(es), {args.server_processes} server process(es), step {args.step_ms:g} ms, "
              f"{'chat' if args.chat else 'completions'}, {os.cpu_count()} CPUs")
        print(f"{'conc':>5} {'clients':>7} {'tokens/s':>9} {'per CPU s':>9} {'client CPU':>10} {'server CPU':>10} "
              f"{'first p50':>9} {'first p99':>9} {'last p50':>9} {'last p99':>9} {'failed':>6}")
        worst, worst_cpu = float("inf"), float("inf")
        for concurrency in args.concurrency:
            row = measure(base_url, port, args, concurrency, [s.pid for s in servers])
            worst, worst_cpu = min(worst, row["tokens_per_s"]), min(worst_cpu, row["tokens_per_cpu_s"] * row["clients"])
            print(f"{concurrency:>5} {row['clients']:>7} {row['tokens_per_s']:>9.0f} {row['tokens_per_cpu_s']:>9.0f} "
                  f"{row['client_cpu_pct']:>9.0f}% "
                  f"{row['server_cpu_pct']:>9.0f}% {row['first_ms'][0]:>7.2f}ms {row['first_ms'][1]:>7.2f}ms "
                  f"{row['last_ms'][0]:>7.2f}ms {row['last_ms'][1]:>7.2f}ms {row['failed']:>6}", flush=True)
            if row["error"]:
                print(f"      first failure: {row['error']}")
        if not args.step_ms:
            print(f"goal: at least {GOAL_TOKENS_PER_S} streamed tokens/s at every concurrency with a core a client "
                  f"process: lowest {worst_cpu:.0f} per client CPU second -> "
                  f"{'met' if worst_cpu >= GOAL_TOKENS_PER_S else 'NOT met'} (lowest achieved here: {worst:.0f}/s)")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(10)


if __name__ == "__main__":
    main()
