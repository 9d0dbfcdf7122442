"""The harness's vocabulary, defined once: task kinds, dtypes, the strict base of every typed file, and the
one hardware fact both run resolution and the meter build on (the energy counter's update period).

Every other module imports these; a list of kinds written out anywhere else would drift from this one.
"""

from __future__ import annotations

import typing
from typing import Literal

from pydantic import BaseModel, ConfigDict

TaskKind = Literal[
    "text-gen", "summarization", "text-classification",
    "image-gen", "image-classification", "object-detection", "image-captioning",
]
TASK_KINDS: tuple[str, ...] = typing.get_args(TaskKind)
"""Every task kind, in the order people read them (generation first)."""

TEXT_KINDS: tuple[str, ...] = ("text-gen", "summarization", "text-classification")
"""Kinds whose inputs are tokenised text (and so need `max_input_tokens`)."""

IMAGE_KINDS: tuple[str, ...] = ("image-classification", "object-detection", "image-captioning")
"""Kinds whose inputs are images, fed through the model's image processor (sizes in pixels, no token limit)."""

Dtype = Literal["float32", "float16", "bfloat16"]
DTYPES: tuple[str, ...] = typing.get_args(Dtype)


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not silently drop a setting), values are frozen, NaN refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


COUNTER_UPDATE_PERIOD_S = 0.1
"""NVML's energy counter moves about every 100 ms: at each window edge the value read may lag the truth by up
to this long, so a window's counter delta is within ±period x power of the truth (edge-error bound: period /
duration). The meter bounds each reading with it; run resolution sizes the minimum window from it."""
