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


@pytest.fixture(scope="module")
def forward_workload(load_tiny):
    spec = task_spec("summarization", generation__mode="forward")
    return WORKLOADS["summarization"](load_tiny("summarization"), spec)


def test_forward_mode_is_the_reference_pass_exactly(forward_workload):
    # AI Energy Score calls forward(input_ids, attention_mask); BART then shifts input_ids right itself. The explicit
    # shift must give the same decoder positions and the same logits.
    import torch

    from harness.workloads.text_inputs import encode

    model = forward_workload.model
    inputs = encode(forward_workload.tokenizer, ARTICLES[:1], forward_workload.max_input_tokens, "cpu",
                    ("input_ids", "attention_mask"))
    with torch.inference_mode():
        reference = model(**inputs).logits
    output = forward_workload.run_batch(ARTICLES[:1])
    (predicted,) = output.outputs
    assert reference.shape[1] == inputs["input_ids"].shape[1]           # the decoder ran over every article position
    assert torch.equal(predicted, reference.argmax(dim=-1))
    assert output.input_tokens == inputs["input_ids"].shape[1]
    assert output.output_tokens is None and output.output_lengths is None


def test_forward_mode_has_no_prefill_phase(forward_workload):
    assert forward_workload.generative is False
    with pytest.raises(TypeError, match="no prefill"):
        forward_workload.run_prefill_batch(ARTICLES)


def test_forward_mode_is_deterministic_and_counts_input_tokens(forward_workload):
    first, second = forward_workload.run_batch(ARTICLES), forward_workload.run_batch(ARTICLES)
    assert digest(*first.outputs) == digest(*second.outputs)
    expected = sum(len(forward_workload.tokenizer(article)["input_ids"]) for article in ARTICLES)
    assert first.input_tokens == expected and first.num_queries == 3


def test_forward_mode_refuses_a_model_that_cannot_shift_its_decoder_inputs(load_tiny):
    # A model with no decoder_start_token_id cannot build decoder inputs: one line, before any measurement.
    loaded = load_tiny("summarization", random_weights=True)
    start = loaded.model.config.decoder_start_token_id
    loaded.model.config.decoder_start_token_id = None
    try:
        with pytest.raises(ConfigError, match="cannot build decoder inputs") as caught:
            WORKLOADS["summarization"](loaded, task_spec("summarization", generation__mode="forward"))
        assert "\n" not in str(caught.value)
    finally:
        loaded.model.config.decoder_start_token_id = start


def test_a_model_with_no_shift_method_is_refused(load_tiny):
    from harness.workloads.summarization import SHIFT_METHODS, decoder_input_shift

    class NoShift:
        pass

    with pytest.raises(ConfigError, match=SHIFT_METHODS[0]):
        decoder_input_shift(NoShift(), "tiny/no-shift", "cpu")


def test_forward_mode_belongs_to_summarization_only():
    with pytest.raises(ConfigError, match="forward mode is a summarization mode"):
        task_spec("text-gen", generation__mode="forward")


def test_forward_mode_runs_t5_style_models_which_do_not_shift_by_themselves(tmp_path):
    """A tiny T5 (built offline, with the demo BART tokenizer) loaded through the real loader: its forward with no
    decoder inputs raises, as it does for the reference; forward mode shifts with the model's own method."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from harness.testing.demo_models import _bart_tokenizer
    from harness.workloads import load_model

    tokenizer = _bart_tokenizer()
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id)
    T5ForConditionalGeneration(config).save_pretrained(tmp_path / "t5")
    tokenizer.save_pretrained(tmp_path / "t5")
    loaded = load_model("summarization", str(tmp_path / "t5"), dtype="float32", device="cpu")
    workload = WORKLOADS["summarization"](loaded, task_spec("summarization", generation__mode="forward"))
    inputs = workload.tokenizer(ARTICLES[:1], return_tensors="pt")
    with torch.inference_mode(), pytest.raises(ValueError):
        loaded.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    output = workload.run_batch(ARTICLES[:1])
    (predicted,) = output.outputs
    assert predicted.shape == inputs["input_ids"].shape and output.output_tokens is None
    assert output.input_tokens == inputs["input_ids"].shape[1]
