"""Schema-valid, internally consistent result files with made-up numbers, for tests and scale benchmarks.

These are never real measurements and never belong in `results/`: they exist so the leaderboard, the
validators and the campaign tools can be exercised (and benchmarked on 10 000 files) without a GPU.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from pydantic_core import to_jsonable_python

from harness.kinds import KINDS
from harness.results.figures import derive_figures
from harness.results.schema import LATENCY_DECIMALS, IdleBaseline, Repetition, ResultFile
from harness.version import __version__


def make_result(
    *,
    task: str = "text-gen",
    model_id: str = "example-org/example-model",
    num_parameters: int = 1_000_000_000,
    gpu_name: str = "NVIDIA H100 80GB HBM3",
    mean_power_w: float = 300.0,
    seconds_per_query: float = 0.05,
    num_queries: int = 20,
    repeats: int = 3,
    run_id: str | None = None,
    created_at: datetime | None = None,
    meter_backend: str = "nvml",
    seed: int = 0,
    task_version: str = "1.0",
    batch_size: int = 1,
    protocol: str | None = None,
    non_standard: tuple[str, ...] = (),
    jitter_share: float = 0.01,
    engine: str | dict | None = None,
    serving: dict | None = None,
) -> ResultFile:
    """One result whose readings, latencies and figures agree with each other (so every check passes).

    `engine` (a name, or the whole `EngineInfo` as a dict) and `serving` (a `ServingSummary` as a dict, e.g. from
    `make_serving`) make it a schema 2.1 file: a run through a server under load. A served run's concurrency is its
    batch size, so `batch_size` follows `serving["concurrency"]`."""
    if serving is not None:
        batch_size = serving["concurrency"]
    rng = random.Random(seed)
    created_at = created_at or datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc) + timedelta(minutes=seed)
    run_id = run_id or f"{created_at:%Y%m%dT%H%M%SZ}-{seed:08x}"
    cpu_only = gpu_name == "cpu"
    kind = KINDS.get(task)  # a made-up task id is a kind of its own, with neither tokens nor images
    makes_tokens = kind is not None and kind.outputs == "tokens"
    counts_images = kind is not None and "image" in (kind.inputs, kind.outputs)
    repetitions = []
    start = created_at.timestamp()
    for index in range(repeats):
        jitter = 1.0 + rng.uniform(-jitter_share, jitter_share)
        duration_s = num_queries * seconds_per_query * jitter
        gpu_j = {} if cpu_only else {"0": mean_power_w * duration_s}
        reading = {
            "key": f"rep{index}/total",
            "start_unix_s": start,
            "duration_s": duration_s,
            "gpu_energy_j": gpu_j,
            "gpu_method": "none" if cpu_only else "counter",
            "gpu_idle_energy_j": None if cpu_only else {"0": 70.0 * duration_s},
            "gpu_sampled_energy_j": None if cpu_only else {"0": gpu_j["0"] * (1 + rng.uniform(-0.005, 0.005))},
            "cpu_energy_j": 40.0 * duration_s,
            "cpu_method": "estimated",
            "ram_energy_j": 5.0 * duration_s,
            "ram_method": "estimated",
            "warnings": [],
        }
        latencies = [round(seconds_per_query * jitter * (1 + rng.uniform(-0.05, 0.05)), LATENCY_DECIMALS)
                     for _ in range(num_queries)]
        repetitions.append({
            "index": index,
            "num_queries": num_queries,
            "readings": {"total": reading},
            "query_latencies_s": latencies,
            "output_tokens": num_queries * 10 if makes_tokens else None,
            "images": num_queries if counts_images else None,
        })
        start += duration_s + 1

    idle = None if cpu_only else {"duration_s": 5.0, "gpu_power_w": {"0": 70.0}, "method": "counter"}
    # The figures come from the readings the same way a real run derives them, so every check passes.
    figures, _ = derive_figures([Repetition.model_validate(r) for r in repetitions],
                                None if idle is None else IdleBaseline.model_validate(idle))
    durations = [r["readings"]["total"]["duration_s"] for r in repetitions]
    finished = created_at + timedelta(seconds=sum(durations) + repeats + 10)
    gpus = [] if cpu_only else [{
        "index": 0, "name": gpu_name, "uuid": f"GPU-{seed:08x}", "memory_total_mib": 81559.0,
        "has_energy_counter": True, "power_limit_enforced_w": 700.0, "power_limit_default_w": 700.0,
        "persistence_mode": True, "mig_mode": False, "compute_capability": "9.0",
    }]
    data = {
        "schema_version": "1.0",
        "run_id": run_id,
        "created_at": finished.isoformat(),
        "started_at": created_at.isoformat(),
        "finished_at": finished.isoformat(),
        "harness_version": __version__,
        "git_sha": None,
        "task": {"id": task, "version": task_version, "kind": task,
                 "spec": {"num_queries": num_queries, "batch_size": batch_size}},
        "input_set": {"source": "builtin", "name": f"{task}-builtin-v1", "num_items": num_queries,
                      "sha256": f"{seed:064x}"},
        "model": {"id": model_id, "revision": None, "dtype": "bfloat16", "num_parameters": num_parameters,
                  "random_weights": False, "device": "cpu" if cpu_only else "cuda:0"},
        "settings": {"num_queries": num_queries, "batch_size": batch_size, "repeats": repeats,
                     "warmup_queries": 2, "idle_seconds": 5.0, "sample_hz": 20.0},
        "environment": {
            "meter_backend": "none" if cpu_only else meter_backend, "gpus": gpus,
            "measured_gpu_indices": [] if cpu_only else [0], "driver_version": None if cpu_only else "580.65.06",
            "torch_version": "2.11.0", "python_version": "3.12.3", "platform": "Linux-x86_64",
        },
        "idle": idle,
        "repetitions": repetitions,
        "timelines": [] if cpu_only else [{
            "gpu_index": 0,
            "t_s": [i * 0.5 for i in range(20)],
            "power_w": [70.0 if i < 4 else mean_power_w * (1 + rng.uniform(-0.03, 0.03)) for i in range(20)],
        }],
        "figures": figures.model_dump(),
    }
    if protocol is not None or non_standard:  # schema 1.2 fields
        data["schema_version"] = "1.2"
        data["settings"]["protocol"] = protocol or "harness"
        data["conditions"] = {"standard": not non_standard, "reasons": list(non_standard)}
    if engine is not None or serving is not None:  # schema 2.1 fields
        data["schema_version"] = "2.1"
        if engine is not None:
            data["engine"] = engine if isinstance(engine, dict) else {
                "name": engine, "version": "0.0.0-synthetic", "settings": {}}
        data["serving"] = serving
    return ResultFile.model_validate(data)


def make_serving(*, concurrency: int, j_per_token: float, itl_p50_s: float, ttft_p50_s: float = 0.05,
                 repeats: int = 3, spread_share: float = 0.02, steady_window_s: float = 30.0,
                 steady_unusable: str | None = None, tokens_per_request: float = 100.0) -> dict:
    """A `ServingSummary` (as a dict) whose figures agree with each other: tokens per second from the concurrency
    and the inter-token latency, power from tokens per second and J per token, energy per request from J per token
    and the tokens of a request. `repeats` with `spread_share` sets the steady figures' intervals (one repetition:
    none); `steady_unusable` marks the steady figures unusable, as a window under the minimum does."""
    tokens_per_s = concurrency / itl_p50_s

    def estimate(mean: float) -> dict:
        if repeats == 1:
            return {"mean": mean, "std": 0.0, "ci95_low": None, "ci95_high": None, "n": 1}
        half = mean * spread_share
        return {"mean": mean, "std": half / 2, "ci95_low": mean - half, "ci95_high": mean + half, "n": repeats}

    def spread(p50: float) -> dict:
        return {"mean": p50 * 1.05, "p50": p50, "p90": p50 * 1.4, "p99": p50 * 2.0}

    request_j = j_per_token * tokens_per_request
    prefill_j = request_j * 0.1
    return {
        "concurrency": concurrency, "batch_cap": concurrency, "requests": 20 * concurrency * repeats,
        "failed_requests": 0, "steady_window_s": estimate(steady_window_s),
        "gpu_energy_per_output_token_j": estimate(j_per_token), "output_tokens_per_s": estimate(tokens_per_s),
        "output_tokens_per_j": estimate(1.0 / j_per_token), "gpu_mean_power_w": estimate(tokens_per_s * j_per_token),
        "steady_unusable": steady_unusable, "ttft_s": spread(ttft_p50_s), "inter_token_latency_s": spread(itl_p50_s),
        "e2e_latency_s": spread(ttft_p50_s + itl_p50_s * tokens_per_request),
        "gpu_energy_per_request_j": {"mean": request_j, "p50": request_j, "p90": request_j * 1.2,
                                     "p99": request_j * 1.5},
        "gpu_prefill_energy_per_request_j": spread(prefill_j) | {"mean": prefill_j},
        "gpu_decode_energy_per_request_j": spread(request_j - prefill_j) | {"mean": request_j - prefill_j},
        "attributed_share": 0.97, "unattributed_j": request_j * 0.5,
    }


def one_x_layout(result: ResultFile) -> dict:
    """A result's JSON as 1.x files laid it out: maps keyed by GPU index, windows by name, free-form parts as
    objects. That is its Python-mode dump (the 2.0 layout is only what its serializers write), made JSON-ready.
    2.0 readers still read it, so tests check both layouts are defended."""
    data = to_jsonable_python(result.model_dump())
    data["schema_version"] = "1.3"
    return data
