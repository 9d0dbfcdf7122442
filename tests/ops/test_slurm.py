"""The generated Slurm array scripts: valid bash, one GPU per task, and each task runs exactly its job."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.ops import campaigns, scheduler_outputs

CAMPAIGN = """\
name: arr
hardware: [h100, a100]
defaults: {repeats: 2}
groups:
  - tasks: [text-gen]
    models: [org/a, "org/with space", {id: org/b, random_weights: true}]
    settings: [{}, {batch_size: 4, set: {generation.max_new_tokens: 20}}]
"""


@pytest.fixture
def slurm_dir(write_campaign, tmp_path):
    planned = campaigns.plan(write_campaign(CAMPAIGN))
    out = tmp_path / "slurm"
    options = scheduler_outputs.SlurmOptions(partition="gpu", time="04:00:00", max_parallel=4)
    written = scheduler_outputs.write_slurm(planned, out, options)
    return planned, out, written


def test_one_script_and_job_list_per_hardware(slurm_dir):
    planned, out, written = slurm_dir
    assert sorted(p.name for p in written) == ["arr-a100.jobs.json", "arr-a100.sbatch",
                                               "arr-h100.jobs.json", "arr-h100.sbatch"]
    for hardware in ("h100", "a100"):
        script = (out / f"arr-{hardware}.sbatch").read_text()
        jobs = json.loads((out / f"arr-{hardware}.jobs.json").read_text())["jobs"]
        assert len(jobs) == 6
        assert {job["hardware"] for job in jobs} == {hardware}
        assert "#SBATCH --array=0-5%4\n" in script
        assert "#SBATCH --gpus=1\n" in script
        assert "#SBATCH --partition=gpu\n" in script and "#SBATCH --time=04:00:00\n" in script
        assert str(out / f"arr-{hardware}.jobs.json") in script
        assert os.access(out / f"arr-{hardware}.sbatch", os.X_OK)
    assert (out / "logs").is_dir()


def test_scripts_pass_bash_n_and_shellcheck(slurm_dir):
    _, out, _ = slurm_dir
    for script in out.glob("*.sbatch"):
        subprocess.run(["bash", "-n", str(script)], check=True)
        shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
        if Path(shellcheck).exists():
            done = subprocess.run([shellcheck, "--severity=warning", str(script)], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout


def _recording_harness(tmp_path: Path) -> Path:
    """An executable that stands in for `harness` and records its arguments, one per line."""
    fake = tmp_path / "bin" / "harness"
    fake.parent.mkdir()
    fake.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        printf '%s\\n' "$@" > {tmp_path}/argv.txt
        out=""
        while [ $# -gt 0 ]; do [ "$1" = --output ] && out="$2"; shift; done
        echo '{{}}' > "$out/result.json"
        """))
    fake.chmod(0o755)
    return fake


def test_array_task_runs_its_own_job(slurm_dir, tmp_path):
    _, out, _ = slurm_dir
    fake = _recording_harness(tmp_path)
    jobs = json.loads((out / "arr-h100.jobs.json").read_text())["jobs"]
    env = {**os.environ, "HARNESS": str(fake), "PYTHON": sys.executable}
    for index in (0, 1, 5):
        done = subprocess.run(["bash", str(out / "arr-h100.sbatch")], env={**env, "SLURM_ARRAY_TASK_ID": str(index)},
                              capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        argv = (tmp_path / "argv.txt").read_text().splitlines()
        job_dir = out / "outputs" / jobs[index]["short_key"]
        assert argv == [*jobs[index]["argv"], "--output", str(job_dir)]
        assert (job_dir / "result.json").exists() and (job_dir / "run.log").exists()
    # Spaces in a model id survive as one argument.
    assert any("org/with space" in job["argv"] for job in jobs)


def test_array_task_with_a_result_does_nothing(slurm_dir, tmp_path):
    _, out, _ = slurm_dir
    fake = _recording_harness(tmp_path)
    env = {**os.environ, "HARNESS": str(fake), "PYTHON": sys.executable, "SLURM_ARRAY_TASK_ID": "2"}
    subprocess.run(["bash", str(out / "arr-h100.sbatch")], env=env, check=True, capture_output=True)
    (tmp_path / "argv.txt").unlink()
    again = subprocess.run(["bash", str(out / "arr-h100.sbatch")], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "already has a result" in again.stdout
    assert not (tmp_path / "argv.txt").exists()


def test_index_outside_the_array_fails(slurm_dir, tmp_path):
    _, out, _ = slurm_dir
    env = {**os.environ, "HARNESS": "true", "PYTHON": sys.executable, "SLURM_ARRAY_TASK_ID": "99"}
    done = subprocess.run(["bash", str(out / "arr-h100.sbatch")], env=env, capture_output=True, text=True)
    assert done.returncode != 0


def test_unsafe_directive_values_are_refused(write_campaign, tmp_path):
    planned = campaigns.plan(write_campaign(CAMPAIGN))
    with pytest.raises(ConfigError, match="SBATCH"):
        options = scheduler_outputs.SlurmOptions(partition="gpu\n#SBATCH --x")
        scheduler_outputs.write_slurm(planned, tmp_path / "s", options)
    with pytest.raises(ConfigError):
        scheduler_outputs.write_slurm(planned, tmp_path / "with space", scheduler_outputs.SlurmOptions())


def test_harness_subcommands_in_the_template_exist():
    from typer.main import get_command

    from harness.cli import build_app

    commands = set(get_command(build_app()).commands)
    used = set(re.findall(r'"\$HARNESS" ([a-z-]+)', scheduler_outputs.SLURM_TEMPLATE))
    used |= set(re.findall(r"\bharness ([a-z][a-z-]+)", scheduler_outputs.SLURM_TEMPLATE))
    assert used and used <= commands
