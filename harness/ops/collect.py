"""Gathering result files from job outputs (folders, or submission bundles) into a results folder.

Every file is checked (schema and plausibility) before anything is written, and duplicates are refused:
two files with one run id but different contents, or one measurement filed under two run ids (same
content apart from the id). Collecting the same outputs twice is a no-op, so a retried CI job is safe.
By default one refused file means nothing is written; `keep_going` writes the accepted files anyway.
Files are copied byte for byte (their checksums stay valid) to `default_result_path`, atomically and
never over an existing file. A new file that measures a workload the folder already has for the same model
and hardware (`harness.results.identity`) is accepted and reported as a re-measurement: the leaderboard
shows the latest run of a workload and keeps the others beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError, HarnessError, NotFoundError, ResultFileError
from harness.files import canonical_json, read_bounded, write_text_atomic
from harness.results.identity import result_workload_key
from harness.results.schema import ResultFile
from harness.results.store import check_result, default_result_path, iter_result_files, load_result, parse_result

log = logging.getLogger(__name__)


def content_hash(result: ResultFile) -> str:
    """sha256 of the result's canonical JSON without its run id: equal for one measurement filed twice."""
    data = result.model_dump(mode="json")
    data.pop("run_id")
    text = canonical_json(data)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Candidate:
    """One result file found in a source, parsed and checked."""

    source: str
    text: str
    result: ResultFile
    digest: str


@dataclass(frozen=True)
class Refused:
    source: str
    reason: str


@dataclass
class CollectReport:
    """What happened to every file found: written (to where), already present, or refused (why)."""

    written: list[tuple[str, Path]] = field(default_factory=list)
    already_present: list[tuple[str, Path]] = field(default_factory=list)
    remeasured: list[tuple[str, Path]] = field(default_factory=list)
    """Written files whose workload the folder already had for the model and hardware (and an earlier such file)."""
    refused: list[Refused] = field(default_factory=list)
    wrote_files: bool = False

    @property
    def found(self) -> int:
        return len(self.written) + len(self.already_present) + len(self.refused)

    def summary(self) -> str:
        verb = "written" if self.wrote_files or not self.refused else "would be written (nothing was written)"
        remeasured = f" ({len(self.remeasured)} re-measure a workload already there)" if self.remeasured else ""
        return (f"{len(self.written)} result files {verb}{remeasured}, {len(self.already_present)} already "
                f"collected, {len(self.refused)} refused")


class CollectRefused(ResultFileError):
    """Some files were refused; `report` says which and why."""

    def __init__(self, message: str, report: CollectReport) -> None:
        super().__init__(message)
        self.report = report


def _is_bundle(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz")) or (path.is_dir() and (path / "MANIFEST.json").is_file())


def _texts(source: Path) -> Iterator[tuple[str, str | None, str | None]]:
    """(label, text, error) for every result file of a folder, a file, or a verified submission bundle."""
    if not source.exists():
        raise NotFoundError(f"no such file or folder: {source}")
    if _is_bundle(source):
        from harness.ops.submission import verify_bundle

        try:
            report = verify_bundle(source)
        except HarnessError as error:
            yield str(source), None, str(error)
            return
        if report.problems:
            yield str(source), None, f"{source}: bundle does not verify: {report.problems[0]}"
            return
        for item in report.results:
            yield f"{source}:{item.path}", item.text, None
        return
    for path in iter_result_files(source):
        try:
            yield str(path), read_bounded(path, error=ResultFileError, missing=ResultFileError).decode("utf-8"), None
        except ResultFileError as error:
            yield str(path), None, str(error)
        except UnicodeDecodeError as error:
            yield str(path), None, f"{path}: cannot read ({error.__class__.__name__}: {error})"


def measured_workload(result: ResultFile) -> tuple[str, str, str, str]:
    """What a result measured: task, model, hardware and workload identity (how it was typed never enters)."""
    return (result.task.id, result.model.id, result.hardware_class, result_workload_key(result))


def _existing(results_dir: Path) -> tuple[dict[str, tuple[Path, str]], dict[tuple[str, str, str, str], Path]]:
    """run id -> (path, content hash) of every readable result already in the results folder, and a path per
    measured workload."""
    found: dict[str, tuple[Path, str]] = {}
    workloads: dict[tuple[str, str, str, str], Path] = {}
    if not results_dir.exists():
        return found, workloads
    for path in iter_result_files(results_dir):
        try:
            result = load_result(path)
        except ResultFileError as error:
            log.warning("results folder holds an unreadable file: %s", error)
            continue
        found[result.run_id] = (path, content_hash(result))
        workloads.setdefault(measured_workload(result), path)
    return found, workloads


def _write_all(targets: Sequence[tuple[Candidate, Path]]) -> None:
    """Write every accepted file or none: on the first failure (disk full, no permission, a name taken meanwhile)
    the files this call wrote, and the folders it made, are removed again before the error is raised."""
    written: list[Path] = []
    made: list[Path] = []
    try:
        for candidate, target in targets:
            made.extend(parent for parent in reversed(target.parents) if not os.path.lexists(parent))
            write_text_atomic(target, candidate.text, overwrite=False)
            written.append(target)
            log.info("collected %s -> %s", candidate.source, target)
    except BaseException as error:
        for path in written:
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(error, HarnessError):
            raise HarnessError(f"{error}; nothing was collected (the {len(written)} files written before it "
                               f"were removed again)") from None
        raise


def collect(sources: Sequence[Path], results_dir: Path, *, keep_going: bool = False) -> CollectReport:
    """Check every result file under `sources` and file the new ones under `results_dir`.

    Raises `CollectRefused` (nothing written unless `keep_going`) when any file is refused, and
    `NotFoundError` when a source does not exist or holds no result file at all.
    """
    results_dir = Path(results_dir)
    if results_dir.exists() and not results_dir.is_dir():
        raise ConfigError(f"results folder {results_dir} is a file, not a folder")
    report = CollectReport()
    existing, measured = _existing(results_dir)
    by_digest = {digest: run_id for run_id, (_, digest) in existing.items()}
    accepted: dict[str, Candidate] = {}

    for source in sources:
        for label, text, error in _texts(Path(source)):
            if error is not None:
                report.refused.append(Refused(label, error))
                continue
            try:
                result = parse_result(text, label)
                check_result(result, label)
            except ResultFileError as problem:
                report.refused.append(Refused(label, str(problem)))
                continue
            candidate = Candidate(label, text, result, content_hash(result))
            run_id = result.run_id
            earlier = accepted.get(run_id)
            if run_id in existing:
                path, digest = existing[run_id]
                if digest == candidate.digest:
                    report.already_present.append((label, path))
                else:
                    report.refused.append(Refused(label, f"{label}: run id {run_id} is already in {path} with "
                                                         f"different contents"))
            elif earlier is not None:
                if earlier.digest == candidate.digest:
                    log.info("%s is a copy of %s", label, earlier.source)
                else:
                    report.refused.append(Refused(label, f"{label}: run id {run_id} is also used by "
                                                         f"{earlier.source} with different contents"))
            elif candidate.digest in by_digest:
                report.refused.append(Refused(label, f"{label}: same measurement as run "
                                                     f"{by_digest[candidate.digest]} under another run id"))
            else:
                accepted[run_id] = candidate
                by_digest[candidate.digest] = run_id

    if report.found == 0 and not accepted:
        raise NotFoundError(f"no result files found in {', '.join(str(s) for s in sources)}")
    targets = [(c, default_result_path(results_dir, c.result)) for c in accepted.values()]
    report.written = [(c.source, target) for c, target in targets]
    for candidate, target in targets:
        earlier = measured.setdefault(measured_workload(candidate.result), target)
        if earlier != target:
            report.remeasured.append((candidate.source, earlier))
    if report.refused and not keep_going:
        first = report.refused[0].reason
        raise CollectRefused(f"{len(report.refused)} files refused, nothing written; first: {first}", report)
    _write_all(targets)
    report.wrote_files = bool(targets)
    if report.refused:
        first = report.refused[0].reason
        raise CollectRefused(f"{len(report.refused)} files refused ({len(targets)} written); first: {first}", report)
    return report
