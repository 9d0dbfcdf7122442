from __future__ import annotations

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.tasks.audio import AudioClip
from harness.tasks.inputs import builtin_items
from harness.workloads import WORKLOADS
from harness.workloads.base import digest
from tests.workloads.helpers import task_spec

CLIPS = builtin_items("speech-to-text", 3)


def _workload(load_tiny, **overrides):
    return WORKLOADS["speech-to-text"](load_tiny("speech-to-text"), task_spec("speech-to-text", **overrides))


@pytest.fixture(scope="module")
def workload(load_tiny):
    return _workload(load_tiny, generation__min_new_tokens=5, generation__max_new_tokens=5)


def test_exactly_the_set_number_of_tokens_per_clip(workload):
    output = workload.run_batch(CLIPS)
    (new_ids,) = output.outputs
    assert (output.num_queries, output.output_tokens, output.input_tokens) == (3, 15, None)
    assert new_ids.shape == (3, 5)


def test_the_decoder_prompt_forces_language_and_task(workload, load_tiny):
    tokenizer = workload.loaded.tokenizer
    assert tokenizer.convert_ids_to_tokens(workload.prompt) == [
        "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
    french = _workload(load_tiny, generation__language="fr", generation__task="translate")
    assert tokenizer.convert_ids_to_tokens(french.prompt)[1:3] == ["<|fr|>", "<|translate|>"]
    assert workload.workload_settings["decoder_prompt"] == workload.prompt


def test_prefill_decodes_one_token(workload):
    assert workload.run_prefill_batch(CLIPS[:2]).output_tokens == 2


def test_same_clips_same_tokens(workload):
    first, second = workload.run_batch(CLIPS), workload.run_batch(CLIPS)
    assert digest(*first.outputs) == digest(*second.outputs)


def test_input_sizes_are_seconds_cut_at_the_30_second_window(workload):
    long_clip = AudioClip(pcm=np.zeros(16_000 * 34, dtype=np.int16))
    assert workload.input_size_unit == "seconds"
    assert workload.input_sizes([CLIPS[0], long_clip]) == [pytest.approx(CLIPS[0].duration_s), 30.0]
    assert workload.run_batch([long_clip]).num_queries == 1


def test_a_feature_extractor_at_another_rate_is_refused_before_any_work(load_tiny):
    import copy
    import dataclasses

    loaded = load_tiny("speech-to-text")
    processor = copy.deepcopy(loaded.processor)
    processor.sampling_rate = 8000
    with pytest.raises(ConfigError, match="takes 8000 Hz audio"):
        WORKLOADS["speech-to-text"](dataclasses.replace(loaded, processor=processor), task_spec("speech-to-text"))


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"generation__language": "xx"}, "no language 'xx'"),
        ({"generation__min_new_tokens": 70, "generation__max_new_tokens": 70}, "decodes at most 64 tokens"),
    ],
)
def test_settings_the_model_cannot_take_are_one_line(load_tiny, overrides, says):
    with pytest.raises(ConfigError, match=says) as caught:
        _workload(load_tiny, **overrides)
    assert "\n" not in str(caught.value)
