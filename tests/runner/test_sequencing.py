"""The runner's order of work, which the numbers depend on: warm-up, then idle, then each repetition's windows.

The real meter (on the fake NVML) and a real tiny model run; spies record the order of meter calls and batches.
"""

from __future__ import annotations

import pytest

from harness import runner
from harness.errors import OutOfMemoryError
from harness.results.store import iter_result_files
from harness.workloads import WORKLOADS
from harness.workloads.base import WORKLOAD_REGISTRY


@pytest.fixture
def events(monkeypatch):
    """Every meter window edge, idle measurement and batch, in the order they happened."""
    log: list[tuple[str, str | None]] = []
    real_open = runner.open_meter

    def spying_open(*args, **kwargs):
        meter = real_open(*args, **kwargs)
        for name in ("begin", "end", "measure_idle"):
            method = getattr(meter, name)

            def spy(*call_args, _method=method, _name=name, **call_kwargs):
                key = call_args[0] if _name != "measure_idle" else None
                if key != "__idle__":  # the idle measurement's own window
                    log.append((_name, key))
                return _method(*call_args, **call_kwargs)

            setattr(meter, name, spy)
        return meter

    monkeypatch.setattr(runner, "open_meter", spying_open)
    for kind, workload_cls in list(WORKLOADS.items()):
        class Spied(workload_cls):
            def run_batch(self, batch):
                log.append(("batch", None))
                return super().run_batch(batch)

            def run_prefill_batch(self, batch):
                log.append(("prefill-batch", None))
                return super().run_prefill_batch(batch)

        monkeypatch.setitem(WORKLOAD_REGISTRY, (workload_cls.engine, kind), [Spied])
    return log


def _request(tiny_models_dir, tmp_path, kind: str, **changes) -> runner.RunRequest:
    settings = dict(task=kind, model=str(tiny_models_dir / kind), device="cpu", num_queries=2, repeats=2,
                    warmup_queries=3, idle_seconds=0.2, measure_gpus=[0], results_dir=tmp_path / "results")
    settings.update(changes)
    return runner.RunRequest(**settings)


def test_warm_up_then_idle_then_one_window_per_repetition(events, tiny_models_dir, fake_gpu, tmp_path):
    result, path = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification"))
    assert events == [
        ("batch", None), ("batch", None), ("batch", None),             # 3 warm-up queries, batch size 1
        ("measure_idle", None),
        ("begin", "rep0/total"), ("batch", None), ("batch", None), ("end", "rep0/total"),
        ("begin", "rep1/total"), ("batch", None), ("batch", None), ("end", "rep1/total"),
        ("measure_idle", None),                                        # idle again after: drift
    ]
    assert path.is_file() and len(result.repetitions) == 2
    assert result.idle_protocol.after is not None and result.idle_protocol.above_idle_uses == "before"
    assert result.settings.stopped_by == "repeats" and result.settings.protocol == "harness"


def test_generative_tasks_measure_prefill_after_each_full_pass(events, tiny_models_dir, fake_gpu, tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-gen", warmup_queries=0, repeats=1))
    assert events == [
        ("measure_idle", None),
        ("begin", "rep0/total"), ("batch", None), ("batch", None), ("end", "rep0/total"),
        ("begin", "rep0/prefill"), ("prefill-batch", None), ("prefill-batch", None), ("end", "rep0/prefill"),
        ("measure_idle", None),
    ]
    digest = result.repetitions[0].output_digest
    assert digest is not None and result.repetitions[0].output_digest_queries == 2


def test_no_idle_window_when_idle_is_off(events, tiny_models_dir, fake_gpu, tmp_path):
    runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", idle_seconds=0, warmup_queries=0,
                            repeats=1))
    assert [name for name, _ in events] == ["begin", "batch", "batch", "end"]


def test_repetitions_record_equal_output_digests(tiny_models_dir, fake_gpu, tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", repeats=3))
    digests = {rep.output_digest for rep in result.repetitions}
    assert len(digests) == 1 and None not in digests
    assert "outputs-differ" not in {w.code for w in result.warnings}


def test_repetitions_whose_outputs_differ_are_flagged(monkeypatch, tiny_models_dir, fake_gpu, tmp_path):
    workload_cls = WORKLOADS["text-classification"]
    calls = {"n": 0}

    class Drifting(workload_cls):
        def _run(self, batch):
            output = super()._run(batch)
            calls["n"] += 1
            # From the third batch on (the second repetition) the labels come out shifted.
            return output if calls["n"] <= 2 else type(output)(**{**output.__dict__,
                                                                   "outputs": tuple(o + 1 for o in output.outputs)})

    monkeypatch.setitem(WORKLOAD_REGISTRY, ("transformers", "text-classification"), [Drifting])
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", warmup_queries=0))
    assert result.repetitions[0].output_digest != result.repetitions[1].output_digest
    assert "outputs-differ" in {w.code for w in result.warnings}


def test_nothing_is_written_when_a_repetition_fails(monkeypatch, tiny_models_dir, fake_gpu, tmp_path):
    workload_cls = WORKLOADS["text-classification"]
    calls = {"n": 0}

    class RunsOutOfMemory(workload_cls):
        def run_batch(self, batch):
            calls["n"] += 1
            if calls["n"] == 4:  # in the second repetition
                raise OutOfMemoryError("out of memory (scripted)")
            return super().run_batch(batch)

    monkeypatch.setitem(WORKLOAD_REGISTRY, ("transformers", "text-classification"), [RunsOutOfMemory])
    request = _request(tiny_models_dir, tmp_path, "text-classification", warmup_queries=0)
    with pytest.raises(OutOfMemoryError):
        runner.execute(request)
    assert not request.results_dir.exists() or not list(iter_result_files(request.results_dir))


def test_nothing_is_written_when_the_result_fails_its_own_checks(monkeypatch, tiny_models_dir, fake_gpu, tmp_path):
    from harness.errors import MeasurementError
    from harness.results import assembly
    from harness.results.checks import CheckResult

    monkeypatch.setattr(assembly, "run_checks", lambda result: [CheckResult("scripted", "error", "no")])
    request = _request(tiny_models_dir, tmp_path, "text-classification", repeats=1)
    fallback = tmp_path / "fallback"
    monkeypatch.setenv("HARNESS_FALLBACK_DIR", str(fallback))
    with pytest.raises(MeasurementError, match="not filed under the results .*: scripted: no"):
        runner.execute(request)
    assert not request.results_dir.exists() or not list(iter_result_files(request.results_dir))
    assert len(list(fallback.glob("*.json"))) == 1  # kept for diagnosis: a finished run is never thrown away
