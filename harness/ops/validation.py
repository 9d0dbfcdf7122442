"""Checking many project files at once: task files, presets and result files, each with its own status.

Task files (`*.yaml`, `*.yml`) are checked against the task spec, presets (YAML files in a folder named
`presets`, where `load_preset` finds them) against the preset model, and result files (`*.json`) against
the result schema and the plausibility checks, file by file: every file gets a status (ok, ok with
warnings, or invalid with its one-line error) and one bad file never stops the others. A result's warnings include
what the run itself flagged (`run_flags`): figures not usable, its own warnings, non-standard conditions. Folders are
searched recursively (hidden entries skipped). Task names must be unique across the files checked together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.files import visible_files
from harness.results.figures import unusable_figures
from harness.results.schema import ResultFile
from harness.results.store import load_valid_result
from harness.tasks.presets import load_preset
from harness.tasks.registry import TASK_FILE_SUFFIXES, load_task_file, name_key
from harness.tasks.spec import TaskSpec

RESULT_SUFFIX = ".json"


@dataclass(frozen=True)
class FileStatus:
    """The outcome for one file: `ok`, `warnings` (valid, with findings to read) or `invalid`."""

    path: Path
    kind: str  # "task", "preset", "result" or "unknown"
    status: str
    messages: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.status != "invalid"


def _kind_of(path: Path) -> str | None:
    if path.suffix in TASK_FILE_SUFFIXES:
        return "preset" if path.parent.name == "presets" else "task"
    if path.suffix == RESULT_SUFFIX:
        return "result"
    return None


def _check_task(path: Path, owners: dict[str, Path]) -> FileStatus:
    try:
        spec: TaskSpec = load_task_file(path)
    except HarnessError as error:
        return FileStatus(path, "task", "invalid", (str(error),))
    for name in spec.names:
        key = name_key(name)
        if key in owners and owners[key] != path:
            return FileStatus(path, "task", "invalid", (f"{path}: the name {name!r} is also used by {owners[key]}",))
    for name in spec.names:
        owners[name_key(name)] = path
    return FileStatus(path, "task", "ok")


def _check_preset(path: Path) -> FileStatus:
    try:
        load_preset(str(path))
    except HarnessError as error:
        return FileStatus(path, "preset", "invalid", (str(error),))
    return FileStatus(path, "preset", "ok")


def run_flags(result: ResultFile) -> list[str]:
    """What the run itself flagged, in a user's words: figures not usable (and why), its own warnings, conditions
    that keep it from being rated, and a GPU headline from one repetition (no interval)."""
    flags = [f"not usable ({', '.join(names)}): {reason}" for reason, names in unusable_figures(result.figures)]
    headline = result.figures.gpu_energy_per_1k_queries_wh
    if headline is not None and headline.ci95_low is None and headline.n == 1:
        flags.append("one repetition: the GPU headline has no confidence interval, and the leaderboard does not "
                     "rate it (run --repeats 3 or more)")
    if result.conditions is not None and not result.conditions.standard:
        flags.append(f"non-standard conditions, never rated: {'; '.join(result.conditions.reasons)}")
    flags += [f"run warning {w.code}: {w.message}" for w in result.warnings if w.severity != "info"]
    return flags


def _check_result(path: Path) -> FileStatus:
    try:
        loaded = load_valid_result(path)
    except HarnessError as error:
        return FileStatus(path, "result", "invalid", (str(error),))
    warnings = (*(f"{finding.name}: {finding.message}" for finding in loaded.findings), *run_flags(loaded.result))
    return FileStatus(path, "result", "warnings" if warnings else "ok", warnings)


def validate_paths(paths: list[Path]) -> list[FileStatus]:
    """A status for every task and result file named or found under the given paths, in order."""
    statuses: list[FileStatus] = []
    task_names: dict[str, Path] = {}  # task ids and aliases must be unique across the files checked together
    for root in paths:
        root = Path(root)
        if not root.exists():
            statuses.append(FileStatus(root, "unknown", "invalid", (f"{root}: no such file or folder",)))
            continue
        if root.is_dir():
            files = [path for path in visible_files(root) if _kind_of(path)]
            if not files:
                statuses.append(FileStatus(root, "unknown", "invalid",
                                           (f"{root}: no task (.yaml) or result (.json) files found",)))
                continue
        else:
            files = [root]
        for path in files:
            kind = _kind_of(path)
            if kind == "task":
                statuses.append(_check_task(path, task_names))
            elif kind == "preset":
                statuses.append(_check_preset(path))
            elif kind == "result":
                statuses.append(_check_result(path))
            else:
                statuses.append(FileStatus(path, "unknown", "invalid", (
                    f"{path}: not a task or preset file (.yaml) or a result file (.json)",)))
    return statuses
