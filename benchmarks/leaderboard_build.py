"""How long `harness leaderboard build` takes on 10 000 result files, and how big the index page is.

Goal: at most 5 s on a 2-core machine, index page under 1 MB. Generates synthetic results
(`harness.testing.synthetic.make_result`: never real measurements) for several tasks, models and GPUs in a
temporary folder, builds the site twice (cold and warm file cache) and prints the figures.

    .venv/bin/python benchmarks/leaderboard_build.py [--files 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from harness.results.store import default_result_path
from harness.testing.synthetic import make_result
from leaderboard.site import build_site

TASKS = ("text-gen", "summarization", "text-classification", "image-gen")
GPUS = ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "NVIDIA L4")
SIZES = (125_000_000, 1_000_000_000, 7_000_000_000, 13_000_000_000, 34_000_000_000, 70_000_000_000)


def generate(root: Path, num_files: int, num_models: int = 200) -> None:
    """`num_files` valid results: every model on some tasks and GPUs, several runs each."""
    rng = random.Random(0)
    combos = [(m, t, g) for m in range(num_models) for t in TASKS for g in GPUS]
    rng.shuffle(combos)
    combos = combos[: max(1, num_files // 5)]
    for i in range(num_files):
        model, task, gpu = combos[i % len(combos)]
        result = make_result(task=task, model_id=f"org-{model % 37}/model-{model}", gpu_name=gpu,
                             num_parameters=SIZES[model % len(SIZES)], mean_power_w=rng.uniform(80, 650),
                             seconds_per_query=rng.uniform(0.01, 2.0), seed=i)
        path = default_result_path(root, result)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.model_dump(mode="json")), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the corpus and site in this folder.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="leaderboard-bench-"))
    results, site = work / "results", work / "site"
    if not results.exists():
        started = time.perf_counter()
        generate(results, args.files)
        print(f"generated {args.files} result files in {time.perf_counter() - started:.1f} s")
    print(f"cores: {os.cpu_count()}")
    for attempt in ("first", "second"):
        report = build_site(results, site)
        print(f"{attempt} build: {report.seconds:.2f} s for {report.num_files} files "
              f"({report.num_entries} entries, {len(report.refused)} refused); "
              f"index.html {report.index_bytes / 1e6:.3f} MB")
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"site: {sum(1 for p in site.rglob('*') if p.is_file())} files, {total / 1e6:.1f} MB")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
