"""`harness import`: a source's files -> the published folder's records files and raw copies, all or nothing.

`import_source` reads the files (a folder is searched; a file is taken when its path ends like one of the source's
files, `public/data/tasks/gpqa.json`), parses every one into records, and returns the folder's new contents:

    <collection>.jsonl                 one record per line, sorted keys, in file and row order
    raw/<importer>/<path in the repo>  the bytes that were parsed
    raw/<importer>/SHA256SUMS          their hashes (`sha256sum -c` reads it)

Any problem in any file is one `SourceFileError` and nothing is returned. Importing the kept raw copies again gives
the same bytes (tests/published holds that). `write_import` writes them into a folder: a file already there with
the same bytes is left alone, one with other bytes is refused (remove the source's files to import it anew).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError, HarnessError, NotFoundError
from harness.files import json_line, read_bounded, visible_files, write_new_files
from harness.published import aies_2025, aies_v1, mlenergy_v2, mlenergy_v3
from harness.published.catalogue import ORIGINS
from harness.published.reading import Context, Importer, SourceFile, read_source_file
from harness.published.schema import PublishedRecord, SourceFileError

IMPORTERS: dict[str, Importer] = {module.IMPORTER.name: module.IMPORTER
                                  for module in (mlenergy_v3, mlenergy_v2, aies_v1, aies_2025)}
"""Every `harness import` source by name; a new source is one module defining `IMPORTER`, and one entry here."""

SUMS = "SHA256SUMS"
"""The hashes of an import's raw copies, beside them (`sha256sum -c` reads it)."""

MAX_FILES = 5_000
"""Most files one import reads (ML.ENERGY v2, the largest, has 486)."""


@dataclass
class ImportResult:
    importer: str
    records: dict[str, list[PublishedRecord]]
    """By collection, in file and row order."""
    files: dict[str, bytes]
    """The published folder's new contents, by path relative to it."""
    sources: list[SourceFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Files found in a folder that are none of the source's files (README.md, models.json, ...)."""


def importer(name: str) -> Importer:
    if name not in IMPORTERS:
        raise ConfigError(f"unknown source {name!r}; choose one of: {', '.join(IMPORTERS)}")
    return IMPORTERS[name]


def _source_files(imp: Importer, paths: Sequence[str | Path]) -> tuple[list[SourceFile], list[str]]:
    chosen: dict[str, SourceFile] = {}
    skipped: list[str] = []
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            raise NotFoundError(f"no such file or folder: {path}")
        candidates = visible_files(path) if path.is_dir() else [path]
        for local in candidates:
            in_repo = imp.repository_path(local)
            if in_repo is None and local.name == SUMS and path.is_dir():
                continue  # the hashes an earlier import kept beside its raw copies
            if in_repo is None:
                if not path.is_dir():
                    raise ConfigError(f"{local}: not one of {imp.name}'s files ({', '.join(imp.patterns)})")
                skipped.append(str(local))
                continue
            file = read_source_file(local, in_repo)
            earlier = chosen.get(in_repo)
            if earlier is not None and earlier.data != file.data:
                raise SourceFileError(f"{earlier.local} and {local} are both {in_repo}, with different contents")
            chosen.setdefault(in_repo, file)
            if len(chosen) > MAX_FILES:
                raise SourceFileError(f"more than {MAX_FILES} files of {imp.name}")
    if not chosen:
        raise NotFoundError(f"no {imp.name} files in {', '.join(str(p) for p in paths)} (it reads "
                            f"{', '.join(imp.patterns)})")
    return [chosen[key] for key in sorted(chosen)], skipped


def _record_order(record: PublishedRecord) -> tuple[str, int]:
    path, _, index = record.id.rpartition("#")
    return path, int(index)


def import_source(name: str, paths: Sequence[str | Path], *, commit: str | None = None) -> ImportResult:
    """Parse a source's files into records and the published folder's new contents (nothing is written)."""
    imp = importer(name)
    origin = ORIGINS[imp.name]
    commit = origin.commit if commit is None else commit
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ConfigError(f"--commit must be the 40 hex digits of a commit of {origin.repository}, not {commit!r}")
    ctx = Context(importer=imp.name, repository=origin.repository, commit=commit)
    files, skipped = _source_files(imp, paths)
    records: dict[str, list[PublishedRecord]] = {}
    for file in files:
        for record in imp.parse(file, ctx):
            records.setdefault(record.collection, []).append(record)
    contents: dict[str, bytes] = {}
    for collection in imp.collections:
        if collection in records:
            ordered = sorted(records[collection], key=_record_order)
            records[collection] = ordered
            contents[f"{collection}.jsonl"] = "".join(
                json_line(record.model_dump(mode="json")) for record in ordered).encode("utf-8")
    for file in files:
        contents[ctx.raw_path(file)] = file.data
    sums = "".join(f"{file.sha256}  {file.path}\n" for file in files)
    contents[f"raw/{imp.name}/{SUMS}"] = sums.encode("utf-8")
    return ImportResult(importer=imp.name, records=records, files=contents, sources=files, skipped=skipped)


def write_import(result: ImportResult, out: Path) -> tuple[list[Path], list[Path]]:
    """Write an import's files under `out`, all or nothing: (written, already there with the same bytes). A file
    there with other bytes is refused before anything is written."""
    out = Path(out)
    new: dict[Path, bytes] = {}
    same: list[Path] = []
    for relative, data in sorted(result.files.items()):
        target = out / relative
        if target.exists() or target.is_symlink():
            try:
                existing = read_bounded(target, limit=len(data))
            except HarnessError:
                existing = None
            if existing != data:
                raise HarnessError(f"refusing to overwrite {target}: it differs from what this import makes (remove "
                                   f"{result.importer}'s files from {out} to import it anew)")
            same.append(target)
        else:
            new[target] = data
    written = write_new_files(new) if new else []
    return written, same


@dataclass
class Imported:
    result: ImportResult
    written: list[Path]
    unchanged: list[Path]


def import_into(name: str, paths: Sequence[str | Path], out: Path, *, commit: str | None = None) -> Imported:
    """`harness import`: parse a source's files and write the records and raw copies under `out`, all or nothing."""
    result = import_source(name, paths, commit=commit)
    written, unchanged = write_import(result, out)
    return Imported(result=result, written=written, unchanged=unchanged)
