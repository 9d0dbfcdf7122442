"""What every workload shares: the batch result, the registry keyed by (engine, kind), and the timed batch.

A workload turns a batch of input items (`harness.tasks.inputs.InputItem`) into the model's real work (generate,
forward pass, diffusion) on a model its engine loaded. The runner times `run_batch` and reads the meter around
whole passes, so each call goes through the engine (`harness.engines.Engine.run_batch`), which returns only once
the device has finished and turns an out-of-memory error into one line naming model, batch size and device.

Defining a `Workload` subclass with an `engine` and a `kind` registers it (`WORKLOAD_REGISTRY`): a new task kind
or engine is a new module in this package, found by `harness.workloads`, and no table to edit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.engines import LoadedModel, LoadRequest, engine_named
from harness.errors import ConfigError
from harness.kinds import KINDS

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
    latencies_s: tuple[float, ...] | None = None
    """Each query's own latency where the workload times queries one by one (a served request's end to end);
    None: each query of the batch took the batch's time."""
    served: Any = field(default=None, compare=False, repr=False)
    """A served pass's request records and steady window (`harness.engines.openai_client.LoadOutcome`)."""


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


def refuse_model(config: Any, model_id: str, kind: str, what: str = "a {architecture}", then: str = "") -> ConfigError:
    """The one line refusing a model of the wrong kind: what it is (`what`, with its architecture filled in), what
    the kind needs (`harness.kinds.KINDS`), and `then` a hint."""
    from harness.engines.hf_transformers import described_architecture

    what = what.format(architecture=described_architecture(config))
    return ConfigError(f"{model_id} is {what}; task kind '{kind}' needs {KINDS[kind].needs}{then}")


ENCODER_DECODER = "an encoder-decoder model ({architecture})"


def is_encoder_decoder(config: Any) -> bool:
    return bool(getattr(config, "is_encoder_decoder", False))


WORKLOAD_REGISTRY: dict[tuple[str, str], list[type[Workload]]] = {}
"""Every workload by (engine, kind), in definition order; `harness.workloads.workload_class` picks the one whose
`handles` accepts a task (text-gen runs fixed-length or chat)."""


class Workload:
    """A task kind's runner over a model its engine loaded; subclasses implement `_run` (and `_run_prefill` if
    generative) and set `kind` (and `engine`, when not transformers) in their own body."""

    engine: ClassVar[str | tuple[str, ...]] = "transformers"
    """The engine (or engines) this workload runs on."""
    kind: ClassVar[str] = ""
    """Empty on the shared bases that no task runs directly (they are not registered)."""
    generative: ClassVar[bool] = False
    whole_pass: ClassVar[bool] = False
    """A pass is one call with every query (a client keeping the batch size in flight), not batch after batch."""
    input_size_unit: ClassVar[str] = "tokens"
    """What `input_sizes` counts per query (`results.schema.LengthUnit`): tokens, pixels or seconds of audio."""

    # What an in-process Hugging Face engine asks of the kind's model (read by `harness.engines.hf_transformers`).
    auto_class: ClassVar[str] = ""
    """The transformers Auto class that loads the kind's model (`AutoModelForCausalLM`)."""
    known_architectures: ClassVar[str | tuple[str, ...]] = ()
    """Architectures the kind accepts: the name of a table in `transformers.models.auto.modeling_auto`, or names."""
    architecture_suffixes: ClassVar[tuple[str, ...]] = ()
    """Architecture name endings accepted where transformers' tables do not know the class (remote code)."""
    needs_tokenizer: ClassVar[bool] = True
    chat_template: ClassVar[bool] = False
    """Each prompt goes through the model's chat template (checked when the tokenizer loads)."""
    processor: ClassVar[str | None] = None
    """`image` (the model's image processor), `audio` (its feature extractor) or None."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A class that names its `kind` in its own body is a task's workload and registers; one that inherits
        it (a test's spy, a variant not yet meant to run) does not."""
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__ and cls.kind:
            for engine in (cls.engine,) if isinstance(cls.engine, str) else cls.engine:
                WORKLOAD_REGISTRY.setdefault((engine, cls.kind), []).append(cls)

    @classmethod
    def handles(cls, spec: Any, engine: str) -> bool:
        """Whether this workload runs the task on `engine` (one kind may have several, by its settings)."""
        return spec.kind == cls.kind

    @classmethod
    def why_not(cls, spec: Any, engine: str) -> str | None:
        """Why this workload cannot run the task on `engine`, in words the user acts on (None: no particular
        reason); said when no workload handles the task."""
        return None

    @classmethod
    def check_config(cls, config: Any, model_id: str) -> None:
        """Refuse, from the model's config alone, a model the kind cannot run (beyond its architecture)."""

    @classmethod
    def check_components(cls, tokenizer: Any, model_id: str, request: LoadRequest) -> None:
        """Refuse, once the tokenizer is loaded and before the weights are, what the kind cannot run with it."""

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        if loaded.kind != self.kind or spec.kind != self.kind:
            raise ConfigError(
                f"the {self.kind} workload cannot run task kind '{spec.kind}' on a model loaded for '{loaded.kind}'"
            )
        self.loaded = loaded
        self.spec = spec
        self.model = loaded.model
        self.loaded_by = engine_named(loaded.engine or (self.engine if isinstance(self.engine, str)
                                                        else self.engine[0]))
        """The engine the model was loaded by: it runs each batch and waits for the device."""
        self.workload_settings: dict[str, Any] | None = None
        """Settings the workload resolved from the model when the task left them to it (image-gen: size and
        guidance at the pipeline's defaults); recorded in the result and part of its workload identity."""

    def run_batch(self, batch: Sequence[Any]) -> BatchOutput:
        """Run one batch of the task's workload; returns once the device has finished."""
        return self._through_engine(self._run, batch)

    def run_prefill_batch(self, batch: Sequence[Any]) -> BatchOutput:
        """Generative kinds only: the same inputs with one new token (prefill and first token)."""
        if not self.generative:
            raise TypeError(f"the {self.kind} workload has no prefill phase")
        return self._through_engine(self._run_prefill, batch)

    def input_sizes(self, items: Sequence[Any]) -> list[float] | None:
        """Each query's input size in `input_size_unit` as this workload feeds it (for text: its tokenizer and
        truncation); None where the harness cannot count it. Called outside any measured window."""
        tokenizer, limit = getattr(self, "tokenizer", None), getattr(self, "max_input_tokens", None)
        if tokenizer is None or not items:
            return None
        from harness.workloads.text_inputs import tokens_per_item

        return tokens_per_item(tokenizer, list(items), limit)

    def _run(self, batch: list[Any]) -> BatchOutput:
        raise NotImplementedError

    def _run_prefill(self, batch: list[Any]) -> BatchOutput:
        raise NotImplementedError

    def _through_engine(self, run: Any, batch: Sequence[Any]) -> BatchOutput:
        items = list(batch)
        if not items:
            raise ValueError("a batch needs at least one query")
        return self.loaded_by.run_batch(self.loaded, run, items)

    @property
    def input_device(self):
        """Where input tensors go: the device of the model's first parameters (the embeddings under device_map)."""
        return self.model.device
