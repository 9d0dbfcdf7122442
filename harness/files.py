"""Atomic file writes: a reader (or a crash) never sees half a result, and nothing is overwritten by accident."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


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
