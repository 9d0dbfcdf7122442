"""Standard conditions: the one rule for which run conditions change the number enough to keep a result apart.

A non-default power limit (or one that changed), persistence mode off, MIG mode, another process on a measured
GPU, or throttling inside a measured window each change the energy a workload takes. A result with any of them is
"non-standard conditions": the leaderboard shows it apart and never rates it, and `--strict` refuses to write it.
The software power cap being reached at the default limit is normal operation and does not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.results.schema import ResultFile, RunConditions

NON_STANDARD_CODES = {
    "power-limit-non-default": "non-default power limit",
    "power-limit-changed": "power limit changed during the run",
    "persistence-off": "persistence mode off",
    "mig-enabled": "MIG mode enabled",
    "contention": "another process on a measured GPU",
}
"""Warning codes (from the meter) that make a run non-standard wherever they were seen."""

WINDOW_CODES = {"throttling": "throttling in a measured window"}
"""Warning codes that make a run non-standard when seen in a measured window at warning severity."""


def non_standard_reasons(warnings: Iterable[Any]) -> list[str]:
    """The reasons among run-level warnings (anything with `code`, `severity`, `message`, optionally `repetition`):
    what `--strict` checks as soon as the meter has started, before any work is measured."""
    reasons: list[str] = []
    for warning in warnings:
        text = None
        if warning.code in NON_STANDARD_CODES:
            text = NON_STANDARD_CODES[warning.code]
        elif (warning.code in WINDOW_CODES and warning.severity != "info"
              and (getattr(warning, "repetition", None) is not None or "in this window" in warning.message)):
            text = WINDOW_CODES[warning.code]
        if text is not None and text not in reasons:
            reasons.append(text)
    return reasons


def run_conditions(result: ResultFile) -> RunConditions:
    """Whether `result` ran under standard conditions, and every reason it did not (deduplicated, in order)."""
    reasons = non_standard_reasons(result.warnings)

    def add(text: str) -> None:
        if text not in reasons:
            reasons.append(text)

    for rep in result.repetitions:
        for reading in rep.readings.values():
            for warning in reading.warnings:
                if warning.code in NON_STANDARD_CODES:
                    add(NON_STANDARD_CODES[warning.code])
                elif warning.code in WINDOW_CODES and warning.severity != "info":
                    add(WINDOW_CODES[warning.code])
    return RunConditions(standard=not reasons, reasons=reasons)
