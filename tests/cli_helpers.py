"""Running the CLI in-process, as the console script does, for tests in any folder."""

from __future__ import annotations

import pytest

SCRIPTED_POWER_W = 200.0
"""What the `fake_gpu` fixture's card draws, busy or idle."""


def run_cli(*args: str) -> int:
    """Run `harness ARGS...` in-process; returns its exit code."""
    from harness.cli import main

    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code


def run_cli_captured(capsys, *args: str) -> tuple[int, str, str]:
    """`run_cli`, then what it printed: (exit code, stdout, stderr)."""
    code = run_cli(*args)
    captured = capsys.readouterr()
    return code or 0, captured.out, captured.err
