"""Result files from folders, globs and submission bundles, as one table; `harness export` writes it.

Sources: a result file, a folder (searched recursively; a folder holding `MANIFEST.json` is a bundle), a
`.tar.gz` submission bundle (verified first, as `harness verify` does) or a glob (`results/**/*.json`).
Every file must be a valid result: the first one that is not is a one-line error, unless `skip_invalid`.
"""

from __future__ import annotations

import glob
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError, NotFoundError, ResultFileError
from harness.files import csv_text, json_line, new_output, write_bytes_atomic, write_folder_atomic, write_text_atomic
from harness.ops.submission import ARCHIVE_SUFFIXES, MANIFEST_NAME, verify_bundle
from harness.results.hf_dataset import data_file_name, dataset_card
from harness.results.schema import ResultFile
from harness.results.store import iter_result_files, load_result
from harness.results.table import COLUMNS, EMISSIONS_COLUMNS, emissions_row, result_row, results_frame

FORMATS = ("parquet", "csv", "jsonl", "emissions", "dataset")
"""`emissions` is CodeCarbon's emissions.csv layout; `dataset` a folder of whole result records with a Hugging
Face dataset card declaring their types (`results.hf_dataset`); the others are the flat table of `results.table`."""
GLOB_CHARACTERS = "*?["


@dataclass
class Gathered:
    results: list[tuple[str, ResultFile]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """`source: reason` of each invalid file left out (only with `skip_invalid`)."""


def _expand(source: str | Path) -> list[Path]:
    text = str(source)
    path = Path(text).expanduser()
    if path.exists():
        return [path]
    if any(c in text for c in GLOB_CHARACTERS):
        matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        if not matches:
            raise NotFoundError(f"no files match {text}")
        return matches
    raise NotFoundError(f"no such file or folder: {text}")


def _is_bundle(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES) or (path.is_dir() and (path / MANIFEST_NAME).is_file())


def gather(sources: str | Path | Sequence[str | Path], *, skip_invalid: bool = False) -> Gathered:
    """Every result in the sources, each once (by run id), in the order found."""
    if isinstance(sources, (str, Path)):
        sources = [sources]
    gathered = Gathered()
    seen: set[str] = set()

    def add(where: str, result: ResultFile) -> None:
        if result.run_id not in seen:
            seen.add(result.run_id)
            gathered.results.append((where, result))

    for source in sources:
        for path in _expand(source):
            if _is_bundle(path):
                report = verify_bundle(path)
                if report.problems and not skip_invalid:
                    raise ResultFileError(f"bundle {path}: {report.problems[0]}")
                gathered.skipped.extend(f"{path}: {problem}" for problem in report.problems)
                for verified in report.results:
                    add(f"{path}:{verified.path}", verified.result)
                continue
            for file in iter_result_files(path):
                try:
                    add(str(file), load_result(file))
                except ResultFileError as error:
                    if not skip_invalid:
                        raise
                    gathered.skipped.append(str(error))
    return gathered


def table_rows(sources: str | Path | Sequence[str | Path], *, skip_invalid: bool = False) -> list[dict]:
    """The sources' results as rows of the table (`harness.results.table.result_row`: `source` is `measured`,
    `source_file` the file each was read from)."""
    return [result_row(result, where) for where, result in gather(sources, skip_invalid=skip_invalid).results]


def load_frame(sources: str | Path | Sequence[str | Path], *, skip_invalid: bool = False):
    """The sources' results as a pandas DataFrame (columns and dtypes: `harness.results.table.COLUMNS`)."""
    return results_frame(table_rows(sources, skip_invalid=skip_invalid))


def _json_value(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def export(sources: str | Path | Sequence[str | Path], out: Path, fmt: str, *, g_co2e_per_kwh: float | None = None,
           region: str = "", pue: float = 1.0, skip_invalid: bool = False) -> tuple[Path, Gathered]:
    """Write the sources' results to `out` as one table (or, for `dataset`, a new folder), atomically; returns the
    path and what was read.

    `emissions` needs the grid's intensity (`g_co2e_per_kwh`) and its `region` code.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    new_output(Path(out))  # before reading every result, not after: an export never replaces anything
    gathered = gather(sources, skip_invalid=skip_invalid)
    if not gathered.results:
        raise NotFoundError("no result files found in " + ", ".join(str(s) for s in _as_list(sources)))
    out = Path(out)
    if fmt == "dataset":
        return _write_dataset(out, [result for _where, result in gathered.results]), gathered
    if fmt == "emissions":
        if g_co2e_per_kwh is None:
            raise ConfigError("the emissions format needs a grid carbon intensity")
        rows = [emissions_row(result, g_co2e_per_kwh=g_co2e_per_kwh, region=region, pue=pue)
                for _where, result in gathered.results]
        return write_text_atomic(out, csv_text(EMISSIONS_COLUMNS, ([row.get(name) for name in EMISSIONS_COLUMNS]
                                                                   for row in rows))), gathered
    frame = results_frame([result_row(result, where) for where, result in gathered.results])
    if fmt == "csv":
        return write_text_atomic(out, frame_csv(frame)), gathered
    if fmt == "jsonl":
        lines = [json.dumps({k: _json_value(v) for k, v in record.items()}, sort_keys=False, allow_nan=False)
                 for record in frame.astype(object).where(frame.notna(), None).to_dict(orient="records")]
        return write_text_atomic(out, "\n".join(lines) + "\n"), gathered
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return write_bytes_atomic(out, buffer.getvalue()), gathered


def frame_csv(frame) -> str:
    """The table as CSV through the project's one CSV writer (`harness.files.csv_text`): as pandas writes it, but no
    text cell can start a formula."""
    values = frame.astype(object).where(frame.notna(), None)
    return csv_text([str(name) for name in frame.columns], values.itertuples(index=False, name=None))


def _write_dataset(out: Path, results: list[ResultFile]) -> Path:
    """A new folder: every whole result, one JSON line each, and the card that types them, so
    `datasets.load_dataset(out)` (or the Hub, after an upload) reads them with no arguments."""
    records = "".join(json_line(result.model_dump(mode="json")) for result in results).encode("utf-8")
    data_file = data_file_name(records)
    card = dataset_card(num_runs=len(results), task_kinds=[result.task.kind for result in results],
                        data_files=data_file)
    return write_folder_atomic(out, {data_file: records, "README.md": card.encode("utf-8")})


def _as_list(sources) -> list:
    return [sources] if isinstance(sources, (str, Path)) else list(sources)


__all__ = ["COLUMNS", "FORMATS", "Gathered", "export", "gather", "load_frame", "table_rows"]
