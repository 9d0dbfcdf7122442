"""Errors a user can cause, each ending the program with one clear line and a non-zero exit.

Code raises a `HarnessError` subclass with a message written for the person at the terminal; the CLI
prints that message (no traceback) and exits with the error's code. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class HarnessError(Exception):
    """A failure the user can fix; `str(error)` is the one line they see."""

    exit_code = 1


class ConfigError(HarnessError):
    """A task file, preset, campaign or command-line value is wrong."""

    exit_code = 2


class NotFoundError(HarnessError):
    """A task, model, dataset, file or GPU that was asked for does not exist."""

    exit_code = 3


class MeasurementError(HarnessError):
    """The meter cannot produce a trustworthy number (no NVML, zero energy for real work, contention in strict mode)."""

    exit_code = 4


class ResultFileError(HarnessError):
    """A result file is unreadable, corrupt, fails its schema or its plausibility checks."""

    exit_code = 5


class OutOfMemoryError(HarnessError):
    """The model or batch does not fit on the device."""

    exit_code = 6


class InterruptedRun(HarnessError):
    """The user pressed Ctrl-C; nothing was written."""

    exit_code = 130
