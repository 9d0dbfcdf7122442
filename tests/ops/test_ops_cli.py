"""`harness plan / collect / submit / verify` from the command line: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result

CAMPAIGN = "name: cli\nhardware: [h100]\ngroups:\n  - tasks: [text-classification]\n    models: [org/a, org/b]\n"


def harness(*args, cwd=None):
    """Run the real console entry point in a subprocess (what a user or a workflow runs)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def assert_one_line_error(done, code):
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in done.stderr, done.stderr


def test_plan_formats(write_campaign, tmp_path):
    path = write_campaign(CAMPAIGN)
    jobs = harness("plan", path, "--results-dir", tmp_path / "results")
    assert jobs.returncode == 0, jobs.stderr
    assert len(json.loads(jobs.stdout)) == 2 and "2 jobs to run, 0 already" in jobs.stderr

    github_output = tmp_path / "github_output"
    matrix = harness("plan", path, "--format", "github-matrix", "--out", tmp_path / "plan.json",
                     "--github-output", github_output)
    assert matrix.returncode == 0, matrix.stderr
    chunks = json.loads((tmp_path / "plan.json").read_text())
    assert len(chunks) == 1 and len(chunks[0]["include"]) == 2
    assert "chunks=[0]\njobs=2\n" in github_output.read_text()

    slurm = harness("plan", path, "--format", "slurm", "--out", tmp_path / "slurm", "--slurm-time", "01:00:00")
    assert slurm.returncode == 0, slurm.stderr
    assert (tmp_path / "slurm" / "cli-h100.sbatch").exists()


@pytest.mark.parametrize("args, code", [
    (["plan", "missing.yaml"], 3),
    (["plan", "{campaign}", "--format", "slurm"], 2),
    (["plan", "{campaign}", "--format", "github-matrix", "--chunk-size", "300"], 2),
    (["plan", "{bad}"], 2),
    (["collect", "missing-dir"], 3),
    (["collect", "{junk}"], 5),
    (["submit", "missing.json", "--out", "b.tar.gz"], 3),
    (["submit", "{junk}", "--out", "b.tar.gz"], 5),
    (["verify", "missing.tar.gz"], 3),
    (["verify", "{not_a_bundle}"], 5),
])
def test_user_errors_are_one_line(write_campaign, tmp_path, args, code):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "r.json").write_text("{}")
    (tmp_path / "x.tar.gz").write_bytes(b"nope")
    names = {"campaign": write_campaign(CAMPAIGN), "bad": write_campaign("name: x\nhardware: []\n", "bad.yaml"),
             "junk": junk, "not_a_bundle": tmp_path / "x.tar.gz"}
    done = harness(*[arg.format(**names) for arg in args], cwd=tmp_path)
    assert_one_line_error(done, code)


def test_collect_submit_verify_round_trip(tmp_path):
    outputs = tmp_path / "outputs"
    for seed in range(2):
        result = make_result(seed=seed)
        write_result(result, default_result_path(outputs / f"job{seed}", result))
    collected = harness("collect", outputs, "--results-dir", tmp_path / "results")
    assert collected.returncode == 0, collected.stderr
    assert "2 result files written" in collected.stderr

    again = harness("collect", outputs, "--results-dir", tmp_path / "results")
    assert again.returncode == 0 and "0 result files written, 2 already collected" in again.stderr

    log = tmp_path / "run.log"
    log.write_text("ok\n")
    bundle = tmp_path / "sub.tar.gz"
    submitted = harness("submit", tmp_path / "results", "--log", log, "--out", bundle)
    assert submitted.returncode == 0, submitted.stderr
    assert "2 results, 1 logs" in submitted.stdout

    verified = harness("verify", bundle)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.count("ok  results/") == 2 and "verified (2 results, 1 logs" in verified.stdout

    resubmit = harness("submit", tmp_path / "results", "--out", bundle)
    assert_one_line_error(resubmit, 1)


def test_verify_reports_every_problem_then_fails(tmp_path):
    result = make_result(seed=1)
    write_result(result, default_result_path(tmp_path / "results", result))
    bundle = tmp_path / "folder-bundle"
    assert harness("submit", tmp_path / "results", "--out", bundle).returncode == 0
    target = next((bundle / "results").rglob("*.json"))
    target.write_text(target.read_text().replace('"harness_version"', '"harness_version" ', 1))
    (bundle / "results" / "extra.json").write_text("{}")
    done = harness("verify", bundle)
    assert_one_line_error(done, 5)
    assert "checksum mismatch" in done.stderr and "not listed" in done.stderr
    assert "2 problems" in done.stderr.splitlines()[-1]
