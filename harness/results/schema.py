"""The result file, defined once. Every key is documented here and units are in the names.

A result file is what `harness run` writes and what the leaderboard, `harness validate`, `harness collect`
and `harness verify` read. Loaders read everything from the JSON, never from its path. Any change that
moves or renames a key bumps `SCHEMA_VERSION`; `harness schema` writes the JSON Schema to
`harness/results/result.schema.json` so other tools can check files without this package.
"""

from __future__ import annotations

import re
import typing
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, field_validator, model_validator

from harness.errors import ResultFileError
from harness.files import (
    MAX_INT,
    canonical_json,
    check_tree,
    clean_model_id,
    is_machine_path,
    loads_json_bounded,
)
from harness.kinds import (
    GPU_VENDOR_LABELS,
    KINDS,
    METER_BACKEND_VENDORS,
    GpuVendor,
    MeterBackend,
    StrictModel,
    TaskKind,
    is_real_gpu_backend,
)

SCHEMA_VERSION = "2.1"
"""2.1 added `engine` (what loaded and ran the model: its name, version and settings; files without it ran on their
task kind's default engine, transformers or diffusers), made `environment.torch_version` optional (an engine
behind a server need not run torch in the harness's process), added the `amdsmi` and `fake-amdsmi` meter backends,
and gave each GPU an optional `vendor`, `serial`, `partition_mode` and `rocm_version` (files without a vendor were
measured through NVML: NVIDIA's cards; the vendor is part of the hardware class).
2.0 gave every key one type in every file, so any set of result files loads typed into Arrow (`datasets`,
pandas, DuckDB; `hf_dataset.result_features()`): maps keyed by GPU index are lists of `{gpu_index, value}`, a
repetition's windows a list of `{name, reading}`, and free-form parts (the task spec, overrides, workload
settings, host estimate, device map) canonical JSON text; files are one line (also a JSON Lines file). The
values in Python are unchanged, and the 1.x layout is still read.
1.3 added the unit of `input_lengths` (tokens, pixels, seconds of audio) and `output_lengths`; 1.2 added
accelerate, datasets, huggingface_hub and tokenizers versions and `host_estimate` (method and inputs of an
estimated CPU/RAM energy) to `environment`, and the protocol fields (null intervals for one repetition,
`unusable`, edge-error bounds, idle after the repetitions, adaptive repeats, conditions, input lengths); 1.1
added `output_digest` to repetitions. Files of every version are still read."""

SchemaVersion = Literal["1.0", "1.1", "1.2", "1.3", "2.0", "2.1"]
SUPPORTED_SCHEMA_VERSIONS: tuple[str, ...] = typing.get_args(SchemaVersion)


Int64 = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]
"""Every whole number in a result is within 64 bits (JSON parsers keep 10^400 exactly, and it would overflow
every figure built on it), checked by the validator itself. A field's own lower bound is one of the types below:
pydantic keeps only the last of two lower bounds on one field."""
NonNegativeInt64 = Annotated[int, Field(ge=0, le=MAX_INT)]
PositiveInt64 = Annotated[int, Field(ge=1, le=MAX_INT)]


# The JSON layout of schema 2.0 where it differs from the value in Python. Each part below reads both its 2.0
# layout and the 1.x one; `PlainSerializer.return_type` is the 2.0 layout, from which the JSON Schema and the
# Arrow types (`hf_dataset`) are derived.


def _free_form_value(value: Any) -> Any:
    """Canonical JSON text (2.0) back to its mapping, and a 1.x mapping as it is, both within the bounded reader's
    limits (depth, values, finite numbers, 64 bits): the only part of a result whose shape the schema leaves open."""
    try:
        if isinstance(value, str):
            return loads_json_bounded(value, "a free-form value", error=ResultFileError)
        check_tree(value, "a free-form value", error=ResultFileError)
    except ResultFileError as problem:
        raise ValueError(str(problem)) from None
    return value


FreeForm = Annotated[dict[str, Any], BeforeValidator(_free_form_value),
                     PlainSerializer(canonical_json, return_type=str, when_used="json")]
"""A mapping whose keys and types vary by task or run: canonical JSON text in a file (one type for Arrow)."""


class GpuValue(StrictModel):
    """One GPU's entry of a per-GPU figure (schema 2.0)."""

    gpu_index: NonNegativeInt64
    value: float


def _entries_to_map(value: Any, key: str, item: str, what: str, key_type: type) -> Any:
    """A 2.0 list of `{key, item}` entries back to the mapping it stands for; a repeated key is an error."""
    if not isinstance(value, list):
        return value
    mapping: dict = {}
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {key, item}:
            raise ValueError(f"each {what} entry must hold exactly {key!r} and {item!r}")
        name = entry[key]
        if isinstance(name, bool) or not isinstance(name, key_type):
            raise ValueError(f"{what} {key} {name!r} must be {'a whole number' if key_type is int else 'text'}")
        if str(name) in mapping:
            raise ValueError(f"{what} {name} appears twice")
        mapping[str(name)] = entry[item]
    return mapping


MAX_GPU_INDEX_DIGITS = 4
"""NVML indices are small numbers; a longer key is not a GPU."""


def _gpu_map(value: Any) -> Any:
    """Either layout to the Python mapping, whose keys must be GPU indices (`"0"`): written back as numbers."""
    value = _entries_to_map(value, "gpu_index", "value", "GPU", int)
    if isinstance(value, dict):
        for index in value:
            if not (isinstance(index, str) and index.isascii() and index.isdigit()
                    and len(index) <= MAX_GPU_INDEX_DIGITS):
                raise ValueError(f"{index!r} is not a GPU index")
    return value


def _gpu_entries(value: dict[str, float]) -> list[GpuValue]:
    return [GpuValue(gpu_index=int(index), value=v) for index, v in sorted(value.items(), key=lambda kv: int(kv[0]))]


GpuMap = Annotated[dict[str, float], BeforeValidator(_gpu_map),
                   PlainSerializer(_gpu_entries, return_type=list[GpuValue], when_used="json")]
"""A figure per GPU, keyed by NVML index (`"0"`) in Python; a list of `{gpu_index, value}` in a file."""


class Estimate(StrictModel):
    """A figure measured over repetitions: mean, sample standard deviation and 95 % confidence interval.

    With one repetition there is no interval: `ci95_low` and `ci95_high` are None (schema 1.2; older files wrote
    the mean for both). `unusable` says why a figure must not be rated (interval below zero, or wider than
    ±50 % of the mean), None when it may be.
    """

    mean: float
    std: float = Field(ge=0)
    ci95_low: float | None
    ci95_high: float | None
    n: PositiveInt64
    unusable: str | None = None


class RunWarning(StrictModel):
    """A condition found during the run (from the meter or the runner), kept with the numbers it affects."""

    code: str
    message: str
    severity: Literal["info", "warning", "error"] = "warning"
    gpu_index: Int64 | None = None
    repetition: Int64 | None = None


class GpuInfo(StrictModel):
    """One GPU as its vendor's library (NVML, amdsmi) reported it when the run started."""

    index: Int64
    name: str
    uuid: str | None = None
    memory_total_mib: float | None = None
    has_energy_counter: bool
    """Whether the window's energy came from the card's counter (False: integrated sampled power, also where the
    card has a counter that stands still)."""
    power_limit_enforced_w: float | None = None
    power_limit_default_w: float | None = None
    persistence_mode: bool | None = None
    mig_mode: bool | None = None
    """The card is split into instances: NVIDIA's MIG, or an AMD compute partition other than SPX. Its counter
    measures the whole card, every instance included."""
    compute_capability: str | None = None
    """NVIDIA's compute capability (`9.0`), or AMD's graphics target (`gfx942`)."""
    vendor: GpuVendor | None = None
    """Who made the card (schema 2.1, optional): files without it were measured through NVML, so their cards take
    their backend's vendor (`gpu_vendor`)."""
    serial: str | None = None
    """The card's serial where the library gives one (AMD: the ASIC's unique ID, which HIP's UUID encodes)."""
    partition_mode: str | None = None
    """AMD: compute and memory partition modes (`SPX/NPS1`, `CPX/NPS4`); None where the card has none."""
    rocm_version: str | None = None
    """AMD: the ROCm version of the machine, as amdsmi reports it."""


def gpu_vendor(gpu: GpuInfo, meter_backend: str) -> str | None:
    """A measured card's vendor: its own `vendor`, else the one its backend reads (files before 2.1 carry none, and
    were measured through NVML)."""
    return gpu.vendor or METER_BACKEND_VENDORS.get(meter_backend)


def _names_label(name: str, label: str) -> bool:
    """Whether `name` carries a vendor's label as a word of its own (`AMD Instinct`, not `AMDx`)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(label)}(?![0-9A-Za-z])", name, re.IGNORECASE) is not None


def hardware_name(name: str, vendor: str | None) -> str:
    """A card's name as its hardware class shows it: the vendor's label in front where the name does not carry it.

    NVIDIA's names (and those of files with no vendor) are kept as they are, so existing classes and page slugs do
    not move, unless they carry another vendor's label; another vendor's name is kept only where it carries its own
    label and no other. So a class entry of another vendor always names it, and an NVIDIA one never names another
    vendor: two vendors' cards never share a class, whatever their names.
    """
    vendor = vendor or "nvidia"
    own = GPU_VENDOR_LABELS[vendor]
    others = [label for key, label in GPU_VENDOR_LABELS.items() if key != vendor]
    carries_other = any(_names_label(name, label) for label in others)
    if vendor == "nvidia":
        return f"{own} {name}" if carries_other else name
    return name if _names_label(name, own) and not carries_other else f"{own} {name}"


class Environment(StrictModel):
    """Hardware and software facts, so a reader can tell whether two numbers are comparable."""

    meter_backend: MeterBackend
    gpus: list[GpuInfo] = Field(default_factory=list)
    measured_gpu_indices: list[Int64] = Field(default_factory=list)
    driver_version: str | None = None
    nvml_version: str | None = None
    cuda_driver_version: str | None = None
    torch_version: str | None = None
    """The torch of the harness's own process (required before schema 2.1); None where it has none."""
    torch_cuda_version: str | None = None
    transformers_version: str | None = None
    diffusers_version: str | None = None
    accelerate_version: str | None = None
    datasets_version: str | None = None
    huggingface_hub_version: str | None = None
    tokenizers_version: str | None = None
    python_version: str
    platform: str
    cpu_model: str | None = None
    cpu_logical_cores: Int64 | None = None
    ram_total_gib: float | None = None
    rapl_readable: bool = False
    host_estimate: FreeForm | None = None
    """Where CPU or RAM energy is estimated: the method and its inputs (TDP and its source, cores, W per
    core, RAM size), from `harness.energy.host_estimate` (schema 1.2)."""


class EngineInfo(StrictModel):
    """What loaded and ran the model (`harness.engines`): runs by different engines or engine settings are
    different workloads (`harness.results.identity`), never one leaderboard entry (schema 2.1)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,39}$")
    version: str | None = None
    settings: FreeForm = Field(default_factory=dict)
    """Settings of the engine that change the work (a server's batch cap); empty for the in-process engines."""
    command: list[str] | None = None
    """The command line that started the engine's server (the interpreter as `python`, the port as `PORT`)."""


class Spread(StrictModel):
    """A distribution over requests or tokens: its mean and percentiles, in the unit its name says."""

    mean: float
    p50: float
    p90: float
    p99: float


class ServingSummary(StrictModel):
    """A run through a server under load (schema 2.1): the steady state, latencies, and energy per request measured
    by attribution (`harness.results.serving`). Its concurrency and batch cap are part of the workload identity."""

    concurrency: PositiveInt64
    """Requests the client kept in flight (the task's `batch_size`)."""
    batch_cap: PositiveInt64 | None = None
    """The server's own cap on the requests it batches, set to the concurrency (None: the server has none)."""
    requests: NonNegativeInt64
    failed_requests: NonNegativeInt64 = 0
    steady_window_s: Estimate | None = None
    gpu_energy_per_output_token_j: Estimate | None = None
    """GPU energy in the steady window over the output tokens that arrived in it: the serving headline."""
    output_tokens_per_s: Estimate | None = None
    output_tokens_per_j: Estimate | None = None
    gpu_mean_power_w: Estimate | None = None
    steady_unusable: str | None = None
    """Why the steady figures must not be rated (a window too short for the counter, none reached), or None."""
    ttft_s: Spread | None = None
    inter_token_latency_s: Spread | None = None
    e2e_latency_s: Spread | None = None
    gpu_energy_per_request_j: Spread | None = None
    """Each request's measured share of the pass's GPU energy (the attribution adds up to the pass's energy)."""
    gpu_prefill_energy_per_request_j: Spread | None = None
    gpu_decode_energy_per_request_j: Spread | None = None
    attributed_share: float | None = None
    """The attributed energy over the passes' energy: below 1 by what fell where no request was in flight."""
    unattributed_j: float | None = None


class TaskInfo(StrictModel):
    """The resolved task spec (after presets and overrides) and its version."""

    id: str
    version: str
    kind: TaskKind
    spec: FreeForm


class InputSetInfo(StrictModel):
    """Which inputs were run: the built-in set, a `datasets` dataset or a local file, with a content hash."""

    source: Literal["builtin", "dataset", "file"]
    name: str
    revision: str | None = None
    split: str | None = None
    column: str | None = None
    num_items: PositiveInt64
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ModelInfo(StrictModel):
    """The model as loaded: its id (a hub id, or a local folder's clean id), revision, dtype and size."""

    id: str
    """A hub id (`org/model`), or for a local folder `--model-id`, else the hub id its config names, else the
    folder's name (`harness.files.local_model_id`): never a machine's path. A file written with a path here (before
    the engines recorded that) is read with the clean id (`harness.files.clean_model_id`), so no page, label or
    export shows the path."""
    name: str | None = None
    """A display name for a hub model (`--model-id`); None: `id` is what to show."""
    revision: str | None = None
    dtype: str
    num_parameters: NonNegativeInt64
    random_weights: bool = False
    trust_remote_code: bool = False
    architecture: str | None = None
    loader: str | None = None
    device: str
    device_map: FreeForm | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_machine_path(cls, data: Any) -> Any:
        """An old file's path for an id becomes its clean id (its `name` was the folder's hub id or `--model-id`)."""
        if isinstance(data, dict) and isinstance(data.get("id"), str) and is_machine_path(data["id"]):
            name = data.get("name") if isinstance(data.get("name"), str) else None
            data = {**data, "id": clean_model_id(data["id"], name), "name": None}
        return data


def readable_model_name(model_id: str, display_name: str | None = None) -> str:
    """What a visitor reads: the recorded display name, else the id (a path, from code that built a record by
    hand, shows only its folder's name: `harness.files.clean_model_id`). `store.default_result_path` files a run
    under it."""
    if display_name:
        return display_name
    return clean_model_id(model_id)


class RunSettings(StrictModel):
    """What was run: queries per repetition, batch size, repetitions and warm-up, idle baseline length."""

    num_queries: PositiveInt64
    batch_size: PositiveInt64
    repeats: PositiveInt64
    warmup_queries: NonNegativeInt64
    idle_seconds: float = Field(ge=0)
    sample_hz: float = Field(gt=0)
    preset: str | None = None
    overrides: FreeForm = Field(default_factory=dict)
    strict: bool = False
    protocol: str | None = None
    """The measurement protocol followed (`harness` or `aies`, schema 1.2; None in older files means `harness`).
    The leaderboard never ranks results of different protocols together."""
    min_window_s: float | None = Field(None, ge=0)
    """Each measured pass was repeated within its window until it lasted at least this long (schema 1.2)."""
    target_ci_pct: float | None = Field(None, gt=0)
    """Adaptive repeats: repeat until the GPU headline's 95 % interval is within ±this % of its mean."""
    max_repeats: PositiveInt64 | None = None
    """Adaptive repeats: the most repetitions run; `repeats` is then the least."""
    stopped_by: Literal["repeats", "target-ci", "max-repeats"] | None = None
    """What ended the repetitions: the fixed count, the target interval reached, or the maximum reached."""
    idle_settle_max_s: float | None = Field(None, ge=0)
    """The longest the run waited for GPU power to settle before each idle measurement."""


class Reading(StrictModel):
    """One measurement window, as `harness.energy.EnergyReading.as_dict()` writes it. GPU keys are indices."""

    key: str
    start_unix_s: float
    duration_s: float = Field(ge=0)
    gpu_energy_j: GpuMap = Field(default_factory=dict)
    gpu_method: Literal["counter", "sampled", "none"]
    gpu_idle_energy_j: GpuMap | None = None
    gpu_sampled_energy_j: GpuMap | None = None
    gpu_edge_error_j: GpuMap | None = None
    """Bound on the counter-edge error per GPU: the counter's update period times the window's mean power, in J
    (schema 1.2). Relative to the energy it is update period / duration."""
    cpu_energy_j: float | None = None
    cpu_method: Literal["rapl", "estimated", "none"] = "none"
    ram_energy_j: float | None = None
    ram_method: Literal["rapl", "estimated", "none"] = "none"
    warnings: list[RunWarning] = Field(default_factory=list)


class Window(StrictModel):
    """One of a repetition's windows in a file (schema 2.0): its name (`total`, `prefill`, `decode`) and reading."""

    name: str
    reading: Reading


def _windows(value: dict[str, Reading]) -> list[Window]:
    return [Window(name=name, reading=reading) for name, reading in value.items()]


Windows = Annotated[dict[str, Reading],
                    BeforeValidator(lambda value: _entries_to_map(value, "name", "reading", "window", str)),
                    PlainSerializer(_windows, return_type=list[Window], when_used="json")]
"""A repetition's windows by name in Python; a list of `{name, reading}` in a file."""


LATENCY_DECIMALS = 6
"""Query latencies are recorded to the microsecond: the clock reads nanoseconds, but a query's Python call and
CUDA synchronisation already vary by more than that, and 17-digit latencies would double a result's size."""


class Repetition(StrictModel):
    """One measured pass over the task's queries.

    `readings` holds the pass's windows by phase: always `total`; `prefill` and `decode` for generative
    text (each measured in its own window). `query_latencies_s` has one entry per query (a batch's
    latency is shared by its queries), none negative, to `LATENCY_DECIMALS` decimals of a second.
    """

    index: NonNegativeInt64
    num_queries: PositiveInt64
    readings: Windows
    query_latencies_s: list[Annotated[float, Field(ge=0)]]
    output_tokens: Int64 | None = None
    input_tokens: Int64 | None = None
    images: Int64 | None = None
    output_digest: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the outputs of the repetition's first queries, hashed after its window closed (schema 1.1)."""
    output_digest_queries: PositiveInt64 | None = None
    """How many queries' outputs `output_digest` covers."""
    prefill_num_queries: PositiveInt64 | None = None
    """Queries in the prefill window (it is extended to the minimum window on its own; schema 1.2). None: the
    same as `num_queries`."""


class IdleBaseline(StrictModel):
    """Power with the model loaded and nothing running, measured before (and, schema 1.2, after) the repetitions."""

    duration_s: float = Field(ge=0)
    gpu_power_w: GpuMap = Field(default_factory=dict)
    cpu_power_w: float | None = None
    method: Literal["counter", "sampled", "none"]
    settle_s: float | None = Field(None, ge=0)
    """Seconds waited for GPU power to settle before this measurement (schema 1.2)."""
    settled: bool | None = None
    """False when power had not settled within the bound (the idle figure may include a tail of the work)."""


class IdleProtocol(StrictModel):
    """How idle was measured (schema 1.2): the baseline after the repetitions, their drift, and which one
    "above idle" used."""

    after: IdleBaseline | None = None
    drift_pct: float | None = None
    """(after - before) / before, in %, summed over measured GPUs."""
    drift_flagged: bool = False
    above_idle_uses: Literal["before"] = "before"
    """Every reading's `gpu_idle_energy_j` is the baseline measured before the repetitions times its duration."""


LengthUnit = Literal["tokens", "pixels", "seconds"]
"""What a per-query length counts: tokens in the model's own tokenizer, image pixels, or seconds of audio."""


class InputLengths(StrictModel):
    """The per-query size of what the model was actually fed (schema 1.2): input tokens counted with its own
    tokenizer, or (schema 1.3, `unit`) pixels per image or seconds per audio clip. Also the shape of
    `output_lengths` (new tokens per query, schema 1.3)."""

    mean: float = Field(ge=0)
    p50: float = Field(ge=0)
    p90: float = Field(ge=0)
    num_queries: PositiveInt64
    unit: LengthUnit = "tokens"
    at_cap: NonNegativeInt64 | None = None
    """Output lengths only (schema 1.3): answers that used the whole `max_new_tokens` cap (stopped by it, not by
    the model)."""


class RunConditions(StrictModel):
    """Whether the run met the standard conditions (schema 1.2): default power limit, persistence on, no MIG,
    no other process on a measured GPU, no throttling in a measured window. Non-standard results are shown
    apart and never rated; `--strict` refuses to write them."""

    standard: bool
    reasons: list[str] = Field(default_factory=list)


class Timeline(StrictModel):
    """Sampled conditions over the whole run, downsampled per GPU to at most the meter's
    `RESULT_TIMELINE_MAX_POINTS` (older files hold up to 2000).

    Parallel columns keyed by GPU index; `t_s` is seconds since `started_at`.
    """

    gpu_index: Int64
    t_s: list[float]
    power_w: list[float]
    sm_clock_mhz: list[float | None] = Field(default_factory=list)
    memory_clock_mhz: list[float | None] = Field(default_factory=list)
    temperature_c: list[float | None] = Field(default_factory=list)
    utilization_pct: list[float | None] = Field(default_factory=list)


class Figures(StrictModel):
    """Derived figures, each from the repetitions' readings. None where the run could not measure it.

    GPU figures come from NVML (counter or sampled power) and are never mixed with host figures; host
    figures are flagged when estimated rather than read from RAPL.
    """

    gpu_energy_per_1k_queries_wh: Estimate | None = None
    gpu_energy_above_idle_per_1k_queries_wh: Estimate | None = None
    gpu_prefill_energy_per_1k_queries_wh: Estimate | None = None
    gpu_decode_energy_per_1k_queries_wh: Estimate | None = None
    gpu_mean_power_w: Estimate | None = None
    cpu_energy_per_1k_queries_wh: Estimate | None = None
    cpu_energy_estimated: bool = False
    ram_energy_per_1k_queries_wh: Estimate | None = None
    ram_energy_estimated: bool = False
    latency_p50_s: Estimate
    latency_p95_s: Estimate
    throughput_queries_per_s: Estimate
    output_tokens_per_j: Estimate | None = None
    gpu_energy_per_output_token_j: Estimate | None = None
    """GPU joules per generated token (schema 1.3): with natural-length answers, what compares models that answer
    at different lengths; energy per query says what one answer costs."""
    images_per_wh: Estimate | None = None
    idle_gpu_power_w: float | None = None


class ResultFile(StrictModel):
    """One `harness run`: what ran, where, how it was measured, and what it cost."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    run_id: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{5,80}$")
    created_at: datetime
    started_at: datetime
    finished_at: datetime
    harness_version: str
    git_sha: str | None = None
    task: TaskInfo
    input_set: InputSetInfo
    model: ModelInfo
    engine: EngineInfo | None = None
    """None in files written before schema 2.1: their kind's default engine ran them (`engine_name`)."""
    settings: RunSettings
    environment: Environment
    idle: IdleBaseline | None = None
    idle_protocol: IdleProtocol | None = None
    conditions: RunConditions | None = None
    input_lengths: InputLengths | None = None
    output_lengths: InputLengths | None = None
    """New tokens per query where their number is the model's choice (natural-length generation, schema 1.3)."""
    serving: ServingSummary | None = None
    """A run through a server under load (schema 2.1); None for runs in the harness's own process."""
    workload_settings: FreeForm | None = None
    """Settings the workload took from the model where the task left them unset (image-gen: `height`, `width`,
    `guidance_scale` at the pipeline's defaults), as used (schema 1.2). Part of the workload identity."""
    repetitions: list[Repetition] = Field(min_length=1)
    timelines: list[Timeline] = Field(default_factory=list)
    warnings: list[RunWarning] = Field(default_factory=list)
    figures: Figures
    notes: list[str] = Field(default_factory=list)

    @field_validator("created_at", "started_at", "finished_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None or value.utcoffset().total_seconds() != 0:
            raise ValueError("timestamps must be UTC with an explicit offset (e.g. 2026-11-22T10:00:00Z)")
        return value

    @property
    def engine_name(self) -> str:
        """The engine that ran the model: recorded since schema 2.1, before it the task kind's default."""
        return self.engine.name if self.engine is not None else KINDS[self.task.kind].default_engine

    @property
    def hardware_class(self) -> str:
        """What the leaderboard groups by: the measured GPUs' names (e.g. `1x NVIDIA H100 80GB HBM3`, `1x AMD
        Instinct MI300X`), each with its vendor where the name lacks it (`hardware_name`), or `cpu`."""
        env = self.environment
        names = [hardware_name(g.name, gpu_vendor(g, env.meter_backend)) for g in env.gpus
                 if g.index in env.measured_gpu_indices]
        if not names:
            return "cpu"
        counts: dict[str, int] = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        return " + ".join(f"{n}x {name}" for name, n in sorted(counts.items()))

    @property
    def is_gpu_measured(self) -> bool:
        """True when the headline GPU figure was measured on real NVML hardware (not the fake, not CPU-only)."""
        return (is_real_gpu_backend(self.environment.meter_backend)
                and self.figures.gpu_energy_per_1k_queries_wh is not None)

