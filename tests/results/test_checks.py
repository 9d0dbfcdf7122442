"""Each plausibility check fails on the defect it is meant to catch, and passes on a consistent file."""

import pytest

from harness.results.checks import run_checks
from harness.results.schema import ResultFile
from harness.testing.synthetic import make_result


def _edited(edit) -> ResultFile:
    data = make_result().model_dump()  # Python values: GPU maps keyed by index, whatever the file layout
    edit(data)
    return ResultFile.model_validate(data)


def _names(result: ResultFile, severity: str = "error") -> set[str]:
    return {f.name for f in run_checks(result) if f.severity == severity}


def test_consistent_results_pass_every_check():
    for task in ("text-gen", "summarization", "text-classification", "image-gen"):
        assert run_checks(make_result(task=task)) == []
    assert run_checks(make_result(gpu_name="cpu")) == []


def _scale_power(data, factor):
    for rep in data["repetitions"]:
        rep["readings"]["total"]["gpu_energy_j"]["0"] *= factor


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["repetitions"][0]["readings"]["total"]["gpu_energy_j"].update({"0": -1.0}),
         "non-negative-energy"),
        (lambda d: d["repetitions"][1]["readings"]["total"]["gpu_energy_j"].update({"0": 0.0}), "zero-energy"),
        (lambda d: _scale_power(d, 3.0), "power-within-limit"),
        (lambda d: d["repetitions"][0]["readings"]["total"].update({"duration_s": 0.0}), "zero-duration"),
        (lambda d: d["settings"].update({"repeats": 4}), "repetition-count"),
        (lambda d: d["settings"].update({"num_queries": 21}), "query-count"),
        (lambda d: d["repetitions"][0]["query_latencies_s"].pop(), "latency-count"),
        (lambda d: d["environment"].update({"measured_gpu_indices": [0, 1]}), "measured-gpus"),
        (lambda d: d["figures"]["gpu_energy_per_1k_queries_wh"].update({"mean": 1.0}), "headline"),
        (lambda d: d.update({"started_at": "2026-12-01T00:00:00Z"}), "timestamps"),
        (lambda d: d["timelines"][0]["power_w"].__setitem__(3, 2000.0), "timeline-power"),
        (lambda d: d["figures"]["latency_p50_s"].update({"mean": -0.1}), "figure-negative"),
        (lambda d: d["figures"]["throughput_queries_per_s"].update({"mean": -3.0}), "figure-negative"),
        (lambda d: d["figures"]["gpu_mean_power_w"].update({"ci95_low": 400.0, "ci95_high": 200.0}),
         "interval-reversed"),
        (lambda d: d["figures"]["gpu_energy_above_idle_per_1k_queries_wh"].update({"ci95_low": 1.0, "ci95_high": 0.5}),
         "interval-reversed"),
    ],
)
def test_each_defect_is_an_error(edit, expected):
    assert expected in _names(_edited(edit))


def test_short_window_is_a_warning_not_an_error():
    result = make_result(num_queries=1, seconds_per_query=0.01, repeats=1)
    assert "short-window" in _names(result, "warning")
    assert _names(result) == set()


def test_a_file_cannot_drop_its_unusable_mark_or_claim_an_unknown_protocol():
    from harness.results.checks import run_checks
    from harness.testing.synthetic import make_result

    wide = make_result(repeats=2, jitter_share=0.6, seed=3, protocol="harness")
    assert "interval reaches below zero" in wide.figures.gpu_energy_per_1k_queries_wh.unusable
    assert not [f for f in run_checks(wide) if f.severity == "error"]
    data = wide.model_dump(mode="json")
    data["figures"]["gpu_energy_per_1k_queries_wh"]["unusable"] = None
    data["settings"]["protocol"] = "mlperf"
    edited = type(wide).model_validate(data)
    names = {f.name for f in run_checks(edited) if f.severity == "error"}
    assert {"usability", "protocol"} <= names


def test_readings_that_overflow_the_arithmetic_are_a_finding_not_a_crash():
    result = make_result(num_queries=10, repeats=3)
    data = result.model_dump()
    data["repetitions"][1]["readings"]["total"]["gpu_energy_j"]["0"] = 1e308
    errors = [f for f in run_checks(ResultFile.model_validate(data)) if f.severity == "error"]
    assert "headline" in [f.name for f in errors]
    assert any("overflow" in f.message for f in errors)


def test_energy_above_idle_may_be_slightly_negative():
    """Noise around the idle baseline can put a light workload's energy above idle just under zero."""
    def below_idle(d):
        d["figures"]["gpu_energy_above_idle_per_1k_queries_wh"].update({"mean": -0.01, "ci95_low": -0.05,
                                                                         "ci95_high": 0.03})
    assert "figure-negative" not in _names(_edited(below_idle))


def test_a_negative_query_latency_is_refused_by_the_schema():
    data = make_result().model_dump()
    data["repetitions"][1]["query_latencies_s"][7] = -0.002
    with pytest.raises(ValueError, match="query_latencies_s"):
        ResultFile.model_validate(data)
