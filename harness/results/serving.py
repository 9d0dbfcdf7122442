"""Serving figures: what a run through a server under load cost, from its requests and its meter windows.

Each repetition's first pass is one closed-loop run of every query with N requests in flight; the runner hands
over its requests (times on the Unix clock), the steady-state window's reading, the whole pass's reading and the
sampled power over the pass. From them:

- **Steady state** (the headline for serving): GPU energy in the steady window over the output tokens that arrived
  in it (J per token), tokens per second and per joule, mean power, and how long the window lasted. A window
  shorter than the run's minimum window (the counter-edge rule) leaves the steady figures unusable, with the reason.
- **Latency**: time to first token, inter-token latency and end-to-end latency at p50, p90 and p99 over every
  request of every repetition. A streamed chunk may hold several tokens: its gap to the previous chunk is spread
  evenly over its tokens.
- **Energy per request, measured** (`attribute`): each sampling interval's energy, scaled so the intervals add up to
  the counter's energy over the pass, is split among the requests in flight by the work each did in that interval
  (its output tokens arriving then, and its prompt's tokens in the interval of its first token, when the prompt is
  processed); an interval where requests are in flight but none produced anything is split evenly among them. A
  request's share before and including its first token is its prefill, the rest its decode. The shares add up to
  the pass's energy, less what fell where no request was in flight (reported).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.kinds import MAX_EDGE_ERROR
from harness.results.statistics import estimate, percentiles

PERCENTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class Attribution:
    """Measured energy per request over one pass (J), its prefill/decode split, and what no request took."""

    energy_j: list[float]
    prefill_j: list[float]
    decode_j: list[float]
    unattributed_j: float
    total_j: float


def attribute(records: Sequence[Mapping[str, Any]], t_s: Sequence[float], power_w: Sequence[float],
              counter_j: float | None = None) -> Attribution:
    """Split the energy of the sampled power (`t_s` ascending, each power holding until the next point) among
    `records` (each with `sent_s`, `first_token_s`, `chunk_s`, `done_s`, `prompt_tokens`, `output_tokens`, on the
    same clock). With `counter_j`, interval energies are scaled to add up to it over [first sent, last done]."""
    ok = [r for r in records if r.get("done_s") is not None and r.get("error") is None]
    n = len(ok)
    if not ok or len(t_s) < 2:
        return Attribution([0.0] * n, [0.0] * n, [0.0] * n, 0.0, 0.0)
    start = min(r["sent_s"] for r in ok)
    end = max(r["done_s"] for r in ok)
    edges, energies = _intervals(t_s, power_w, start, end)
    sampled = math.fsum(energies)
    if counter_j is not None and sampled > 0:
        energies = [e * counter_j / sampled for e in energies]
    units: list[dict[int, float]] = [{} for _ in energies]  # per interval: request -> its work there
    prefill_units: list[dict[int, float]] = [{} for _ in energies]
    for j, record in enumerate(ok):
        chunks = record.get("chunk_s") or []
        per_chunk = (record.get("output_tokens") or len(chunks)) / len(chunks) if chunks else 0.0
        for k, arrival in enumerate(chunks):
            i = _interval_of(edges, arrival)
            work = per_chunk + (float(record.get("prompt_tokens") or 0) if k == 0 else 0.0)
            units[i][j] = units[i].get(j, 0.0) + work
            if k == 0:
                prefill_units[i][j] = work
    energy, prefill = [0.0] * n, [0.0] * n
    unattributed = 0.0
    by_start = sorted(range(n), key=lambda j: ok[j]["sent_s"])
    for i, joules in enumerate(energies):
        total_units = math.fsum(units[i].values())
        if total_units > 0:
            for j, work in units[i].items():
                energy[j] += joules * work / total_units
            for j, work in prefill_units[i].items():
                prefill[j] += joules * work / total_units
            continue
        lo, hi = edges[i], edges[i + 1]
        in_flight = [j for j in by_start if ok[j]["sent_s"] < hi and ok[j]["done_s"] > lo]
        if not in_flight:
            unattributed += joules
            continue
        for j in in_flight:
            share = joules / len(in_flight)
            energy[j] += share
            first = ok[j].get("first_token_s")
            if first is None or first >= lo:
                prefill[j] += share
    decode = [e - p for e, p in zip(energy, prefill)]
    return Attribution(energy, prefill, decode, unattributed, math.fsum(energies))


def _intervals(t_s: Sequence[float], power_w: Sequence[float], start: float, end: float
               ) -> tuple[list[float], list[float]]:
    """Interval edges over [start, end] at the sample times, and each interval's energy (power held from its
    sample until the next; before the first sample, the first value)."""
    inner = [t for t in t_s if start < t < end]
    edges = [start, *inner, end]
    energies = []
    for lo, hi in zip(edges, edges[1:]):
        k = max(bisect.bisect_right(t_s, lo) - 1, 0)
        energies.append(float(power_w[k]) * (hi - lo))
    return edges, energies


def _interval_of(edges: Sequence[float], t: float) -> int:
    return min(max(bisect.bisect_right(edges, t) - 1, 0), len(edges) - 2)


def _gpu_j(reading: Mapping[str, Any] | None) -> float | None:
    if not reading:
        return None
    values = reading.get("gpu_energy_j") or {}
    return math.fsum(values.values()) if values else None


def _tokens_between(records: Sequence[Mapping[str, Any]], start: float, end: float) -> float:
    total = 0.0
    for record in records:
        chunks = record.get("chunk_s") or []
        if not chunks:
            continue
        per_chunk = (record.get("output_tokens") or len(chunks)) / len(chunks)
        total += per_chunk * sum(1 for t in chunks if start <= t <= end)
    return total


def _inter_token_gaps(record: Mapping[str, Any]) -> list[float]:
    chunks = record.get("chunk_s") or []
    if len(chunks) < 2:
        return []
    per_chunk = max((record.get("output_tokens") or len(chunks)) / len(chunks), 1e-9)
    gaps: list[float] = []
    for a, b in zip(chunks, chunks[1:]):
        gaps.extend([(b - a) / per_chunk] * max(round(per_chunk), 1))
    return gaps


def _spread(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    p50, p90, p99 = percentiles(values, PERCENTILES)
    return {"mean": math.fsum(values) / len(values), "p50": p50, "p90": p90, "p99": p99}


def serving_summary(passes: Sequence[Mapping[str, Any]], *, concurrency: int, batch_cap: int | None,
                    min_window_s: float) -> dict[str, Any]:
    """The result's `serving` block (`harness.results.schema.ServingSummary`) from each repetition's first pass:
    `records`, `steady_s` (start, end or None), `steady` and `total` readings, and `power` (`t_s`, `power_w`
    summed over the measured GPUs, on the records' clock)."""
    records = [r for p in passes for r in p["records"]]
    done = [r for r in records if r.get("done_s") is not None and r.get("error") is None]
    per_token, tokens_per_s, tokens_per_j, power, window = [], [], [], [], []
    unusable = None
    for one in passes:
        steady_j, steady = _gpu_j(one.get("steady")), one.get("steady_s")
        if steady is None or steady_j is None:
            unusable = ("no steady state: the requests in flight never all had their first token at the run's "
                        f"concurrency ({concurrency}); run more queries than the concurrency")
            continue
        duration = one["steady"]["duration_s"]
        edge_j = math.fsum((one["steady"].get("gpu_edge_error_j") or {}).values())
        if steady_j > 0 and edge_j / steady_j > MAX_EDGE_ERROR:
            unusable = (f"it rests on a steady window whose counter-edge error can reach "
                        f"{edge_j / steady_j * 100:.1f} % (more than {MAX_EDGE_ERROR * 100:g} %): run more queries")
        tokens = _tokens_between(one["records"], steady[0], steady[1])
        if tokens <= 0 or duration <= 0:
            unusable = "no output token arrived in the steady window"
            continue
        per_token.append(steady_j / tokens)
        tokens_per_s.append(tokens / duration)
        tokens_per_j.append(tokens / steady_j)
        power.append(steady_j / duration)
        window.append(duration)
    if window and min(window) < min_window_s and not unusable:
        unusable = (f"the steady window lasted {min(window):.2f} s, under the {min_window_s:g} s minimum window "
                    "that bounds the counter's edge error: run more queries")
    energy, prefill, decode, unattributed, pass_j = [], [], [], 0.0, 0.0
    for one in passes:
        span = [r for r in one["records"] if r.get("done_s") is not None and r.get("error") is None]
        counter = _gpu_j(one.get("pass"))
        split = attribute(span, one["power"]["t_s"], one["power"]["power_w"], counter)
        energy += split.energy_j
        prefill += split.prefill_j
        decode += split.decode_j
        unattributed += split.unattributed_j
        pass_j += split.total_j
    ttft = [r["first_token_s"] - r["sent_s"] for r in done if r.get("first_token_s") is not None]
    gaps = [gap for r in done for gap in _inter_token_gaps(r)]
    e2e = [r["done_s"] - r["sent_s"] for r in done]
    def estimate_of(values: list[float], steady: bool = True) -> dict | None:
        """Across repetitions; a steady figure carries the steady window's reason not to rate it."""
        if not values:
            return None
        figure = estimate(values).model_dump()
        if steady and unusable and not figure["unusable"]:
            figure["unusable"] = unusable
        return figure

    return {
        "concurrency": concurrency,
        "batch_cap": batch_cap,
        "requests": len(records),
        "failed_requests": len(records) - len(done),
        "steady_window_s": estimate_of(window, steady=False),
        "gpu_energy_per_output_token_j": estimate_of(per_token),
        "output_tokens_per_s": estimate_of(tokens_per_s),
        "output_tokens_per_j": estimate_of(tokens_per_j),
        "gpu_mean_power_w": estimate_of(power),
        "steady_unusable": unusable,
        "ttft_s": _spread(ttft),
        "inter_token_latency_s": _spread(gaps),
        "e2e_latency_s": _spread(e2e),
        "gpu_energy_per_request_j": _spread(energy),
        "gpu_prefill_energy_per_request_j": _spread(prefill),
        "gpu_decode_energy_per_request_j": _spread(decode),
        "attributed_share": (math.fsum(energy) / pass_j) if pass_j > 0 else None,
        "unattributed_j": unattributed,
    }
