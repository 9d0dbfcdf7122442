from __future__ import annotations

import pytest
import torch

from harness.errors import ConfigError
from harness.workloads import WORKLOADS
from harness.workloads.base import digest
from harness.workloads.text_inputs import encode
from tests.workloads.helpers import task_spec

PROMPTS = [
    "Hello",
    "The quick brown fox jumps over the lazy dog.",
    "Write a short story about a robot who learns to paint, with a happy ending and a twist.",
]


@pytest.fixture(scope="module")
def workload(load_tiny):
    spec = task_spec("text-gen", generation__min_new_tokens=5, generation__max_new_tokens=5)
    return WORKLOADS["text-gen"](load_tiny("text-gen"), spec)


def test_every_prompt_gets_exactly_the_new_tokens(workload):
    output = workload.run_batch(PROMPTS)
    assert output.num_queries == 3
    assert output.output_tokens == 3 * 5
    assert output.images is None


def test_input_tokens_count_real_tokens_not_padding(workload):
    expected = sum(len(workload.tokenizer(prompt)["input_ids"]) for prompt in PROMPTS)
    assert workload.run_batch(PROMPTS).input_tokens == expected


def test_same_inputs_same_outputs(workload):
    first = workload.run_batch(PROMPTS)
    second = workload.run_batch(PROMPTS)
    assert first == second and digest(*first.outputs) == digest(*second.outputs)
    assert digest(*first.outputs) != digest(*workload.run_batch(list(reversed(PROMPTS))).outputs)


def test_prefill_pass_generates_one_token_per_prompt(workload):
    output = workload.run_prefill_batch(PROMPTS)
    assert output.output_tokens == 3
    assert output.input_tokens == workload.run_batch(PROMPTS).input_tokens


def test_tokenizer_pads_left_with_eos_when_it_has_no_pad_token(workload):
    # The Llama-style tiny tokenizer ships without a pad token, like the real checkpoints.
    assert workload.tokenizer.padding_side == "left"
    assert workload.tokenizer.pad_token == workload.tokenizer.eos_token


def test_batched_prompts_generate_what_they_generate_alone(load_tiny):
    spec = task_spec("text-gen", generation__min_new_tokens=4, generation__max_new_tokens=4)
    workload = WORKLOADS["text-gen"](load_tiny("text-gen"), spec)
    alone = [digest(*workload.run_batch([prompt]).outputs) for prompt in PROMPTS]
    # Left padding with an attention mask must not change a prompt's greedy continuation.
    inputs = encode(workload.tokenizer, PROMPTS, workload.max_input_tokens, "cpu", ("input_ids", "attention_mask"))
    with torch.inference_mode():
        batched = workload.model.generate(**inputs, generation_config=workload.generation_config)
    new = batched[:, inputs["input_ids"].shape[1] :]
    assert [digest(row[None, :]) for row in new] == alone


def test_inputs_are_truncated_to_max_input_tokens(load_tiny):
    spec = task_spec("text-gen", max_input_tokens=4, generation__min_new_tokens=2, generation__max_new_tokens=2)
    workload = WORKLOADS["text-gen"](load_tiny("text-gen"), spec)
    output = workload.run_batch(PROMPTS[1:])
    assert output.input_tokens == 2 * 4
    assert output.output_tokens == 2 * 2


def test_refuses_a_model_loaded_for_another_kind(load_tiny):
    with pytest.raises(ConfigError, match="text-gen"):
        WORKLOADS["text-gen"](load_tiny("summarization"), task_spec("text-gen"))
