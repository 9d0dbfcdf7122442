"""Helpers for the campaign, collect and submission tests: campaign files and results that match a job."""

from __future__ import annotations

import textwrap
from pathlib import Path
from unittest import mock

import pytest

from harness.cli import main
from harness.ops.campaigns import Job
from harness.results.schema import ResultFile
from harness.results.store import default_result_path, write_result
from harness.tasks.resolution import ResolvedRun, resolve
from harness.testing.synthetic import make_result


class _Captured(Exception):
    """Raised by the stand-in for `execute` once it has the request the CLI built."""


def runner_resolution(job: Job) -> ResolvedRun:
    """What `harness run` resolves from this job's command line: parsed by the real CLI, resolved by the runner's
    own call, independently of the planner's `job.resolved` (so a drift between the two shows)."""
    requests = []

    def capture(request, reporter=None):
        requests.append(request)
        raise _Captured

    with mock.patch("harness.runner.execute", capture), pytest.raises(_Captured):
        main(["run", *job.run_args(), "--quiet"])
    return resolve(requests[0])


def _result_for_job(job: Job, *, gpu_name: str = "NVIDIA H100 80GB HBM3", seed: int = 0, **changes) -> ResultFile:
    """A synthetic, valid result recording what `harness run` would record for this job's command line.

    `changes` replace top-level sections' keys after the fact, e.g. `settings={"preset": None}`.
    """
    resolved = runner_resolution(job)
    spec = resolved.spec
    result = make_result(task=spec.id, model_id=job.model.id, gpu_name=gpu_name, seed=seed,
                         num_queries=spec.num_queries, repeats=resolved.repeats, task_version=spec.version,
                         batch_size=spec.batch_size)
    data = result.model_dump(mode="json")
    data["task"]["spec"] = spec.model_dump(mode="json")
    data["model"].update(revision=job.model.revision, random_weights=job.model.random_weights,
                         trust_remote_code=job.model.trust_remote_code, dtype=spec.dtype)
    data["settings"].update(preset=resolved.preset, warmup_queries=resolved.warmup_queries,
                            idle_seconds=resolved.idle_seconds, sample_hz=resolved.sample_hz,
                            overrides=resolved.overrides)
    for section, values in changes.items():
        if isinstance(values, dict):
            data[section].update(values)
        else:
            data[section] = values
    return ResultFile.model_validate(data)


def _file_result(results_dir: Path, result: ResultFile) -> Path:
    return write_result(result, default_result_path(results_dir, result))


@pytest.fixture
def result_for_job():
    """`result_for_job(job, gpu_name=..., seed=..., **section_changes) -> ResultFile` (see `_result_for_job`)."""
    return _result_for_job


@pytest.fixture
def file_result():
    """`file_result(results_dir, result) -> Path`: write a result where `harness run` would file it."""
    return _file_result


@pytest.fixture
def write_campaign(tmp_path):
    """Write a campaign YAML (dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "campaign.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
