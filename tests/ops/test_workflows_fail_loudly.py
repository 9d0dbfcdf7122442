"""GPU CI that fails loudly, and the packaging workflows: read from the workflow files themselves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def _workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_every_run_step_of_every_workflow_uses_pipefail():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = _workflow(path.name)
        default = workflow.get("defaults", {}).get("run", {}).get("shell", "")
        for step in _steps(workflow):
            if "run" in step:
                shell = step.get("shell", default)
                assert "pipefail" in shell or step["run"].strip().startswith("bash .ci/"), (path.name, step)


def test_gpu_benchmarks_have_no_schedule_and_pass_hf_token():
    main = _workflow("gpu-benchmarks.yml")
    assert "schedule" not in main["on"]
    assert main["jobs"]["run"]["secrets"] == {"HF_TOKEN": "${{ secrets.HF_TOKEN }}"}
    chunk = _workflow("gpu-run-chunk.yml")
    assert chunk["on"]["workflow_call"]["secrets"]["HF_TOKEN"]["required"] is False
    bench = next(s for s in _steps(chunk) if s.get("name") == "Benchmark")
    assert bench["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}" and "| tee" in bench["run"]


def test_publish_rebases_before_it_pushes_with_full_history():
    publish = _workflow("gpu-benchmarks.yml")["jobs"]["publish"]
    checkout = publish["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    commit = next(s for s in publish["steps"] if s.get("name") == "Commit new results")["run"]
    assert commit.index("git pull --rebase") < commit.index("git push")


def test_hosted_jobs_install_light_without_torch():
    main = _workflow("gpu-benchmarks.yml")
    for job in ("plan", "publish"):
        installs = [s["run"] for s in main["jobs"][job]["steps"] if s.get("name", "").startswith("Install")]
        assert installs and all("requirements-cpu.txt" not in run and "[run]" not in run for run in installs)


def test_packaging_workflows_run_the_checks():
    package = _workflow("package.yml")
    runs = [s.get("run", "") for s in _steps(package)]
    assert "bash .ci/wheel-check" in runs
    assert [s.get("run") for s in _steps(_workflow("ci.yml")) if "run" in s] == ["bash .ci/run"]
    assert "bash .ci/lint" in (REPO / ".ci" / "run").read_text().splitlines()
    lint = (REPO / ".ci" / "lint").read_text()
    assert all(f'"$bin/{tool}"' in lint for tool in ("ruff", "actionlint", "hadolint", "shellcheck"))
    assert "gpu" in yaml.safe_load((REPO / ".github" / "actionlint.yaml").read_text())["self-hosted-runner"]["labels"]
    lowest = _workflow("lowest-versions.yml")
    assert [s.get("run") for s in _steps(lowest) if "run" in s] == ["bash .ci/lowest-versions"]
    docker = _workflow("docker.yml")
    build = next(s for s in _steps(docker) if s.get("name") == "Build")["run"]
    assert "HARNESS_BUILD_COMMIT" in build and "SETUPTOOLS_SCM_PRETEND_VERSION" in build


def _linter(name: str) -> str:
    """A linter of the test extra, next to this Python (CI must have it; elsewhere the test is skipped)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed: the test extra pins it (see pyproject.toml)")
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_actionlint_knows_the_gpu_label_and_still_catches_unknown_ones(tmp_path):
    """`.ci/lint` runs actionlint with the repository's config; a label it does not declare is still an error."""
    actionlint = _linter("actionlint")
    (tmp_path / ".git").mkdir()  # actionlint looks for the project root
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "actionlint.yaml").write_text((REPO / ".github" / "actionlint.yaml").read_text())
    workflow = tmp_path / ".github" / "workflows" / "w.yml"
    job = "jobs:\n  run:\n    runs-on: [self-hosted, {label}]\n    steps:\n      - run: echo hello\n"
    workflow.write_text("on: push\n" + job.format(label="gpu"))
    lint = [actionlint, "-color=false", "-shellcheck=", "-pyflakes="]
    assert subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True).returncode == 0
    workflow.write_text("on: push\n" + job.format(label="tpu"))
    found = subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True)
    assert found.returncode != 0 and "tpu" in found.stdout


def test_hadolint_passes_the_dockerfile_and_catches_a_bad_one(tmp_path):
    hadolint = _linter("hadolint")
    assert subprocess.run([hadolint, str(REPO / "docker" / "Dockerfile")], capture_output=True).returncode == 0
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install curl\n")
    found = subprocess.run([hadolint, str(bad)], capture_output=True, text=True)
    assert found.returncode != 0 and "DL3007" in found.stdout  # `latest` is not a pinned image
