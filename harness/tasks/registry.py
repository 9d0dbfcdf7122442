"""Finding tasks: the task folder, task files by id, alias or path, and the rule that names are unique.

An unknown name is a NotFoundError suggesting the nearest known name; one broken file in the folder does
not hide the others (unless it is the one asked for).
"""

from __future__ import annotations

import difflib
import importlib.resources
import logging
import os
from pathlib import Path

from harness.errors import ConfigError, NotFoundError
from harness.files import read_yaml_mapping
from harness.tasks.spec import TaskSpec, parse_task

logger = logging.getLogger(__name__)

TASK_FILE_SUFFIXES = (".yaml", ".yml")
"""What a task or preset file is called."""


def data_folder(env_var: str, name: str) -> Path:
    """The folder of `name` files (`tasks`, `configs`): the one `env_var` names, else the checkout's, else the
    copy shipped inside the package.

    A checkout (editable install) keeps its top-level folders as the source of truth, so edits there count at
    once; a wheel ships them as `harness/_data/<name>` (see setup.py) and they are read with importlib.resources.
    """
    override = os.environ.get(env_var)
    if override:
        folder = Path(override).expanduser()
        if not folder.is_dir():
            raise NotFoundError(f"{env_var}={override} is not a folder")
        return folder
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    shipped = importlib.resources.files("harness") / "_data" / name
    if isinstance(shipped, Path) and shipped.is_dir():
        return shipped
    raise NotFoundError(
        f"no '{name}' folder: neither a checkout's ({checkout / name}) nor one shipped in the harness package; "
        f"reinstall the harness, or set {env_var} to the folder that holds the {name} files"
    )


def default_tasks_dir() -> Path:
    """`$HARNESS_TASKS_DIR`, else the checkout's `tasks/`, else the task files shipped in the package."""
    return data_folder("HARNESS_TASKS_DIR", "tasks")


def load_task_file(path: Path) -> TaskSpec:
    """Read and validate one task YAML file."""
    path = Path(path)
    return parse_task(read_yaml_mapping(path), str(path))


def _task_files(tasks_dir: Path) -> list[Path]:
    return sorted(p for p in tasks_dir.iterdir() if p.suffix in TASK_FILE_SUFFIXES and not p.name.startswith("."))


def name_key(name: str) -> str:
    """How task names are compared: case and surrounding spaces do not count."""
    return name.strip().lower()


def _looks_like_path(name: str) -> bool:
    return name.endswith(TASK_FILE_SUFFIXES) or os.sep in name or "/" in name


def list_tasks(tasks_dir: Path | None = None) -> list[TaskSpec]:
    """Every task in the folder, sorted by id; a broken file or a name used twice is a ConfigError."""
    tasks_dir = Path(tasks_dir) if tasks_dir is not None else default_tasks_dir()
    files = _task_files(tasks_dir)
    specs = [load_task_file(path) for path in files]
    check_unique_names(specs, tasks_dir, [str(path) for path in files])
    return sorted(specs, key=lambda spec: spec.id)


def check_unique_names(specs: list[TaskSpec], where: str | Path, sources: list[str] | None = None) -> None:
    """Refuse two task files that claim one id or alias, even two files of the same id (one of them would be
    silently unreachable, and which one would depend on the order of file names)."""
    owner: dict[str, tuple[str, int]] = {}
    for number, spec in enumerate(specs):
        for name in spec.names:
            key = name_key(name)
            if key in owner and owner[key][1] != number:
                first = owner[key][0]
                files = f" (in {sources[owner[key][1]]} and {sources[number]}; rename one)" if sources else ""
                raise ConfigError(f"{where}: the name {name!r} is used by both task {first!r} and {spec.id!r}"
                                  f"{files}")
            owner[key] = (spec.id, number)


def load_task(name_or_path: str, tasks_dir: Path | None = None) -> TaskSpec:
    """A task by id, alias (e.g. AI Energy Score's `text_generation`) or YAML path.

    An unknown name is a NotFoundError suggesting the nearest known name. Files in the folder that do not
    parse are skipped (with a log message) unless the name asked for is theirs, so one broken file does not
    hide the others.
    """
    parts = [len(part.encode("utf-8", "surrogatepass")) for part in name_or_path.split("/")]
    if not name_or_path.strip() or "\x00" in name_or_path or max(parts) > 255 or sum(parts) > 4096:
        raise NotFoundError(f"unknown task {name_or_path[:60]!r}{'...' if len(name_or_path) > 60 else ''} "
                            f"(not a task name or a task file: empty, too long or a NUL character)")
    if _looks_like_path(name_or_path) or Path(name_or_path).is_file():
        path = Path(name_or_path)
        if not path.is_file():
            raise NotFoundError(f"task file {path} does not exist")
        return load_task_file(path)

    tasks_dir = Path(tasks_dir) if tasks_dir is not None else default_tasks_dir()
    wanted = name_key(name_or_path)
    known: dict[str, TaskSpec] = {}
    files: dict[str, Path] = {}
    broken: dict[str, ConfigError] = {}
    for path in _task_files(tasks_dir):
        try:
            spec = load_task_file(path)
        except ConfigError as error:
            logger.warning("skipping %s", error)
            broken[name_key(path.stem)] = error
            continue
        for name in spec.names:
            key = name_key(name)
            if key == wanted and key in known and files[key] != path:
                raise ConfigError(f"the task name {name_or_path!r} is claimed by two task files, {files[key]} "
                                  f"({known[key].id}) and {path} ({spec.id}); rename one")
            known.setdefault(key, spec)
            files.setdefault(key, path)
    if wanted in known:
        return known[wanted]
    if wanted in broken:
        raise broken[wanted]
    candidates = sorted(known)
    suggestion = difflib.get_close_matches(wanted, candidates, n=1, cutoff=0.5)
    hint = f"; did you mean {suggestion[0]!r}?" if suggestion else ""
    ids = sorted({spec.id for spec in known.values()})
    raise NotFoundError(f"unknown task {name_or_path!r}{hint} (tasks: {', '.join(ids) or 'none'} in {tasks_dir})")
