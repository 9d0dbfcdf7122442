import math

import pytest

from harness.results.statistics import (
    estimate,
    percentile,
    relative_half_width,
    t_cdf,
    t_quantile_975,
    trend,
    usability_problem,
)


def test_single_value_has_no_interval():
    e = estimate([4.2])
    assert (e.mean, e.std, e.ci95_low, e.ci95_high, e.n) == (4.2, 0.0, None, None, 1)
    assert e.unusable is None and relative_half_width(e) is None


def test_three_values_use_student_t():
    e = estimate([10.0, 11.0, 12.0])
    assert e.mean == pytest.approx(11.0)
    assert e.std == pytest.approx(1.0)
    half = 4.302653 * 1.0 / math.sqrt(3)
    assert (e.ci95_low, e.ci95_high) == (pytest.approx(11.0 - half), pytest.approx(11.0 + half))


# Two-sided 97.5 % points of Student's t from published tables (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
@pytest.mark.parametrize(("df", "expected"), [
    (1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (9, 2.262), (29, 2.045), (30, 2.042), (31, 2.040),
    (40, 2.021), (60, 2.000), (100, 1.984), (120, 1.980), (1000, 1.962),
])
def test_t_quantile_is_exact_for_every_df(df, expected):
    assert t_quantile_975(df) == pytest.approx(expected, abs=6e-4)


def test_t_quantile_never_jumps_to_the_normal_value():
    values = [t_quantile_975(df) for df in range(1, 200)]
    assert all(a > b for a, b in zip(values, values[1:]))  # strictly decreasing: no step at 30
    assert values[-1] > 1.95996


def test_t_cdf_matches_closed_forms():
    # df = 1 is the Cauchy distribution, df = 2 has F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
    assert t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-12)
    assert t_cdf(2.0, 2) == pytest.approx(0.5 + 2 / (2 * math.sqrt(6)), abs=1e-12)
    assert t_cdf(-2.0, 2) == pytest.approx(0.5 - 2 / (2 * math.sqrt(6)), abs=1e-12)
    with pytest.raises(ValueError, match="at least one degree of freedom"):
        t_quantile_975(0)


def test_interval_below_zero_or_wider_than_half_the_mean_is_unusable():
    # The scripted case: two repetitions reading 120 J and 60 J (per-1k figures in the same ratio).
    wide = estimate([0.1667, 0.0833])
    assert wide.ci95_low < 0 and "below zero" in wide.unusable
    assert "±" in usability_problem(10.0, 4.0, 16.0)
    assert usability_problem(10.0, 5.1, 14.9) is None
    assert estimate([10.0, 10.1, 9.9]).unusable is None


def test_extra_half_width_adds_in_quadrature():
    base = estimate([10.0, 11.0, 12.0])
    wider = estimate([10.0, 11.0, 12.0], extra_half_width=1.0)
    base_half = (base.ci95_high - base.ci95_low) / 2
    assert (wider.ci95_high - wider.ci95_low) / 2 == pytest.approx(math.hypot(base_half, 1.0))


def test_a_rising_trend_is_found_and_noise_is_not():
    rising = trend([200.0, 204.0, 208.5, 212.0, 216.2])
    assert rising is not None and rising.slope_per_repetition == pytest.approx(4.05, abs=0.05)
    assert trend([200.0, 203.0, 199.0, 202.0, 200.5]) is None   # noise, no significant slope
    assert trend([200.0, 200.1, 200.2, 200.3]) is None          # significant but under 1 % over the run
    assert trend([200.0, 240.0]) is None                         # two points always fit a line


def test_percentile_matches_linear_interpolation():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.95) == pytest.approx(4.8)
    assert percentile(values, 0.0) == 1.0
    assert percentile([7.0], 0.95) == 7.0


def test_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="no values to summarise"):
        estimate([])
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_length_summary_matches_numpy():
    import numpy as np

    from harness.results.statistics import length_summary

    counts = [12, 40, 7, 128, 128, 55, 3, 90]
    summary = length_summary(counts)
    assert summary["mean"] == pytest.approx(np.mean(counts))
    assert summary["p50"] == pytest.approx(np.percentile(counts, 50))
    assert summary["p90"] == pytest.approx(np.percentile(counts, 90))
    assert summary["num_queries"] == 8
