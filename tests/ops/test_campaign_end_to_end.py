"""A campaign through the real pipeline on CPU: plan, a Slurm array task runs `harness run` on a tiny model,
collect, and the re-plan finds the job done (the match reads what the real runner wrote)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.ops import campaigns, scheduler_outputs
from harness.ops.collect import collect
from harness.ops.submission import create_bundle, verify_bundle


@pytest.mark.slow
def test_plan_run_collect_replan(tiny_models_dir, write_campaign, tmp_path):
    harness_bin = Path(sys.executable).with_name("harness")
    if not harness_bin.exists():
        pytest.skip("the harness console script is not installed next to this Python")
    model = tiny_models_dir / "text-classification"
    path = write_campaign(f"""\
        name: e2e
        hardware: [cpu]
        defaults: {{preset: demo}}
        groups:
          - tasks: [text-classification]
            models: ["{model}"]
        """)
    results = tmp_path / "results"
    planned = campaigns.plan(path, results)
    assert len(planned.todo) == 1
    scheduler_outputs.write_slurm(planned, tmp_path / "slurm")

    env = {**os.environ, "HARNESS": str(harness_bin), "PYTHON": sys.executable, "SLURM_ARRAY_TASK_ID": "0",
           "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(["bash", str(tmp_path / "slurm" / "e2e-cpu.sbatch")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    job_dir = tmp_path / "slurm" / "outputs" / planned.todo[0].short_key
    assert "result:" in (job_dir / "run.log").read_text()

    report = collect([tmp_path / "slurm" / "outputs"], results)
    assert len(report.written) == 1
    replanned = campaigns.plan(path, results)
    assert not replanned.todo and [job.key for job, _ in replanned.done] == [planned.todo[0].key]

    bundle = create_bundle([results], tmp_path / "sub.tar.gz", [job_dir / "run.log"])
    verified = verify_bundle(bundle)
    assert verified.ok and verified.results[0].result.model.id == Path(model).name  # the folder's name, not its path
