"""Reading the published records that ship with the harness (`published/<collection>.jsonl`).

The folder is `$HARNESS_PUBLISHED_DIR`, else a checkout's `published/`, else the copy shipped inside the wheel
(`harness/_data/published`, see setup.py): the same rule as the task files (`harness.tasks.registry.data_folder`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from harness.errors import validation_problem
from harness.files import read_bounded
from harness.published.catalogue import COLLECTIONS
from harness.published.schema import PublishedRecord, SourceFileError
from harness.tasks.registry import data_folder

PUBLISHED_DIR_ENV = "HARNESS_PUBLISHED_DIR"


def published_folder() -> Path:
    """`$HARNESS_PUBLISHED_DIR`, else the checkout's `published/`, else the records shipped in the package."""
    return data_folder(PUBLISHED_DIR_ENV, "published")


def read_records(path: Path) -> list[PublishedRecord]:
    """One records file (JSON Lines); a line that is not a valid record is one `SourceFileError`."""
    records = []
    for number, line in enumerate(read_bounded(path, error=SourceFileError).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(PublishedRecord.model_validate_json(line))
        except ValidationError as error:
            raise SourceFileError(f"{path}: line {number}: {validation_problem(error)}") from None
    return records


def load_published(folder: Path | None = None, collections: Iterable[str] | None = None) -> list[PublishedRecord]:
    """Every published record (or those of `collections`), collection by collection in `COLLECTIONS` order, each in
    its file's order (source file, then row). A collection whose file is missing has no records."""
    folder = Path(folder) if folder is not None else published_folder()
    wanted = list(COLLECTIONS) if collections is None else list(collections)
    unknown = [c for c in wanted if c not in COLLECTIONS]
    if unknown:
        raise SourceFileError(f"unknown collection {unknown[0]!r}; known: {', '.join(COLLECTIONS)}")
    records: list[PublishedRecord] = []
    for collection in wanted:
        path = folder / f"{collection}.jsonl"
        if path.is_file():
            records.extend(read_records(path))
    return records


def records_for_model(records: Iterable[PublishedRecord], model_id: str) -> list[PublishedRecord]:
    """The records whose model id, or model as written, is `model_id`, compared without regard to case."""
    wanted = model_id.strip().casefold()
    return [r for r in records if wanted in {(r.model_id or "").casefold(), r.model.strip().casefold()}]
