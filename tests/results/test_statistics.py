import math

import pytest

from harness.results.statistics import estimate, percentile, t_quantile_975


def test_single_value_has_no_spread():
    e = estimate([4.2])
    assert (e.mean, e.std, e.ci95_low, e.ci95_high, e.n) == (4.2, 0.0, 4.2, 4.2, 1)


def test_three_values_use_student_t():
    e = estimate([10.0, 11.0, 12.0])
    assert e.mean == pytest.approx(11.0)
    assert e.std == pytest.approx(1.0)
    half = 4.303 * 1.0 / math.sqrt(3)
    assert (e.ci95_low, e.ci95_high) == (pytest.approx(11.0 - half), pytest.approx(11.0 + half))


def test_t_quantile_tends_to_normal():
    assert t_quantile_975(1) == 12.706
    assert t_quantile_975(30) == 2.042
    assert t_quantile_975(1000) == 1.960
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_percentile_matches_linear_interpolation():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.95) == pytest.approx(4.8)
    assert percentile(values, 0.0) == 1.0
    assert percentile([7.0], 0.95) == 7.0


def test_empty_inputs_are_refused():
    with pytest.raises(ValueError):
        estimate([])
    with pytest.raises(ValueError):
        percentile([], 0.5)
