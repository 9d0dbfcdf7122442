"""What every importer shares: a source file (its path in the repository, its bytes and their hash), bounded and
exact reading of CSV and JSON, checked values, and the record's provenance.

Every source file is untrusted: it is read through `harness.files.read_bounded` (regular files only, a size limit),
JSON through `loads_json_bounded` (depth, size, finite numbers), and every value an importer takes is checked here
(a number is a plain decimal, a name is printable text). Any problem is one `SourceFileError` naming the file and
the row. Numbers are kept as the text the file spells them with (`NumberText`), so a record's `as_written` is the
source's own text, never a float printed again.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.errors import NotFoundError, validation_problem
from harness.files import loads_json_bounded, read_bounded, unprintable
from harness.published.catalogue import COLLECTIONS, ORIGINS
from harness.published.schema import PublishedRecord, SourceFileError

MAX_SOURCE_BYTES = 4 * 1024**2
"""The largest source file read (the largest published one, ML.ENERGY v3's text-to-image table, is 0.4 MB)."""

MAX_ROWS = 20_000
"""Most rows (CSV lines, JSON configurations) in one source file (the largest has 638)."""

MAX_TEXT_CHARS = 300
"""Longest text value taken from a source (model names, GPU names)."""

_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class NumberText(str):
    """A JSON number exactly as the file spells it."""


@dataclass(frozen=True)
class SourceFile:
    """One file of a source: where it is in the source's repository, its bytes, and where it was read."""

    path: str
    data: bytes
    local: Path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def where(self, row: str | None = None) -> str:
        return f"{self.local}" + (f": {row}" if row else "")


@dataclass(frozen=True)
class Context:
    """What an importer's records share: the importer, and the repository and commit its files are from."""

    importer: str
    repository: str
    commit: str

    @property
    def licence(self) -> str:
        return ORIGINS[self.importer].licence

    def raw_path(self, file: SourceFile) -> str:
        return f"raw/{self.importer}/{file.path}"


@dataclass(frozen=True)
class Importer:
    """One `harness import` source: which files of its repository it reads, and how a file becomes records."""

    name: str
    patterns: tuple[str, ...]
    """The files it reads, as globs of paths in the repository (`public/data/tasks/*.json`), one `*` per name."""
    collections: tuple[str, ...]
    parse: Callable[[SourceFile, Context], list[PublishedRecord]]
    description: str = ""
    _parts: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parts", tuple(tuple(p.split("/")) for p in self.patterns))

    def repository_path(self, local: Path) -> str | None:
        """The path in the repository that a local file stands for (the last parts of its path matching one of
        `patterns`), or None when it is none of this source's files."""
        parts = Path(local).parts
        for pattern in self._parts:
            tail = parts[-len(pattern):]
            if len(tail) == len(pattern) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(tail, pattern)):
                return "/".join(tail)
        return None


def read_source_file(local: Path, path: str) -> SourceFile:
    data = read_bounded(local, limit=MAX_SOURCE_BYTES, error=SourceFileError, missing=NotFoundError)
    return SourceFile(path=path, data=data, local=Path(local))


# ------------------------------------------------------------------------------------------------- CSV


def csv_rows(file: SourceFile, header: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV file whose header is exactly `header`, as (line number, cells by column); fully empty lines
    are skipped. The header line is line 1."""
    try:
        text = file.data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise SourceFileError(f"{file.where()}: not UTF-8 text ({problem.reason} at byte {problem.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        first = next(reader, None)
        if first is None or tuple(first) != header:
            shown = ",".join(first or [])[:200]
            raise SourceFileError(f"{file.where('line 1')}: the header is {shown!r}, not {','.join(header)!r}")
        for cells in reader:
            if not cells or cells == [""]:
                continue
            if len(cells) != len(header):
                raise SourceFileError(f"{file.where(f'line {reader.line_num}')}: {len(cells)} cells, not the "
                                      f"header's {len(header)}")
            if len(rows) >= MAX_ROWS:
                raise SourceFileError(f"{file.where()}: more than {MAX_ROWS} rows")
            rows.append((reader.line_num, dict(zip(header, cells))))
    except csv.Error as problem:
        raise SourceFileError(f"{file.where(f'line {reader.line_num}')}: not valid CSV ({problem})") from None
    if not rows:
        raise SourceFileError(f"{file.where()}: no rows")
    return rows


# ------------------------------------------------------------------------------------------------ JSON


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def json_document(file: SourceFile) -> Any:
    """The file's JSON, within the bounds of untrusted files, with every number kept as its text (`NumberText`)."""
    # bounds, finite numbers, no key given twice (one of them would be silently dropped), one-line errors
    loads_json_bounded(file.data, str(file.local), error=SourceFileError, unique_keys=True)
    return json.loads(file.data.decode("utf-8"), parse_float=NumberText, parse_int=NumberText,
                      parse_constant=_no_constant)


def json_object(value: Any, keys: frozenset[str] | set[str], where: str) -> dict[str, Any]:
    """`value` as an object holding exactly `keys`: a key missing or one more is an error (a changed format shows)."""
    if not isinstance(value, dict):
        raise SourceFileError(f"{where}: not an object")
    missing, extra = sorted(set(keys) - set(value)), sorted(set(value) - set(keys))
    if missing:
        raise SourceFileError(f"{where}: no {missing[0]!r}" + (f" (+{len(missing) - 1} more)" if len(missing) > 1
                                                                 else ""))
    if extra:
        raise SourceFileError(f"{where}: unknown key {extra[0][:60]!r}")
    return value


# ---------------------------------------------------------------------------------------------- values


def number_text(value: Any, where: str, *, integer: bool = False, minimum: Decimal | None = Decimal(0)) -> str:
    """A plain decimal number as written (a CSV cell): its text. Not a number, below `minimum`, beyond 1e30 or (with
    `integer`) not a whole number: an error."""
    if not isinstance(value, str) or len(value) > 40 or not _DECIMAL.match(value):
        raise SourceFileError(f"{where}: {str(value)[:40]!r} is not a number")
    parsed = Decimal(value)
    if abs(parsed.adjusted()) > 30:
        raise SourceFileError(f"{where}: {value!r} is out of range")
    if integer and parsed != parsed.to_integral_value():
        raise SourceFileError(f"{where}: {value!r} is not a whole number")
    if minimum is not None and parsed < minimum:
        raise SourceFileError(f"{where}: {value!r} is below {minimum}")
    return str(value)


def json_number(value: Any, where: str, *, integer: bool = False, minimum: Decimal | None = Decimal(0)) -> str:
    """`number_text` of a JSON number (a string holding digits is not one)."""
    if not isinstance(value, NumberText):
        raise SourceFileError(f"{where}: {str(value)[:40]!r} is not a number")
    return number_text(value, where, integer=integer, minimum=minimum)


def as_int(text: str) -> int:
    return int(Decimal(text))


def as_float(text: str) -> float:
    return float(Decimal(text))


def scaled(text: str, factor: int = 1) -> float:
    """The number `text` times a power of ten (a unit's prefix), computed exactly in decimal and only then made a
    float: `0.002146239` kWh is 2.146239 Wh, not 2.1462389999999997."""
    return float(Decimal(text) * factor)


def text(value: Any, where: str) -> str:
    """A name from the source: printable text, not empty, at most `MAX_TEXT_CHARS`."""
    if not isinstance(value, str) or isinstance(value, NumberText):
        raise SourceFileError(f"{where}: {str(value)[:40]!r} is not text")
    if not value.strip():
        raise SourceFileError(f"{where}: empty")
    if len(value) > MAX_TEXT_CHARS:
        raise SourceFileError(f"{where}: {len(value)} characters, more than {MAX_TEXT_CHARS}")
    bad = unprintable(value)
    if bad is not None:
        raise SourceFileError(f"{where}: holds the control character {bad}")
    return value


def model_identity(written: str) -> tuple[str | None, str | None, list[str]]:
    """(model id, variant, flags) of a model name as written: a variant after a space is split off
    (`openai/gpt-oss-20b low`); a name that is not `owner/name` is no model id (and flagged)."""
    name, variant, flags = written, None, []
    if " " in written.strip():
        name, _, variant = written.strip().partition(" ")
        variant = variant.strip()
        flags.append("variant-in-name")
    if _HUB_ID.match(name):
        return name, variant, flags
    return None, variant, flags + ["model-name-not-an-id"]


def make_record(ctx: Context, file: SourceFile, index: int, row: str, collection_id: str,
                **fields: Any) -> PublishedRecord:
    """A record of `collection_id` for row `index` of `file`, with its provenance; a value the schema refuses is one
    `SourceFileError` naming the row."""
    collection = COLLECTIONS[collection_id]
    data = {
        "id": f"{collection_id}/{file.path}#{index}", "collection": collection_id, "source": collection.source,
        "round": collection.round, **fields,
        "provenance": {"repository": ctx.repository, "commit": ctx.commit, "path": file.path, "row": row,
                       "sha256": file.sha256, "raw": ctx.raw_path(file), "licence": ctx.licence},
    }
    try:
        return PublishedRecord.model_validate(data)
    except ValidationError as error:
        raise SourceFileError(f"{file.where(row)}: {validation_problem(error)}") from None


def duplicated(names: list[str]) -> set[str]:
    """The names that occur more than once."""
    seen: set[str] = set()
    return {name for name in names if name in seen or seen.add(name)}
