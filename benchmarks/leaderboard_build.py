"""How long `harness leaderboard build` takes on 10 000 realistic result files, and how big the index page is.

Goals: a cold build of 10 000 files in at most 5 s on a 2-core machine, a rebuild after one new file in at
most 1 s, index page under 1 MB. The files are synthetic (`harness.testing.synthetic.make_result`: never
real measurements) but spelt and sized as a real run writes them: schema 2.0 with the task's full spec, 1000
queries x 3 repetitions with every query's latency (to the microsecond), and a power/clock/temperature/utilisation
timeline of one point per 20 Hz sample up to the meter's 500 (about 61 KB each). Prints, with wall and CPU
time (this process and its workers: the fair figure on a shared machine) and the load average: the cold build
(no summary cache, no previous site), the same build again (cache filled, nothing new) and a rebuild after one
new file (with the pages it rendered and reused); `--runs N` times N cold builds and N rebuilds, each line with the
load average when it started. Measured figures: docs/leaderboard.md, "Scale".

    .venv/bin/python benchmarks/leaderboard_build.py [--files 10000] [--keep DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from harness.energy.meter import RESULT_TIMELINE_MAX_POINTS, TIMELINE_DECIMALS
from harness.files import canonical_json, json_line
from harness.results.schema import SCHEMA_VERSION
from harness.tasks.registry import load_task
from harness.testing.synthetic import make_result
from leaderboard.site import build_site

TASKS = ("text-gen", "summarization", "text-classification", "image-gen")
GPUS = ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "NVIDIA L4")
SIZES = (125_000_000, 1_000_000_000, 7_000_000_000, 13_000_000_000, 34_000_000_000, 70_000_000_000)


ENVIRONMENT = {"nvml_version": "13.580.65.06", "cuda_driver_version": "13.0", "torch_cuda_version": "12.8",
               "transformers_version": "5.17.0", "diffusers_version": "0.36.0", "accelerate_version": "1.12.0",
               "datasets_version": "4.4.1", "huggingface_hub_version": "1.2.3", "tokenizers_version": "0.22.1",
               "cpu_model": "Intel(R) Xeon(R) Platinum 8480+", "cpu_logical_cores": 224, "ram_total_gib": 2015.6}
"""What a real run records of its software and host, where the synthetic result leaves them out."""


_task = functools.cache(load_task)


def realistic(seed: int, **kwargs) -> dict:
    """One result as a real 1000-query, 3-repetition run writes it: the current schema, the task's full spec, the
    software versions, every latency, and a full timeline."""
    rng = random.Random(seed)
    result = make_result(num_queries=1000, repeats=3, seed=seed, **kwargs)
    data = result.model_dump(mode="json")
    spec = _task(data["task"]["id"])
    data["schema_version"] = SCHEMA_VERSION
    data["task"].update(version=spec.version, spec=canonical_json(spec.model_dump(mode="json")))
    data["settings"]["protocol"] = "harness"
    data["conditions"] = {"standard": True, "reasons": []}
    data["environment"].update(ENVIRONMENT)
    if data["timelines"]:
        power = kwargs.get("mean_power_w", 300.0)
        duration = sum(r.readings["total"].duration_s for r in result.repetitions)
        # As many points as the meter keeps: one per sample (20 Hz) up to its cap, per GPU.
        n = min(RESULT_TIMELINE_MAX_POINTS, int(duration * data["settings"]["sample_hz"]))
        columns = {
            "t_s": [duration * i / n for i in range(n)],
            "power_w": [power * (1 + rng.uniform(-0.03, 0.03)) for _ in range(n)],
            "sm_clock_mhz": [1980.0 - rng.uniform(0, 60) for _ in range(n)],
            "memory_clock_mhz": [2619.0] * n,
            "temperature_c": [40 + 25 * i / n + rng.uniform(-0.5, 0.5) for i in range(n)],
            "utilization_pct": [float(rng.randint(85, 100)) for _ in range(n)],
        }
        # Rounded as the meter rounds a timeline.
        data["timelines"] = [{"gpu_index": 0, **{name: [round(v, TIMELINE_DECIMALS[name]) for v in values]
                                                 for name, values in columns.items()}}]
    return data


def _write(root: Path, data: dict) -> Path:
    """Filed as `harness run` files results (task/model/run id); the build never reads the path."""
    path = root / data["task"]["id"] / data["model"]["id"].replace("/", "__") / f"{data['run_id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_line(data), encoding="utf-8")  # spelt as `harness run` writes a result
    return path


def generate(root: Path, num_files: int, num_models: int = 200) -> None:
    """`num_files` valid results: every model on some tasks and GPUs, five runs of each (a rerun history)."""
    rng = random.Random(0)
    combos = [(m, t, g) for m in range(num_models) for t in TASKS for g in GPUS]
    rng.shuffle(combos)
    combos = combos[: max(1, num_files // 5)]
    base: dict[int, dict] = {}
    for i in range(num_files):
        which = i % len(combos)
        model, task, gpu = combos[which]
        if which not in base:  # one full result per combination; its reruns differ in id and date only
            base[which] = realistic(which, task=task, model_id=f"org-{model % 37}/model-{model}", gpu_name=gpu,
                                    num_parameters=SIZES[model % len(SIZES)], mean_power_w=rng.uniform(80, 650),
                                    seconds_per_query=rng.uniform(0.01, 0.2))
        data = dict(base[which])
        data["run_id"] = f"{base[which]['run_id']}-r{i // len(combos)}"
        _write(root, data)


def _timed(build):
    """(the build's report, CPU seconds it took in this process and its workers): wall time alone misleads on a
    shared machine."""
    before = _cpu_seconds()
    report = build()
    return report, _cpu_seconds() - before


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load() -> str:
    """The 1-minute load average now: the other users of a shared machine, for reading the figure next to it."""
    return f"{os.getloadavg()[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the corpus and site in this folder.")
    parser.add_argument("--runs", type=int, default=1,
                        help="Cold builds and one-new-file rebuilds to time (a shared machine's load varies from one "
                             "to the next).")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="leaderboard-bench-"))
    results, site = work / "results", work / "site"
    if not results.exists():
        started = time.perf_counter()
        generate(results, args.files)
        print(f"generated {args.files} result files in {time.perf_counter() - started:.1f} s")
    print(f"cores: {os.cpu_count()} (affinity {len(os.sched_getaffinity(0))}); load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sizes = [p.stat().st_size for p in results.rglob("*.json")]
    print(f"result files: {len(sizes)}, mean {sum(sizes) / len(sizes) / 1e3:.0f} KB")
    cache = work / "cache"
    attempts = ["cold (no cache, no previous site)"] * max(1, args.runs) + ["warm (cache filled, nothing new)"]
    for attempt in attempts:
        if attempt.startswith("cold"):
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(site, ignore_errors=True)
        load = _load()
        report, cpu = _timed(lambda: build_site(results, site, cache_dir=cache))
        print(f"{attempt} build: {report.seconds:.2f} s ({cpu:.2f} s CPU) for {report.num_files} files "
              f"({report.num_entries} entries, {len(report.refused)} refused); "
              f"index.html {report.index_bytes / 1e6:.3f} MB; load {load}")
    # A file that arrives the day of the others: a new model on the most visited task.
    newest = make_result(seed=max(1, args.files // 5)).created_at  # synthetic results are dated by seed
    new = realistic(10**6, task="text-gen", model_id="org-new/just-arrived", mean_power_w=200.0,
                    created_at=newest)
    for _ in range(max(1, args.runs)):
        added = _write(results, new)
        load = _load()
        report, cpu = _timed(lambda: build_site(results, site, cache_dir=cache))
        print(f"rebuild after one new file: {report.seconds:.2f} s ({cpu:.2f} s CPU) for {report.num_files} files; "
              f"{report.pages_rendered} pages rendered, {report.pages_reused} reused; load {load}")
        added.unlink()
        build_site(results, site, cache_dir=cache)  # back to the corpus without it (not timed)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"site: {sum(1 for p in site.rglob('*') if p.is_file())} files, {total / 1e6:.1f} MB")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
