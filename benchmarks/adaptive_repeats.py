"""What a score costs in GPU time with fixed versus adaptive repeats, on a scripted fake trace with noise.

    .venv/bin/python benchmarks/adaptive_repeats.py [--trials 200] [--pass-s 30] [--power-noise 0.003 0.015]
                                                    [--duration-noise 0.002 0.01] [--target-ci 1] [--max-repeats 20]

Each trial scripts a card (FakeNvml, counter moving every 100 ms, 80 W between windows) whose repetitions draw
300 W x (1 + N(0, power-noise)) for pass-s x (1 + N(0, duration-noise)) seconds; each pair of noise levels is
one scenario (a quiet card and a noisy one by default). The real meter reads each window on a manual clock, the
real figure code (`harness.results.figures`) turns the readings into the GPU headline and its 95 % interval, and
adaptive runs stop with the runner's own rule (`adaptive_stop`). The noise levels are assumptions (run-to-run
spread of a few per cent), not measurements of any GPU: the script shows how the stopping rule trades GPU time
against interval width. Per policy it prints the mean GPU seconds a score takes, the mean repetitions, the share
of trials whose interval met the target, and the mean half-width.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.energy import open_meter  # noqa: E402
from harness.results.figures import adaptive_stop, derive_figures  # noqa: E402
from harness.results.schema import Repetition  # noqa: E402
from harness.results.statistics import relative_half_width  # noqa: E402
from harness.testing.fake_nvml import FakeNvml, ManualClock  # noqa: E402

NUM_QUERIES = 1000
GAP_S = 1.0
IDLE_W = 80.0
BUSY_W = 300.0


def scripted_repetitions(rng: random.Random, count: int, pass_s: float, power_noise: float,
                         duration_noise: float) -> list[tuple[float, float]]:
    """(start_s, duration_s) of each repetition, and the trace that draws their power."""
    plan, trace, t_s = [], [[0.0, IDLE_W]], 1.0
    for _ in range(count):
        duration_s = pass_s * (1 + rng.gauss(0, duration_noise))
        power_w = BUSY_W * (1 + rng.gauss(0, power_noise))
        trace.append([t_s, power_w])
        trace.append([t_s + duration_s, IDLE_W])
        plan.append((t_s, duration_s))
        t_s += duration_s + GAP_S
    return plan, trace


def measure(plan, trace, *, fixed: int | None, target_ci: float, least: int, most: int, seed: int):
    """Run one policy over the scripted trial: the repetitions it measured and the GPU seconds they took."""
    clock = ManualClock()
    fake = FakeNvml({"gpus": [{"power_w": trace, "counter_update_s": 0.1,
                               "counter_offset_mj": seed * 7919 % 100_000}]}, clock=clock)
    repetitions: list[Repetition] = []
    with open_meter([0], nvml=fake, clock=clock, sleep=clock.advance, background_sampling=False,
                    measure_host=False) as meter:
        for index, (start_s, duration_s) in enumerate(plan):
            clock.advance(start_s - clock())
            meter.begin(f"rep{index}/total")
            clock.advance(duration_s)
            reading = meter.end(f"rep{index}/total")
            repetitions.append(Repetition.model_validate({
                "index": index, "num_queries": NUM_QUERIES, "readings": {"total": reading.as_dict()},
                "query_latencies_s": [duration_s / NUM_QUERIES] * NUM_QUERIES}))
            if fixed is not None:
                if len(repetitions) == fixed:
                    break
            elif len(repetitions) >= least and (adaptive_stop(repetitions, target_ci) or len(repetitions) == most):
                break
    figures, _ = derive_figures(repetitions, None)
    gpu_s = sum(rep.readings["total"].duration_s for rep in repetitions)
    return len(repetitions), gpu_s, relative_half_width(figures.gpu_energy_per_1k_queries_wh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--pass-s", type=float, default=30.0)
    parser.add_argument("--power-noise", type=float, nargs="+", default=[0.003, 0.015])
    parser.add_argument("--duration-noise", type=float, nargs="+", default=[0.002, 0.01])
    parser.add_argument("--target-ci", type=float, default=1.0)
    parser.add_argument("--least", type=int, default=3)
    parser.add_argument("--max-repeats", type=int, default=20)
    args = parser.parse_args()
    if len(args.power_noise) != len(args.duration_noise):
        parser.error("give as many --duration-noise values as --power-noise values")
    for power_noise, duration_noise in zip(args.power_noise, args.duration_noise):
        scenario(args, power_noise, duration_noise)


def scenario(args: argparse.Namespace, power_noise: float, duration_noise: float) -> None:
    policies = {"fixed 3": 3, "fixed 10 (reference)": 10, f"adaptive ±{args.target_ci:g} % ({args.least}.."
                f"{args.max_repeats})": None}
    outcomes: dict[str, list[tuple[int, float, float | None]]] = {name: [] for name in policies}
    for trial in range(args.trials):
        plan, trace = scripted_repetitions(random.Random(trial), args.max_repeats, args.pass_s, power_noise,
                                           duration_noise)
        for name, fixed in policies.items():
            outcomes[name].append(measure(plan, trace, fixed=fixed, target_ci=args.target_ci, least=args.least,
                                          most=args.max_repeats, seed=trial))

    print(f"\n{args.trials} scripted trials: {args.pass_s:g} s passes, power noise {power_noise * 100:g} %, "
          f"duration noise {duration_noise * 100:g} % (assumed), counter update 100 ms")
    print(f"{'policy':32} {'GPU s / score':>14} {'repetitions':>12} {'met ±target':>12} {'mean ±half-width':>17}")
    for name, rows in outcomes.items():
        widths = [w for _, _, w in rows if w is not None]
        met = sum(1 for w in widths if w <= args.target_ci / 100) / len(rows)
        print(f"{name:32} {statistics.fmean(s for _, s, _ in rows):14.1f} "
              f"{statistics.fmean(n for n, _, _ in rows):12.2f} {met * 100:11.0f}% "
              f"{statistics.fmean(widths) * 100:16.2f}%")


if __name__ == "__main__":
    main()
