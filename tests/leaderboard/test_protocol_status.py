"""The leaderboard's side of the protocol: non-standard conditions and unusable figures are never rated, one
repetition has no interval, and two protocols are never ranked together."""

from __future__ import annotations

import pytest

from harness.testing.synthetic import make_result
from leaderboard.aggregate import aggregate, group_entries, record_from_result


def _record(**kwargs):
    return record_from_result(make_result(**kwargs), "x.json")


def test_a_standard_run_with_an_interval_is_rated():
    record = _record(protocol="harness")
    assert record.status == "gpu" and record.unrated_reason is None


def test_non_standard_conditions_are_never_rated():
    record = _record(non_standard=("non-default power limit",))
    assert record.status == "non-standard"
    assert "non-default power limit" in record.unrated_reason


def test_one_repetition_has_no_interval_and_is_not_rated():
    record = _record(repeats=1)
    assert record.gpu_wh.ci95_low is None and record.gpu_wh.ci95_high is None
    assert record.status == "unusable" and "no interval" in record.unrated_reason


@pytest.mark.parametrize(("jitter_share", "seed", "problem"), [
    (0.4, 5, "interval spans ±76 % of its mean (more than ±50 %)"),
    (0.6, 3, "interval reaches below zero"),
])
def test_a_figure_whose_interval_spans_more_than_half_its_mean_or_reaches_below_zero_is_not_rated(
        jitter_share, seed, problem):
    record = _record(repeats=2, jitter_share=jitter_share, seed=seed)
    assert problem in record.gpu_wh.unusable
    assert record.status == "unusable"


def test_different_protocols_are_separate_entries_and_rating_groups():
    a, b = _record(protocol="harness", seed=1), _record(protocol="aies", seed=2)
    entries = group_entries([a, b])
    assert len(entries) == 2
    assert entries[0].rating_group != entries[1].rating_group
    assert {e.latest.protocol for e in entries} == {"harness", "aies"}
    assert len({e.slug for e in entries}) == 2


def test_older_files_read_as_the_default_protocol(tmp_path):
    record = _record()  # schema 1.0: no protocol field
    assert record.protocol == "harness"


def test_the_board_shows_unrated_runs_apart(tmp_path):
    from harness.results.store import default_result_path, write_result

    for seed, kwargs in enumerate([{}, {"non_standard": ("MIG mode enabled",)}, {"repeats": 1}], start=1):
        result = make_result(seed=seed, model_id=f"org/model-{seed}", **kwargs)
        write_result(result, default_result_path(tmp_path, result))
    board = aggregate(tmp_path)
    task = board.tasks["text-gen"]
    assert [e.latest.model_id for e in task.rated] == ["org/model-1"]
    assert sorted(e.latest.status for e in task.unrated) == ["non-standard", "unusable"]
