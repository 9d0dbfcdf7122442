"""Errors a user can cause, each ending the program with one clear line and a non-zero exit.

Code raises a `HarnessError` subclass with a message written for the person at the terminal; the CLI
prints that message (no traceback) and exits with the error's code. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is imported by whoever has a validation error to format
    from pydantic import ValidationError


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


def validation_problem(error: ValidationError) -> str:
    """One line for a pydantic validation error: `where: message` of the first problem, and how many more.

    Every typed file (task, preset, campaign, result, manifest) reports its errors through this, so a user
    reads the same shape of message whatever file they got wrong.
    """
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = re.sub(r"^(Value|Assertion) error, ", "", first["msg"])
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    if where and not message.startswith(where):
        return f"{where}: {message}{more}"
    return f"{message}{more}"
