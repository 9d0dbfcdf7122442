import pytest

from harness.results.figures import derive_figures, per_1k_queries_wh
from harness.results.schema import IdleBaseline, Repetition


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
