"""What every workload shares: the batch result, and the guard around each timed batch.

A workload turns a batch of input items (`harness.tasks.inputs.InputItem`) into the model's real work (generate,
forward pass, diffusion). The runner times `run_batch` and reads the meter around whole passes, so each call does
all its device work before returning (CUDA synchronised) and turns an out-of-memory error into one line naming
model, batch size and device.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.errors import ConfigError, HarnessError, OutOfMemoryError
from harness.workloads.models import LoadedModel, is_out_of_memory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOutput:
    """What one batch produced, in counts the figures are built from.

    `output_tokens` counts generated tokens only (not the prompt, not a decoder start token); `images` counts
    decoded images. `outputs` are the batch's raw outputs (token ids, predicted labels or images), untouched: the
    runner hashes a few of them with `digest` after the measured window closes, so hashing costs no measured
    energy and repetitions can show they did the same work (it says nothing across different hardware).
    """

    num_queries: int
    input_tokens: int | None = None
    output_tokens: int | None = None
    images: int | None = None
    output_lengths: tuple[int, ...] | None = None
    """New tokens of each query where their number is the model's choice (chat: natural-length answers)."""
    outputs: tuple[Any, ...] = field(default=(), compare=False, repr=False)


def digest(*arrays: Any) -> str:
    """SHA-256 over numpy arrays, tensors (moved to CPU) or images, in order. Never call it inside a window."""
    import numpy as np

    hasher = hashlib.sha256()
    for array in arrays:
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        array = np.ascontiguousarray(array)
        hasher.update(str((array.dtype, array.shape)).encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()


class Workload:
    """A task kind's runner over a loaded model; subclasses implement `_run` (and `_run_prefill` if generative)."""

    kind: ClassVar[str] = ""
    generative: ClassVar[bool] = False
    input_size_unit: ClassVar[str] = "tokens"
    """What `input_sizes` counts per query (`results.schema.LengthUnit`): tokens, pixels or seconds of audio."""

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        if loaded.kind != self.kind or spec.kind != self.kind:
            raise ConfigError(
                f"the {self.kind} workload cannot run task kind '{spec.kind}' on a model loaded for '{loaded.kind}'"
            )
        self.loaded = loaded
        self.spec = spec
        self.model = loaded.model
        self.workload_settings: dict[str, Any] | None = None
        """Settings the workload resolved from the model when the task left them to it (image-gen: size and
        guidance at the pipeline's defaults); recorded in the result and part of its workload identity."""

    def run_batch(self, batch: Sequence[Any]) -> BatchOutput:
        """Run one batch of the task's workload; returns once the device has finished."""
        return self._guarded(self._run, batch)

    def run_prefill_batch(self, batch: Sequence[Any]) -> BatchOutput:
        """Generative kinds only: the same inputs with one new token (prefill and first token)."""
        if not self.generative:
            raise TypeError(f"the {self.kind} workload has no prefill phase")
        return self._guarded(self._run_prefill, batch)

    def input_sizes(self, items: Sequence[Any]) -> list[float] | None:
        """Each query's input size in `input_size_unit` as this workload feeds it (for text: its tokenizer and
        truncation); None where the harness cannot count it. Called outside any measured window."""
        tokenizer, limit = getattr(self, "tokenizer", None), getattr(self, "max_input_tokens", None)
        if tokenizer is None or not items:
            return None
        from harness.workloads.text_inputs import tokens_per_item

        return tokens_per_item(tokenizer, list(items), limit)

    def _run(self, batch: list[str]) -> BatchOutput:
        raise NotImplementedError

    def _run_prefill(self, batch: list[str]) -> BatchOutput:
        raise NotImplementedError

    def _guarded(self, run: Callable[[list[str]], BatchOutput], batch: Sequence[str]) -> BatchOutput:
        import torch

        items = list(batch)
        if not items:
            raise ValueError("a batch needs at least one query")
        try:
            with torch.inference_mode():
                output = run(items)
            self._synchronize()
        except HarnessError:
            raise
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise OutOfMemoryError(
                f"out of memory running {self.loaded.info.get('id')} with batch size {len(items)} on "
                f"{self.loaded.device}; try a smaller batch size (--batch-size), --dtype bfloat16/float16, "
                f"or --device-map auto to spread the model over several GPUs"
            ) from None
        return output

    def _synchronize(self) -> None:
        """Wait for every GPU the model sits on, so the batch's time and energy fall inside its window."""
        if not self.loaded.cuda_indices:
            return
        import torch

        for index in self.loaded.cuda_indices:
            torch.cuda.synchronize(index)

    @property
    def input_device(self):
        """Where input tensors go: the device of the model's first parameters (the embeddings under device_map)."""
        return self.model.device
