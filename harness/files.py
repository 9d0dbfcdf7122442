"""Files in and out, one way each: atomic writes, bounded reads of untrusted files, canonical JSON, file-name slugs.

A reader (or a crash) never sees half a file, nothing is overwritten by accident, a YAML file never runs
code or keeps a duplicated key, and two spellings of one value never make two keys or two file names.
Every file a user or a stranger hands us (result files, bundle manifests, task, preset and campaign YAML)
is read by `read_bounded` and parsed by `loads_json_bounded` / `read_yaml_mapping`: regular files only
(a FIFO or `/dev/zero` is refused before it is opened for reading), a size limit, a nesting-depth and size
limit, finite numbers and integers that fit 64 bits. Every problem is one `HarnessError` naming the file.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic_core
import yaml

from harness.errors import ConfigError, HarnessError, NotFoundError

MAX_FILE_BYTES = 64 * 1024**2
"""The largest untrusted file read whole (a result with long timelines is a few MB)."""

MAX_DEPTH = 32
"""Deepest nesting of lists and mappings accepted in untrusted data (our own files nest at most 6 deep)."""

MAX_NODES = 5_000_000
"""Most values in one untrusted document (YAML aliases could otherwise expand into billions)."""

MAX_INT = 2**63 - 1
"""Integers beyond 64 bits are refused: nothing we measure needs them, and floats overflow on them."""

MAX_SLUG_CHARS = 96
"""A slug longer than this is cut and given a hash (file names are limited to 255 bytes)."""


def umask() -> int:
    """The process umask (reading it means setting it, so it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    With `overwrite=False` an existing file is refused (`FileExistsError` becomes a HarnessError), and the
    check is made by the final hard link, so two writers racing for one name cannot both win. The file gets
    the permissions the umask allows (not the temporary file's 0600). Any OS failure (no permission, disk
    full, a folder in the way, a name too long) is one HarnessError naming the path, and leaves nothing behind.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise HarnessError(f"cannot write {path}: it is a folder")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name[:60]}.", suffix=".tmp", dir=path.parent)
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~umask())  # mkstemp makes 0600
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise HarnessError(f"refusing to overwrite existing file {path}") from None
            tmp.unlink()
    except OSError as problem:
        raise HarnessError(f"cannot write {path}: {problem.strerror or problem}") from None
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
    _remove_stale_temporaries(path)
    return path


STALE_TEMPORARY_S = 3600.0
"""A writer's temporary file older than this was left by a killed process (a live write takes seconds)."""


def _remove_stale_temporaries(path: Path) -> None:
    """Remove temporary files of earlier writes of `path` that a kill between fsync and rename left behind."""
    cutoff = time.time() - STALE_TEMPORARY_S
    for stale in path.parent.glob(f".{glob.escape(path.name[:60])}.*.tmp"):
        with contextlib.suppress(OSError):
            if stale.is_file() and stale.stat().st_mtime < cutoff:
                stale.unlink()


def write_text_atomic(path: Path, text: str, *, overwrite: bool = True) -> Path:
    """`write_bytes_atomic` for UTF-8 text."""
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def write_json_atomic(path: Path, data: Any, *, overwrite: bool = True, one_line: bool = False) -> Path:
    """Write `data` as JSON with sorted keys, atomically: indented (diffs stay readable), or with `one_line` as
    one line that is also a JSON Lines file (what `datasets` and Arrow's JSON reader need to read it typed)."""
    text = json_line(data) if one_line else json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False,
                                                         allow_nan=False) + "\n"
    return write_text_atomic(path, text, overwrite=overwrite)


def json_line(data: Any) -> str:
    """`data` as one line of JSON with sorted keys and a newline: a record of a JSON Lines file."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def refuse_existing(out: Path) -> None:
    """A new output (a folder or archive) must not be there yet: refused, never merged into or replaced. Callers
    check before their work, and `write_folder_atomic` again at its rename."""
    if os.path.lexists(out):
        raise HarnessError(f"refusing to overwrite existing {out}")


def write_folder_atomic(out: Path, contents: dict[str, bytes]) -> Path:
    """Create the folder `out` holding `contents` (relative path -> bytes), all or nothing.

    Everything is written into a staging folder beside `out` and renamed into place, so a failure leaves no
    half-written folder; an existing `out` is refused (never merged into or replaced). Folders and files get
    the permissions the umask allows, as `write_bytes_atomic`'s do.
    """
    out = Path(out)
    refuse_existing(out)
    staging: Path | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name[:60]}.", dir=out.parent))
        staging.chmod(0o777 & ~umask())  # mkdtemp makes it 0700
        for name, data in contents.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        refuse_existing(out)
        staging.rename(out)
    except OSError as problem:
        raise HarnessError(f"cannot write {out}: {problem.strerror or problem}") from None
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def visible_files(root: Path, pattern: str = "*") -> list[Path]:
    """`visible_paths` as `Path` objects."""
    return [Path(path) for path in visible_paths(root, pattern)]


def visible_paths(root: Path, pattern: str = "*") -> list[str]:
    """Entries under `root` matching `pattern` that are not folders, sorted, skipping hidden entries (and the
    writers' `.tmp` files), as paths joined to `root` (strings: a 10 000-file folder is listed without making
    as many `Path` objects).

    FIFOs, devices, sockets and broken links are listed too, not skipped: whoever reads them goes through
    `read_bounded`, which refuses them by name, so a user learns about them instead of missing a file.
    """
    root = str(Path(root))  # spelt as `Path` spells it ("./a//b" -> "a/b"), so paths start with `str(Path(root))`
    found: list[str] = []
    # One depth-first walk, each folder's entries in name order, hidden ones pruned: the order of sorting whole
    # paths by their components (as Path objects sort), without building and sorting 10 000 tuples. Like `rglob`
    # (and `os.walk`), a link to a folder is not followed and a link to anything else is kept; an unreadable
    # folder is skipped.
    stack = [iter(_sorted_entries(root))]
    while stack:
        for entry in stack[-1]:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    stack.append(iter(_sorted_entries(entry.path)))
                    break
            elif fnmatch.fnmatchcase(entry.name, pattern):
                found.append(entry.path)
        else:
            stack.pop()
    return found


def _sorted_entries(folder: str) -> list[os.DirEntry]:
    """The visible entries of `folder` by name; none when it cannot be read."""
    try:
        with os.scandir(folder) as entries:
            return sorted((entry for entry in entries if not entry.name.startswith(".")), key=lambda e: e.name)
    except OSError:
        return []


def canonical_json(data: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept (the basis of job keys and identities)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string starting like a formula (`=HYPERLINK(...)`, `+`, `-`,
    `@`, a tab or a line break) gets a leading `'` (OWASP's advice); numbers and other strings are unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def unprintable(text: str) -> str | None:
    """The first character of `text` that has no place in a name (a control character, a lone surrogate, or
    a non-character, all invalid in XML), as `U+XXXX`, else None."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\ufffe\uffff":
            return f"U+{ord(char):04X}"
    return None


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def slugify(text: str) -> str:
    """A file-name-safe form of `text`: runs of other characters become one `-` (`unknown` if nothing is left).

    Leading and trailing dots go too, so a slug is never `.` or `..` or a hidden file. Never read back. A slug
    longer than `MAX_SLUG_CHARS` is cut and ends in a short hash of the whole text, so it always fits a file name.
    """
    slug = re.sub(r"[^0-9A-Za-z._-]+", "-", text).strip("-.") or "unknown"
    if len(slug) > MAX_SLUG_CHARS:
        slug = f"{slug[:MAX_SLUG_CHARS - 9].rstrip('-.')}-{_short_hash(text)}"
    return slug


def unique_slug(text: str, readable: str | None = None, restore: Callable[[str], str] | None = None) -> str:
    """A file name for `text` that no other text can share, for names derived from ids that strangers choose
    (published pages, data files, plots).

    The readable slug (of `readable`, by default of `text`) is used alone only when it gives back exactly
    `text` (through `restore`, e.g. `__` -> `/` for model ids); otherwise it ends in `~` and 12 hex digits of
    the exact text's sha256 (`text-gen!` -> `text-gen~1a2b3c4d5e6f`, never `text-gen`). A plain slug never holds
    `~`, so a chosen id cannot imitate another id's hashed name, and two plain slugs are equal only for equal ids.
    """
    slug = slugify(text if readable is None else readable)
    if (restore(slug) if restore is not None else slug) == text:
        return slug
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{slug[:MAX_SLUG_CHARS - 13]}~{digest}"


# ------------------------------------------------------------------------------------- untrusted files


def read_bounded(path: Path, *, limit: int = MAX_FILE_BYTES, error: type[HarnessError] = HarnessError,
                 missing: type[HarnessError] = NotFoundError) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is one `error` naming the file.

    The file is checked before it is opened for reading (a FIFO would hang, `/dev/zero` never ends), opened
    without blocking, checked again on the open handle (no swap in between) and read to at most `limit` bytes.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise missing(f"{path}: no such file") from None
    except OSError as problem:
        raise error(f"{path}: cannot read ({problem.__class__.__name__}: {problem.strerror or problem})") from None
    if not stat.S_ISREG(info.st_mode):
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a FIFO, device or socket)"
        raise error(f"{path}: {what}")
    if info.st_size > limit:
        raise error(f"{path}: {info.st_size} bytes, more than the {limit} accepted")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                raise error(f"{path}: not a regular file (a FIFO, device or socket)")
            data = _read_at_most(fd, limit + 1, opened.st_size + 1)
        finally:
            os.close(fd)
    except OSError as problem:
        raise error(f"{path}: cannot read ({problem.__class__.__name__}: {problem.strerror or problem})") from None
    if len(data) > limit:
        raise error(f"{path}: more than the {limit} bytes accepted")
    return data


def _read_at_most(fd: int, limit: int, expected: int) -> bytes:
    """Up to `limit` bytes of `fd`, asking first for the `expected` size (the file's, plus one byte to see its end):
    a read of `limit` bytes would allocate the whole limit for every small file."""
    chunks, total = [], 0
    while total < limit:
        chunk = os.read(fd, min(max(expected - total, 1 << 16), limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_tree(data: Any, source: str, *, error: type[HarnessError] = HarnessError) -> None:
    """Refuse parsed data that nests deeper than `MAX_DEPTH`, holds more than `MAX_NODES` values, a number
    that is not finite or an integer beyond 64 bits. Iterative: a hostile document cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise error(f"{source}: more than {MAX_NODES} values")
        if isinstance(value, dict):
            children = [*value.keys(), *value.values()]
        elif isinstance(value, list | tuple):
            children = value
        else:
            if isinstance(value, float) and not math.isfinite(value):
                raise error(f"{source}: {value} is not a finite number")
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
                raise error(f"{source}: an integer of {len(str(abs(value)))} digits (beyond 64 bits)")
            continue
        if children and depth >= MAX_DEPTH:
            raise error(f"{source}: nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in children)


def _parsed_within_bounds(data: Any) -> bool:
    """`check_tree`'s verdict on freshly parsed JSON (only dicts with text keys, lists and scalars), level by level
    and without naming the problem: several times faster, for the common case of a document that has none."""
    level, depth, nodes = [data], 0, 0
    while level:
        nodes += len(level)
        below: list = []
        for value in level:
            kind = type(value)
            if kind is dict:
                if value:
                    if depth >= MAX_DEPTH:
                        return False
                    nodes += len(value)  # the keys: text, counted as check_tree counts them
                    below.extend(value.values())
            elif kind is list:
                if value:
                    if depth >= MAX_DEPTH:
                        return False
                    below.extend(value)
            elif kind is float:
                if not math.isfinite(value):
                    return False
            elif kind is int and not -MAX_INT <= value <= MAX_INT:
                return False
        if nodes > MAX_NODES:
            return False
        level, depth = below, depth + 1
    return True


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (beyond 64 bits)")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid JSON number")


def loads_json_bounded(text: str | bytes, source: str, *, error: type[HarnessError] = HarnessError) -> Any:
    """Parse untrusted JSON: NaN, Infinity, overflowing numbers and too-deep nesting are one `error`.

    pydantic's parser reads it first (several times faster than the stdlib's with a hook per number); a document
    it refuses or that breaks a bound is read again by the stdlib's, step by step, which names the problem (and
    keeps what it alone accepts, such as an escaped lone surrogate)."""
    try:
        data = pydantic_core.from_json(text, allow_inf_nan=False)
    except ValueError:
        pass
    else:
        if _parsed_within_bounds(data):
            return data
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = json.loads(text, parse_constant=_no_constant, parse_int=_bounded_int, parse_float=_finite_float)
    except UnicodeDecodeError:
        raise error(f"{source}: not UTF-8 text") from None
    except RecursionError:
        raise error(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as problem:
        raise error(f"{source}: not valid JSON ({problem})") from None
    check_tree(data, source, error=error)
    return data


def read_json_bounded(path: Path, *, limit: int = MAX_FILE_BYTES, error: type[HarnessError] = HarnessError,
                      missing: type[HarnessError] = NotFoundError) -> Any:
    """`read_bounded` then `loads_json_bounded`."""
    return loads_json_bounded(read_bounded(path, limit=limit, error=error, missing=missing), str(path), error=error)


# ---------------------------------------------------------------------------------------------- YAML


MAX_YAML_BYTES = 1024**2
"""Task, preset and campaign files are a few KB; a megabyte is already absurd."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (PyYAML would silently keep the last one)."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML file that must hold one mapping; any problem is a one-line ConfigError naming the file."""
    path = Path(path)
    raw = read_bounded(path, limit=MAX_YAML_BYTES, error=ConfigError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: cannot read ({error.__class__.__name__}: {error})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ConfigError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a mapping of settings (key: value), not {type(data).__name__}")
    check_tree(data, str(path), error=ConfigError)
    return data

