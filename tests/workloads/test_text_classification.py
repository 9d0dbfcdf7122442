from __future__ import annotations

import pytest
import torch

from harness.errors import ConfigError, OutOfMemoryError
from harness.workloads import WORKLOADS
from harness.workloads.base import digest
from harness.workloads.text_classification import TextClassificationWorkload
from tests.workloads.helpers import task_spec

REVIEWS = [
    "The film was wonderful.",
    "The service was slow, the food was cold and I will not come back. " * 4,
    "Great value.",
    "Disappointing.",
]


@pytest.fixture(scope="module")
def workload(load_tiny):
    return WORKLOADS["text-classification"](load_tiny("text-classification"), task_spec("text-classification"))


def test_counts_queries_and_input_tokens_and_generates_nothing(workload):
    output = workload.run_batch(REVIEWS)
    expected = sum(len(workload.tokenizer(review)["input_ids"]) for review in REVIEWS)
    assert (output.num_queries, output.input_tokens) == (4, expected)
    assert output.output_tokens is None and output.images is None


def test_same_inputs_same_labels(workload):
    first, second = workload.run_batch(REVIEWS), workload.run_batch(REVIEWS)
    assert first == second and digest(*first.outputs) == digest(*second.outputs)


def test_a_batch_of_one_works(workload):
    assert workload.run_batch(REVIEWS[:1]).num_queries == 1


def test_has_no_prefill_phase(workload):
    with pytest.raises(TypeError, match="has no prefill phase"):
        workload.run_prefill_batch(REVIEWS)


def test_texts_are_truncated_to_max_input_tokens(load_tiny):
    workload = WORKLOADS["text-classification"](
        load_tiny("text-classification"), task_spec("text-classification", max_input_tokens=5)
    )
    assert workload.run_batch(REVIEWS[:2]).input_tokens == 5 + 5


def test_task_limit_is_capped_at_the_models_own(load_tiny):
    # The tiny BERT tokenizer takes 128 tokens; a longer task limit must not feed it more.
    workload = WORKLOADS["text-classification"](
        load_tiny("text-classification"), task_spec("text-classification", max_input_tokens=100000)
    )
    assert workload.max_input_tokens == 128
    assert workload.run_batch(["word " * 400]).input_tokens == 128


def test_out_of_memory_in_a_batch_is_one_line_with_model_and_batch_size(load_tiny):
    class Oversized(TextClassificationWorkload):
        def _run(self, batch):
            torch.empty(2**50, dtype=torch.uint8)  # more than any machine has: the allocator refuses for real
            raise AssertionError("unreachable")

    workload = Oversized(load_tiny("text-classification"), task_spec("text-classification"))
    with pytest.raises(OutOfMemoryError, match="batch size 3") as caught:
        workload.run_batch(REVIEWS[:3])
    assert "\n" not in str(caught.value)
    assert "text-classification" in str(caught.value)


def test_refuses_a_spec_of_another_kind(load_tiny):
    with pytest.raises(ConfigError):
        WORKLOADS["text-classification"](load_tiny("text-classification"), task_spec("text-gen"))
