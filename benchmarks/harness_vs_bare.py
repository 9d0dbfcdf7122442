"""Harness throughput vs a bare transformers/diffusers loop on the same model, inputs and batches.

The harness adds a meter (sampler thread, window edges), per-batch timing, token counting and an output
digest around each batch. This prints both throughputs, measured alternately in one process, and their
ratio. Goal: the harness at least 0.99x the bare loop.

    python benchmarks/harness_vs_bare.py --kind text-gen                  # tiny demo model, CPU
    python benchmarks/harness_vs_bare.py --kind image-gen --model DIR --device cuda --num-queries 50

On a machine without a GPU, set HARNESS_FAKE_NVML to a fake script and pass --measure-gpus 0 so the
sampler thread runs as it would on a GPU. Tiny models make per-batch overhead look as large as it can
be; real models dwarf it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from harness.workloads.models import load_model

from harness.energy import open_meter
from harness.runner import batches, run_pass
from harness.tasks.inputs import load_inputs
from harness.tasks.overrides import apply_overrides
from harness.tasks.registry import load_task
from harness.testing.demo_models import build_demo_model
from harness.workloads import WORKLOADS


def bare_loop(kind: str, loaded, spec, items: list[str], batch_size: int, max_length: int | None) -> None:
    """What a careful user would write by hand with the libraries, nothing else (same truncation length)."""
    model, tokenizer = loaded.model, loaded.tokenizer
    for batch in batches(items, batch_size):
        with torch.inference_mode():
            if kind == "image-gen":
                settings = spec.generation
                generators = [torch.Generator("cpu").manual_seed(settings.seed + i) for i in range(len(batch))]
                model(prompt=list(batch), num_inference_steps=settings.num_inference_steps, height=settings.height,
                      width=settings.width, guidance_scale=settings.guidance_scale, generator=generators)
            else:
                encoded = tokenizer(list(batch), return_tensors="pt", padding=True, truncation=True,
                                    max_length=max_length).to(loaded.device)
                if kind == "text-classification":
                    model(**encoded).logits.argmax(dim=-1)
                else:
                    new = spec.generation.max_new_tokens
                    model.generate(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"],
                                   max_new_tokens=new, min_new_tokens=new, do_sample=False, num_beams=1,
                                   pad_token_id=tokenizer.pad_token_id)
        if loaded.device.startswith("cuda"):
            torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="text-gen",
                        choices=["text-gen", "summarization", "text-classification", "image-gen"])
    parser.add_argument("--model", help="model directory or hub id (default: the tiny demo model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--num-queries", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--measure-gpus", default=None, help="comma-separated NVML indices (default: the model's)")
    parser.add_argument("--set", action="append", default=[], help="task override key=value")
    args = parser.parse_args()

    model = args.model or str(build_demo_model(args.kind, Path(tempfile.mkdtemp()) / args.kind))
    overrides = dict(pair.split("=", 1) for pair in args.set)
    if args.kind == "image-gen" and not args.model:
        overrides = {"generation.num_inference_steps": "4", "generation.height": "64", "generation.width": "64",
                     **overrides}
    spec = apply_overrides(load_task(args.kind), {"batch_size": args.batch_size, "dtype": args.dtype, **overrides})
    items = list(load_inputs(spec, args.num_queries).items)
    loaded = load_model(spec.kind, model, dtype=spec.dtype, device=args.device)
    workload = WORKLOADS[spec.kind](loaded, spec)
    max_length = getattr(workload, "max_input_tokens", None)  # the task's limit, capped by the model's
    gpus = [int(i) for i in args.measure_gpus.split(",")] if args.measure_gpus else loaded.gpu_indices

    bare_s, harness_s = [], []
    with open_meter(gpus, sample_hz=20.0) as meter:
        run_pass(workload.run_batch, items[: 2 * args.batch_size], args.batch_size)  # warm-up, both paths
        bare_loop(spec.kind, loaded, spec, items[: 2 * args.batch_size], args.batch_size, max_length)
        for round_index in range(args.rounds):
            start = time.perf_counter()
            bare_loop(spec.kind, loaded, spec, items, args.batch_size, max_length)
            bare_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            meter.begin(f"round{round_index}")
            run_pass(workload.run_batch, items, args.batch_size, live_power_w=meter.live_power_w)
            meter.end(f"round{round_index}")
            harness_s.append(time.perf_counter() - start)

    bare_qps = args.num_queries / statistics.median(bare_s)
    harness_qps = args.num_queries / statistics.median(harness_s)
    print(f"{spec.kind} | model {model} | {args.device} | {args.num_queries} queries, batch {args.batch_size}, "
          f"{args.rounds} rounds alternated, meter backend {meter.backend_name}")
    print(f"bare loop:  {bare_qps:10.2f} queries/s  (median of {', '.join(f'{s:.3f}' for s in bare_s)} s)")
    print(f"harness:    {harness_qps:10.2f} queries/s  (median of {', '.join(f'{s:.3f}' for s in harness_s)} s)")
    print(f"ratio harness/bare: {harness_qps / bare_qps:.3f}  (goal >= 0.99)")


if __name__ == "__main__":
    main()
