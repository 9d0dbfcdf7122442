"""`harness demo`'s words around its numbers: the real tasks for its site, why its numbers move, a quiet screen."""

from __future__ import annotations

import logging

from harness.commands.demo import numbers_note, quiet_libraries, real_task_specs
from harness.testing.synthetic import make_result


def test_the_site_gets_each_task_as_shipped():
    specs = real_task_specs(["image-gen", "text-gen-chat"])
    assert specs["image-gen"]["generation"]["num_inference_steps"] == 30 and specs["image-gen"]["num_queries"] == 1000
    assert specs["text-gen-chat"]["generation"]["max_new_tokens"] == 1024


def test_the_note_says_plainly_why_one_repetition_on_a_cpu_moves():
    note = numbers_note([make_result(gpu_name="cpu", repeats=1, seed=s) for s in range(2)])
    assert "one repetition each" in note and "CPU energy estimated" in note and "no GPU" in note
    assert "2-4x" in note and "not any model's cost" in note


def test_the_libraries_print_only_errors():
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    before = transformers_logging.get_verbosity(), diffusers_logging.get_verbosity()
    try:
        quiet_libraries()
        assert logging.getLogger("transformers").getEffectiveLevel() >= logging.ERROR
        assert logging.getLogger("diffusers").getEffectiveLevel() >= logging.ERROR
    finally:  # the rest of the session keeps the libraries' own levels and bars
        transformers_logging.set_verbosity(before[0])
        diffusers_logging.set_verbosity(before[1])
        transformers_logging.enable_progress_bar()
        diffusers_logging.enable_progress_bar()
