"""Submission bundles: result files, their logs and a checksum manifest, checked without trusting the sender.

A bundle is a folder or a `.tar.gz` holding `MANIFEST.json` (format, harness version, UTC time, and the
sha256 and size in bytes of every other file), result files under `results/` and logs under `logs/`.
`verify_bundle` trusts nothing in it: it refuses unsafe archive members (absolute paths, `..`, links,
devices) before reading anything, recomputes every checksum, refuses files the manifest does not list,
and re-checks each result's schema and plausibility with this harness's own code. Checksums show the
bundle arrived as it was packed; they are not a signature of who packed it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ConfigError, NotFoundError, ResultFileError, validation_problem
from harness.files import loads_json_bounded, read_bounded, refuse_existing, write_bytes_atomic, write_folder_atomic
from harness.results.checks import CheckResult
from harness.results.schema import ResultFile
from harness.results.store import check_result, default_result_path, iter_result_files, parse_result
from harness.version import __version__

MANIFEST_NAME = "MANIFEST.json"
BUNDLE_FORMAT = "ai-energy-harness-submission"
FORMAT_VERSION = 1
MAX_BUNDLE_BYTES = 2 * 1024**3
"""Uncompressed size limit of a bundle (a guard against archive bombs): 2 GiB."""
MAX_MEMBERS = 10_000
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)
    kind: Literal["result", "log"]


class Manifest(BaseModel):
    """`MANIFEST.json`: what the bundle holds. Paths are relative POSIX paths inside the bundle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ai-energy-harness-submission"]
    format_version: Literal[1]
    harness_version: str
    created_at: datetime
    files: dict[str, ManifestEntry] = Field(min_length=1)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_member_path(name: str) -> str:
    """A bundle path if it is relative, normalised and stays inside the bundle; else a ResultFileError."""
    if not name or "\\" in name or "\x00" in name:
        raise ResultFileError(f"unsafe path in bundle: {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("..", "") for part in name.split("/")) or str(path) != name:
        raise ResultFileError(f"unsafe path in bundle: {name!r} (absolute, '..' or not normalised)")
    return name


# --------------------------------------------------------------------------------------------- packing


def _is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def _bundle_files(results: Sequence[Path], logs: Sequence[Path]) -> dict[str, tuple[bytes, str]]:
    """bundle path -> (bytes, kind), each result checked; a problem is one line naming the file."""
    files: dict[str, tuple[bytes, str]] = {}
    run_ids: dict[str, Path] = {}
    paths = []
    for given in results:
        if not Path(given).exists():
            raise NotFoundError(f"no such result file or folder: {given}")
        paths.extend(iter_result_files(Path(given)))
    if not paths:
        raise NotFoundError(f"no result files found in {', '.join(str(p) for p in results)}")
    for path in paths:
        data = read_bounded(path, error=ResultFileError, missing=ResultFileError)
        try:
            result = parse_result(data.decode("utf-8"), str(path))
        except UnicodeDecodeError:
            raise ResultFileError(f"{path}: not UTF-8 text") from None
        check_result(result, str(path))
        if result.run_id in run_ids:
            raise ResultFileError(f"{path}: run id {result.run_id} is also in {run_ids[result.run_id]}")
        run_ids[result.run_id] = path
        name = (PurePosixPath("results") / default_result_path(Path("."), result).as_posix()).as_posix()
        files[safe_member_path(name)] = (data, "result")
    for log in logs:
        log = Path(log)
        if not log.is_file():
            raise NotFoundError(f"no such log file: {log}")
        name = f"logs/{log.name}"
        if name in files:
            raise ConfigError(f"two logs are named {log.name}; rename one")
        files[safe_member_path(name)] = (read_bounded(log, limit=MAX_BUNDLE_BYTES, error=ResultFileError), "log")
    return files


def _manifest_bytes(files: dict[str, tuple[bytes, str]], created_at: datetime) -> bytes:
    manifest = Manifest(
        format=BUNDLE_FORMAT, format_version=FORMAT_VERSION, harness_version=__version__, created_at=created_at,
        files={name: ManifestEntry(sha256=_sha256(data), size_bytes=len(data), kind=kind)
               for name, (data, kind) in sorted(files.items())},
    )
    return (json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode("utf-8")


def _tar_bytes(top: str, files: dict[str, bytes]) -> bytes:
    """A reproducible .tar.gz: sorted members, fixed owner, mode and times, gzip header without a date."""
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    return raw.getvalue()


def create_bundle(results: Sequence[Path], out: Path, logs: Sequence[Path] = (),
                  created_at: datetime | None = None) -> Path:
    """Pack result files (and folders of them) and logs into `out`: a `.tar.gz`, or else a new folder.

    Every result is checked first; nothing is written if one fails, and an existing `out` is never replaced.
    """
    out = Path(out)
    refuse_existing(out)
    files = _bundle_files(results, logs)
    created_at = created_at or datetime.now(timezone.utc).replace(microsecond=0)
    contents = {name: data for name, (data, _) in files.items()}
    contents[MANIFEST_NAME] = _manifest_bytes(files, created_at)
    if _is_archive(out):
        top = out.name.removesuffix(".tar.gz").removesuffix(".tgz") or "submission"
        write_bytes_atomic(out, _tar_bytes(top, contents), overwrite=False)
        return out
    return write_folder_atomic(out, contents)


# --------------------------------------------------------------------------------------------- reading


def _read_archive(path: Path) -> dict[str, bytes]:
    """Members of a .tar.gz by bundle path, refusing anything unsafe before reading any content."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            members: list[tarfile.TarInfo] = []
            total = 0
            for member in tar:  # one header at a time: the member limit fires at member 10 001, not after a million
                members.append(member)
                if len(members) > MAX_MEMBERS:
                    raise ResultFileError(f"{path}: more than {MAX_MEMBERS} members")
                safe_member_path(member.name.rstrip("/") if member.isdir() else member.name)
                if not (member.isfile() or member.isdir()):
                    raise ResultFileError(f"{path}: member {member.name!r} is a link or special file")
                total += member.size
                if total > MAX_BUNDLE_BYTES:
                    raise ResultFileError(f"{path}: more than {MAX_BUNDLE_BYTES} bytes uncompressed")
            names = [m.name for m in members if m.isfile()]
            if len(set(names)) != len(names):
                twice = next(name for name in names if names.count(name) > 1)
                raise ResultFileError(f"{path}: member {twice!r} appears twice")
            prefix = _top_prefix(path, names)
            by_name = {m.name: m for m in members if m.isfile()}
            manifest = _member_bytes(tar, by_name.get(prefix + MANIFEST_NAME), MAX_MANIFEST_BYTES, path)
            listed = _listed_names(manifest)
            # Only what the manifest lists is read: an unlisted member is reported by name, never decompressed.
            files = {name[len(prefix):]: (_member_bytes(tar, member, member.size, path)
                                          if name[len(prefix):] in listed or name == prefix + MANIFEST_NAME
                                          else UNREAD)
                     for name, member in by_name.items()}
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ResultFileError(f"{path}: not a readable .tar.gz ({error.__class__.__name__}: {error})") from None
    return files


UNREAD = b""
"""What an archive member the manifest does not list reads as: it is reported, never decompressed."""

MAX_MANIFEST_BYTES = 16 * 1024**2


def _top_prefix(path: Path, names: list[str]) -> str:
    """The folder holding MANIFEST.json: the archive's root (""), or its one top folder ("top/")."""
    if MANIFEST_NAME in names:
        return ""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names) and f"{next(iter(tops))}/{MANIFEST_NAME}" in names:
        return f"{next(iter(tops))}/"
    raise ResultFileError(f"{path}: no {MANIFEST_NAME} at the top of the bundle")


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo | None, limit: int, path: Path) -> bytes | None:
    if member is None:
        return None
    if member.size > limit:
        raise ResultFileError(f"{path}: member {member.name!r} is larger than {limit} bytes")
    handle = tar.extractfile(member)
    return handle.read(limit + 1) if handle is not None else b""


def _listed_names(manifest: bytes | None) -> set[str]:
    """Bundle paths a manifest lists (empty when it does not parse: verification then names the problem)."""
    if manifest is None:
        return set()
    try:
        data = loads_json_bounded(manifest, MANIFEST_NAME, error=ResultFileError, unique_keys=True)
    except ResultFileError:
        return set()
    listed = data.get("files") if isinstance(data, dict) else None
    return {str(name) for name in listed} if isinstance(listed, dict) else set()


def _read_folder(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    entries = 0
    for root, dirs, names in os.walk(path, followlinks=False):
        entries += len(dirs) + len(names)
        if entries > MAX_MEMBERS:  # empty folders and files alike count, as an archive's members do
            raise ResultFileError(f"{path}: more than {MAX_MEMBERS} members")
        for name in dirs + names:
            full = Path(root) / name
            if full.is_symlink():
                raise ResultFileError(f"{path}: {full.relative_to(path)} is a symbolic link")
        for name in names:
            full = Path(root) / name
            if not full.is_file():
                raise ResultFileError(f"{path}: {full.relative_to(path)} is not a regular file")
            total += full.stat().st_size
            if total > MAX_BUNDLE_BYTES or len(files) >= MAX_MEMBERS:
                raise ResultFileError(f"{path}: bundle is too large")
            files[full.relative_to(path).as_posix()] = full.read_bytes()
    return files


def read_bundle(path: Path) -> dict[str, bytes]:
    """Every file of a bundle (folder or .tar.gz) by bundle path, after the safety checks."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"no such bundle: {path}")
    if path.is_dir():
        return _read_folder(path)
    if not _is_archive(path):
        raise ResultFileError(f"{path}: a bundle is a folder or a .tar.gz file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ResultFileError(f"{path}: not a regular file (a FIFO, device or socket)")
    return _read_archive(path)


@dataclass(frozen=True)
class VerifiedResult:
    path: str
    text: str
    result: ResultFile
    findings: tuple[CheckResult, ...]


@dataclass
class VerifyReport:
    """What `verify_bundle` found: the manifest, the results that passed, and every problem (empty: accepted)."""

    bundle: Path
    manifest: Manifest | None = None
    results: list[VerifiedResult] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.results)


def _parse_manifest(files: dict[str, bytes]) -> Manifest:
    if files.get(MANIFEST_NAME) is None:
        raise ResultFileError(f"no {MANIFEST_NAME} in the bundle")
    if len(files[MANIFEST_NAME]) > MAX_MANIFEST_BYTES:
        raise ResultFileError(f"{MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES} bytes")
    # A member listed twice would be checked against one entry while the other hides: refused.
    data = loads_json_bounded(files[MANIFEST_NAME], MANIFEST_NAME, error=ResultFileError, unique_keys=True)
    try:
        return Manifest.model_validate(data)
    except ValidationError as error:
        raise ResultFileError(f"{MANIFEST_NAME}: {validation_problem(error)}") from None


def verify_bundle(path: Path) -> VerifyReport:
    """Check a bundle end to end; unsafe or unreadable bundles raise, content problems go to `problems`."""
    files = read_bundle(path)
    report = VerifyReport(Path(path))
    manifest = _parse_manifest(files)
    report.manifest = manifest
    for name in sorted(set(files) - set(manifest.files) - {MANIFEST_NAME}):
        report.problems.append(f"{name}: not listed in {MANIFEST_NAME}")
    run_ids: dict[str, str] = {}
    for name, entry in sorted(manifest.files.items()):
        try:
            safe_member_path(name)
        except ResultFileError as error:
            report.problems.append(str(error))
            continue
        expected_folder = "results/" if entry.kind == "result" else "logs/"
        if not name.startswith(expected_folder):
            report.problems.append(f"{name}: a {entry.kind} file must be under {expected_folder}")
            continue
        if name not in files:
            report.problems.append(f"{name}: listed in {MANIFEST_NAME} but missing")
            continue
        data = files[name]
        if len(data) != entry.size_bytes or _sha256(data) != entry.sha256:
            report.problems.append(f"{name}: checksum mismatch (the file was changed after packing)")
            continue
        if entry.kind == "log":
            report.logs.append(name)
            continue
        try:
            text = data.decode("utf-8")
            result = parse_result(text, name)
            findings = check_result(result, name)
        except UnicodeDecodeError:
            report.problems.append(f"{name}: not UTF-8 text")
            continue
        except ResultFileError as error:
            report.problems.append(str(error))
            continue
        if result.run_id in run_ids:
            report.problems.append(f"{name}: run id {result.run_id} is also in {run_ids[result.run_id]}")
            continue
        run_ids[result.run_id] = name
        report.results.append(VerifiedResult(name, text, result, tuple(findings)))
    if not report.results and not report.problems:
        report.problems.append("the bundle holds no result file")
    return report
