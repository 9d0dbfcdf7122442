"""Spread over repetitions: mean, sample standard deviation and a Student-t 95 % confidence interval.

Runs are repeated a handful of times, so the normal approximation would understate the interval: the
two-sided 97.5 % Student-t point is computed exactly for every number of degrees of freedom (by inverting
the t distribution's CDF, written with the regularised incomplete beta function), never rounded to 1.96.
One repetition has no interval: `ci95_low` and `ci95_high` are None, never a zero-width "interval".

A figure is *unusable* (never rated) when its interval reaches below zero or its half-width exceeds
`MAX_USABLE_HALF_WIDTH` of its mean: the repetitions disagree too much for the mean to mean anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from harness.results.schema import Estimate

MAX_USABLE_HALF_WIDTH = 0.5
"""A 95 % interval wider than ±50 % of its mean makes a figure unusable."""

TOO_FEW_REPETITIONS = "too few repetitions for how much they differ"
MORE_REPETITIONS = "run more (--repeats N, or --target-ci PCT to repeat until the interval is tight)"
"""How a figure whose repetitions disagree too much says so (`usability_problem`): the cause and what to do, in a
user's words (the interval itself is shown beside it, so its numbers are not repeated)."""

TREND_MIN_REPETITIONS = 3
"""A trend across repetitions is looked for from this many repetitions on (a line through two points is exact)."""
TREND_MIN_CHANGE = 0.01
"""A significant slope is flagged only when it moves the value by more than 1 % of its mean over the run."""


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _regularised_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, degrees_of_freedom: float) -> float:
    """P(T <= t) for Student's t with `degrees_of_freedom` (> 0)."""
    nu = float(degrees_of_freedom)
    tail = 0.5 * _regularised_beta(nu / 2.0, 0.5, nu / (nu + t * t))
    return 1.0 - tail if t >= 0 else tail


@lru_cache(maxsize=512)
def t_quantile(probability: float, degrees_of_freedom: int) -> float:
    """The `probability` quantile (0.5 < p < 1) of Student's t, by bisection on the exact CDF (to 1e-12)."""
    if degrees_of_freedom < 1:
        raise ValueError("need at least one degree of freedom")
    if not 0.5 < probability < 1.0:
        raise ValueError("probability must be in (0.5, 1)")
    low, high = 0.0, 1.0
    while t_cdf(high, degrees_of_freedom) < probability:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, degrees_of_freedom) < probability:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


def t_quantile_975(degrees_of_freedom: int) -> float:
    """Two-sided 95 % Student-t critical value, exact for every number of degrees of freedom."""
    return t_quantile(0.975, int(degrees_of_freedom))


def usability_problem(mean: float, ci95_low: float | None, ci95_high: float | None) -> str | None:
    """Why a figure with this interval must not be rated, or None. A missing interval (one repetition) is no
    judgement: the figure is shown with "no interval", and the leaderboard decides what one repetition is worth."""
    if ci95_low is None or ci95_high is None:
        return None
    if ci95_low < 0:
        return f"{TOO_FEW_REPETITIONS}: its 95 % interval reaches below zero; {MORE_REPETITIONS}"
    half_width = (ci95_high - ci95_low) / 2.0
    if mean <= 0 or half_width > MAX_USABLE_HALF_WIDTH * mean:
        share = half_width / mean * 100 if mean > 0 else math.inf
        return (f"{TOO_FEW_REPETITIONS}: its 95 % interval spans ±{share:.0f} % of its mean (more than "
                f"±{MAX_USABLE_HALF_WIDTH * 100:.0f} %); {MORE_REPETITIONS}")
    return None


def estimate(values: Sequence[float], extra_half_width: float = 0.0) -> Estimate:
    """Summarise repeated measurements of one figure.

    `extra_half_width` (same unit) widens the interval for a known bound the spread cannot show, such as the
    counter-edge error of the windows the figure rests on; it is added in quadrature to the t half-width.
    """
    if not values:
        raise ValueError("no values to summarise")
    values = [float(v) for v in values]
    mean = math.fsum(values) / len(values)
    if len(values) == 1:
        return Estimate(mean=mean, std=0.0, ci95_low=None, ci95_high=None, n=1)
    # Two-pass float variance: exact enough for a handful of repetitions, and ~50x cheaper than
    # statistics.stdev's exact fractions (which dominated validating 10 000 result files).
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half_width = t_quantile_975(len(values) - 1) * std / math.sqrt(len(values))
    half_width = math.hypot(half_width, max(float(extra_half_width), 0.0))
    low, high = mean - half_width, mean + half_width
    return Estimate(mean=mean, std=std, ci95_low=low, ci95_high=high, n=len(values),
                    unusable=usability_problem(mean, low, high))


def relative_half_width(value: Estimate) -> float | None:
    """Half the 95 % interval over the mean (0.01 = ±1 %), or None without an interval or a positive mean."""
    if value.ci95_low is None or value.ci95_high is None or value.mean <= 0:
        return None
    return (value.ci95_high - value.ci95_low) / 2.0 / value.mean


@dataclass(frozen=True)
class Trend:
    """A significant linear trend of one quantity across repetitions: its slope per repetition and total change."""

    slope_per_repetition: float
    change_over_run: float
    relative_change: float


def trend(values: Sequence[float]) -> Trend | None:
    """The least-squares slope over repetition index when it is significant (two-sided 95 %, t with n-2 df)
    and moves the value by more than `TREND_MIN_CHANGE` of its mean over the run; else None."""
    n = len(values)
    if n < TREND_MIN_REPETITIONS:
        return None
    ys = [float(v) for v in values]
    xs = list(range(n))
    x_mean, y_mean = (n - 1) / 2.0, math.fsum(ys) / n
    sxx = math.fsum((x - x_mean) ** 2 for x in xs)
    slope = math.fsum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys)) / sxx
    intercept = y_mean - slope * x_mean
    residual = math.fsum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    change = slope * (n - 1)
    if y_mean == 0 or abs(change) <= TREND_MIN_CHANGE * abs(y_mean):
        return None
    if n > 2 and residual > 0:
        standard_error = math.sqrt(residual / (n - 2) / sxx)
        if abs(slope) / standard_error < t_quantile_975(n - 2):
            return None
    return Trend(slope, change, change / abs(y_mean))


def percentiles(values: Sequence[float], fractions: Sequence[float]) -> list[float]:
    """Linear-interpolated percentiles (numpy's default method), each `fraction` in [0, 1].

    A leaderboard build re-derives every file's latency percentiles: only the few order statistics needed are
    put in place (`numpy.partition`, a third of a full sort's time), then interpolated in Python floats, so the
    result is exactly that of sorting the list.
    """
    ordered = np.array(values, dtype=float)
    if ordered.ndim != 1 or not ordered.size:
        raise ValueError("no values")
    last = ordered.size - 1
    places = []
    for fraction in fractions:
        low = math.floor(fraction * last)
        places.append((fraction * last, low, min(low + 1, last)))
    ordered = np.partition(ordered, sorted({i for _, low, high in places for i in (low, high)}))
    found = []
    for position, low, high in places:
        below, above = float(ordered[low]), float(ordered[high])
        found.append(below + (above - below) * (position - low))
    return found


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (numpy's default method), `fraction` in [0, 1]."""
    return percentiles(values, (fraction,))[0]


def length_summary(counts: Sequence[float], unit: str = "tokens") -> dict:
    """Mean, p50 and p90 of per-query lengths (what `results.schema.InputLengths` records), from one sort."""
    p50, p90 = percentiles(counts, (0.5, 0.9))
    return {"mean": sum(counts) / len(counts), "p50": p50, "p90": p90, "num_queries": len(counts), "unit": unit}
