"""Chat generation: the model's chat template, answers of natural length (EOS or the cap), the reasoning switch.

The chat demo model is a real saved Llama whose `lm_head` makes end-of-sequence a likely greedy choice, so some
answers end by themselves and others run to the cap; nothing in the workload's path is replaced.
"""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.tasks.inputs import builtin_items
from harness.workloads import load_model, workload_class
from harness.workloads.base import digest
from harness.workloads.chat_generation import ChatGenerationWorkload
from harness.workloads.text_generation import TextGenerationWorkload
from harness.workloads.text_inputs import check_chat_template, render_chat
from tests.workloads.helpers import task_spec

PROMPTS = list(builtin_items("text-gen", 16))


@pytest.fixture(scope="module")
def chat_model(tiny_models_dir):
    """The chat demo model, loaded for a chat task through the real loader (which checks its template)."""
    return load_model("text-gen", str(tiny_models_dir / "text-gen-chat"), dtype="float32", device="cpu",
                      chat_template_kwargs={})


def chat_spec(**overrides):
    """The shipped chat task, with a cap that fits the tiny model's 256-token context (16 unless given)."""
    return task_spec("text-gen-chat", max_input_tokens=128, **{"generation__max_new_tokens": 16, **overrides})


def test_chat_mode_picks_the_chat_workload():
    assert workload_class(chat_spec()) is ChatGenerationWorkload
    assert workload_class(task_spec("text-gen")) is TextGenerationWorkload


def test_prompts_go_through_the_chat_template(chat_model):
    workload = ChatGenerationWorkload(chat_model, chat_spec(generation__max_new_tokens=4))
    rendered = render_chat(workload.tokenizer, PROMPTS[:1], {})[0]
    assert rendered.startswith("<s><|user|>\n" + PROMPTS[0][:20]) and rendered.endswith("<|assistant|>\n")
    expected = len(workload.tokenizer(rendered, add_special_tokens=False, truncation=True, max_length=128)["input_ids"])
    assert workload.run_batch(PROMPTS[:1]).input_tokens == expected == workload.input_sizes(PROMPTS[:1])[0]


def test_answers_stop_at_end_of_sequence_or_the_cap(chat_model):
    cap = 48
    workload = ChatGenerationWorkload(chat_model, chat_spec(generation__max_new_tokens=cap))
    eos = workload.tokenizer.eos_token_id
    lengths, rows = [], []
    for prompt in PROMPTS:
        output = workload.run_batch([prompt])
        (row,) = output.outputs[0].tolist()
        lengths += list(output.output_lengths)
        rows.append(row)
        assert output.output_tokens == output.output_lengths[0]
    assert any(n < cap for n in lengths) and any(n == cap for n in lengths)  # both ways of ending occur
    for n, row in zip(lengths, rows):
        if n < cap:  # it ended by itself: the last counted token is its end-of-sequence token
            assert row[n - 1] == eos and eos not in row[: n - 1]
        else:
            assert eos not in row and len(row) == cap


def test_a_batch_counts_each_answer_as_it_is_alone(chat_model):
    workload = ChatGenerationWorkload(chat_model, chat_spec(generation__max_new_tokens=24))
    alone = [workload.run_batch([p]).output_lengths[0] for p in PROMPTS[:4]]
    batched = workload.run_batch(PROMPTS[:4])
    assert list(batched.output_lengths) == alone and batched.output_tokens == sum(alone)


def test_decoding_is_deterministic(chat_model):
    workload = ChatGenerationWorkload(chat_model, chat_spec(generation__max_new_tokens=16))
    first, second = workload.run_batch(PROMPTS[:3]), workload.run_batch(PROMPTS[:3])
    assert first.output_lengths == second.output_lengths and digest(*first.outputs) == digest(*second.outputs)


def test_prefill_is_the_templated_prompt_and_one_token(chat_model):
    workload = ChatGenerationWorkload(chat_model, chat_spec(generation__max_new_tokens=16))
    prefill = workload.run_prefill_batch(PROMPTS[:2])
    assert prefill.output_tokens == 2 and prefill.input_tokens == workload.run_batch(PROMPTS[:2]).input_tokens


def test_the_reasoning_switch_reaches_the_template(chat_model):
    loaded = chat_model
    off = ChatGenerationWorkload(loaded, chat_spec(generation__enable_thinking="false"))
    on = ChatGenerationWorkload(loaded, chat_spec(generation__enable_thinking="true"))
    assert off.template_kwargs == {"enable_thinking": False} and on.template_kwargs == {"enable_thinking": True}
    assert render_chat(loaded.tokenizer, ["Hi"], off.template_kwargs)[0].endswith("<think></think>\n")
    assert render_chat(loaded.tokenizer, ["Hi"], on.template_kwargs)[0].endswith("<think>\n")
    assert off.input_sizes(["Hi"]) != on.input_sizes(["Hi"])


def test_a_model_without_a_chat_template_is_refused_before_its_weights_load(tiny_models_dir):
    with pytest.raises(ConfigError, match="has no chat template"):
        load_model("text-gen", str(tiny_models_dir / "text-gen"), dtype="float32", device="cpu",
                   chat_template_kwargs={})


def test_a_switch_the_template_does_not_read_is_refused(chat_model):
    tokenizer = chat_model.tokenizer
    check_chat_template(tokenizer, "demo", {"enable_thinking": True})
    plain = type("Tokenizer", (), {"chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"})()
    with pytest.raises(ConfigError, match="does not read enable_thinking"):
        check_chat_template(plain, "plain-model", {"enable_thinking": False})
