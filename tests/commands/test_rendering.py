"""What `harness run` prints after a run: intervals as `[a, b]`, a figure that is not usable said once, in words a
user acts on, and where a result with no real GPU went."""

from __future__ import annotations

import re
from pathlib import Path

from harness.commands.rendering import default_folder_line, format_estimate, headline_lines
from harness.results.schema import Estimate
from harness.results.store import default_results_dir
from harness.testing.synthetic import make_result


def test_an_interval_reads_as_brackets_even_below_zero():
    value = Estimate(mean=1.712, std=1.0, ci95_low=-6.956, ci95_high=10.38, n=2, unusable="why")
    assert format_estimate(value, "Wh") == "1.712 Wh (95 % CI [-6.956, 10.38], n=2), not usable: why"
    assert format_estimate(value, "Wh", why=False).endswith("n=2), not usable (see below)")
    assert format_estimate(Estimate(mean=2.0, std=0.0, ci95_low=None, ci95_high=None, n=1), "s") == "2 s"


def test_the_headline_says_once_why_its_figures_are_not_usable():
    result = make_result(repeats=2, jitter_share=0.6, seed=3, meter_backend="fake-nvml")
    text = "\n".join(headline_lines(result))
    assert "UNUSABLE" not in text
    assert re.search(r"GPU energy per 1000 queries: \S+ Wh \(95 % CI \[-[0-9.]+, [0-9.]+\]", text)
    reasons = [line for line in text.splitlines() if line.strip().startswith("not usable (")]
    assert len(reasons) == 1 and "GPU energy, above idle" in reasons[0]
    assert "too few repetitions for how much they differ" in reasons[0] and "--repeats N" in reasons[0]


def test_only_a_real_gpus_result_defaults_to_results():
    assert default_results_dir(make_result(meter_backend="nvml")) == Path("results")
    for other in (make_result(meter_backend="fake-nvml"), make_result(gpu_name="cpu")):
        assert default_results_dir(other) == Path("cpu-results")
    assert default_folder_line([make_result(meter_backend="nvml")]) is None
    assert default_folder_line([make_result(gpu_name="cpu")]).startswith("filed under cpu-results/, not results/")
