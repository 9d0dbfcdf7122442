from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.workloads import WORKLOADS
from harness.workloads.base import digest
from tests.workloads.helpers import task_spec

ARTICLES = [
    "The city council voted on Tuesday to expand the bus network and plant more trees.",
    "Researchers reported that the new battery stores twice as much energy as the old one. " * 3,
    "Short note.",
]


@pytest.fixture(scope="module")
def workload(load_tiny):
    spec = task_spec("summarization", generation__min_new_tokens=5, generation__max_new_tokens=5)
    return WORKLOADS["summarization"](load_tiny("summarization"), spec)


def test_each_article_gets_exactly_the_new_decoder_tokens(workload):
    output = workload.run_batch(ARTICLES)
    assert output.num_queries == 3
    # The decoder start token is not generated and is not counted.
    assert output.output_tokens == 3 * 5


def test_input_tokens_count_the_encoded_articles(workload):
    expected = sum(len(workload.tokenizer(article)["input_ids"]) for article in ARTICLES)
    assert workload.run_batch(ARTICLES).input_tokens == expected


def test_same_inputs_same_outputs(workload):
    first, second = workload.run_batch(ARTICLES), workload.run_batch(ARTICLES)
    assert first == second and digest(*first.outputs) == digest(*second.outputs)


def test_prefill_pass_decodes_one_token_per_article(workload):
    output = workload.run_prefill_batch(ARTICLES)
    assert output.output_tokens == 3
    assert output.num_queries == 3


def test_articles_are_truncated_to_max_input_tokens(load_tiny):
    spec = task_spec("summarization", max_input_tokens=6, generation__min_new_tokens=3, generation__max_new_tokens=3)
    workload = WORKLOADS["summarization"](load_tiny("summarization"), spec)
    output = workload.run_batch(ARTICLES[:2])
    assert output.input_tokens == 2 * 6
    assert output.output_tokens == 2 * 3


def test_refuses_a_model_loaded_for_another_kind(load_tiny):
    with pytest.raises(ConfigError, match="summarization"):
        WORKLOADS["summarization"](load_tiny("text-gen"), task_spec("summarization"))
