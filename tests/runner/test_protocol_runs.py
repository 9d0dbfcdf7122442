"""The protocol through the real runner on the fake NVML: windows long enough, adaptive repeats, idle before and
after, standard conditions and `--strict`, input lengths, and bad settings refused before any model loads."""

from __future__ import annotations

import json

import pytest

from harness import runner
from harness.errors import MeasurementError
from harness.results.store import iter_result_files
from tests.cli_helpers import run_cli


def _request(tiny_models_dir, tmp_path, kind: str, **changes) -> runner.RunRequest:
    settings = dict(task=kind, model=str(tiny_models_dir / kind), device="cpu", num_queries=2, repeats=2,
                    warmup_queries=1, idle_seconds=0.2, measure_gpus=[0], results_dir=tmp_path / "results")
    settings.update(changes)
    return runner.RunRequest(**settings)


def test_a_short_pass_is_repeated_within_its_window_until_it_is_long_enough(tiny_models_dir, fake_gpu, tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", min_window_s=0.6))
    assert result.settings.min_window_s == 0.6
    for rep in result.repetitions:
        total = rep.readings["total"]
        assert total.duration_s >= 0.6
        assert rep.num_queries % 2 == 0                                   # whole passes, every query counted
        assert rep.num_queries > 2 or sum(rep.query_latencies_s) >= 0.6   # extended unless one pass was enough
        assert len(rep.query_latencies_s) == rep.num_queries
        assert rep.output_digest_queries == 2                             # the first pass's outputs only
    assert len({rep.output_digest for rep in result.repetitions}) == 1


def test_run_window_pass_repeats_whole_passes_until_the_minimum_and_counts_every_query():
    clock = {"t": 0.0}
    seen: list[str] = []

    def run_batch(batch):
        clock["t"] += 0.1 * len(batch)          # each query takes 0.1 s on this scripted clock
        seen.extend(batch)
        return type("Out", (), {"output_tokens": 3 * len(batch), "outputs": tuple(batch)})()

    outcome = runner.run_window_pass(run_batch, ["a", "b", "c"], 2, 1.0, keep_outputs_of=3, clock=lambda: clock["t"])
    assert outcome.num_queries == 12 and seen == ["a", "b", "c"] * 4    # 0.3 s a pass: four passes reach 1 s
    assert outcome.output_tokens == 36 and len(outcome.query_latencies_s) == 12
    assert outcome.kept_outputs == ["a", "b", "c"]                       # the first pass's outputs only
    once = runner.run_window_pass(run_batch, ["a", "b", "c"], 2, 0.0, clock=lambda: clock["t"])
    assert once.num_queries == 3


def test_prefill_windows_are_extended_on_their_own_and_decode_stays_per_query(tiny_models_dir, fake_gpu, tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-gen", min_window_s=0.4, repeats=2))
    rep = result.repetitions[0]
    assert rep.readings["prefill"].duration_s >= 0.4 and rep.prefill_num_queries >= 2
    total_j = sum(rep.readings["total"].gpu_energy_j.values())
    prefill_j = sum(rep.readings["prefill"].gpu_energy_j.values())
    decode_wh = (total_j / rep.num_queries - prefill_j / rep.prefill_num_queries) * 1000 / 3600
    from harness.results.figures import decode_energy_j, per_1k_queries_wh
    assert per_1k_queries_wh(decode_energy_j(rep), rep.num_queries) == pytest.approx(decode_wh)


def test_every_gpu_figure_carries_its_edge_error_and_short_windows_are_unusable(tiny_models_dir, fake_gpu,
                                                                                tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", min_window_s=0))
    total = result.repetitions[0].readings["total"]
    assert total.gpu_edge_error_j["0"] == pytest.approx(0.1 * total.gpu_energy_j["0"] / total.duration_s)
    headline = result.figures.gpu_energy_per_1k_queries_wh
    assert total.duration_s < 10 and headline.unusable is not None   # a window under 10 s can be off by > 1 %


def test_adaptive_repeats_stop_at_the_target(tiny_models_dir, fake_gpu, tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", repeats=3,
                                        target_ci_pct=99.0, max_repeats=6, min_window_s=1.0))
    from harness.results.figures import adaptive_stop
    from harness.results.statistics import relative_half_width

    # Real CPU timings drive the fake card's energy, so how many repetitions the target takes depends on the
    # machine's load; what must hold is the rule: stop at the first repetition count that meets the target.
    width = relative_half_width(result.figures.gpu_energy_per_1k_queries_wh)
    if result.settings.stopped_by == "target-ci":
        assert 3 <= len(result.repetitions) <= 6 and width <= 0.99
        if len(result.repetitions) > 3:  # it did not run past the first count that met the target
            assert not adaptive_stop(result.repetitions[:-1], 99.0)
    else:
        assert result.settings.stopped_by == "max-repeats" and len(result.repetitions) == 6 and width > 0.99
    assert result.settings.repeats == 3 and result.settings.max_repeats == 6


def test_adaptive_repeats_stop_at_the_maximum_and_say_so(tiny_models_dir, fake_gpu, tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", repeats=2,
                                        target_ci_pct=1e-6, max_repeats=4))
    assert result.settings.stopped_by == "max-repeats" and len(result.repetitions) == 4


def test_idle_is_measured_before_and_after_and_drift_is_flagged(tiny_models_dir, tmp_path, monkeypatch):
    script = tmp_path / "drifting.json"
    # 200 W until the first idle ends, then 260 W: the card got warmer over the run.
    script.write_text(json.dumps({"gpus": [{"power_w": [[0, 200], [4, 260]]}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", idle_seconds=0.3,
                                        min_window_s=4.0, repeats=1, idle_settle_s=0.4))
    assert result.idle.settled is True and result.idle.settle_s is not None
    protocol = result.idle_protocol
    assert protocol.after is not None and protocol.drift_pct == pytest.approx(30.0, abs=0.5)
    assert protocol.drift_flagged and protocol.above_idle_uses == "before"
    assert "idle-drift" in {w.code for w in result.warnings}


def _card(tmp_path, monkeypatch, **gpu):
    script = tmp_path / "card.json"
    script.write_text(json.dumps({"gpus": [{"power_w": 200, **gpu}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))


def test_standard_conditions_are_recorded(tiny_models_dir, fake_gpu, tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification"))
    assert result.conditions.standard is True and result.conditions.reasons == []
    assert "trend-across-repetitions" not in {w.code for w in result.warnings}   # a steady card: no trend


@pytest.mark.parametrize(("gpu", "reason"), [
    ({"power_limit_w": 450, "default_power_limit_w": 700}, "non-default power limit"),
    ({"persistence_mode": False}, "persistence mode off"),
    ({"mig_mode": True}, "MIG mode enabled"),
    ({"clock_event_reasons": 0x40}, "throttling in a measured window"),
])
def test_conditions_that_change_the_number_make_a_result_non_standard(gpu, reason, tiny_models_dir, tmp_path,
                                                                      monkeypatch):
    _card(tmp_path, monkeypatch, **gpu)
    result, path = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification"))
    assert path.is_file()
    assert result.conditions.standard is False and reason in result.conditions.reasons


def test_strict_refuses_a_non_standard_card_before_measuring(tiny_models_dir, tmp_path, monkeypatch):
    _card(tmp_path, monkeypatch, power_limit_w=450, default_power_limit_w=700)
    measured = []
    real_open = runner.open_meter

    def spying_open(*args, **kwargs):
        meter = real_open(*args, **kwargs)
        real_begin = meter.begin
        meter.begin = lambda key: (measured.append(key), real_begin(key))[1]
        return meter

    monkeypatch.setattr(runner, "open_meter", spying_open)
    with pytest.raises(MeasurementError, match="non-standard conditions.*power limit"):
        runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", strict=True))
    assert measured == []                                     # refused before any window opened
    assert list(iter_result_files(tmp_path / "results")) == []


def test_strict_refuses_to_write_a_result_throttled_in_a_window(tiny_models_dir, tmp_path, monkeypatch):
    _card(tmp_path, monkeypatch, clock_event_reasons=[[0, 0], [2.5, 0x40]])   # thermal slowdown from 2.5 s
    with pytest.raises(MeasurementError, match="non-standard conditions.*throttling"):
        runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", strict=True, min_window_s=1.5,
                                idle_seconds=0))
    assert list(iter_result_files(tmp_path / "results")) == []


@pytest.mark.parametrize("kind", ["text-classification", "text-gen", "summarization"])
def test_results_record_input_lengths_in_the_models_tokens(kind, tiny_models_dir, fake_gpu, tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, kind, repeats=1, num_queries=4))
    lengths = result.input_lengths
    assert lengths is not None and lengths.num_queries == 4
    assert 0 < lengths.p50 <= lengths.p90 and lengths.mean > 0
    per_pass = result.repetitions[0].input_tokens  # what the workload counted while it ran
    assert lengths.mean * 4 == pytest.approx(per_pass, rel=1e-9) if per_pass else True


@pytest.mark.parametrize(("args", "message"), [
    (["--target-ci", "0"], "--target-ci"),
    (["--target-ci", "-5"], "--target-ci"),
    (["--target-ci", "nan"], "--target-ci"),
    (["--target-ci", "1", "--repeats", "3", "--max-repeats", "2"], "cannot be below --repeats"),
    (["--max-repeats", "5"], "needs --target-ci"),
    (["--min-window-s", "-1"], "--min-window-s"),
    (["--idle-settle-s", "nan"], "idle settle"),
    (["--idle-seconds", "nan"], "idle seconds"),
])
def test_bad_protocol_settings_are_one_line_before_any_model_loads(args, message, tmp_path, capsys):
    # The model does not exist: an error about the setting proves it was checked before loading was tried.
    argv = ["run", "--task", "text-classification", "--model", str(tmp_path / "no-model"), "--device", "cpu",
            "--quiet", "--results-dir", str(tmp_path / "results"), *args]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "results").exists()


def test_image_gen_at_the_defaults_runs_at_the_pipelines_native_size_and_records_it(tiny_models_dir, fake_gpu,
                                                                                    tmp_path):
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "image-gen", repeats=1, num_queries=1,
                                        warmup_queries=0, overrides={"generation.num_inference_steps": "2"}))
    assert result.workload_settings == {"height": 64, "width": 64, "guidance_scale": 7.5}
    assert result.task.spec["generation"]["height"] is None          # the task left it to the pipeline
    assert result.input_lengths is not None and result.input_lengths.p50 > 0   # CLIP tokens per prompt
    from harness.results.identity import result_planned_workload_key, result_workload_key
    assert result_workload_key(result) != result_planned_workload_key(result)


def test_a_card_heating_up_over_the_repetitions_is_flagged(tiny_models_dir, tmp_path, monkeypatch):
    # Temperature climbs 3 °C a second while the run goes on.
    _card(tmp_path, monkeypatch, temperature_c=[[t * 0.25, 40 + 0.75 * t] for t in range(200)])
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, "text-classification", repeats=4,
                                        min_window_s=0.5, idle_seconds=0))
    warnings = [w for w in result.warnings if w.code == "trend-across-repetitions"]
    assert warnings and "temperature" in warnings[0].message


@pytest.mark.parametrize("kind", ["text-gen", "text-classification"])
def test_the_reference_dataset_is_one_setting_away_offline(kind, tiny_models_dir, fake_gpu, tmp_path):
    """A local parquet file with the reference dataset's own column stands in for the hub set (no hub here)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from harness.tasks.registry import load_task

    column = load_task(kind).dataset.column
    texts = [" ".join(["word"] * (5 + 4 * i)) for i in range(6)]   # within the tiny models' 128 tokens
    path = tmp_path / "reference.parquet"
    pq.write_table(pa.table({column: texts, "source": ["fixture"] * 6}), path)
    result, _ = runner.execute(_request(tiny_models_dir, tmp_path, kind, repeats=1, num_queries=6,
                                        overrides={"inputs": "dataset", "dataset.path": str(path)}))
    assert result.input_set.source == "file" and result.input_set.column == column
    assert result.input_lengths.num_queries == 6 and result.input_lengths.p90 > result.input_lengths.p50


def test_summarisation_in_forward_mode_is_one_window_with_input_tokens_and_no_generation(tiny_models_dir, fake_gpu,
                                                                                         tmp_path):
    """`--preset aies` summarisation (generation.mode forward): no prefill window, no output tokens, its own
    workload identity, and a result that passes its checks and is filed."""
    from harness.results.figures import derive_figures
    from harness.results.identity import result_workload_key

    forward, path = runner.execute(_request(tiny_models_dir, tmp_path, "summarization", num_queries=3,
                                            overrides={"generation.mode": "forward"}))
    assert path is not None and path.is_file()
    assert forward.task.spec["generation"]["mode"] == "forward"
    for rep in forward.repetitions:
        assert set(rep.readings) == {"total"} and rep.prefill_num_queries is None
        assert rep.output_tokens is None and rep.input_tokens > 0
    assert rep.input_tokens == pytest.approx(forward.input_lengths.mean * rep.num_queries, rel=1e-9)
    figures = forward.figures
    assert figures.gpu_prefill_energy_per_1k_queries_wh is None and figures.gpu_decode_energy_per_1k_queries_wh is None
    assert figures.gpu_energy_per_output_token_j is None and figures.output_tokens_per_j is None
    assert forward.output_lengths is None
    assert derive_figures(forward.repetitions, forward.idle)[0] == figures
    fixed, _ = runner.execute(_request(tiny_models_dir, tmp_path, "summarization", num_queries=3, repeats=1))
    assert set(fixed.repetitions[0].readings) == {"total", "prefill"}
    assert result_workload_key(forward) != result_workload_key(fixed)
