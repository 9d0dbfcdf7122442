"""Spread over repetitions: mean, sample standard deviation and a Student-t 95 % confidence interval.

Runs are repeated a handful of times (3 by default), so the normal approximation would understate the
interval; the t quantiles below are the two-sided 97.5 % points for 1..30 degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.results.schema import Estimate

_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)


def t_quantile_975(degrees_of_freedom: int) -> float:
    """Two-sided 95 % Student-t critical value; 1.96 beyond 30 degrees of freedom."""
    if degrees_of_freedom < 1:
        raise ValueError("need at least one degree of freedom")
    return _T_975[degrees_of_freedom - 1] if degrees_of_freedom <= len(_T_975) else 1.960


def estimate(values: Sequence[float]) -> Estimate:
    """Summarise repeated measurements of one figure."""
    if not values:
        raise ValueError("no values to summarise")
    values = [float(v) for v in values]
    mean = math.fsum(values) / len(values)
    if len(values) == 1:
        return Estimate(mean=mean, std=0.0, ci95_low=mean, ci95_high=mean, n=1)
    # Two-pass float variance: exact enough for a handful of repetitions, and ~50x cheaper than
    # statistics.stdev's exact fractions (which dominated validating 10 000 result files).
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half_width = t_quantile_975(len(values) - 1) * std / math.sqrt(len(values))
    return Estimate(mean=mean, std=std, ci95_low=mean - half_width, ci95_high=mean + half_width, n=len(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (numpy's default method), `fraction` in [0, 1]."""
    ordered = sorted(float(v) for v in values)
    if not ordered:
        raise ValueError("no values")
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
