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
import csv
import fnmatch
import glob
import hashlib
import io
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
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


def write_bytes_atomic(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    By default an existing path is refused (`new_output`'s rule), and the check is made again by the final hard
    link, so two writers racing for one name cannot both win and nothing (a file, a link, `/dev/null`) is ever
    replaced. Only the harness's own files that it replaces by design (its caches) pass `overwrite=True`. The file
    gets the permissions the umask allows (not the temporary file's 0600). Any OS failure (no permission, disk
    full, a folder in the way, a name too long) is one HarnessError naming the path, and leaves nothing behind:
    neither the temporary file nor the folders this call made.
    """
    path = Path(path)
    tmp: Path | None = None
    made: list[Path] = []
    try:
        made = _make_parents(path)
        if path.is_dir():
            raise HarnessError(f"cannot write {path}: it is a folder")
        if not overwrite:
            new_output(path)
        fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
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
        made = []
    except OSError as problem:
        raise HarnessError(f"cannot write {path}: {problem.strerror or problem}") from None
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
        _remove_folders(made)
    remove_stale_temporaries(path)
    return path


def _make_parents(path: Path) -> list[Path]:
    """Make the missing folders above `path`; the ones made, outermost first (to remove again on a failure)."""
    missing = [parent for parent in reversed(Path(path).parents) if not os.path.lexists(parent)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_folders(made: list[Path]) -> None:
    """Remove the folders a failed write made (innermost first), where they are still empty."""
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()


_KINDS_OF_ENTRY = ((stat.S_ISLNK, "symbolic link"), (stat.S_ISDIR, "folder"), (stat.S_ISREG, "file"),
                   (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device"), (stat.S_ISFIFO, "FIFO"),
                   (stat.S_ISSOCK, "socket"))


def new_output(out: Path) -> None:
    """The one rule for everything a command writes (a file, an archive, a folder of files): `out` must not exist.

    A result or any other file, a folder, a symbolic link (even a broken one), a device such as `/dev/null`, a FIFO:
    whatever is there is refused in one line naming what it is, never replaced, merged into or written through.
    Commands check before their work (nothing is computed for an output that cannot be written), and the write
    checks again at its last step (a hard link or a rename that fails on an existing name). The exceptions, each
    by design: `leaderboard build` replaces a site it built itself, the harness's caches replace their own
    entries, and `plan --github-output` appends to the file GitHub hands it (`append_text`).
    """
    try:
        info = os.lstat(out)
    except FileNotFoundError:
        return
    except OSError as problem:
        raise HarnessError(f"cannot write {out}: {problem.strerror or problem}") from None
    kind = next((name for test, name in _KINDS_OF_ENTRY if test(info.st_mode)), "file")
    raise HarnessError(f"refusing to overwrite existing {kind} {out} (outputs are always new paths)")


_HOST = hashlib.sha1(os.uname().nodename.encode("utf-8", "surrogatepass")).hexdigest()[:6]
"""This machine, in the names of temporaries (a process id says something only on the machine that made it)."""


def temporary_prefix(path: Path, what: str = "") -> str:
    """The name a writer's temporary file or staging folder for `path` starts with: hidden, beside `path`, and
    tagged with this machine and process, so that a later write can tell one left by a killed process."""
    return f".{Path(path).name[:60]}.{what}{_HOST}-{os.getpid()}-"


STALE_TEMPORARY_S = 3600.0
"""A writer's temporary file older than this was left by a killed process (a live write takes seconds)."""


_TEMPORARY_OWNER = re.compile(r"\.(?:[a-z]+-)?([0-9a-f]{6})-([0-9]+)-[^/]*\.tmp$")


def remove_stale_temporaries(path: Path) -> None:
    """Remove what earlier writes of `path` left when killed: temporary files and staging folders (`.NAME.*.tmp`)
    whose process on this machine is gone, or, from another machine or an older harness, an hour old."""
    path = Path(path)
    cutoff = time.time() - STALE_TEMPORARY_S
    for stale in path.parent.glob(f".{glob.escape(path.name[:60])}.*.tmp"):
        with contextlib.suppress(OSError):
            info = os.lstat(stale)
            owner = _TEMPORARY_OWNER.search(stale.name[len(path.name[:60]) + 1:])
            dead = owner is not None and owner.group(1) == _HOST and not _process_alive(int(owner.group(2)))
            if not (dead or info.st_mtime < cutoff):
                continue
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(stale, ignore_errors=True)
            elif stat.S_ISREG(info.st_mode):
                stale.unlink()


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def write_text_atomic(path: Path, text: str, *, overwrite: bool = False) -> Path:
    """`write_bytes_atomic` for UTF-8 text."""
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def write_json_atomic(path: Path, data: Any, *, overwrite: bool = False, one_line: bool = False) -> Path:
    """Write `data` as JSON with sorted keys, atomically: indented (diffs stay readable), or with `one_line` as
    one line that is also a JSON Lines file (what `datasets` and Arrow's JSON reader need to read it typed)."""
    text = json_line(data) if one_line else json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False,
                                                         allow_nan=False) + "\n"
    return write_text_atomic(path, text, overwrite=overwrite)


def json_line(data: Any) -> str:
    """`data` as one line of JSON with sorted keys and a newline: a record of a JSON Lines file."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def refuse_existing(out: Path) -> None:
    """`new_output` (the name older callers use)."""
    new_output(out)


def write_folder_atomic(out: Path, contents: dict[str, bytes]) -> Path:
    """Create the folder `out` holding `contents` (relative path -> bytes), all or nothing.

    Everything is written into a staging folder beside `out` and renamed into place, so a failure leaves no
    half-written folder; an existing `out` is refused (never merged into or replaced). Folders and files get
    the permissions the umask allows, as `write_bytes_atomic`'s do. A staging folder a kill left is removed by
    the next write of `out` (`remove_stale_temporaries`).
    """
    out = Path(out)
    new_output(out)
    staging: Path | None = None
    made: list[Path] = []
    try:
        made = _make_parents(out)
        staging = Path(tempfile.mkdtemp(prefix=temporary_prefix(out), suffix=".tmp", dir=out.parent))
        staging.chmod(0o777 & ~umask())  # mkdtemp makes it 0700
        for name, data in contents.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        new_output(out)
        staging.rename(out)
        staging, made = None, []
    except OSError as problem:
        raise HarnessError(f"cannot write {out}: {problem.strerror or problem}") from None
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        _remove_folders(made)
    remove_stale_temporaries(out)
    return out


def write_new_files(files: dict[Path, bytes], *, executable: frozenset[Path] = frozenset()) -> list[Path]:
    """Create several new files (a job list and the script that reads it), all or nothing: each is written and
    synced to a temporary file first, then linked into place; if any step fails (disk full, a name taken), the
    files already linked and the folders made are removed again. `executable` files get the execute bits the
    umask allows."""
    for path in files:
        new_output(path)
    temporaries: dict[Path, Path] = {}
    linked: list[Path] = []
    made: list[Path] = []
    try:
        for path, data in files.items():
            made += _make_parents(path)
            fd, name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=Path(path).parent)
            temporaries[path] = Path(name)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), (0o777 if path in executable else 0o666) & ~umask())
                os.fsync(handle.fileno())
        for path, tmp in temporaries.items():
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise HarnessError(f"refusing to overwrite existing file {path}") from None
            linked.append(path)
        done, linked, made = list(files), [], []
        return done
    except OSError as problem:
        failed = next((p for p in files if p not in linked), next(iter(files)))
        raise HarnessError(f"cannot write {failed}: {problem.strerror or problem}; none of "
                           f"{', '.join(str(p) for p in files)} was written") from None
    finally:
        for tmp in temporaries.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        for path in linked:
            with contextlib.suppress(OSError):
                path.unlink()
        _remove_folders(made)


def check_appendable(path: Path, option: str) -> None:
    """Before any work: `path` is a regular file or not there yet (`append_text` makes it); anything else is one
    line."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as problem:
        raise HarnessError(f"{option} {path}: {problem.strerror or problem}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{option} {path} is a folder; it names a file to append to")
    if not stat.S_ISREG(info.st_mode):
        raise HarnessError(f"{option} {path}: not a regular file (a link, FIFO, device or socket): refused")


def append_text(path: Path, text: str) -> Path:
    """Append `text` to the regular file `path` (made when missing) in one write, all or nothing: a short write or
    a full disk puts the file back to its old length. For files another program hands us to append to (GitHub's
    `$GITHUB_OUTPUT`); a folder, link, FIFO or device there is refused in one line."""
    path = Path(path)
    data = text.encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0), 0o666)
    except IsADirectoryError:
        raise HarnessError(f"cannot append to {path}: it is a folder") from None
    except OSError as problem:
        if os.path.islink(path):
            raise HarnessError(f"refusing to append to {path}: it is a symbolic link") from None
        raise HarnessError(f"cannot append to {path}: {problem.strerror or problem}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HarnessError(f"refusing to append to {path}: not a regular file (a FIFO, device or socket)")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as problem:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, info.st_size)
            raise HarnessError(f"cannot append to {path}: {problem.strerror or problem}; it is left as it "
                               f"was") from None
    finally:
        os.close(fd)
    return path


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


def csv_text(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    """The one CSV writer of the project (exports, CodeCarbon's layout, the site's data): a header, then one line
    per row, every text cell through `csv_cell` (so no cell from a result file is read as a formula), None and
    NaN as empty cells, numbers as Python spells them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(name) for name in header])
    writer.writerows([_csv_value(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return csv_cell(value)


_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters that reorder the text around them (U+202E shows `abc` as `cba`): a name must read as it is stored."""


def unprintable(text: str) -> str | None:
    """The first character of `text` that has no place in a name, as `U+XXXX`, else None: a control character, a
    lone surrogate or a non-character (all invalid in XML), a line or paragraph separator, or a bidirectional
    override or isolate (it makes a name read otherwise than it is, `U+202E (RIGHT-TO-LEFT OVERRIDE)`)."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in "\ufffe\uffff":
            return f"U+{ord(char):04X}"
        if char in _BIDI_CONTROLS:
            return f"U+{ord(char):04X} ({unicodedata.name(char)})"
    return None


def check_name(text: str | None, option: str) -> None:
    """A name a user gives on the command line that results, pages and labels show (`--model-id`): not empty,
    nothing `unprintable`, within a file name's limits once made a slug's source. One ConfigError line."""
    if text is None:
        return
    if not str(text).strip():
        raise ConfigError(f"{option} is empty")
    bad = unprintable(str(text))
    if bad is not None:
        raise ConfigError(f"{option} {str(text)[:60]!r}: holds the control character {bad}")


# ------------------------------------------------------------------------ a local model folder's id

LOCAL_MODEL_FALLBACK_ID = "local-model"
"""The id of a local model whose path has no last component to name it (`/`, `.`)."""


def looks_like_local_path(model: str) -> bool:
    """Whether `--model` is a path, not a hub id: a hub id is `name` or `owner/name`; anything absolute, `./`, `~`,
    deeper, with backslashes or a drive letter is a path."""
    return model.count("/") > 1 or is_machine_path(model)


def is_machine_path(model_id: str) -> bool:
    """Whether a recorded model id is a path on someone's disk (absolute, in a home folder, `./` or `../`, with
    backslashes or a drive letter): what no page, label or export may show."""
    return (model_id.startswith(("/", ".", "~", "\\")) or "\\" in model_id or model_id[1:3] in (":\\", ":/")
            or os.path.isabs(model_id))


def saved_hub_id(folder: str | Path) -> str | None:
    """The hub id a local model folder's saved config names (`_name_or_path` of `config.json` or
    `model_index.json`: `save_pretrained` after loading from the hub keeps it there), else None (and None when
    `folder` is no folder). A path there is never an id."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return None
    for filename in ("config.json", "model_index.json"):
        try:
            name = json.loads((folder / filename).read_text(encoding="utf-8")).get("_name_or_path")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(name, str) and name.strip() and not looks_like_local_path(name) and unprintable(name) is None:
            return name
    return None


def _last_part(path: str) -> str | None:
    last = re.split(r"[\\/]+", path.rstrip("\\/"))[-1]
    return None if last in ("", ".", "..", "~") or last.endswith(":") else last


def local_model_id(folder: str, name: str | None = None) -> str:
    """The id a result records for a model loaded from a local folder: `name` (`--model-id`), else the hub id its
    config names (`saved_hub_id`), else the folder's own name; never a path, which names where a model sat on one
    disk (and a user's home folder), not the model. The engines record it; the campaign planner predicts it."""
    for candidate in (name, saved_hub_id(folder)):
        if candidate and candidate.strip() and not is_machine_path(candidate):
            return candidate
    return (_last_part(name) if name else None) or _last_part(folder) or LOCAL_MODEL_FALLBACK_ID


def recorded_model_id(model: str, name: str | None = None) -> str:
    """The id a run of `--model MODEL [--model-id NAME]` records: a local folder's `local_model_id`, else the hub id
    (`NAME` is then only a display name)."""
    if looks_like_local_path(model) or Path(model).expanduser().is_dir():
        return local_model_id(model, name)
    return model


def clean_model_id(model_id: str, name: str | None = None) -> str:
    """A recorded id fit to show, read from a result file: the id itself, unless it is a machine's path (files
    written before the engines recorded `local_model_id`), then `name` (the folder's hub id or `--model-id` the
    engine found), else the folder's name. Pure (reads no file), so an old file reads the same on every machine."""
    if not is_machine_path(model_id):
        return model_id
    if name and name.strip() and not is_machine_path(name):
        return name
    return _last_part(model_id) or LOCAL_MODEL_FALLBACK_ID


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


def loads_json_bounded(text: str | bytes, source: str, *, error: type[HarnessError] = HarnessError,
                       unique_keys: bool = False) -> Any:
    """Parse untrusted JSON: NaN, Infinity, overflowing numbers and too-deep nesting are one `error`.

    pydantic's parser reads it first (several times faster than the stdlib's with a hook per number); a document
    it refuses or that breaks a bound is read again by the stdlib's, step by step, which names the problem (and
    keeps what it alone accepts, such as an escaped lone surrogate). With `unique_keys` (a manifest, where a key
    named twice would hide one of its entries) only the stdlib's reads it, and a key given twice in one object is
    refused, as YAML files' are."""
    if not unique_keys:
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
        data = json.loads(text, parse_constant=_no_constant, parse_int=_bounded_int, parse_float=_finite_float,
                          object_pairs_hook=_object_without_duplicates if unique_keys else None)
    except UnicodeDecodeError:
        raise error(f"{source}: not UTF-8 text") from None
    except RecursionError:
        raise error(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as problem:
        raise error(f"{source}: not valid JSON ({problem})") from None
    check_tree(data, source, error=error)
    return data


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {twice!r} is given twice in one object")
    return data


def loads_yaml_value(text: str, source: str, *, error: type[HarnessError] = ConfigError) -> Any:
    """One YAML value given as text (a `--set` value such as `[10, 30]`), read safely and within the bounds of
    untrusted files: nesting thousands deep, more than `MAX_NODES` values or a non-finite number is one `error`
    (a `RecursionError` would otherwise escape as a traceback)."""
    if len(text) > MAX_YAML_BYTES:
        raise error(f"{source}: {len(text)} characters, more than the {MAX_YAML_BYTES} accepted")
    try:
        value = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise error(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    check_tree(value, source, error=error)
    return value


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

