"""How much the energy meter itself costs: the sampler's CPU per second at 10/50/100 Hz, and one begin/end pair.

    .venv/bin/python benchmarks/meter_overhead.py [--seconds 5] [--gpus 1] [--pairs 2000] [--real-nvml]

The sampler's cost is the CPU time of its own thread (read from the OS per thread), over wall time: the
share of one core it takes from the workload. Goal: under 1 % of one core at 10 Hz. A begin/end pair is
timed with everything a window edge does (CUDA sync check, counter reads, host snapshot, an edge sample,
a process check, the reading). By default it runs against the scripted FakeNvml, whose calls cost
Python time rather than driver time; `--real-nvml` measures the real driver on a GPU machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.energy import open_meter  # noqa: E402
from harness.testing.fake_nvml import FakeNvml  # noqa: E402


def make_nvml(args: argparse.Namespace):
    if args.real_nvml:
        return None
    return FakeNvml({"gpus": [{"power_w": [[0, 80], [1, 300]]} for _ in range(args.gpus)]})


def thread_cpu_s(native_id: int) -> float:
    """CPU seconds of one thread: Linux's schedstat (ns resolution), else psutil (clock-tick resolution)."""
    schedstat = Path(f"/proc/self/task/{native_id}/schedstat")
    if schedstat.exists():
        return int(schedstat.read_text().split()[0]) / 1e9
    for thread in psutil.Process().threads():
        if thread.id == native_id:
            return thread.user_time + thread.system_time
    raise RuntimeError("sampler thread not found")


def sampler_cost(args: argparse.Namespace, hz: float, rapl_root: Path) -> dict:
    indices = list(range(args.gpus))
    with open_meter(indices, sample_hz=hz, nvml=make_nvml(args), rapl_root=rapl_root) as meter:
        thread = meter._sampler._thread
        time.sleep(0.2)  # let the thread settle
        samples0 = meter._sampler.num_samples(indices[0])
        cpu0, wall0, process0 = thread_cpu_s(thread.native_id), time.perf_counter(), time.process_time()
        time.sleep(args.seconds)
        cpu1, wall1, process1 = thread_cpu_s(thread.native_id), time.perf_counter(), time.process_time()
        samples1 = meter._sampler.num_samples(indices[0])
        missed = meter._sampler.missed_ticks
    wall = wall1 - wall0
    return {"hz": hz, "thread_pct": (cpu1 - cpu0) / wall * 100, "process_pct": (process1 - process0) / wall * 100,
            "achieved_hz": (samples1 - samples0) / wall, "missed": missed,
            "us_per_tick": (cpu1 - cpu0) / max(samples1 - samples0, 1) * 1e6}


def pair_cost(args: argparse.Namespace, rapl_root: Path, measure_host: bool) -> dict:
    indices = list(range(args.gpus))
    with open_meter(indices, sample_hz=10, nvml=make_nvml(args), rapl_root=rapl_root,
                    measure_host=measure_host) as meter:
        for i in range(50):  # warm up
            meter.begin(f"warm{i}")
            meter.end(f"warm{i}")
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        for i in range(args.pairs):
            key = f"w{i}"
            meter.begin(key)
            meter.end(key)
        wall1, cpu1 = time.perf_counter(), time.thread_time()
    return {"wall_us": (wall1 - wall0) / args.pairs * 1e6, "cpu_us": (cpu1 - cpu0) / args.pairs * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="sampling time per rate (s)")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs to sample")
    parser.add_argument("--pairs", type=int, default=2000, help="begin/end pairs to time")
    parser.add_argument("--real-nvml", action="store_true", help="use the real NVML (GPU machine)")
    args = parser.parse_args()
    os.environ.pop("HARNESS_FAKE_NVML", None)
    backend = "real NVML" if args.real_nvml else "fake NVML"
    print(f"meter overhead: {backend}, {args.gpus} GPU(s), {args.seconds:.0f} s per rate, python "
          f"{sys.version.split()[0]}, {psutil.cpu_count()} cores, {threading.active_count()} thread(s) at start")
    with tempfile.TemporaryDirectory() as empty:  # no RAPL: the host side is the estimate (psutil)
        rapl_root = Path(empty) / "no-powercap"
        print(f"{'rate':>8} {'sampler CPU':>14} {'process CPU':>14} {'achieved':>10} {'missed':>7} {'per tick':>10}")
        results = []
        for hz in (10.0, 50.0, 100.0):
            row = sampler_cost(args, hz, rapl_root)
            results.append(row)
            print(f"{hz:>6.0f} Hz {row['thread_pct']:>12.3f} % {row['process_pct']:>12.3f} % "
                  f"{row['achieved_hz']:>7.1f} Hz {row['missed']:>7d} {row['us_per_tick']:>7.0f} us")
        with_host = pair_cost(args, rapl_root, measure_host=True)
        gpu_only = pair_cost(args, rapl_root, measure_host=False)
    print(f"begin/end pair: {with_host['wall_us']:.0f} us wall, {with_host['cpu_us']:.0f} us CPU "
          f"(GPU only: {gpu_only['wall_us']:.0f} us wall)")
    ten = results[0]["thread_pct"]
    print(f"goal: sampler at 10 Hz under 1 % of one core: {ten:.3f} % -> {'met' if ten < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
