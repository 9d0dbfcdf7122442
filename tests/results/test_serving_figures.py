"""Serving figures and the measured energy per request: the attribution adds up, and its error where the truth is
known (a scripted trace whose every joule belongs to a known request)."""

from __future__ import annotations

import math

import pytest

from harness.results.serving import attribute, serving_summary

DT_S = 0.05
"""The sampler's 20 Hz."""


def _request(index, sent, first, chunk_times, prompt):
    """A request whose stream closes at the sampling boundary after its last token (so the pass's span holds whole
    sampling intervals)."""
    done = (math.floor(chunk_times[-1] / DT_S + 1e-9) + 1) * DT_S
    return {"index": index, "sent_s": sent, "first_token_s": first, "chunk_s": list(chunk_times), "done_s": done,
            "prompt_tokens": prompt, "output_tokens": len(chunk_times), "error": None}


def _scripted_load(static_w: float, joules_per_token: float):
    """Three overlapping requests with tokens at known times, and the power trace they would draw: a static part
    while any request is in flight (owned by the requests in flight, equally) plus each token's (and each prompt
    token's, at the first token) own joules in the interval it arrives. Returns (records, t_s, power_w, truth)."""
    records = [
        _request(0, 0.00, 0.101, [0.101 + 0.02 * k for k in range(40)], prompt=30),
        _request(1, 0.20, 0.311, [0.311 + 0.03 * k for k in range(20)], prompt=80),
        _request(2, 0.40, 0.521, [0.521 + 0.01 * k for k in range(60)], prompt=10),
    ]
    end = max(r["done_s"] for r in records)
    t_s = [i * DT_S for i in range(int(end / DT_S) + 2)]
    energy = [0.0] * len(t_s)
    truth = [0.0] * len(records)
    for i, lo in enumerate(t_s):
        hi = lo + DT_S
        flying = [j for j, r in enumerate(records) if r["sent_s"] < hi and r["done_s"] > lo]
        overlap = max(0.0, min(hi, end) - max(lo, 0.0))
        for j in flying:
            share = static_w * overlap / len(flying)
            energy[i] += share
            truth[j] += share
        for j, r in enumerate(records):
            for k, t in enumerate(r["chunk_s"]):
                if lo <= t < hi:
                    joules = joules_per_token * (1 + (r["prompt_tokens"] if k == 0 else 0))
                    energy[i] += joules
                    truth[j] += joules
    power = [e / DT_S for e in energy]
    return records, t_s, power, truth


def test_attribution_adds_up_to_the_counter_energy_of_the_pass():
    records, t_s, power, _ = _scripted_load(static_w=50.0, joules_per_token=0.2)
    counter_j = 123.0
    split = attribute(records, t_s, power, counter_j)
    assert math.isclose(math.fsum(split.energy_j) + split.unattributed_j, counter_j, rel_tol=1e-12)
    assert all(math.isclose(p + d, e, rel_tol=1e-12) for p, d, e in zip(split.prefill_j, split.decode_j,
                                                                        split.energy_j))
    assert all(p > 0 and d > 0 for p, d in zip(split.prefill_j, split.decode_j))


def test_attribution_is_exact_where_energy_follows_the_tokens():
    """No static power: every joule is a token's (or a prompt's at the first token), as the method assumes."""
    records, t_s, power, truth = _scripted_load(static_w=0.0, joules_per_token=0.2)
    split = attribute(records, t_s, power)
    errors = [abs(a - b) / b for a, b in zip(split.energy_j, truth)]
    assert max(errors) < 1e-9


@pytest.mark.parametrize(("static_w", "bound"), [(20.0, 0.10), (200.0, 0.40)])
def test_attribution_error_where_static_power_is_shared_equally(static_w, bound):
    """Static power owned by the requests in flight equally, where the method splits it by tokens: the error
    grows with the static share (docs/method.md gives these numbers)."""
    records, t_s, power, truth = _scripted_load(static_w=static_w, joules_per_token=0.2)
    split = attribute(records, t_s, power)
    errors = [abs(a - b) / b for a, b in zip(split.energy_j, truth)]
    assert math.isclose(math.fsum(split.energy_j), math.fsum(truth), rel_tol=1e-9)
    assert 0 < max(errors) < bound


def _pass(records, steady, steady_j, pass_j):
    t_s = [i * DT_S for i in range(60)]
    return {"records": records, "steady_s": steady,
            "steady": None if steady is None else {"duration_s": steady[1] - steady[0],
                                                   "gpu_energy_j": {"0": steady_j}},
            "pass": {"duration_s": 3.0, "gpu_energy_j": {"0": pass_j}},
            "power": {"t_s": t_s, "power_w": [100.0] * len(t_s)}}


def test_serving_summary_steady_figures_come_from_the_steady_window_and_its_tokens():
    records, *_ = _scripted_load(static_w=0.0, joules_per_token=0.2)
    steady = (0.521, 0.881)
    tokens = sum(sum(1 for t in r["chunk_s"] if steady[0] <= t <= steady[1]) for r in records)
    summary = serving_summary([_pass(records, steady, 36.0, 100.0)], concurrency=3, batch_cap=3, min_window_s=0.0)
    assert summary["gpu_energy_per_output_token_j"]["mean"] == pytest.approx(36.0 / tokens)
    assert summary["output_tokens_per_s"]["mean"] == pytest.approx(tokens / 0.36)
    assert summary["gpu_mean_power_w"]["mean"] == pytest.approx(100.0)
    assert summary["steady_unusable"] is None and summary["requests"] == 3 and summary["failed_requests"] == 0
    assert summary["ttft_s"]["p50"] == pytest.approx(0.111)
    assert summary["attributed_share"] == pytest.approx(1.0)


def test_a_steady_window_under_the_minimum_or_never_reached_is_unusable_with_its_reason():
    records, *_ = _scripted_load(static_w=0.0, joules_per_token=0.2)
    short = serving_summary([_pass(records, (0.521, 0.881), 36.0, 100.0)], concurrency=3, batch_cap=3,
                            min_window_s=10.0)
    assert "under the 10 s minimum window" in short["steady_unusable"]
    never = serving_summary([_pass(records, None, 0.0, 100.0)], concurrency=8, batch_cap=8, min_window_s=0.0)
    assert never["gpu_energy_per_output_token_j"] is None
    assert "no steady state" in never["steady_unusable"] and "(8)" in never["steady_unusable"]


def test_a_steady_window_whose_counter_edge_error_is_too_large_marks_its_figures_unusable():
    records, *_ = _scripted_load(static_w=0.0, joules_per_token=0.2)
    one = _pass(records, (0.521, 0.881), 36.0, 100.0)
    one["steady"]["gpu_edge_error_j"] = {"0": 0.1 * 36.0 / 0.36}  # a 100 ms counter period over 0.36 s: 28 %
    summary = serving_summary([one], concurrency=3, batch_cap=3, min_window_s=0.0)
    assert "counter-edge error can reach 27.8 %" in summary["steady_unusable"]
    assert summary["gpu_energy_per_output_token_j"]["unusable"] == summary["steady_unusable"]
    assert summary["steady_window_s"]["unusable"] is None
