"""Protocol settings resolve in one place: defaults, presets (`full`, `aies`), and one-line errors for bad values."""

from __future__ import annotations

import math

import pytest

from harness.errors import ConfigError
from harness.tasks.resolution import (
    DEFAULT_IDLE_SETTLE_S,
    DEFAULT_MAX_REPEATS,
    DEFAULT_MIN_WINDOW_S,
    SettingsRequest,
    resolve,
)


def test_gpu_runs_get_windows_long_enough_for_a_1_percent_edge_error_and_bounded_settling():
    gpu = resolve(SettingsRequest(task="text-classification"))
    assert gpu.min_window_s == DEFAULT_MIN_WINDOW_S["gpu"] == pytest.approx(10.0)
    assert gpu.idle_settle_s == DEFAULT_IDLE_SETTLE_S["gpu"] > 0
    assert (gpu.target_ci_pct, gpu.max_repeats, gpu.protocol) == (None, None, "harness")
    cpu = resolve(SettingsRequest(task="text-classification", device="cpu"))
    assert cpu.min_window_s == 0.0 and cpu.idle_settle_s == 0.0


def test_full_and_aies_presets_repeat_to_a_1_percent_interval():
    full = resolve(SettingsRequest(task="text-gen", preset="full"))
    assert (full.target_ci_pct, full.repeats, full.max_repeats, full.protocol) == (1.0, 3, 20, "harness")
    aies = resolve(SettingsRequest(task="summarization", preset="aies"))
    assert (aies.target_ci_pct, aies.repeats, aies.max_repeats, aies.protocol) == (1.0, 10, 30, "aies")
    assert (aies.spec.num_queries, aies.spec.batch_size) == (1000, 1)
    assert aies.spec.generation.mode == "forward"    # the reference's one forward pass, nothing generated


def test_the_command_line_beats_the_preset_and_max_repeats_defaults():
    run = resolve(SettingsRequest(task="text-gen", preset="full", target_ci_pct=5.0, max_repeats=8))
    assert (run.target_ci_pct, run.max_repeats) == (5.0, 8)
    default_max = resolve(SettingsRequest(task="text-gen", target_ci_pct=2.0))
    assert default_max.max_repeats == DEFAULT_MAX_REPEATS


@pytest.mark.parametrize(("changes", "message"), [
    ({"target_ci_pct": 0.0}, "--target-ci"),
    ({"target_ci_pct": -1.0}, "--target-ci"),
    ({"target_ci_pct": math.nan}, "--target-ci"),
    ({"target_ci_pct": math.inf}, "--target-ci"),
    ({"target_ci_pct": 1.0, "repeats": 5, "max_repeats": 4}, "cannot be below --repeats"),
    ({"target_ci_pct": 1.0, "repeats": 1, "max_repeats": 1}, "at least 2 repetitions"),
    ({"max_repeats": 4}, "needs --target-ci"),
    ({"min_window_s": -0.5}, "--min-window-s"),
    ({"min_window_s": math.nan}, "minimum window"),
    ({"idle_settle_s": -1.0}, "--idle-settle-s"),
])
def test_bad_protocol_settings_are_config_errors(changes, message):
    with pytest.raises(ConfigError, match=message.replace("-", r"\-")):
        resolve(SettingsRequest(task="text-gen", **changes))


def test_an_unknown_protocol_is_refused(tmp_path):
    preset = tmp_path / "other.yaml"
    preset.write_text("protocol: mlperf\nrepeats: 2\n")
    with pytest.raises(ConfigError, match="unknown protocol 'mlperf'"):
        resolve(SettingsRequest(task="text-gen", preset=str(preset)))


@pytest.mark.parametrize("changes", [{"repeats": 3}, {"num_queries": 100}, {"dtype": "float16"},
                                     {"overrides": {"summarization:generation.mode": "fixed"}},
                                     {"overrides": {"generation.mode": "fixed"}}])
def test_a_run_that_changes_what_the_aies_protocol_fixes_is_refused(changes):
    with pytest.raises(ConfigError, match="does not follow that protocol"):
        resolve(SettingsRequest(task="summarization", preset="aies", **changes))


def test_the_aies_protocol_still_lets_a_run_choose_its_inputs_and_repeat_its_own_values():
    run = resolve(SettingsRequest(task="text-gen", preset="aies", repeats=10, num_queries=1000,
                                  overrides={"inputs": "dataset"}))
    assert run.protocol == "aies" and run.spec.inputs == "dataset"
