"""Reading, checking and writing result files.

Every way a file can be wrong (unreadable, not JSON, wrong schema, implausible numbers) becomes a
`ResultFileError` with one line naming the file and the first problem, so a leaderboard build or
`harness validate` can report it and go on with the other files.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from harness.errors import ConfigError, HarnessError, ResultFileError, validation_problem
from harness.files import (
    MAX_FILE_BYTES,
    loads_json_bounded,
    read_bounded,
    slugify,
    visible_files,
    visible_paths,
    write_json_atomic,
    write_text_atomic,
)
from harness.kinds import is_real_gpu_backend
from harness.results.checks import CheckResult, run_checks
from harness.results.schema import SUPPORTED_SCHEMA_VERSIONS, ResultFile, readable_model_name

SCHEMA_FILE = Path(__file__).with_name("result.schema.json")


MAX_RESULT_BYTES = MAX_FILE_BYTES


_CONSTANTS = {str: (("N", "NaN"), ("I", "Infinity")), bytes: ((b"N", b"NaN"), (b"I", b"Infinity"))}


def _has_constant(text: str | bytes) -> bool:
    """`"NaN" in text or "Infinity" in text`, jumping from one `N` or `I` to the next (a memchr, where a plain `in`
    scans every character: a build checks thousands of 76 KB files, with those letters a few times in each)."""
    for char, word in _CONSTANTS[type(text)]:
        at, seen = text.find(char), 0
        while at != -1:
            if text.startswith(word, at):
                return True
            seen += 1
            if seen > 64:  # text full of the letter: the plain search is faster from here
                if word in text[at:]:
                    return True
                break
            at = text.find(char, at + 1)
    return False


def parse_result(text: str | bytes, source: str = "<string>") -> ResultFile:
    """Parse and schema-check a result file's text (or its UTF-8 bytes) through the bounded JSON reader
    (`harness.files`): NaN, Infinity, numbers that overflow and nesting beyond `MAX_DEPTH` are refused like any
    other problem."""
    if not _has_constant(text):
        # Fast path (a leaderboard build parses thousands of files); any problem falls through to the
        # step-by-step path below, which names it precisely. The schema refuses non-finite floats (1e400
        # included) and integers beyond 64 bits, nests its own keys a few levels deep and bounds its free-form
        # parts itself (`schema.FreeForm`).
        try:
            return ResultFile.model_validate_json(text)
        except ValidationError:
            pass
    if isinstance(text, bytes):  # the fast parser reads bytes as strict UTF-8: only a failed file is decoded
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ResultFileError(f"{source}: cannot read ({error.__class__.__name__}: {error})") from None
    data = loads_json_bounded(text, source, error=ResultFileError)
    if not isinstance(data, dict):
        raise ResultFileError(f"{source}: a result file must hold a JSON object")
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        readable = ", ".join(repr(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        if isinstance(version, int | float) and str(version) in SUPPORTED_SCHEMA_VERSIONS:
            raise ResultFileError(f"{source}: schema_version must be a string ({str(version)!r}), not the number "
                                  f"{version!r}")
        raise ResultFileError(f"{source}: unsupported schema_version {version!r} (this harness reads {readable})")
    try:
        return ResultFile.model_validate(data)
    except ValidationError as error:
        raise ResultFileError(f"{source}: {validation_problem(error)}") from None
    except RecursionError:
        raise ResultFileError(f"{source}: nested too deeply") from None


def read_result_bytes(path: Path) -> bytes:
    """A result file's bytes, bounded (a regular file, at most `MAX_RESULT_BYTES`); a problem is one line."""
    return read_bounded(path, limit=MAX_RESULT_BYTES, error=ResultFileError, missing=ResultFileError)


def load_result(path: Path, data: bytes | None = None) -> ResultFile:
    """Read (`read_result_bytes`, unless the caller already holds the file's `data`) and schema-check one result
    file (plausibility is `check_result`)."""
    data = read_result_bytes(path) if data is None else data
    return parse_result(data, str(path))


def check_result(result: ResultFile, source: str = "result") -> list[CheckResult]:
    """Plausibility findings; raises `ResultFileError` on the first error-level finding."""
    findings = run_checks(result)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise ResultFileError(f"{source}: {errors[0].name}: {errors[0].message}")
    return findings


@dataclass(frozen=True)
class LoadedResult:
    path: Path
    result: ResultFile
    findings: tuple[CheckResult, ...]


def load_valid_result(path: Path, data: bytes | None = None) -> LoadedResult:
    """Schema and plausibility in one call, for consumers that only accept valid files (`data`: as `load_result`)."""
    result = load_result(path, data)
    findings = check_result(result, str(path))
    return LoadedResult(Path(path), result, tuple(findings))


def iter_result_files(root: Path) -> Iterator[Path]:
    """Every `*.json` file under `root` (or `root` itself), sorted, skipping hidden and temporary files."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        yield root
        return
    yield from visible_files(root, "*.json")


def result_file_paths(root: Path) -> list[str]:
    """`iter_result_files` as strings (a leaderboard build lists 10 000 of them)."""
    root = Path(root)
    return [str(root)] if root.exists() and not root.is_dir() else visible_paths(root, "*.json")


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique without coordination: `20261122T101500Z-1a2b3c4d`."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def default_result_path(results_dir: Path, result: ResultFile) -> Path:
    """`results/<task>/<org>__<model>/<hardware>/<run-id>.json`: a path for people; loaders never parse it. A local
    model folder is filed under its readable name (`model.name`), never the machine's path."""
    model = slugify(readable_model_name(result.model.id, result.model.name).strip("/").replace("/", "__"))
    hardware = slugify(result.hardware_class)
    return Path(results_dir) / slugify(result.task.id) / model / hardware / f"{result.run_id}.json"


def write_result(result: ResultFile, path: Path) -> Path:
    """Write atomically, refusing to overwrite an existing file (earlier results are never lost).

    One line of JSON, so the file is also a one-record JSON Lines file: `datasets.load_dataset("json", ...)`
    with `result_features()` reads a folder of them with fixed types (`harness.results.hf_dataset`)."""
    return write_json_atomic(path, result.model_dump(mode="json"), overwrite=False, one_line=True)


GPU_RESULTS_DIR = Path("results")
"""Where `harness run` files a result measured on a real GPU when no `--results-dir` is given: a clone's `results/`,
whose README admits only such results (the leaderboard's source)."""
OTHER_RESULTS_DIR = Path("cpu-results")
"""Where `harness run` files any other result when no `--results-dir` is given: a CPU-only run, or one measured by
a stand-in GPU (the fake NVML of tests and demos). Never `results/`."""


def default_results_dir(result: ResultFile) -> Path:
    """`GPU_RESULTS_DIR` for a result a real GPU measured (`harness.kinds.is_real_gpu_backend`), else
    `OTHER_RESULTS_DIR`."""
    env = result.environment
    return GPU_RESULTS_DIR if is_real_gpu_backend(env.meter_backend) and env.measured_gpu_indices \
        else OTHER_RESULTS_DIR


def result_target(results_dir: Path | None, output: Path | None, result: ResultFile) -> Path:
    """Where `harness run` writes: `--output` as a `.json` file, else `default_result_path` under `--output`
    (a folder) or `--results-dir` (None: `default_results_dir`)."""
    if output is None:
        return default_result_path(results_dir if results_dir is not None else default_results_dir(result), result)
    return output if output.suffix == ".json" and not output.is_dir() else default_result_path(output, result)


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _check_writable_folder(folder: Path, option: str) -> None:
    """`folder` is (or can become) a folder we can write in: probed with a real temporary file, as permission
    bits say nothing about read-only mounts, quotas or `/proc`."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise ConfigError(f"{option} {folder}: {existing} is a file, not a folder; nothing was measured")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as problem:
        raise ConfigError(f"{option} {folder}: cannot write in {existing} ({problem.strerror or problem}); "
                          f"nothing was measured") from None


def check_result_target(results_dir: Path | None, output: Path | None) -> None:
    """Everything about where a result will go that can be known before a run: raise ConfigError now rather
    than lose a measurement later. The exact name (run id, model, hardware) is only known after the run, and with
    no `--results-dir` the folder too (`default_results_dir`): both candidates are checked."""
    for option, value in (("--results-dir", results_dir), ("--output", output)):
        if value is not None and any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in Path(value).parts):
            raise ConfigError(f"{option}: a path component is longer than 255 bytes; nothing was measured")
    if output is None:
        for folder in [results_dir] if results_dir is not None else [GPU_RESULTS_DIR, OTHER_RESULTS_DIR]:
            if folder.exists() and not folder.is_dir():
                raise ConfigError(f"--results-dir {folder} is a file, not a folder; nothing was measured")
            _check_writable_folder(folder, "--results-dir")
        return
    if output.suffix == ".json" and not output.is_dir():
        if os.path.lexists(output):
            raise ConfigError(f"--output {output} already exists (results are never overwritten); "
                              f"nothing was measured")
        _check_writable_folder(output.parent, "--output")
        return
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} exists and is neither a folder nor a .json file; nothing was measured")
    _check_writable_folder(output, "--output")


FALLBACK_DIR_VARIABLE = "HARNESS_FALLBACK_DIR"
"""Where a finished result goes when its own path cannot be written (default: ~/.cache/harness/unsaved-results,
else the system's temporary folder)."""


class ResultSavedElsewhere(ResultFileError):
    """The run finished but its result could not be written where asked; it is saved at `path` instead."""

    def __init__(self, message: str, path: Path | None) -> None:
        super().__init__(message)
        self.path = path


def _fallback_dirs() -> list[Path]:
    dirs = [Path(os.environ[FALLBACK_DIR_VARIABLE])] if os.environ.get(FALLBACK_DIR_VARIABLE) else []
    return [*dirs, Path.home() / ".cache" / "harness" / "unsaved-results",
            Path(tempfile.gettempdir()) / "harness-unsaved-results"]


def keep_unfiled(data: dict, name: str) -> Path | None:
    """Write a finished run's JSON (a result, or what should have been one) to the first fallback folder that
    takes it, as `<name>.json`; None when none does. Never under the results folder: nothing here is filed."""
    for folder in _fallback_dirs():
        try:
            return write_json_atomic(folder / f"{name}.json", data, overwrite=False, one_line=True)
        except (HarnessError, ValueError, TypeError):
            continue
    return None


def save_result(result: ResultFile, path: Path) -> Path:
    """Write a finished run's result to `path`; if that fails, to a fallback folder, and say where.

    A measurement is never thrown away: the error names the fallback file (and, if even that fails, the
    result's JSON goes to standard error so it can be copied from the terminal or the job log).
    """
    try:
        return write_result(result, path)
    except HarnessError as error:
        reason = str(error)
    data = result.model_dump(mode="json")
    saved = keep_unfiled(data, result.run_id)
    if saved is not None:
        raise ResultSavedElsewhere(f"the run finished but its result could not be written ({reason}); "
                                   f"it is saved at {saved}: move it where it belongs", saved)
    sys.stderr.write(json.dumps(data, sort_keys=True) + "\n")
    raise ResultSavedElsewhere(f"the run finished but its result could not be written ({reason}), nor to any "
                               f"fallback folder: its JSON is the line above", None)


def json_schema_text() -> str:
    """The JSON Schema of `ResultFile`, formatted as the committed `result.schema.json`."""
    return json.dumps(ResultFile.model_json_schema(mode="serialization"), indent=2, sort_keys=True) + "\n"


def export_json_schema(path: Path = SCHEMA_FILE) -> Path:
    """Write the JSON Schema of `ResultFile`, so tools in other languages can validate files."""
    return write_text_atomic(path, json_schema_text())
