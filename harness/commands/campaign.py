"""`harness plan` (a campaign into jobs for a scheduler) and `harness collect` (job outputs into results/)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer

from harness.errors import ConfigError


class PlanFormat(str, Enum):
    jobs = "jobs"
    github_matrix = "github-matrix"
    slurm = "slurm"


def plan(
    campaign: Path = typer.Argument(..., help="Campaign file (configs/campaigns/*.yaml)."),
    format: PlanFormat = typer.Option(PlanFormat.jobs, "--format", "-f", help="What to emit."),
    results_dir: Path = typer.Option(Path("results"), help="Skip jobs whose valid result is already here."),
    out: Path | None = typer.Option(
        None, help="jobs / github-matrix: a JSON file (default: stdout). slurm: a folder (required)."),
    chunk_size: int = typer.Option(256, help="github-matrix: jobs per matrix (GitHub allows at most 256)."),
    github_output: Path | None = typer.Option(
        None, help="github-matrix: also append matrix=, chunks= and jobs= lines to this file ($GITHUB_OUTPUT)."),
    slurm_partition: str | None = typer.Option(None, help="slurm: #SBATCH --partition."),
    slurm_account: str | None = typer.Option(None, help="slurm: #SBATCH --account."),
    slurm_time: str | None = typer.Option(None, help="slurm: #SBATCH --time per job (e.g. 04:00:00)."),
    slurm_cpus_per_task: int | None = typer.Option(None, help="slurm: #SBATCH --cpus-per-task."),
    slurm_mem: str | None = typer.Option(None, help="slurm: #SBATCH --mem (e.g. 64G)."),
    slurm_constraint: str | None = typer.Option(None, help="slurm: #SBATCH --constraint (your site's GPU feature)."),
    slurm_max_parallel: int | None = typer.Option(None, help="slurm: at most this many array tasks at once."),
) -> None:
    """Expand a campaign into independent jobs, skip those with a valid result, and emit them for a scheduler."""
    from harness.errors import HarnessError
    from harness.files import append_text, check_appendable, new_output, write_json_atomic, write_text_atomic
    from harness.ops import campaigns, scheduler_outputs

    if out is not None and format is not PlanFormat.slurm:
        new_output(out)  # before planning: a plan is written to a new file, never over another
    if github_output is not None:
        check_appendable(github_output, "--github-output")
    planned = campaigns.plan(campaign, results_dir)
    if format is PlanFormat.slurm:
        if out is None:
            raise ConfigError("--format slurm needs --out FOLDER (the script reads its job list from beside it)")
        options = scheduler_outputs.SlurmOptions(
            partition=slurm_partition, account=slurm_account, time=slurm_time, cpus_per_task=slurm_cpus_per_task,
            mem=slurm_mem, constraint=slurm_constraint, max_parallel=slurm_max_parallel,
        )
        for path in scheduler_outputs.write_slurm(planned, out, options):
            typer.echo(str(path))
    else:
        document = (scheduler_outputs.github_matrix_chunks(planned.todo, chunk_size)
                    if format is PlanFormat.github_matrix else scheduler_outputs.jobs_document(planned))
        if out is None:
            sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        elif out.suffix == ".json":
            write_json_atomic(out, document)
        else:
            write_text_atomic(out, json.dumps(document, indent=2, sort_keys=True) + "\n")
        if format is PlanFormat.github_matrix and github_output is not None:
            try:  # all the lines or none of them; the plan file goes with them
                append_text(github_output, scheduler_outputs.github_output_lines(document))
            except HarnessError:
                if out is not None:
                    out.unlink(missing_ok=True)
                raise
    typer.echo(f"{campaign}: {campaigns.summary(planned)}", err=True)


def collect(
    sources: list[Path] = typer.Argument(..., help="Job output folders, result files or submission bundles."),
    results_dir: Path = typer.Option(Path("results"), help="Where collected result files are filed."),
    keep_going: bool = typer.Option(
        False, "--keep-going", help="Write the accepted files even when others are refused (still exits non-zero)."),
) -> None:
    """Check result files from job outputs and file the new ones under results/, refusing duplicates."""
    from harness.ops.collect import CollectRefused
    from harness.ops.collect import collect as collect_results

    try:
        report = collect_results(sources, results_dir, keep_going=keep_going)
    except CollectRefused as refused:
        for item in refused.report.refused:
            typer.echo(f"refused: {item.reason}", err=True)
        typer.echo(refused.report.summary(), err=True)
        raise
    for source, target in report.written:
        typer.echo(f"{source} -> {target}")
    typer.echo(report.summary(), err=True)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("collect")(collect)
