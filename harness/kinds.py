"""The harness's vocabulary, defined once: task kinds, dtypes, and the strict base of every typed file.

Every other module imports these; a list of kinds written out anywhere else would drift from this one.
"""

from __future__ import annotations

import typing
from typing import Literal

from pydantic import BaseModel, ConfigDict

TaskKind = Literal["text-gen", "summarization", "text-classification", "image-gen"]
TASK_KINDS: tuple[str, ...] = typing.get_args(TaskKind)
"""Every task kind, in the order people read them (generation first)."""

TEXT_KINDS: tuple[str, ...] = ("text-gen", "summarization", "text-classification")
"""Kinds whose inputs are tokenised text (and so need `max_input_tokens`)."""

Dtype = Literal["float32", "float16", "bfloat16"]
DTYPES: tuple[str, ...] = typing.get_args(Dtype)


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not silently drop a setting), values are frozen, NaN refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
