"""Reading, checking and writing result files.

Every way a file can be wrong (unreadable, not JSON, wrong schema, implausible numbers) becomes a
`ResultFileError` with one line naming the file and the first problem, so a leaderboard build or
`harness validate` can report it and go on with the other files.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from harness.errors import ResultFileError, validation_problem
from harness.files import slugify, visible_files, write_json_atomic, write_text_atomic
from harness.results.checks import CheckResult, run_checks
from harness.results.schema import SUPPORTED_SCHEMA_VERSIONS, ResultFile

SCHEMA_FILE = Path(__file__).with_name("result.schema.json")


def _refuse_non_finite(name: str) -> float:
    raise ValueError(f"{name} is not a valid JSON number")


def parse_result(text: str, source: str = "<string>") -> ResultFile:
    """Parse and schema-check a result file's text (NaN and Infinity are refused, as JSON itself does)."""
    if "NaN" not in text and "Infinity" not in text:
        # Fast path (a leaderboard build parses thousands of files); any problem falls through to the
        # step-by-step path below, which names it precisely.
        try:
            return ResultFile.model_validate_json(text)
        except ValidationError:
            pass
    try:
        data = json.loads(text, parse_constant=_refuse_non_finite)
    except ValueError as error:
        raise ResultFileError(f"{source}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ResultFileError(f"{source}: a result file must hold a JSON object")
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        readable = ", ".join(repr(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        raise ResultFileError(f"{source}: unsupported schema_version {version!r} (this harness reads {readable})")
    try:
        return ResultFile.model_validate(data)
    except ValidationError as error:
        raise ResultFileError(f"{source}: {validation_problem(error)}") from None


def load_result(path: Path) -> ResultFile:
    """Read and schema-check one result file (plausibility is `check_result`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultFileError(f"{path}: cannot read ({error.__class__.__name__}: {error})") from None
    return parse_result(text, str(path))


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


def load_valid_result(path: Path) -> LoadedResult:
    """Schema and plausibility in one call, for consumers that only accept valid files."""
    result = load_result(path)
    findings = check_result(result, str(path))
    return LoadedResult(Path(path), result, tuple(findings))


def iter_result_files(root: Path) -> Iterator[Path]:
    """Every `*.json` file under `root` (or `root` itself), sorted, skipping hidden and temporary files."""
    root = Path(root)
    if root.is_file():
        yield root
        return
    yield from visible_files(root, "*.json")


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique without coordination: `20261122T101500Z-1a2b3c4d`."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def default_result_path(results_dir: Path, result: ResultFile) -> Path:
    """`results/<task>/<org>__<model>/<hardware>/<run-id>.json`: a path for people; loaders never parse it."""
    model = slugify(result.model.id.strip("/").replace("/", "__"))
    hardware = slugify(result.hardware_class)
    return Path(results_dir) / slugify(result.task.id) / model / hardware / f"{result.run_id}.json"


def write_result(result: ResultFile, path: Path) -> Path:
    """Write atomically, refusing to overwrite an existing file (earlier results are never lost)."""
    return write_json_atomic(path, result.model_dump(mode="json"), overwrite=False)


def json_schema_text() -> str:
    """The JSON Schema of `ResultFile`, formatted as the committed `result.schema.json`."""
    return json.dumps(ResultFile.model_json_schema(), indent=2, sort_keys=True) + "\n"


def export_json_schema(path: Path = SCHEMA_FILE) -> Path:
    """Write the JSON Schema of `ResultFile`, so tools in other languages can validate files."""
    return write_text_atomic(path, json_schema_text())
