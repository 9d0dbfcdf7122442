"""Incremental page writing: a page whose inputs did not change is taken from the previous site, not rendered.

Every page gets a fingerprint: a hash of what it is made from (the content digests and sources of its runs,
their ratings, the build's settings, see `leaderboard.site`) and, for the whole site, of the code and
templates that render pages (`code_fingerprint`). The fingerprints, with each page's size and mtime, are kept
in the site itself (`MANIFEST`). The next build hard-links a page from the previous site (copies it where
links are not possible) when its fingerprint is unchanged and the old file still has the size and mtime it was
written with; anything else is rendered. Reused or rendered, a page has the same bytes (tests compare a
rebuilt site with a cold one), so a rebuild after one new file renders only the pages that file changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from harness import __version__

logger = logging.getLogger(__name__)

MANIFEST = ".leaderboard-pages.json"
MANIFEST_FORMAT = 1
PACKAGE_DIR = Path(__file__).parent
RENDER_SOURCES = ("*.py", "templates/*", "static/*")
"""The leaderboard's own files that shape a page (with the harness version, which covers `harness.*`)."""


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the harness version and of every `RENDER_SOURCES` file: new code re-renders every page."""
    digest = hashlib.sha1(f"{__version__}\x1f{MANIFEST_FORMAT}".encode())
    for pattern in RENDER_SOURCES:
        for path in sorted(PACKAGE_DIR.glob(pattern)):
            if path.is_file():
                digest.update(path.name.encode("utf-8") + b"\x1f" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(*parts: str | None) -> str | None:
    """A hash of `parts` in order; None (never reused) when any part is unknown."""
    if any(part is None for part in parts):
        return None
    return hashlib.sha1("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _previous_pages(site: Path | None) -> dict[str, list]:
    """The previous build's {page: [fingerprint, size, mtime_ns]}, when it was made by this code; else {}."""
    if site is None:
        return {}
    try:
        data = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
        if data.get("code") == code_fingerprint() and isinstance(data.get("pages"), dict):
            return data["pages"]
    except (OSError, ValueError, AttributeError):
        pass  # no previous site, or one from other code: every page is rendered
    return {}


class PageWriter:
    """Writes into the temporary site folder, reusing unchanged pages of `previous` (the site it replaces)."""

    def __init__(self, root: Path, previous: Path | None = None):
        self.root = root
        self.previous = previous
        self.old = _previous_pages(previous)
        self.pages: dict[str, list] = {}
        self.made: set[Path] = set()
        self.reused = 0
        self.rendered = 0

    def _target(self, relative: str) -> Path:
        path = self.root / relative
        if path.parent not in self.made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made.add(path.parent)
        return path

    def text(self, relative: str, text: str) -> int:
        """Write `text` (always: files with no fingerprint); returns its size in bytes."""
        data = text.encode("utf-8")
        self._target(relative).write_bytes(data)
        return len(data)

    def page(self, relative: str, key: str | None, render: Callable[[], str]) -> int:
        """The page at `relative`: reused when its fingerprint `key` is the previous build's, else `render()`ed.
        Returns its size in bytes."""
        old = self.old.get(relative)
        if key is not None and old is not None and old[0] == key:
            size = self._reuse(relative, old)
            if size is not None:
                self.reused += 1
                return size
        size = self.text(relative, render())
        self.rendered += 1
        if key is not None:
            self.pages[relative] = [key, size, os.stat(self.root / relative).st_mtime_ns]
        return size

    def _reuse(self, relative: str, old: list) -> int | None:
        source = self.previous / relative
        try:
            info = os.stat(source)
            if [info.st_size, info.st_mtime_ns] != old[1:]:
                return None  # changed since it was written: render it again
            target = self._target(relative)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
        except OSError:
            return None
        self.pages[relative] = old
        return info.st_size

    def finish(self) -> None:
        """Write the manifest (last, so a site is reused only from pages that were all written)."""
        self.text(MANIFEST, json.dumps({"code": code_fingerprint(), "pages": self.pages}, sort_keys=True) + "\n")
