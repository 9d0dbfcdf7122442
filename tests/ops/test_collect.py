"""`harness collect`: valid files are filed byte for byte, invalid and duplicate ones refused, re-runs are no-ops."""

from __future__ import annotations

import json

import pytest

from harness.errors import NotFoundError
from harness.ops.collect import CollectRefused, collect
from harness.results.store import default_result_path, load_valid_result
from harness.testing.synthetic import make_result


def _job_output(root, name, result, *, text=None):
    """A job's output folder as `harness run --output DIR` leaves it: the result filed under DIR, and a log."""
    folder = root / name
    path = default_result_path(folder, result)
    path.parent.mkdir(parents=True)
    path.write_text(text if text is not None else json.dumps(result.model_dump(mode="json"), indent=1))
    (folder / "run.log").write_text("log\n")
    return path


def test_valid_results_are_filed_byte_for_byte(tmp_path):
    outputs, results = tmp_path / "outputs", tmp_path / "results"
    sources = [_job_output(outputs, f"job{i}", make_result(seed=i, task=task))
               for i, task in enumerate(["text-gen", "image-gen", "text-classification"])]
    report = collect([outputs], results)
    assert len(report.written) == 3 and not report.refused and not report.already_present
    for source in sources:
        loaded = load_valid_result(source)
        target = default_result_path(results, loaded.result)
        assert target.read_bytes() == source.read_bytes()
    assert "3 result files written" in report.summary()


def test_collecting_twice_is_a_no_op(tmp_path):
    outputs, results = tmp_path / "outputs", tmp_path / "results"
    _job_output(outputs, "a", make_result(seed=1))
    collect([outputs], results)
    before = sorted(p.relative_to(results) for p in results.rglob("*"))
    report = collect([outputs], results)
    assert not report.written and len(report.already_present) == 1
    assert sorted(p.relative_to(results) for p in results.rglob("*")) == before


def test_the_same_file_in_two_sources_is_filed_once(tmp_path):
    result = make_result(seed=3)
    _job_output(tmp_path / "first", "a", result)
    _job_output(tmp_path / "second", "a", result)
    report = collect([tmp_path / "first", tmp_path / "second"], tmp_path / "results")
    assert len(report.written) == 1 and not report.refused


def test_an_invalid_file_means_nothing_is_written(tmp_path):
    outputs, results = tmp_path / "outputs", tmp_path / "results"
    _job_output(outputs, "good", make_result(seed=1))
    bad = make_result(seed=2).model_dump(mode="json")
    bad["figures"]["gpu_energy_per_1k_queries_wh"]["mean"] *= 2
    _job_output(outputs, "bad", make_result(seed=2), text=json.dumps(bad))
    (outputs / "junk.json").write_text("{not json")
    with pytest.raises(CollectRefused) as refused:
        collect([outputs], results)
    assert "2 files refused, nothing written" in str(refused.value)
    reasons = " | ".join(item.reason for item in refused.value.report.refused)
    assert "headline" in reasons and "not valid JSON" in reasons
    assert not results.exists()


def test_keep_going_writes_the_accepted_files_and_still_fails(tmp_path):
    outputs, results = tmp_path / "outputs", tmp_path / "results"
    _job_output(outputs, "good", make_result(seed=1))
    (outputs / "junk.json").write_text("[]")
    with pytest.raises(CollectRefused, match="1 written"):
        collect([outputs], results, keep_going=True)
    assert len(list(results.rglob("*.json"))) == 1


def test_same_run_id_with_other_contents_is_refused(tmp_path):
    results = tmp_path / "results"
    _job_output(tmp_path / "first", "a", make_result(seed=1, run_id="20261101T120000Z-aaaaaaaa"))
    collect([tmp_path / "first"], results)
    _job_output(tmp_path / "second", "a", make_result(seed=2, run_id="20261101T120000Z-aaaaaaaa"))
    with pytest.raises(CollectRefused, match="already in .* with different contents"):
        collect([tmp_path / "second"], results)
    # Within one batch as well.
    _job_output(tmp_path / "third", "a", make_result(seed=3, run_id="20261101T130000Z-bbbbbbbb"))
    _job_output(tmp_path / "third", "b", make_result(seed=4, run_id="20261101T130000Z-bbbbbbbb"))
    with pytest.raises(CollectRefused, match="also used by"):
        collect([tmp_path / "third"], results)


def test_one_measurement_under_two_run_ids_is_refused(tmp_path):
    results = tmp_path / "results"
    original = make_result(seed=5)
    _job_output(tmp_path / "first", "a", original)
    collect([tmp_path / "first"], results)
    copy = original.model_copy(update={"run_id": "20991231T000000Z-cccccccc"})
    _job_output(tmp_path / "second", "a", copy)
    with pytest.raises(CollectRefused, match=f"same measurement as run {original.run_id}"):
        collect([tmp_path / "second"], results)


def test_missing_or_empty_sources(tmp_path):
    with pytest.raises(NotFoundError, match="no such file"):
        collect([tmp_path / "nope"], tmp_path / "results")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="no result files"):
        collect([tmp_path / "empty"], tmp_path / "results")


def test_results_from_a_bundle_are_collected(tmp_path):
    from harness.ops.submission import create_bundle

    source = _job_output(tmp_path / "outputs", "a", make_result(seed=7))
    bundle = create_bundle([source], tmp_path / "sub.tar.gz")
    report = collect([bundle], tmp_path / "results")
    assert len(report.written) == 1
    assert report.written[0][1].read_bytes() == source.read_bytes()


def test_a_new_run_of_a_collected_workload_is_reported_as_a_re_measurement(tmp_path):
    outputs, results = tmp_path / "outputs", tmp_path / "results"
    first = make_result(seed=1)
    _job_output(outputs, "a", first)
    collect([outputs / "a"], results)
    # Another run of the same work on the same model and GPU, typed differently (an explicit override).
    data = make_result(seed=2).model_dump(mode="json")
    data["settings"]["overrides"] = {"num_queries": str(data["settings"]["num_queries"])}
    again = type(first).model_validate(data)
    other_work = make_result(seed=3, batch_size=4)
    _job_output(outputs, "b", again)
    _job_output(outputs, "c", other_work)
    report = collect([outputs / "b", outputs / "c"], results)
    assert len(report.written) == 2
    assert [source for source, _ in report.remeasured] == [str(default_result_path(outputs / "b", again))]
    assert report.remeasured[0][1] == default_result_path(results, first)
    assert "(1 re-measure a workload already there)" in report.summary()
