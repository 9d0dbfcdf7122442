"""Jobs in the shapes schedulers take: GitHub Actions matrices, Slurm job arrays, a plain JSON job list.

GitHub refuses a matrix of more than 256 jobs, so jobs come in chunks; Slurm gets one `sbatch --array`
script per hardware class with one GPU per array task, and a JSON job list it reads its arguments from.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.files import canonical_json, write_new_files
from harness.ops.campaigns import Job, Plan

GITHUB_MATRIX_LIMIT = 256
"""GitHub Actions refuses a matrix of more than 256 jobs."""



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
    files: dict[Path, bytes] = {}
    scripts: set[Path] = set()
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
        files[script] = text.encode("utf-8")
        files[jobs_file] = json_line_indented({"campaign": plan_.campaign.name, "hardware": hardware,
                                               "jobs": [job.as_dict() for job in jobs]})
        scripts.add(script)
    # Every script with its job list, or nothing: a job list without its script (or the reverse) is never left.
    write_new_files(files, executable=frozenset(scripts))
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    return list(files)


def json_line_indented(data: Any) -> bytes:
    """JSON as `write_json_atomic` spells it: indented, sorted keys."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def jobs_document(plan_: Plan) -> list[dict[str, Any]]:
    """The `jobs` format: every job to run, in full."""
    return [job.as_dict() for job in plan_.todo]
