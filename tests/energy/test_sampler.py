"""The sampler: trapezoid integral, window statistics, periodic hooks, the background thread, downsampling."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness.energy.nvidia import open_nvml_backend
from harness.energy.sampler import Sampler, bucket_means, trapezoid_j
from harness.testing.fake_nvml import FakeNvml, ManualClock


def test_trapezoid_is_exact_for_a_ramp_and_interpolates_at_the_edges():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    p = np.array([0.0, 10.0, 20.0, 30.0])
    assert trapezoid_j(t, p, 0.0, 3.0) == pytest.approx(45.0)
    assert trapezoid_j(t, p, 0.5, 2.5) == pytest.approx(30.0)  # mean 15 W over 2 s
    assert trapezoid_j(t, p, 4.0, 5.0) == pytest.approx(30.0)  # outside the samples: the nearest value holds


def test_trapezoid_skips_missing_values_and_needs_a_sample():
    t = np.array([0.0, 1.0, 2.0])
    assert trapezoid_j(t, np.array([10.0, np.nan, 10.0]), 0.0, 2.0) == pytest.approx(20.0)
    assert trapezoid_j(t, np.full(3, np.nan), 0.0, 2.0) is None
    assert trapezoid_j(t, np.array([1.0, 1.0, 1.0]), 1.0, 1.0) == 0.0


def make(script: dict, hz: float = 10.0, **options):
    clock = ManualClock()
    backend = open_nvml_backend(FakeNvml(script, clock=clock))
    return clock, Sampler([backend.open(0)], hz, clock=clock, **options)


def test_window_statistics_from_manual_samples():
    clock, sampler = make({"gpus": [{"power_w": [[0, 100], [1, 200]], "clock_event_reasons": [[0, 1], [1, 0x24]]}]})
    for _ in range(21):
        sampler.sample_once()
        clock.advance(0.1)
    window = sampler.window(0, 0.0, 2.05)
    assert window.num_samples == 21
    # samples at 0, 0.1, ... 2.0 (then held to 2.05): the step at 1 s becomes a ramp over one period
    assert window.energy_j == pytest.approx(100 * 1.0 + 150 * 0.1 + 200 * 0.95, abs=1e-6)
    assert window.reasons_mask == 0x25
    assert window.gap_s == 0.0
    assert sampler.latest_power_w(0) == 200.0


def test_gaps_are_measured():
    clock, sampler = make({}, hz=10.0)
    for step in (0.1, 0.1, 1.0, 0.1):
        sampler.sample_once()
        clock.advance(step)
    sampler.sample_once()
    assert sampler.window(0, 0.0, 10.0).gap_s == pytest.approx(1.0)
    assert sampler.total_gap_s() == (pytest.approx(1.0), pytest.approx(1.3))


def test_periodic_hooks_run_about_once_a_second():
    calls = []
    clock, sampler = make({}, hz=20.0, periodic=[calls.append])
    for _ in range(60):
        sampler.sample_once()
        clock.advance(0.05)
    assert calls == pytest.approx([0.0, 1.0, 2.0])


def test_background_thread_samples_at_its_rate_and_stops():
    backend = open_nvml_backend(FakeNvml({"gpus": [{"power_w": 90}]}))
    sampler = Sampler([backend.open(0)], 50.0)
    sampler.start()
    time.sleep(0.5)
    sampler.stop()
    count = sampler.num_samples(0)
    assert 15 <= count <= 30
    time.sleep(0.1)
    assert sampler.num_samples(0) == count and not sampler.running


def test_invalid_rate_is_refused():
    with pytest.raises(ValueError):
        Sampler([], 0)


def test_bucket_means():
    values = np.arange(10, dtype=float)
    assert bucket_means(values, 20) is values
    assert list(bucket_means(values, 5)) == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert list(bucket_means(values, 4)) == [1.0, 4.0, 7.0, 9.0]
    with_nan = np.array([np.nan, np.nan, 1.0, np.nan])
    means = bucket_means(with_nan, 2)
    assert np.isnan(means[0]) and means[1] == 1.0
