"""Campaigns: many (task, model, settings, hardware) runs, planned as independent jobs for an existing scheduler.

A campaign file (`configs/campaigns/*.yaml`) lists groups of tasks x models x settings x hardware. Planning
expands it into jobs, each keyed by the sha256 of a canonical JSON of what makes the measurement (task id and
version, model, revision, settings, hardware), so the same job has the same key on every machine and in
every re-plan. A job whose valid result already exists in a results folder is skipped; the match reads the
result files' JSON (task, resolved task spec, model, settings, measured GPUs), never their paths. Jobs are
emitted as a plain list, as GitHub Actions matrices (chunks of at most 256 jobs, GitHub's limit per matrix),
or as a Slurm `sbatch --array` script with one GPU per array task.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from harness.errors import ConfigError, HarnessError, validation_problem
from harness.files import canonical_json, read_yaml_mapping, recorded_model_id
from harness.kinds import StrictModel, is_real_gpu_backend
from harness.results.identity import result_planned_workload_key, workload_key
from harness.results.schema import ResultFile
from harness.results.store import iter_result_files, load_valid_result
from harness.tasks.resolution import ResolvedRun, SettingsRequest, resolve

log = logging.getLogger(__name__)

HARDWARE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
ANY_GPU = "gpu"
"""Hardware `gpu` accepts any NVIDIA GPU measured with NVML; `cpu` means a CPU-only run."""


Scalar = str | int | float | bool


SWEEPABLE = ("dtype", "num_queries", "batch_size", "repeats", "preset")
"""Settings a campaign (or a `harness run` sweep) may list several values for (and any key under `set`)."""

WHOLE_NUMBER_SETTINGS = ("num_queries", "batch_size", "repeats")
"""The sweepable settings that are counts (whole numbers, at least 1)."""

MAX_JOBS = 10_000
"""The most jobs a campaign (or points a `harness run` sweep) expands into: forty GitHub matrices of 256 and more
than a Slurm array takes. The count is made before any job is built, so a grid of millions is one line at once."""


def _sweep_values(name: str, value: Any) -> list[Any]:
    """The values of a setting: a list is a sweep (non-empty, no repeats), anything else one value."""
    if not isinstance(value, list):
        return [value]
    if not value:
        raise ValueError(f"{name}: a sweep needs at least one value")
    if len({canonical_json(v) for v in value}) != len(value):
        raise ValueError(f"{name}: a sweep lists a value twice ({value})")
    return value


class JobSettings(StrictModel):
    """`harness run` settings as the campaign file types them; None leaves the value to the task file or preset.

    A list is a sweep (`batch_size: [1, 8, 32]`, `set: {generation.num_inference_steps: [20, 50]}`): `grid()`
    expands the settings into one variant per combination of values.
    """

    dtype: str | list[str] | None = None
    num_queries: int | list[int] | None = None
    batch_size: int | list[int] | None = None
    repeats: int | list[int] | None = None
    preset: str | list[str] | None = None
    set: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)

    @field_validator(*WHOLE_NUMBER_SETTINGS)
    @classmethod
    def _at_least_one(cls, value: Any, info) -> Any:
        for item in _sweep_values(info.field_name, value):
            if item is not None and item < 1:
                raise ValueError(f"must be at least 1 (got {item})")
        return value

    @field_validator("dtype", "preset")
    @classmethod
    def _valid_sweep(cls, value: Any, info) -> Any:
        _sweep_values(info.field_name, value)
        return value

    @field_validator("set")
    @classmethod
    def _valid_set_sweeps(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            _sweep_values(f"set.{key}", item)
        return value

    def merged_over(self, base: JobSettings) -> JobSettings:
        """These settings where given, `base` elsewhere; `set` entries are merged key by key."""
        data = base.model_dump()
        for name in SWEEPABLE:
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        data["set"] = {**base.set, **self.set}
        return JobSettings.model_validate(data)

    def grid(self) -> list[JobSettings]:
        """One variant per combination of swept values, in file order (the last setting varies fastest)."""
        axes: list[tuple[str, list[Any]]] = [(name, _sweep_values(name, getattr(self, name))) for name in SWEEPABLE]
        axes += [(f"set.{key}", _sweep_values(key, value)) for key, value in self.set.items()]
        points = math.prod(len(values) for _, values in axes)
        if points > MAX_JOBS:
            sizes = " x ".join(str(len(values)) for _, values in axes if len(values) > 1)
            raise ConfigError(f"the settings sweep has {points} points ({sizes}), more than the {MAX_JOBS} accepted")
        variants = []
        for combination in itertools.product(*(values for _, values in axes)):
            data: dict[str, Any] = {"set": {}}
            for (name, _), value in zip(axes, combination):
                if name.startswith("set."):
                    data["set"][name.removeprefix("set.")] = value
                else:
                    data[name] = value
            variants.append(JobSettings.model_validate(data))
        return variants


class ModelEntry(StrictModel):
    """A model as `harness run --model` takes it: a hub id or a local folder (e.g. `configs/models/<name>`)."""

    id: str = Field(min_length=1)
    revision: str | None = None
    random_weights: bool = False
    trust_remote_code: bool = False


class Group(StrictModel):
    """Every task here runs with every model, every settings variant and every hardware class."""

    tasks: list[str] = Field(min_length=1)
    models: list[str | ModelEntry] = Field(min_length=1)
    settings: list[JobSettings] | None = None
    hardware: list[str] | None = None

    @field_validator("models")
    @classmethod
    def _entries(cls, models: list) -> list:
        return [ModelEntry(id=m) if isinstance(m, str) else m for m in models]


class Campaign(StrictModel):
    """A campaign file: defaults for every job, then groups of tasks x models x settings x hardware."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
    description: str = ""
    hardware: list[str] = Field(min_length=1)
    defaults: JobSettings = JobSettings()
    groups: list[Group] = Field(min_length=1)

    @field_validator("hardware")
    @classmethod
    def _hardware(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.match(HARDWARE_PATTERN, value):
                raise ValueError(f"hardware {value!r} must be a lower-case GPU class such as 'h100', or 'cpu'")
        return values


def load_campaign(path: Path) -> Campaign:
    """Read and validate a campaign file; every mistake is one line naming the file (ConfigError, NotFoundError)."""
    path = Path(path)
    data = read_yaml_mapping(path)  # one-line errors; duplicate keys refused
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: {validation_problem(error)}") from None
    for group in campaign.groups:
        for hardware in group.hardware or ():
            if not re.match(HARDWARE_PATTERN, hardware):
                raise ConfigError(f"{path}: hardware {hardware!r} must be a lower-case GPU class such as 'h100'")
    return campaign


def _setting_text(value: Scalar) -> str:
    """A `--set` value as the command line writes it (booleans in YAML spelling)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def device_for(hardware: str) -> str:
    """The `--device` a job on this hardware class runs with."""
    return "cpu" if hardware == "cpu" else "cuda"


def request_fields(settings: JobSettings) -> dict[str, Any]:
    """The `SettingsRequest` fields one grid point sets (None leaves a value to the task file or preset); `harness
    run` sweeps build their requests from it too."""
    return {**{name: getattr(settings, name) for name in SWEEPABLE},
            "overrides": {key: _setting_text(value) for key, value in settings.set.items()}}


def settings_request(task: str, settings: JobSettings, hardware: str) -> SettingsRequest:
    """The request `harness run` receives from this job's command line (see `Job.run_args`)."""
    return SettingsRequest(task=task, device=device_for(hardware), **request_fields(settings))


@dataclass(frozen=True)
class Job:
    """One `harness run`: independent of every other job, and identified by `key` alone.

    `settings` are kept as the campaign typed them (they make the command line); `resolved` is what the run
    will do, from the same resolution `harness run` uses, and is what the key and result matching compare.
    """

    task: str
    model: ModelEntry
    settings: JobSettings
    hardware: str
    resolved: ResolvedRun = field(compare=False, repr=False)

    @property
    def task_id(self) -> str:
        return self.resolved.spec.id

    @property
    def task_version(self) -> str:
        return self.resolved.spec.version

    @property
    def device(self) -> str:
        return device_for(self.hardware)

    @property
    def repeats(self) -> int:
        return self.resolved.repeats

    @property
    def workload_key(self) -> str:
        return workload_key(self.resolved.spec)

    def identity(self) -> dict[str, Any]:
        """What makes the measurement, and nothing else: the input of the job key.

        Built from the resolved run, never from how the campaign typed it: `num_queries: 1000` and the task's
        default of 1000 are one job.
        """
        return {
            "task": self.task_id, "task_version": self.task_version, "workload": self.workload_key,
            "model": self.model.id, "revision": self.model.revision, "random_weights": self.model.random_weights,
            "trust_remote_code": self.model.trust_remote_code, "protocol": protocol(self.resolved),
            "hardware": self.hardware,
        }

    @property
    def key(self) -> str:
        """sha256 (hex) of the canonical JSON of `identity()`: stable across machines and re-plans."""
        return hashlib.sha256(canonical_json(self.identity()).encode("utf-8")).hexdigest()

    @property
    def short_key(self) -> str:
        """The first 16 hex digits: names of job folders and artifacts."""
        return self.key[:16]

    @property
    def name(self) -> str:
        return f"{self.task_id} {self.model.id} {self.hardware}"

    def run_args(self) -> list[str]:
        """Arguments of `harness run` (without the program and subcommand names, and without `--output`)."""
        args = ["--task", self.task, "--model", self.model.id, "--device", self.device,
                "--repeats", str(self.repeats)]
        if self.model.revision is not None:
            args += ["--revision", self.model.revision]
        if self.settings.dtype is not None:
            args += ["--dtype", self.settings.dtype]
        if self.settings.num_queries is not None:
            args += ["--num-queries", str(self.settings.num_queries)]
        if self.settings.batch_size is not None:
            args += ["--batch-size", str(self.settings.batch_size)]
        if self.settings.preset is not None:
            args += ["--preset", self.settings.preset]
        for key, value in sorted(self.settings.set.items()):
            args += ["--set", f"{key}={_setting_text(value)}"]
        if self.model.random_weights:
            args.append("--random-weights")
        if self.model.trust_remote_code:
            args.append("--trust-remote-code")
        return args

    def as_dict(self) -> dict[str, Any]:
        """The job as the `jobs` format and the Slurm job list write it."""
        return {
            "key": self.key, "short_key": self.short_key, "name": self.name, "task": self.task,
            "task_id": self.task_id, "task_version": self.task_version, "model": self.model.id,
            "revision": self.model.revision, "hardware": self.hardware, "identity": self.identity(),
            "argv": ["run", *self.run_args()], "command": shlex.join(["harness", "run", *self.run_args()]),
        }


def protocol(resolved: ResolvedRun) -> dict[str, Any]:
    """How the run measures around the workload: repetitions, warm-up and idle baseline (part of a job's identity)."""
    return {"repeats": resolved.repeats, "warmup_queries": resolved.warmup_queries,
            "idle_seconds": resolved.idle_seconds}


def expand(campaign: Campaign, source: str = "campaign") -> list[Job]:
    """Every job of the campaign, in file order, each once (a job listed twice is planned once).

    Each settings variant is merged over the defaults, then its sweeps expand into one job per point.
    """
    jobs: dict[str, Job] = {}
    resolved: dict[str, ResolvedRun] = {}
    files: dict = {}  # task and preset files, each read once
    total = 0
    for number, group in enumerate(campaign.groups):
        variants = group.settings or [JobSettings()]
        try:
            points = [point for variant in variants for point in variant.merged_over(campaign.defaults).grid()]
        except ConfigError as error:
            raise ConfigError(f"{source}: groups.{number}: {error}") from None
        total += len(points) * len(group.tasks) * len(group.models) * len(group.hardware or campaign.hardware)
        if total > MAX_JOBS:
            raise ConfigError(f"{source}: the campaign expands into more than {MAX_JOBS} jobs (groups.{number} "
                              f"brings the count to {total}); split it into smaller campaigns")
        for task in group.tasks:
            for model in group.models:
                for settings in points:
                    for hardware in group.hardware or campaign.hardware:
                        request = settings_request(task, settings, hardware)
                        cache_key = canonical_json([task, settings.model_dump(), request.device])
                        if cache_key not in resolved:
                            try:
                                resolved[cache_key] = resolve(request, files)
                            except HarnessError as error:
                                raise type(error)(f"{source}: groups.{number} task {task!r}: {error}") from None
                        job = Job(task, model, settings, hardware, resolved[cache_key])
                        jobs.setdefault(job.key, job)
    return list(jobs.values())


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^0-9a-z]+", text.lower()) if t]


def hardware_matches(hardware: str, result: ResultFile) -> bool:
    """Whether the result was measured on the hardware class: `cpu`, `gpu` (any), or tokens of the GPU names.

    `h100` matches `NVIDIA H100 80GB HBM3` (a whole token, so `a10` does not match `A100`); `h100-80gb`
    needs both tokens. GPU classes need NVML on real hardware, so a fake-meter result never satisfies a job.
    """
    if hardware == "cpu":
        return result.hardware_class == "cpu"
    env = result.environment
    if not is_real_gpu_backend(env.meter_backend) or not env.measured_gpu_indices:
        return False
    if hardware == ANY_GPU:
        return True
    wanted = _tokens(hardware)
    names = [g.name for g in env.gpus if g.index in env.measured_gpu_indices]
    return bool(names) and all(set(wanted) <= set(_tokens(name)) for name in names)


def model_key(model_id: str) -> str:
    """The model as a lookup key: the id a run of it records (`harness.files.recorded_model_id`: a local folder by
    the hub id its config names, else its folder's name), so a job naming a folder finds the results of it."""
    try:
        return recorded_model_id(model_id)
    except OSError:
        return model_id


def result_satisfies(job: Job, result: ResultFile, *, result_workload: str | None = None) -> bool:
    """Whether a (valid) result is this job's measurement, read from the result's JSON alone.

    The workload is compared by `harness.results.identity` (never by how either side typed its settings),
    the protocol by its resolved values. `result_workload` is the result's workload key when the caller
    has it already (planning compares every job with every result of its task).
    """
    model = result.model
    if (result.task.id, result.task.version) != (job.task_id, job.task_version):
        return False
    if job.model.id != model.id and model_key(job.model.id) != model.id:
        return False
    if job.model.revision is not None and model.revision != job.model.revision:
        return False
    if (model.random_weights, model.trust_remote_code) != (job.model.random_weights, job.model.trust_remote_code):
        return False
    settings = result.settings
    measured = {"repeats": settings.repeats, "warmup_queries": settings.warmup_queries,
                "idle_seconds": settings.idle_seconds}
    if measured != protocol(job.resolved):
        return False
    if (result_workload or result_planned_workload_key(result)) != job.workload_key:
        return False
    return hardware_matches(job.hardware, result)


@dataclass
class Plan:
    """Jobs to run, jobs already done (with the result that satisfies each), and unreadable result files."""

    campaign: Campaign
    todo: list[Job]
    done: list[tuple[Job, Path]]
    invalid_results: list[str]


def existing_results(results_dir: Path | None) -> tuple[list[tuple[Path, ResultFile]], list[str]]:
    """Valid results under `results_dir` (schema and plausibility) and one line per file that is not."""
    if results_dir is None or not Path(results_dir).exists():
        return [], []
    valid, invalid = [], []
    for path in iter_result_files(Path(results_dir)):
        try:
            loaded = load_valid_result(path)
        except HarnessError as error:
            log.warning("ignoring result file: %s", error)
            invalid.append(str(error))
            continue
        valid.append((path, loaded.result))
    return valid, invalid


def plan(campaign_path: Path, results_dir: Path | None = None) -> Plan:
    """Expand a campaign file and set aside the jobs whose valid result exists under `results_dir`."""
    campaign = load_campaign(campaign_path)
    jobs = expand(campaign, str(campaign_path))
    results, invalid = existing_results(results_dir)
    # Index by (task, version, model) so each job is compared with its own candidates only.
    index: dict[tuple[str, str, str], list[tuple[Path, ResultFile, str]]] = {}
    for path, result in results:
        key = (result.task.id, result.task.version, result.model.id)  # already the id a run records
        index.setdefault(key, []).append((path, result, result_planned_workload_key(result)))
    todo, done = [], []
    for job in jobs:
        candidates = index.get((job.task_id, job.task_version, model_key(job.model.id)), [])
        match = next((path for path, result, workload in candidates
                      if result_satisfies(job, result, result_workload=workload)), None)
        if match is None:
            todo.append(job)
        else:
            done.append((job, match))
    return Plan(campaign, todo, done, invalid)


def summary(plan_: Plan) -> str:
    """One line for the person planning."""
    line = f"{len(plan_.todo)} jobs to run, {len(plan_.done)} already have a valid result"
    if plan_.invalid_results:
        line += f" ({len(plan_.invalid_results)} invalid result files ignored)"
    return line
