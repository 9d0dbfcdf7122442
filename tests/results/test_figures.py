import pytest

from harness.results.figures import HEADLINE_FIGURES, derive_figures, headline_figures, per_1k_queries_wh
from harness.results.schema import IdleBaseline, Repetition
from harness.testing.synthetic import make_result


def _rep(index, total_j, prefill_j=None, duration_s=10.0, queries=100, tokens=1000):
    readings = {"total": {"key": "t", "start_unix_s": 0.0, "duration_s": duration_s, "gpu_energy_j": {"0": total_j},
                          "gpu_method": "counter", "gpu_idle_energy_j": {"0": 50.0 * duration_s},
                          "cpu_energy_j": 100.0, "cpu_method": "rapl"}}
    if prefill_j is not None:
        readings["prefill"] = {"key": "p", "start_unix_s": 0.0, "duration_s": 2.0, "gpu_energy_j": {"0": prefill_j},
                               "gpu_method": "counter"}
    return Repetition(index=index, num_queries=queries, readings=readings,
                      query_latencies_s=[duration_s / queries] * queries, output_tokens=tokens)


def test_per_1k_scaling():
    assert per_1k_queries_wh(3600.0, 1000) == 1.0
    assert per_1k_queries_wh(36.0, 10) == pytest.approx(1.0)


def test_headline_above_idle_and_phases():
    reps = [_rep(0, 3600.0, 900.0), _rep(1, 3960.0, 990.0)]
    idle = IdleBaseline(duration_s=5.0, gpu_power_w={"0": 50.0}, method="counter")
    figures, warnings = derive_figures(reps, idle)
    assert warnings == []
    assert figures.gpu_energy_per_1k_queries_wh.mean == pytest.approx((10.0 + 11.0) / 2)
    assert figures.gpu_energy_per_1k_queries_wh.n == 2
    # 50 W idle for 10 s = 500 J per repetition, 100 queries -> 500/3.6/100 Wh per 1k
    assert figures.gpu_energy_above_idle_per_1k_queries_wh.mean == pytest.approx((3100 + 3460) / 2 / 360)
    assert figures.gpu_prefill_energy_per_1k_queries_wh.mean == pytest.approx((900 + 990) / 2 / 360)
    assert figures.gpu_decode_energy_per_1k_queries_wh.mean == pytest.approx((2700 + 2970) / 2 / 360)
    assert figures.output_tokens_per_j.mean == pytest.approx((1000 / 3600 + 1000 / 3960) / 2)
    assert figures.throughput_queries_per_s.mean == pytest.approx(10.0)
    assert figures.cpu_energy_estimated is False
    assert figures.idle_gpu_power_w == 50.0


def test_decode_that_is_not_positive_is_flagged_and_left_out():
    figures, warnings = derive_figures([_rep(0, 1000.0, 1200.0)], None)
    assert figures.gpu_decode_energy_per_1k_queries_wh is None
    assert [w.code for w in warnings] == ["decode-energy-not-positive"]
    assert figures.gpu_energy_above_idle_per_1k_queries_wh is not None  # readings carry their own idle energy


def _edge_rep(index, total_j, duration_s, queries=200, prefill=None):
    """A repetition whose readings carry the counter's edge-error bound (0.1 s x mean power)."""
    readings = {"total": {"key": "t", "start_unix_s": 0.0, "duration_s": duration_s, "gpu_energy_j": {"0": total_j},
                          "gpu_method": "counter", "gpu_edge_error_j": {"0": 0.1 * total_j / duration_s}}}
    extra = {}
    if prefill is not None:
        prefill_j, prefill_s, prefill_queries = prefill
        readings["prefill"] = {"key": "p", "start_unix_s": 0.0, "duration_s": prefill_s,
                               "gpu_energy_j": {"0": prefill_j}, "gpu_method": "counter",
                               "gpu_edge_error_j": {"0": 0.1 * prefill_j / prefill_s}}
        extra["prefill_num_queries"] = prefill_queries
    return Repetition(index=index, num_queries=queries, readings=readings,
                      query_latencies_s=[duration_s / queries] * queries, **extra)


def test_the_issues_short_windows_give_an_unusable_headline():
    """200 W card, counter every 100 ms: 120 J over 0.58 s and 60 J over 0.39 s for 200 queries each."""
    figures, _ = derive_figures([_edge_rep(0, 120.0, 0.58), _edge_rep(1, 60.0, 0.39)], None)
    headline = figures.gpu_energy_per_1k_queries_wh
    assert headline.ci95_low < 0 and "interval reaches below zero" in headline.unusable


def test_windows_long_enough_give_a_usable_headline_with_the_edge_error_in_its_interval():
    reps = [_edge_rep(i, 200.0 * 10.0 * f, 10.0) for i, f in enumerate((1.0, 1.001, 0.999))]
    headline = derive_figures(reps, None)[0].gpu_energy_per_1k_queries_wh
    assert headline.unusable is None
    half = (headline.ci95_high - headline.ci95_low) / 2
    assert half >= 0.01 * headline.mean * 0.99    # at least the 1 % edge bound, in quadrature with the spread


def test_a_figure_on_a_window_over_the_1_percent_bound_is_unusable_even_with_a_tight_spread():
    reps = [_edge_rep(i, 200.0 * 5.0, 5.0) for i in range(3)]   # identical 5 s windows: bound 2 %
    headline = derive_figures(reps, None)[0].gpu_energy_per_1k_queries_wh
    assert "counter-edge error" in headline.unusable


def test_decode_uncertainty_carries_both_windows_and_per_query_prefill():
    # The prefill window ran 3 passes (600 queries) to reach its minimum length.
    reps = [_edge_rep(i, 4000.0 + 10 * i, 20.0, prefill=(1500.0 + 5 * i, 12.0, 600)) for i in range(3)]
    figures, _ = derive_figures(reps, None)
    decode = figures.gpu_decode_energy_per_1k_queries_wh
    expected = [per_1k_queries_wh(4000.0 + 10 * i - (1500.0 + 5 * i) * 200 / 600, 200) for i in range(3)]
    assert decode.mean == pytest.approx(sum(expected) / 3)
    prefill = figures.gpu_prefill_energy_per_1k_queries_wh
    assert prefill.mean == pytest.approx(sum(per_1k_queries_wh(1500.0 + 5 * i, 600) for i in range(3)) / 3)
    # The decode bound is the sum of the two windows' bounds (scaled per query): wider than the total's alone.
    edge_total = per_1k_queries_wh(0.1 * 4010.0 / 20.0, 200)
    edge_prefill = per_1k_queries_wh(0.1 * 1505.0 / 12.0 * 200 / 600, 200)
    assert (decode.ci95_high - decode.ci95_low) / 2 >= (edge_total + edge_prefill) * 0.99


def test_a_rising_power_trend_is_flagged():
    reps = [_edge_rep(i, (200.0 + 6 * i) * 10.0, 10.0) for i in range(5)]
    _, warnings = derive_figures(reps, None)
    assert "trend-across-repetitions" in {w.code for w in warnings}


def test_the_checked_headline_is_the_derived_headline():
    result = make_result(num_queries=20, repeats=3)
    figures, _ = derive_figures(result.repetitions, result.idle)
    derived = headline_figures(result.repetitions)
    assert set(derived) == set(HEADLINE_FIGURES)
    for name in HEADLINE_FIGURES:
        assert derived[name] is not None
        assert derived[name] == getattr(figures, name)
