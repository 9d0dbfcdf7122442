"""The harness's vocabulary, defined once: task kinds, dtypes, the strict base of every typed file, and the
one hardware fact both run resolution and the meter build on (the energy counter's update period).

Every other module imports these; a list of kinds written out anywhere else would drift from this one. What each
kind is (its inputs, settings, built-in set, engine, title, ...) is its `KindDescriptor` in `KINDS`; every per-kind
table elsewhere is derived from it, and code that differs per kind (a workload, a demo model) is checked against it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

InputModality = Literal["text", "text-pair", "prompt", "image", "audio"]
"""What one query's input is: tokenised text; a pair of texts (two dataset columns); a prompt a pipeline's own text
encoder truncates (no `max_input_tokens`); an image; an audio clip."""

SettingsFamily = Literal["text", "speech", "image", "detection"]
"""Which generation settings a kind takes (`harness.tasks.spec` maps each to its class; None: nothing to set)."""


@dataclass(frozen=True, kw_only=True)
class KindDescriptor:
    """Every engine-neutral fact about one task kind. A new kind is one entry in `KINDS` (and its name in
    `TaskKind`), plus the code only it can have: a workload, an engine's loader, a demo model."""

    name: str
    title: str
    """The leaderboard's name for it (`Text generation`)."""
    inputs: InputModality
    outputs: Literal["tokens", "image", "class", "span", "embedding", "boxes"]
    """What one query produces."""
    generative: bool
    """Decodes token by token, so a run measures a prefill phase (one new token) apart from the whole pass."""
    settings: SettingsFamily | None
    input_size_unit: Literal["tokens", "pixels", "seconds"]
    """What a workload's `input_sizes` counts per query (`harness.results.schema.LengthUnit`)."""
    builtin_items: str
    """The recipe of the built-in input set (a key of `harness.tasks.inputs.ITEM_MAKERS`); kinds sharing one are
    kept apart by their seeds."""
    builtin_seed: int
    builtin_version: int
    """Bumped by any change to the built-in set's items (its name is `<kind>-builtin-v<version>`)."""
    needs: str
    """The model the kind needs, in words, for errors (`task kind 'x' needs <needs>`)."""
    query: str
    """One query in the leaderboard's words, a `str.format` template that `leaderboard.views.describe_query` fills
    from the recorded settings (`{cut}`, `{each}`, `{out}`, `{language}`, `{size}`, `{steps}`, `{threshold}`)."""
    modes: tuple[str, ...] = ()
    """The generation modes it accepts (`harness.tasks.spec.GenerationMode`); empty when its settings have none."""
    output_words: tuple[str, str] = ("", "")
    """For `{out}`: what its generated tokens are called, and what to say when their number is not recorded."""
    default_engine: str = "transformers"
    """The engine a run uses unless it names one."""


KINDS: dict[str, KindDescriptor] = {kind.name: kind for kind in (
    KindDescriptor(
        name="text-gen", title="Text generation", inputs="text", outputs="tokens", generative=True,
        settings="text", modes=("fixed", "chat"), input_size_unit="tokens",
        builtin_items="prompts", builtin_seed=101, builtin_version=2,
        needs="a decoder-only causal language model (…ForCausalLM)",
        query="a prompt{cut} answered with {out} (greedy decoding)", output_words=("new tokens", "generated text"),
    ),
    KindDescriptor(
        name="summarization", title="Summarisation", inputs="text", outputs="tokens", generative=True,
        settings="text", modes=("fixed", "forward"), input_size_unit="tokens",
        builtin_items="articles", builtin_seed=202, builtin_version=2,
        needs="an encoder-decoder (seq2seq) model such as BART or T5",
        query="an article{cut} summarised in {out} (greedy decoding)", output_words=("new tokens", "generated text"),
    ),
    KindDescriptor(
        name="text-classification", title="Text classification", inputs="text", outputs="class", generative=False,
        settings=None, input_size_unit="tokens",
        builtin_items="reviews", builtin_seed=303, builtin_version=2,
        needs="a sequence classifier (…ForSequenceClassification)",
        query="a short text{cut} sorted into a class with one forward pass",
    ),
    KindDescriptor(
        name="question-answering", title="Question answering", inputs="text-pair", outputs="span", generative=False,
        settings=None, input_size_unit="tokens",
        builtin_items="questions-and-contexts", builtin_seed=505, builtin_version=1,
        needs="an extractive question-answering model (…ForQuestionAnswering)",
        query="a question and a context paragraph{cut}, the answer span found in the context with one forward pass",
    ),
    KindDescriptor(
        name="sentence-similarity", title="Sentence similarity", inputs="text-pair", outputs="embedding",
        generative=False, settings=None, input_size_unit="tokens",
        builtin_items="sentence-pairs", builtin_seed=606, builtin_version=1,
        needs="a text embedding model (an encoder such as BERT, its hidden states mean-pooled)",
        query="two sentences{each} embedded and compared by cosine similarity",
    ),
    KindDescriptor(
        name="image-gen", title="Image generation", inputs="prompt", outputs="image", generative=False,
        settings="image", input_size_unit="tokens",
        builtin_items="image-prompts", builtin_seed=404, builtin_version=1,
        needs="a diffusers text-to-image pipeline",
        query="a text prompt turned into one {size}image{steps}", default_engine="diffusers",
    ),
    KindDescriptor(
        name="image-classification", title="Image classification", inputs="image", outputs="class", generative=False,
        settings=None, input_size_unit="pixels",
        builtin_items="imagenet-val", builtin_seed=707, builtin_version=1,
        needs="an image classifier (…ForImageClassification, e.g. ViT or ConvNeXt)",
        query="an image sorted into a class with one forward pass (the model's image processor included)",
    ),
    KindDescriptor(
        name="object-detection", title="Object detection", inputs="image", outputs="boxes", generative=False,
        settings="detection", input_size_unit="pixels",
        builtin_items="coco-val2017", builtin_seed=808, builtin_version=1,
        needs="an object detector (…ForObjectDetection, e.g. DETR)",
        query="an image's objects found as boxes{threshold} (image processor, forward pass and post-processing)",
    ),
    KindDescriptor(
        name="image-captioning", title="Image captioning", inputs="image", outputs="tokens", generative=True,
        settings="text", modes=("fixed",), input_size_unit="pixels",
        builtin_items="coco-val2017", builtin_seed=909, builtin_version=1,
        needs="an image-to-text model that captions from the image alone (e.g. a VisionEncoderDecoderModel or BLIP)",
        query="an image captioned in {out} (greedy decoding)", output_words=("new tokens", "a caption"),
    ),
    KindDescriptor(
        name="speech-to-text", title="Speech to text", inputs="audio", outputs="tokens", generative=True,
        settings="speech", modes=("fixed",), input_size_unit="seconds",
        builtin_items="speech-clips", builtin_seed=1010, builtin_version=1,
        needs="a Whisper-family speech-to-text model (WhisperForConditionalGeneration)",
        query="a speech clip of up to 30 seconds transcribed into {out}{language}, greedy decoding",
        output_words=("transcript tokens", "a transcript"),
    ),
)}
"""Every task kind by name, in the order people read them (generation first): the leaderboard's order too."""

TaskKind = Literal[
    "text-gen", "summarization", "text-classification", "question-answering", "sentence-similarity",
    "image-gen", "image-classification", "object-detection", "image-captioning", "speech-to-text",
]
"""The kinds as a type, for pydantic and the exported JSON Schema; `tests/test_kinds.py` keeps it equal to `KINDS`."""

TASK_KINDS: tuple[str, ...] = tuple(KINDS)
"""Every task kind, in the order people read them (generation first)."""

TEXT_KINDS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.inputs in ("text", "text-pair"))
"""Kinds whose inputs are tokenised text (and so need `max_input_tokens`)."""

IMAGE_KINDS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.inputs == "image")
"""Kinds whose inputs are images, fed through the model's image processor (sizes in pixels, no token limit)."""

PAIR_KINDS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.inputs == "text-pair")
"""Text kinds whose every query is a pair of texts (question and context; two sentences): their datasets name
two columns."""

Dtype = Literal["float32", "float16", "bfloat16"]
DTYPES: tuple[str, ...] = typing.get_args(Dtype)


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not silently drop a setting), values are frozen, NaN refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


COUNTER_UPDATE_PERIOD_S = 0.1
"""NVML's energy counter moves about every 100 ms: at each window edge the value read may lag the truth by up
to this long, so a window's counter delta is within ±period x power of the truth (edge-error bound: period /
duration). The meter bounds each reading with it; run resolution sizes the minimum window from it."""

MAX_EDGE_ERROR = 0.01
"""No published GPU figure rests on a window whose counter-edge error bound can exceed 1 %: run resolution
sizes the minimum window from it, the figures mark a result unusable beyond it."""

PROTOCOLS: tuple[str, ...] = ("harness", "aies")
"""`harness`: this project's default protocol; `aies`: AI Energy Score's published protocol (the `aies` preset;
docs/comparability.md lists every difference). Run resolution accepts only these, the result checks flag any
other, and the leaderboard never ranks two protocols together."""


# --- meter backends ---------------------------------------------------------------------------------------------

MeterBackend = Literal["nvml", "fake-nvml", "amdsmi", "fake-amdsmi", "none"]
"""What measured a result's GPUs (`Environment.meter_backend`, each a `harness.energy.backends` name): `nvml`,
NVIDIA's NVML on real hardware; `amdsmi`, AMD's SMI library (ROCm) on real hardware; `fake-nvml` and `fake-amdsmi`,
the scripted stand-ins CI measures (`harness demo` the first); `none`, no GPU measured. A new vendor adds its name
here and to `REAL_GPU_BACKENDS`, and its vendor to `METER_BACKEND_VENDORS`."""
METER_BACKENDS: tuple[str, ...] = typing.get_args(MeterBackend)

REAL_GPU_BACKENDS: frozenset[str] = frozenset({"nvml", "amdsmi"})
"""Backends that read real hardware; every other one but `none` is a stand-in (a test meter)."""

GpuVendor = Literal["nvidia", "amd"]
"""Who made a measured card (`GpuInfo.vendor`): part of the hardware class, so two vendors' cards are never rated
together."""
GPU_VENDOR_LABELS: dict[str, str] = {"nvidia": "NVIDIA", "amd": "AMD"}
"""How each vendor is written in a hardware class (and in messages)."""
METER_BACKEND_VENDORS: dict[str, str] = {"nvml": "nvidia", "fake-nvml": "nvidia", "amdsmi": "amd",
                                         "fake-amdsmi": "amd"}
"""The vendor whose cards each GPU backend reads: a result file without `GpuInfo.vendor` (before it was recorded,
when only NVML measured) takes its backend's."""


def is_real_gpu_backend(name: str) -> bool:
    """Whether a result's `meter_backend` read real GPU hardware: the one test of "a real GPU measurement"
    (campaigns, the result file, the CLI's summary and the leaderboard all ask this)."""
    return name in REAL_GPU_BACKENDS


def is_test_meter_backend(name: str) -> bool:
    """Whether `name` is a stand-in for a GPU (the fake NVML or the fake amdsmi): neither real hardware nor `none`."""
    return name != "none" and not is_real_gpu_backend(name)
