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
import json
import logging
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import ConfigError, HarnessError
from harness.files import write_json_atomic, write_text_atomic
from harness.results.schema import ResultFile
from harness.results.store import iter_result_files, load_valid_result

log = logging.getLogger(__name__)

GITHUB_MATRIX_LIMIT = 256
"""GitHub Actions refuses a matrix of more than 256 jobs."""

DEFAULT_REPEATS_GPU = 3
DEFAULT_REPEATS_CPU = 1

HARDWARE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
ANY_GPU = "gpu"
"""Hardware `gpu` accepts any NVIDIA GPU measured with NVML; `cpu` means a CPU-only run."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = str | int | float | bool


class JobSettings(_Strict):
    """`harness run` settings; None leaves the value to the task file or preset (repeats: 3 on GPU, 1 on CPU)."""

    dtype: str | None = None
    num_queries: int | None = Field(default=None, ge=1)
    batch_size: int | None = Field(default=None, ge=1)
    repeats: int | None = Field(default=None, ge=1)
    preset: str | None = None
    set: dict[str, Scalar] = Field(default_factory=dict)

    def merged_over(self, base: JobSettings) -> JobSettings:
        """These settings where given, `base` elsewhere; `set` entries are merged key by key."""
        data = base.model_dump()
        for name in ("dtype", "num_queries", "batch_size", "repeats", "preset"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        data["set"] = {**base.set, **self.set}
        return JobSettings.model_validate(data)


class ModelEntry(_Strict):
    """A model as `harness run --model` takes it: a hub id or a local folder (e.g. `configs/models/<name>`)."""

    id: str = Field(min_length=1)
    revision: str | None = None
    random_weights: bool = False
    trust_remote_code: bool = False


class Group(_Strict):
    """Every task here runs with every model, every settings variant and every hardware class."""

    tasks: list[str] = Field(min_length=1)
    models: list[str | ModelEntry] = Field(min_length=1)
    settings: list[JobSettings] | None = None
    hardware: list[str] | None = None

    @field_validator("models")
    @classmethod
    def _entries(cls, models: list) -> list:
        return [ModelEntry(id=m) if isinstance(m, str) else m for m in models]


class Campaign(_Strict):
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
    from harness.task_spec import read_yaml_mapping

    path = Path(path)
    data = read_yaml_mapping(path)  # one-line errors; duplicate keys refused
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    for group in campaign.groups:
        for hardware in group.hardware or ():
            if not re.match(HARDWARE_PATTERN, hardware):
                raise ConfigError(f"{path}: hardware {hardware!r} must be a lower-case GPU class such as 'h100'")
    return campaign


def canonical_json(data: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept (the basis of job keys)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _setting_text(value: Scalar) -> str:
    """A `--set` value as the command line writes it (booleans in YAML spelling)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Job:
    """One `harness run`: independent of every other job, and identified by `key` alone."""

    task: str
    task_id: str
    task_version: str
    model: ModelEntry
    settings: JobSettings
    hardware: str
    resolved_spec: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    preset_repeats: int | None = field(default=None, compare=False, repr=False)

    @property
    def device(self) -> str:
        return "cpu" if self.hardware == "cpu" else "cuda"

    @property
    def repeats(self) -> int:
        """Repetitions as `harness run` would choose them: settings, then preset, then 3 on GPU (1 on CPU)."""
        if self.settings.repeats is not None:
            return self.settings.repeats
        if self.preset_repeats is not None:
            return self.preset_repeats
        return DEFAULT_REPEATS_CPU if self.hardware == "cpu" else DEFAULT_REPEATS_GPU

    def identity(self) -> dict[str, Any]:
        """What makes the measurement, and nothing else: the input of the job key."""
        settings = {k: v for k, v in self.settings.model_dump().items() if v is not None and v != {}}
        settings["set"] = {k: _setting_text(v) for k, v in sorted(self.settings.set.items())}
        settings["repeats"] = self.repeats
        settings["random_weights"] = self.model.random_weights
        settings["trust_remote_code"] = self.model.trust_remote_code
        return {
            "task": self.task_id, "task_version": self.task_version, "model": self.model.id,
            "revision": self.model.revision, "settings": settings, "hardware": self.hardware,
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


def _resolve_task(task: str, settings: JobSettings) -> tuple[str, str, dict[str, Any], int | None]:
    """Task id, version, the spec `harness run` would resolve (task file < preset < settings), preset repeats."""
    from harness.presets import load_preset
    from harness.task_spec import apply_overrides, load_task

    spec = load_task(task)
    overrides: dict[str, str] = {}
    preset_repeats = None
    if settings.preset is not None:
        preset = load_preset(settings.preset)
        preset_repeats = getattr(preset, "repeats", None)
        overrides.update({k: str(v) for k, v in (preset.set or {}).items()})
        for name in ("num_queries", "batch_size", "dtype"):
            if getattr(preset, name, None) is not None:
                overrides[name] = str(getattr(preset, name))
    overrides.update({k: _setting_text(v) for k, v in settings.set.items()})
    for name in ("num_queries", "batch_size", "dtype"):
        if getattr(settings, name) is not None:
            overrides[name] = str(getattr(settings, name))
    resolved = apply_overrides(spec, overrides)
    return spec.id, spec.version, resolved.model_dump(mode="json"), preset_repeats


def expand(campaign: Campaign, source: str = "campaign") -> list[Job]:
    """Every job of the campaign, in file order, each once (a job listed twice is planned once)."""
    jobs: dict[str, Job] = {}
    resolved: dict[str, tuple[str, str, dict[str, Any], int | None]] = {}
    for number, group in enumerate(campaign.groups):
        variants = group.settings or [JobSettings()]
        for task in group.tasks:
            for model in group.models:
                for variant in variants:
                    settings = variant.merged_over(campaign.defaults)
                    cache_key = canonical_json([task, settings.model_dump()])
                    if cache_key not in resolved:
                        try:
                            resolved[cache_key] = _resolve_task(task, settings)
                        except HarnessError as error:
                            raise type(error)(f"{source}: groups.{number} task {task!r}: {error}") from None
                    task_id, version, spec, preset_repeats = resolved[cache_key]
                    for hardware in group.hardware or campaign.hardware:
                        job = Job(task, task_id, version, model, settings, hardware, spec, preset_repeats)
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
    if env.meter_backend != "nvml" or not env.measured_gpu_indices:
        return False
    if hardware == ANY_GPU:
        return True
    wanted = _tokens(hardware)
    names = [g.name for g in env.gpus if g.index in env.measured_gpu_indices]
    return bool(names) and all(set(wanted) <= set(_tokens(name)) for name in names)


def model_key(model_id: str) -> str:
    """The model as a lookup key: a local folder by its resolved path (so `./m` and `/abs/m` agree), else the id."""
    path = Path(model_id)
    try:
        return str(path.resolve()) if path.exists() else model_id
    except OSError:
        return model_id


def result_satisfies(job: Job, result: ResultFile, *, spec_json: str | None = None) -> bool:
    """Whether a (valid) result is this job's measurement, read from the result's JSON alone.

    `spec_json` is `canonical_json(result.task.spec)` when the caller has it already (planning compares
    every job with every result of its task).
    """
    model = result.model
    if (result.task.id, result.task.version) != (job.task_id, job.task_version):
        return False
    if job.model.id != model.id and model_key(job.model.id) != model_key(model.id):
        return False
    if job.model.revision is not None and model.revision != job.model.revision:
        return False
    if (model.random_weights, model.trust_remote_code) != (job.model.random_weights, job.model.trust_remote_code):
        return False
    if result.settings.repeats != job.repeats or result.settings.preset != job.settings.preset:
        return False
    if job.resolved_spec is not None:
        spec_json = spec_json if spec_json is not None else canonical_json(result.task.spec)
        if spec_json != canonical_json(job.resolved_spec):
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
        key = (result.task.id, result.task.version, model_key(result.model.id))
        index.setdefault(key, []).append((path, result, canonical_json(result.task.spec)))
    todo, done = [], []
    for job in jobs:
        candidates = index.get((job.task_id, job.task_version, model_key(job.model.id)), [])
        match = next((path for path, result, spec_json in candidates
                      if result_satisfies(job, result, spec_json=spec_json)), None)
        if match is None:
            todo.append(job)
        else:
            done.append((job, match))
    return Plan(campaign, todo, done, invalid)


# --- formats -------------------------------------------------------------------------------------------------

def github_matrix_chunks(jobs: Sequence[Job], chunk_size: int = GITHUB_MATRIX_LIMIT) -> list[dict[str, Any]]:
    """Matrices of at most `chunk_size` jobs (`{"include": [...]}` each), for `strategy.matrix`.

    Each entry holds what a workflow step needs: `args` is the shell-quoted argument string of `harness run`.
    """
    if not 1 <= chunk_size <= GITHUB_MATRIX_LIMIT:
        raise ConfigError(f"chunk size must be between 1 and {GITHUB_MATRIX_LIMIT} (got {chunk_size})")
    entries = [
        {"key": job.short_key, "name": job.name, "task": job.task_id, "model": job.model.id,
         "hardware": job.hardware, "args": shlex.join(job.run_args())}
        for job in jobs
    ]
    return [{"include": entries[i : i + chunk_size]} for i in range(0, len(entries), chunk_size)]


def github_output_lines(chunks: list[dict[str, Any]]) -> str:
    """`name=value` lines for `$GITHUB_OUTPUT`: the chunks, their indices, and the number of jobs."""
    total = sum(len(chunk["include"]) for chunk in chunks)
    return (f"matrix={canonical_json(chunks)}\n"
            f"chunks={canonical_json(list(range(len(chunks))))}\n"
            f"jobs={total}\n")


SLURM_TEMPLATE = """\
#!/usr/bin/env bash
# Campaign {campaign} on {hardware}: {count} independent jobs, one GPU each. Made by `harness plan`.
# Submit with:  sbatch {script_name}
# Each array task runs `harness run` for one job of {jobs_name} and writes into its own folder under
# $HARNESS_OUTPUT_ROOT; gather the results afterwards with:  harness collect {output_root}
#SBATCH --job-name={job_name}
#SBATCH --array=0-{last_index}{throttle}
#SBATCH --gpus=1
#SBATCH --ntasks=1
#SBATCH --output={log_dir}/%x-%A_%a.log
{extra_directives}
set -euo pipefail

cd "${{HARNESS_WORKDIR:-{workdir}}}"  # where the campaign was planned: relative model and task paths start here
JOBS_FILE="${{HARNESS_JOBS_FILE:-{jobs_file}}}"
OUTPUT_ROOT="${{HARNESS_OUTPUT_ROOT:-{output_root}}}"
HARNESS="${{HARNESS:-harness}}"
PYTHON="${{PYTHON:-python3}}"
INDEX="${{SLURM_ARRAY_TASK_ID:?run this script with sbatch (it is a job array)}}"

# The job's key, then its `harness run` arguments, NUL-separated (no word splitting, no quoting games).
mapfile -d '' -t FIELDS < <("$PYTHON" -c '
import json, sys
job = json.load(open(sys.argv[1], encoding="utf-8"))["jobs"][int(sys.argv[2])]
sys.stdout.write("\\0".join([job["key"], *job["argv"][1:]]) + "\\0")
'  "$JOBS_FILE" "$INDEX")
if [ "${{#FIELDS[@]}}" -lt 2 ]; then
  echo "error: no job $INDEX in $JOBS_FILE" >&2
  exit 2
fi
KEY="${{FIELDS[0]}}"
JOB_DIR="$OUTPUT_ROOT/${{KEY:0:16}}"
mkdir -p "$JOB_DIR"

if find "$JOB_DIR" -name '*.json' -print -quit | grep -q .; then
  echo "job $KEY already has a result in $JOB_DIR; nothing to do"
  exit 0
fi

echo "job $INDEX ($KEY) on $(hostname), GPU ${{CUDA_VISIBLE_DEVICES:-?}}"
"$HARNESS" run "${{FIELDS[@]:1}}" --output "$JOB_DIR" 2>&1 | tee "$JOB_DIR/run.log"
"""


@dataclass(frozen=True)
class SlurmOptions:
    """Site settings for the generated script; each becomes one `#SBATCH` line when given."""

    partition: str | None = None
    account: str | None = None
    time: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    constraint: str | None = None
    max_parallel: int | None = None


def _safe_directive(value: str, what: str) -> str:
    if not re.match(r"^[A-Za-z0-9_.:,&|=+/@%-]+$", value):
        raise ConfigError(f"{what} {value!r} cannot go on an #SBATCH line (spaces or special characters)")
    return value


def write_slurm(plan_: Plan, out_dir: Path, options: SlurmOptions = SlurmOptions()) -> list[Path]:
    """One `sbatch --array` script and its JSON job list per hardware class, written into `out_dir`.

    Paths inside the script are absolute (Slurm runs a copy of the script from its spool folder): the job
    list, the output root, and the working folder (the current one, where relative model paths start).
    `HARNESS_JOBS_FILE`, `HARNESS_OUTPUT_ROOT`, `HARNESS_WORKDIR`, `HARNESS` and `PYTHON` override them.
    """
    out_dir = Path(out_dir).resolve()
    workdir = Path.cwd().resolve()
    for path in (out_dir, out_dir / "logs", out_dir / "outputs", workdir):
        _safe_directive(str(path), "folder")
    written: list[Path] = []
    by_hardware: dict[str, list[Job]] = {}
    for job in plan_.todo:
        by_hardware.setdefault(job.hardware, []).append(job)
    for hardware, jobs in by_hardware.items():
        stem = f"{plan_.campaign.name}-{hardware}"
        jobs_file = out_dir / f"{stem}.jobs.json"
        script = out_dir / f"{stem}.sbatch"
        directives = []
        for flag, value in (("partition", options.partition), ("account", options.account),
                            ("time", options.time), ("mem", options.mem), ("constraint", options.constraint)):
            if value is not None:
                directives.append(f"#SBATCH --{flag}={_safe_directive(value, '--slurm-' + flag)}")
        if options.cpus_per_task is not None:
            directives.append(f"#SBATCH --cpus-per-task={int(options.cpus_per_task)}")
        throttle = f"%{int(options.max_parallel)}" if options.max_parallel else ""
        text = SLURM_TEMPLATE.format(
            campaign=plan_.campaign.name, hardware=hardware, count=len(jobs), script_name=script.name,
            jobs_name=jobs_file.name, job_name=f"harness-{stem}"[:64], last_index=len(jobs) - 1,
            throttle=throttle, log_dir=out_dir / "logs", extra_directives="\n".join(directives),
            jobs_file=out_dir / jobs_file.name, output_root=out_dir / "outputs", workdir=workdir,
        ).replace("\n\nset -euo", "\nset -euo")
        (out_dir / "logs").mkdir(parents=True, exist_ok=True)
        write_json_atomic(jobs_file, {"campaign": plan_.campaign.name, "hardware": hardware,
                                      "jobs": [job.as_dict() for job in jobs]})
        write_text_atomic(script, text)
        script.chmod(0o755)
        written += [script, jobs_file]
    return written


def jobs_document(plan_: Plan) -> list[dict[str, Any]]:
    """The `jobs` format: every job to run, in full."""
    return [job.as_dict() for job in plan_.todo]


def summary(plan_: Plan) -> str:
    """One line for the person planning."""
    line = f"{len(plan_.todo)} jobs to run, {len(plan_.done)} already have a valid result"
    if plan_.invalid_results:
        line += f" ({len(plan_.invalid_results)} invalid result files ignored)"
    return line
