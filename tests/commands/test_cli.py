"""The CLI's contract with its user: a mistake ends in a short message and a non-zero exit, never a traceback."""

import subprocess
import sys

import pytest


def harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--task", "text-gen"], "Missing option '--model'"),
        (["plan", "x.yaml", "--formt", "y"], "No such option: --formt"),
        (["collect"], "Missing argument"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_have_no_traceback(args, message):
    done = harness(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_harness_error_is_one_line_with_its_exit_code():
    done = harness("run", "--task", "no-such-task", "--model", "x", "--device", "cpu")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: unknown task 'no-such-task'")


def test_help_lists_every_command():
    done = harness("--help")
    assert done.returncode == 0
    for command in ("run", "demo", "tasks", "validate", "env", "leaderboard", "label", "plan", "collect",
                    "submit", "verify"):
        assert f" {command} " in done.stdout
