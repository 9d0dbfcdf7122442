from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.workloads import WORKLOADS
from harness.workloads.base import digest
from tests.workloads.helpers import task_spec

PAIRS = [
    ("Who voted on Tuesday?", "The city council voted on Tuesday to expand the bus network and plant more trees."),
    ("What does the new battery store?", "Researchers reported that the new battery stores twice as much energy. " * 6),
    ("Why is the sky blue?", "Explain why the sky is blue in simple terms."),
]


@pytest.fixture(scope="module")
def workload(load_tiny):
    return WORKLOADS["question-answering"](load_tiny("question-answering"), task_spec("question-answering"))


def test_one_forward_pass_per_pair_counts_question_and_context_tokens(workload):
    output = workload.run_batch(PAIRS)
    expected = sum(len(workload.tokenizer(q, c)["input_ids"]) for q, c in PAIRS)
    assert (output.num_queries, output.input_tokens, output.output_tokens) == (3, expected, None)
    assert workload.input_sizes(PAIRS) == [len(workload.tokenizer(q, c)["input_ids"]) for q, c in PAIRS]


def test_the_answer_span_lies_in_the_context_and_ends_after_it_starts(workload):
    (spans,) = workload.run_batch(PAIRS).outputs
    for index, (start, end) in enumerate(spans.tolist()):
        sequence_ids = workload.tokenizer(*PAIRS[index]).sequence_ids()
        assert sequence_ids[start] == 1 and sequence_ids[end] == 1 and end >= start


def test_same_pairs_same_spans_whatever_the_batch(workload):
    together = workload.run_batch(PAIRS).outputs[0]
    alone = [workload.run_batch([pair]).outputs[0][0].tolist() for pair in PAIRS]
    assert together.tolist() == alone
    assert digest(*workload.run_batch(PAIRS).outputs) == digest(together)


def test_only_the_context_is_cut_to_max_input_tokens(load_tiny):
    workload = WORKLOADS["question-answering"](load_tiny("question-answering"),
                                                task_spec("question-answering", max_input_tokens=24))
    question, context = PAIRS[1]
    assert workload.run_batch([PAIRS[1]]).input_tokens == 24
    kept = workload.tokenizer(question, context, truncation="only_second", max_length=24)
    assert workload.tokenizer.decode(kept["input_ids"]).count("battery") >= 1  # the question survives whole
    assert len(workload.tokenizer(question)["input_ids"]) < 24


def test_a_question_longer_than_the_limit_is_one_line(load_tiny):
    workload = WORKLOADS["question-answering"](load_tiny("question-answering"),
                                                task_spec("question-answering", max_input_tokens=8))
    with pytest.raises(ConfigError, match="raise max_input_tokens") as caught:
        workload.run_batch([("why " * 20, "because.")])
    assert "\n" not in str(caught.value)
