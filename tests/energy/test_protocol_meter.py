"""The meter's part of the protocol: edge-error bounds, a cross-check only where it can mean something, idle
settling, and the conditions that make a result non-standard. All on the scripted fake NVML."""

from __future__ import annotations

import pytest

from harness.energy.meter import DISAGREEMENT_TOLERANCE
from harness.kinds import COUNTER_UPDATE_PERIOD_S
from harness.tasks import resolution


def codes(warnings) -> list[str]:
    return [w.code for w in warnings]


def test_each_reading_records_its_counter_edge_error_bound(driven):
    d = driven({"gpus": [{"power_w": 200, "counter_update_s": 0.1}]})
    with d.meter:
        d.run(0.05)
        reading = d.window("w", 4.0)
    # +-period x mean power: 0.1 s x ~200 W = ~20 J, 0.1 / 4 = 2.5 % of the energy
    assert reading.gpu_edge_error_j[0] == pytest.approx(COUNTER_UPDATE_PERIOD_S * reading.gpu_energy_j[0] / 4.0)
    assert reading.gpu_edge_error_j[0] / reading.gpu_energy_j[0] == pytest.approx(0.025)
    assert reading.as_dict()["gpu_edge_error_j"] == {"0": reading.gpu_edge_error_j[0]}


def test_a_counter_that_moves_every_100ms_is_within_its_bound(driven):
    """The issue's case: a 200 W card whose counter moves every 100 ms, read over a 0.58 s window."""
    d = driven({"gpus": [{"power_w": 200, "counter_update_s": 0.1}]})
    with d.meter:
        d.run(0.07)
        reading = d.window("w", 0.58)
    true_j = 200 * 0.58
    assert abs(reading.gpu_energy_j[0] - true_j) <= reading.gpu_edge_error_j[0] * 1.2 + 1e-6
    assert reading.gpu_edge_error_j[0] / reading.gpu_energy_j[0] > 0.1  # far beyond 1 %: never publishable


@pytest.mark.parametrize(("seconds", "checked"), [(1.5, False), (2.5, True)])
def test_the_cross_check_runs_only_where_the_edge_error_is_below_its_tolerance(driven, seconds, checked):
    d = driven({"gpus": [{"power_w": 200, "instant_power_scale": 1.3}]})
    with d.meter:
        reading = d.window("w", seconds)
    assert (COUNTER_UPDATE_PERIOD_S / seconds < DISAGREEMENT_TOLERANCE) is checked
    assert ("counter-sample-disagreement" in codes(reading.warnings)) is checked


def test_the_default_gpu_window_keeps_the_meters_edge_error_under_the_bound():
    assert COUNTER_UPDATE_PERIOD_S / resolution.DEFAULT_MIN_WINDOW_S["gpu"] <= resolution.MAX_EDGE_ERROR


def test_idle_waits_for_power_to_settle(driven):
    # The card is still cooling down from the work: 150 W, 120 W, 95 W, then 80 W from t = 3 s.
    d = driven({"gpus": [{"power_w": [[0, 150], [1, 120], [2, 95], [3, 80]]}]})
    with d.meter as meter:
        idle = meter.measure_idle(2.0, settle_max_s=30.0)
    assert idle.settled is True
    assert 3.0 <= idle.settle_s <= 5.0 + 1e-6
    assert idle.gpu_power_w[0] == pytest.approx(80.0, rel=1e-3)  # the tail of the work is not in the baseline
    assert idle.as_dict()["settle_s"] == idle.settle_s


def test_settling_is_bounded_and_says_when_it_gave_up(driven):
    ramp = [[t / 2, 150 - 5 * t] for t in range(40)]  # falls 10 W a second for 20 s
    d = driven({"gpus": [{"power_w": ramp}]})
    with d.meter as meter:
        idle = meter.measure_idle(1.0, settle_max_s=4.0)
        warnings = meter.run_warnings()
    assert idle.settled is False and idle.settle_s == pytest.approx(4.0)
    assert "idle-not-settled" in codes(warnings)


def test_an_idle_measured_after_does_not_replace_the_baseline(driven):
    d = driven({"gpus": [{"power_w": [[0, 80], [5, 90]]}]})
    with d.meter as meter:
        before = meter.measure_idle(2.0)
        d.run(3.0)
        after = meter.measure_idle(2.0, as_baseline=False)
        assert meter.idle is before
    assert after.gpu_power_w[0] == pytest.approx(90.0)


def test_conditions_that_change_the_number_are_warnings(driven):
    d = driven({"gpus": [{"power_limit_w": 500, "default_power_limit_w": 700, "persistence_mode": False}]})
    with d.meter as meter:
        found = {w.code: w.severity for w in meter.run_warnings()}
    assert found["power-limit-non-default"] == "warning"
    assert found["persistence-off"] == "warning"


def test_window_edges_synchronise_only_the_models_gpus(driven, monkeypatch):
    """A stand-in for torch's CUDA API (there is no GPU here) records which devices each edge waits for."""
    import sys
    from types import SimpleNamespace

    synced: list[int] = []
    cuda = SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True, device_count=lambda: 4,
                           synchronize=synced.append)
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))
    d = driven({"gpus": [{"power_w": 200}]}, cuda_devices=[2])
    with d.meter:
        d.window("w", 1.0)
    assert synced and set(synced) == {2}
    everyone = driven({"gpus": [{"power_w": 200}]})
    synced.clear()
    with everyone.meter:
        everyone.window("w", 1.0)
    assert set(synced) == {0, 1, 2, 3}
