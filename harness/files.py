"""Files in and out, one way each: atomic writes, safe YAML reads, canonical JSON and file-name slugs.

A reader (or a crash) never sees half a file, nothing is overwritten by accident, a YAML file never runs
code or keeps a duplicated key, and two spellings of one value never make two keys or two file names.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError, HarnessError, NotFoundError


def umask() -> int:
    """The process umask (reading it means setting it, so it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    With `overwrite=False` an existing file is refused (`FileExistsError` becomes a HarnessError), and the
    check is made by the final hard link, so two writers racing for one name cannot both win.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes 0600; a published file must be readable as the umask says
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise HarnessError(f"refusing to overwrite existing file {path}") from None
            tmp.unlink()
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text_atomic(path: Path, text: str, *, overwrite: bool = True) -> Path:
    """`write_bytes_atomic` for UTF-8 text."""
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def write_json_atomic(path: Path, data: Any, *, overwrite: bool = True) -> Path:
    """Write `data` as indented JSON with sorted keys (diffs stay readable) atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    return write_text_atomic(path, text, overwrite=overwrite)


def visible_files(root: Path, pattern: str = "*") -> list[Path]:
    """Files under `root` matching `pattern`, sorted, skipping hidden entries (and the writers' `.tmp` files)."""
    root = Path(root)
    return [path for path in sorted(root.rglob(pattern))
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)]


def canonical_json(data: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept (the basis of job keys and identities)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def slugify(text: str) -> str:
    """A file-name-safe form of `text`: runs of other characters become one `-` (`unknown` if nothing is left).

    Leading and trailing dots go too, so a slug is never `.` or `..` or a hidden file. Never read back.
    """
    return re.sub(r"[^0-9A-Za-z._-]+", "-", text).strip("-.") or "unknown"


# ---------------------------------------------------------------------------------------------- YAML


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read ({error.__class__.__name__}: {error})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a mapping of settings (key: value), not {type(data).__name__}")
    return data

