"""Harness throughput vs a bare loop making the same model calls, for every task kind, and the harness's own time
per batch.

The harness runs each batch through `run_pass` (per-batch timing, latencies, token and image counts, the progress
callback with a live power reading) -> `Workload.run_batch` -> the engine's `run_batch` (`torch.inference_mode`,
CUDA synchronised), inside an open meter window (the sampler thread polling the GPUs). The bare loop makes the same
model calls with none of that: for each batch, the workload's own model call (`Workload._run`: the tokenizer or
processor and the model, with the task's arguments; what a careful user's loop would call) under
`torch.inference_mode()`, then the device synchronised. Both run on the same loaded model and inputs, in one
process, interleaved round by round (ABBA: the order flips every round, so a drift in the machine's speed falls on
both alike).

For each kind it prints the ratio of throughputs (harness / bare: the median of the per-round ratios) with its
spread (the interquartile range of the per-round ratios), the harness's added time per batch in microseconds
(the median over rounds of (harness - bare) / batches, with its interquartile range), the same with the model call
replaced by its cached output (`own`: the harness's time alone, free of the model's noise, and the ratio it implies,
bare / (bare + own)), and apart, what a window's two edges cost (counter reads, host snapshot, a contention check):
once per window of at least 10 s on a GPU. Goal: at least 0.99x for every kind on the demo models, whose model calls
are tiny, so that per-batch overhead looks as large as it can be; real models dwarf it.

    python benchmarks/harness_vs_bare.py                                  # every kind, tiny demo models, CPU
    python benchmarks/harness_vs_bare.py --kind text-gen --kind image-gen --rounds 41
    python benchmarks/harness_vs_bare.py --kind text-classification --model DIR --device cuda \
        --num-queries 200

On the CPU (the default) the meter reads one fake GPU (`harness.testing.fake_nvml`, at 20 Hz), so the sampler
thread runs beside the work as it does on a GPU; `--no-fake-gpu` leaves it out. Measured figures: docs/method.md,
"The harness's own overhead".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from harness.energy import open_meter
from harness.engines import engine_named
from harness.kinds import KINDS
from harness.runner import RunRequest, batches, load_for, prepare, run_pass
from harness.testing.demo_models import build_demo_model

SMALL_IMAGES = {"generation.num_inference_steps": "2", "generation.height": "64", "generation.width": "64"}
"""image-gen on the demo pipeline: two 64 px steps, so a round takes seconds on a CPU."""


def bare_loop(workload, items, batch_size: int) -> None:
    """The same model calls, batch by batch, with nothing of the harness around them."""
    import torch

    run, engine, loaded = workload._run, workload.loaded_by, workload.loaded
    for batch in batches(items, batch_size):
        with torch.inference_mode():
            run(list(batch))
        engine.synchronize(loaded)


def harness_pass(workload, items, batch_size: int, gpus: list[int]) -> tuple[float, float]:
    """One pass as `harness run` makes it, inside a meter window (the sampler thread polling the GPUs meanwhile):
    (seconds of the pass, seconds of the window's two edges). The edges are a window's cost, paid once per window
    of at least `--min-window-s` (10 s on a GPU), not per batch: timed apart."""
    with open_meter(gpus, sample_hz=20.0) as meter:
        start = time.perf_counter()
        meter.begin("pass")
        begun = time.perf_counter()
        run_pass(workload.run_batch, items, batch_size, on_batch=lambda done, power: None,
                 live_power_w=meter.live_power_w)
        ended = time.perf_counter()
        meter.end("pass")
        return ended - begun, (begun - start) + (time.perf_counter() - ended)


def own_time_per_batch(workload, items, batch_size: int, gpus: list[int], calls: int = 2000) -> tuple:
    """The harness's own time per batch with the model out of the way: the model call replaced by a function that
    returns the output of a real call at once, the bare loop and the harness timed over `calls` batches each, in
    11 interleaved rounds; (quartiles of the difference per batch in microseconds). Immune to the model's noise."""
    first = list(batches(items, batch_size)[0])
    output = workload._run(first)
    real, workload._run = workload._run, lambda batch: output
    many = (first * (calls * batch_size // len(first) + 1))[:calls * batch_size]
    try:
        added = []
        for round_index in range(11):
            times = {}
            for which in (("bare", "harness") if round_index % 2 == 0 else ("harness", "bare")):
                if which == "bare":
                    start = time.perf_counter()
                    bare_loop(workload, many, batch_size)
                    times[which] = time.perf_counter() - start
                else:
                    times[which] = harness_pass(workload, many, batch_size, gpus)[0]
            added.append((times["harness"] - times["bare"]) / calls * 1e6)
    finally:
        workload._run = real
    return quartiles(added)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile)."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def measure_kind(kind: str, args) -> dict:
    model = args.model or str(build_demo_model(kind, Path(args.models_dir) / kind))
    overrides = dict(SMALL_IMAGES) if kind == "image-gen" and not args.model else {}
    overrides.update(dict(pair.split("=", 1) for pair in args.set))
    gpus = [int(i) for i in args.measure_gpus.split(",")] if args.measure_gpus else None
    prepared = prepare(RunRequest(task=kind, model=model, device=args.device, dtype=args.dtype,
                                  num_queries=args.num_queries, batch_size=args.batch_size, overrides=overrides,
                                  measure_gpus=gpus, write=False))
    engine_named(prepared.engine).silence_progress_bars()
    loaded = load_for(prepared)
    workload = prepared.workload(loaded, prepared.resolved.spec)
    items, batch_size = list(prepared.inputs.items), prepared.resolved.spec.batch_size
    measured = gpus if gpus is not None else list(loaded.gpu_indices)
    num_batches = len(batches(items, batch_size))
    bare_s, harness_s, edges_s = [], [], []
    for _ in range(2):  # warm-up, both paths
        bare_loop(workload, items, batch_size)
        harness_pass(workload, items, batch_size, measured)
    for round_index in range(args.rounds):
        order = ("bare", "harness") if round_index % 2 == 0 else ("harness", "bare")
        for which in order:
            if which == "bare":
                start = time.perf_counter()
                bare_loop(workload, items, batch_size)
                bare_s.append(time.perf_counter() - start)
            else:
                pass_s, edge_s = harness_pass(workload, items, batch_size, measured)
                harness_s.append(pass_s)
                edges_s.append(edge_s)
    with open_meter(measured, sample_hz=20.0) as meter:
        backend = meter.backend_name
    own_us = own_time_per_batch(workload, items, batch_size, measured)
    ratios = [b / h for b, h in zip(bare_s, harness_s)]
    added_us = [(h - b) / num_batches * 1e6 for b, h in zip(bare_s, harness_s)]
    return {"kind": kind, "queries": len(items), "batch_size": batch_size, "batches": num_batches,
            "bare_ms_per_batch": statistics.median(bare_s) / num_batches * 1e3, "ratio": quartiles(ratios),
            "added_us": quartiles(added_us), "meter": backend, "rounds": args.rounds,
            "edges_ms": statistics.median(edges_s) * 1e3, "own_us": own_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", action="append", choices=list(KINDS), help="a task kind (default: every kind)")
    parser.add_argument("--model", help="model directory or hub id (default: the kind's tiny demo model)")
    parser.add_argument("--models-dir", default=None, help="where the demo models are built (default: a new "
                                                            "temporary folder)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--num-queries", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds per kind (ABBA order)")
    parser.add_argument("--measure-gpus", default=None, help="comma-separated NVML indices (default: the model's)")
    parser.add_argument("--set", action="append", default=[], help="task override key=value")
    parser.add_argument("--no-fake-gpu", action="store_true", help="on the CPU, measure no GPU (no sampler thread)")
    args = parser.parse_args()
    args.models_dir = args.models_dir or tempfile.mkdtemp(prefix="harness-vs-bare-")
    logging.disable(logging.WARNING)  # the libraries' notes on tiny random models, once per batch
    if args.device == "cpu" and not args.no_fake_gpu and args.measure_gpus is None:
        script = Path(args.models_dir) / "fake-gpu.json"
        script.write_text(json.dumps({"gpus": [{"name": "Fake NVIDIA H100 80GB HBM3", "power_w": 200.0}]}))
        os.environ["HARNESS_FAKE_NVML"] = str(script)
        args.measure_gpus = "0"
    kinds = args.kind or list(KINDS)
    print(f"{args.device}, {args.dtype}, {args.num_queries} queries, batch {args.batch_size}, {args.rounds} rounds "
          f"interleaved (ABBA); ratio = harness/bare throughput (median [interquartile range] of per-round ratios); "
          f"added = the harness's own time per batch")
    failed, failed_own = [], []
    for kind in kinds:
        row = measure_kind(kind, args)
        (q1, ratio, q3), (a1, added, a3) = row["ratio"], row["added_us"]
        o1, own, o3 = row["own_us"]
        implied = row["bare_ms_per_batch"] / (row["bare_ms_per_batch"] + own / 1e3)
        print(f"{kind:22s} ratio {ratio:.4f} [{q1:.4f}, {q3:.4f}]  added {added:8.1f} us/batch [{a1:.1f}, {a3:.1f}]"
              f"  own {own:6.1f} us/batch [{o1:.1f}, {o3:.1f}] (ratio from it {implied:.4f})"
              f"  bare {row['bare_ms_per_batch']:8.2f} ms/batch  ({row['batches']} batches; meter "
              f"{row['meter']}, window edges {row['edges_ms']:.0f} ms per window)", flush=True)
        if ratio < 0.99:
            failed.append(kind)
        if implied < 0.99:
            failed_own.append(kind)
    print(f"goal >= 0.99x, measured ratio: {'met for every kind' if not failed else 'missed for ' + ', '.join(failed)}")
    print(f"goal >= 0.99x, from the harness's own time: "
          f"{'met for every kind' if not failed_own else 'missed for ' + ', '.join(failed_own)}")


if __name__ == "__main__":
    main()
