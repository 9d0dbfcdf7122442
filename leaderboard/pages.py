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
import stat
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from harness.errors import HarnessError
from harness.files import loads_json_bounded, read_bounded, umask
from harness.version import __version__
from leaderboard.workers import fork_available, worker_pool

logger = logging.getLogger(__name__)

MANIFEST = ".leaderboard-pages.json"
PARALLEL_MIN_PAGES = 400
"""Below this many pages to render, forking workers costs more than it saves."""
RUNS_PER_WORKER = 8
"""`flush` cuts the pages into about this many runs per worker (fewer: less balance; more: more round trips)."""
_PENDING: list | None = None
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
    """The previous build's {page: [fingerprint, size, mtime_ns]}, when it was made by this code under this umask
    (a reused page keeps its file mode); else {}."""
    if site is None:
        return {}
    try:
        # Bounded: a FIFO or a device there must not hang a build, nor JSON nested thousands deep end it.
        data = loads_json_bounded(read_bounded(site / MANIFEST), str(site / MANIFEST))
        if (data.get("code"), data.get("umask")) == (code_fingerprint(), umask()):
            return {page: entry for page, entry in data["pages"].items()
                    if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                    and all(isinstance(n, int) for n in entry[1:])}
    except (HarnessError, OSError, ValueError, AttributeError):
        pass  # no previous site, or one from other code: every page is rendered
    return {}


class PageWriter:
    """Writes into the temporary site folder, reusing unchanged pages of `previous` (the site it replaces)."""

    def __init__(self, root: Path, previous: Path | None = None):
        self.root = str(root)
        self.previous = None if previous is None else str(previous)
        self.old = _previous_pages(previous)
        self.pages: dict[str, list] = {}
        self.pending: list[tuple[str, str | None, Callable[[], str]]] = []
        self.made: set[str] = set()
        self.sizes: dict[str, int] = {}
        """Bytes of every page written through `page` or `later`, rendered or reused."""
        self.reused = 0
        self.rendered = 0

    def _target(self, relative: str) -> str:
        # Plain strings, not Path objects: a site has thousands of pages.
        path = os.path.join(self.root, relative)
        folder = os.path.dirname(path)
        if folder not in self.made:
            os.makedirs(folder, exist_ok=True)
            self.made.add(folder)
        return path

    def text(self, relative: str, text: str) -> int:
        """Write `text` (always: files with no fingerprint); returns its size in bytes."""
        data = text.encode("utf-8")
        fd = os.open(self._target(relative), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the umask applies
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        return len(data)

    def page(self, relative: str, key: str | None, render: Callable[[], str]) -> int:
        """The page at `relative`: reused when its fingerprint `key` is the previous build's, else `render()`ed.
        Returns its size in bytes."""
        size = self._reused(relative, key)
        return size if size is not None else self._render(relative, key, render)

    def later(self, relative: str, key: str | None, render: Callable[[], str]) -> None:
        """As `page`, but a page to render waits for `flush` (which may share the rendering among processes)."""
        if self._reused(relative, key) is None:
            self.pending.append((relative, key, render))

    def flush(self, workers: int, meanwhile: Callable[[], None] | None = None) -> None:
        """Render the pages `later` left, in `workers` forked processes when there are many (a cold build), and
        run `meanwhile` in this process while they do (before rendering, when there are no workers).

        Workers take runs of consecutive pages as they become free: pages queued one after another that share
        work (a label and its badge) stay in one process, and a heavy page (the index) does not leave one
        worker with more than its share."""
        pending, self.pending = self.pending, []
        if workers < 2 or len(pending) < PARALLEL_MIN_PAGES or not fork_available():
            if meanwhile is not None:
                meanwhile()
            for relative, key, render in pending:
                self._render(relative, key, render)
            return
        global _PENDING
        _PENDING = pending  # what forked workers inherit: the render closures need not be pickled
        size = max(1, len(pending) // (workers * RUNS_PER_WORKER))
        try:
            with worker_pool(workers) as pool:
                rendering = [pool.submit(_render_part, (self.root, range(i, min(i + size, len(pending)))))
                             for i in range(0, len(pending), size)]
                if meanwhile is not None:
                    meanwhile()
                parts = [part.result() for part in rendering]
        finally:
            _PENDING = None
        for rendered, pages, sizes in parts:
            self.rendered += rendered
            self.pages.update(pages)
            self.sizes.update(sizes)

    def _reused(self, relative: str, key: str | None) -> int | None:
        old = self.old.get(relative)
        if key is None or old is None or old[0] != key:
            return None
        size = self._reuse(relative, old)
        if size is not None:
            self.reused += 1
            self.sizes[relative] = size
        return size

    def _render(self, relative: str, key: str | None, render: Callable[[], str]) -> int:
        size = self.text(relative, render())
        self.rendered += 1
        self.sizes[relative] = size
        if key is not None:
            self.pages[relative] = [key, size, os.stat(os.path.join(self.root, relative)).st_mtime_ns]
        return size

    def _reuse(self, relative: str, old: list) -> int | None:
        source = os.path.join(self.previous, relative)
        try:
            info = os.lstat(source)
            if not stat.S_ISREG(info.st_mode) or [info.st_size, info.st_mtime_ns] != old[1:]:
                return None  # changed (or replaced by a link) since it was written: render it again
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
        self.text(MANIFEST, json.dumps({"code": code_fingerprint(), "umask": umask(), "pages": self.pages},
                                       sort_keys=True) + "\n")


def _render_part(job: tuple[Path, range]) -> tuple[int, dict[str, list], dict[str, int]]:
    """In a forked worker: render the pending pages at the given positions; (count, their manifest entries, their
    sizes)."""
    root, positions = job
    writer = PageWriter(root)
    for position in positions:
        writer._render(*_PENDING[position])
    return writer.rendered, writer.pages, writer.sizes
