"""A cache of checked result summaries, so a rebuild re-validates only the files that are new or changed.

Each file's outcome (a `RunRecord`, or the `Refusal` and its reason) is stored under the SHA-1 of the file's
bytes: a copied or moved file keeps its entry and an edited one gets a new one. Hashing every file on each
build would cost as much as reading them all, so an index also keeps, per absolute path, the (size, mtime,
inode) the file had when it was hashed; a file whose stat is unchanged is taken as unchanged, as git and make
do. The whole cache is tied to the harness version, `CACHE_FORMAT` and the source of the code that checks
and summarises a file: a harness whose checks or records differ starts afresh. It lives in a folder the user
chooses: the index in `CACHE_FILE`, the outcomes in 16 pickle files by the first hex digit of their hash, so a
build that adds one file rewrites one shard and the index, not every summary (and a cold build writes and syncs
17 files, not hundreds). A missing, corrupt or foreign file is ignored (its files are checked again) and
rewritten.

Timelines are kept packed (bytes) and decoded only when a page plots them: loading the cache then costs
about a third of what loading plain records would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import logging
import os
import pickle
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.files import write_bytes_atomic
from harness.results.store import read_result_bytes
from harness.version import __version__

logger = logging.getLogger(__name__)

CACHE_FORMAT = 3
"""Bump when `RunRecord`, `Refusal` or what the leaderboard checks changes without a harness version bump."""
CACHE_FILE = "summaries.pickle"
SHARDS_DIR = "outcomes"
SHARD_DIGITS = 1
"""Outcomes are sharded by this many leading hex digits of their hash (16 shards)."""


@dataclass(frozen=True)
class PackedTimeline:
    """A `Timeline` stored as bytes of doubles; `t_s` and `power_w` decode on use."""

    gpu_index: int
    t_bytes: bytes
    p_bytes: bytes

    @classmethod
    def of(cls, gpu_index: int, t_s, power_w) -> PackedTimeline:
        """Pack a timeline's columns (any sequences of floats)."""
        return cls(gpu_index, array("d", t_s).tobytes(), array("d", power_w).tobytes())

    @property
    def t_s(self) -> tuple[float, ...]:
        return tuple(array("d", self.t_bytes))

    @property
    def power_w(self) -> tuple[float, ...]:
        return tuple(array("d", self.p_bytes))


def pack(outcome):
    """`outcome` with its timelines packed (`PackedTimeline`): cheaper to pickle, send from a worker and load."""
    timelines = getattr(outcome, "timelines", None)
    if not timelines or isinstance(timelines[0], PackedTimeline):
        return outcome
    packed = tuple(PackedTimeline.of(t.gpu_index, t.t_s, t.power_w) for t in timelines)
    return dataclasses.replace(outcome, timelines=packed)


FINGERPRINTED_MODULES = (
    "harness.results.schema", "harness.results.store", "harness.results.checks", "harness.results.figures",
    "harness.results.statistics", "harness.results.identity", "harness.files", "leaderboard.aggregate",
    "leaderboard.cache",
)
"""The modules whose code decides a file's outcome: the schema, the bounded reader, the checks, the figures, the
summary and how it is stored."""


def code_fingerprint() -> str:
    """A hash of the source of `FINGERPRINTED_MODULES` (read from their files, not imported)."""
    digest = hashlib.sha1()
    for name in FINGERPRINTED_MODULES:
        spec = importlib.util.find_spec(name)
        digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()


def stat_key(path: str) -> tuple[int, int, int] | None:
    """(size, mtime in ns, inode) of `path`, None when it cannot be stat'ed: what says "unchanged" here."""
    try:
        st = os.stat(os.path.abspath(path))
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _digest(path: str) -> str | None:
    """SHA-1 of a result file's bytes, read as the check reads it (bounded, never a FIFO or a device: those would
    hang or never end); None when it cannot be read, and the check then says why."""
    try:
        return hashlib.sha1(read_result_bytes(Path(path))).hexdigest()
    except HarnessError:
        return None


class SummaryCache:
    """Outcomes by content hash, and the stat each path had when hashed; see the module docstring."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / CACHE_FILE
        self.shards = Path(folder) / SHARDS_DIR
        self.key = (__version__, CACHE_FORMAT, code_fingerprint())
        self.index: dict[str, tuple[tuple[int, int, int], str]] = {}
        self.outcomes: dict[str, object] = {}
        self.changed = False
        self.dirty: set[str] = set()
        self.seen: set[str] = set()
        data = self._load(self.path)
        if data is not None:
            self.index = data["index"]
            # Only this format's shard names: another format's shards are never read (their key differs).
            for shard in sorted(self.shards.glob("?" * SHARD_DIGITS + ".pickle")) if self.shards.is_dir() else ():
                part = self._load(shard)
                if part is not None:
                    self.outcomes.update(part["outcomes"])

    def _load(self, path: Path) -> dict | None:
        try:
            data = pickle.loads(path.read_bytes())
            return data if isinstance(data, dict) and data.get("key") == self.key else None
        except FileNotFoundError:
            return None
        except Exception as error:  # a corrupt or foreign cache is only a slower build
            logger.warning("ignoring leaderboard cache %s (%s)", path, error)
            return None

    def lookup(self, paths: Sequence[str]) -> tuple[dict[str, str], list[str]]:
        """(path -> digest of the files already summarised, the paths still to check)."""
        known: dict[str, str] = {}
        todo: list[str] = []
        if not self.outcomes:  # an empty cache matches nothing: no stat, no hashing (the check reads each file)
            self.seen.update(path if os.path.isabs(path) else os.path.abspath(path) for path in paths)
            return known, list(paths)
        for path in paths:
            absolute = path if os.path.isabs(path) else os.path.abspath(path)
            self.seen.add(absolute)
            stat = stat_key(absolute)
            entry = self.index.get(absolute)
            digest = entry[1] if entry is not None and entry[0] == stat else None
            if digest is None and stat is not None:
                digest = _digest(absolute)
                if digest in self.outcomes:
                    self.index[absolute] = (stat, digest)
                    self.changed = True
            if digest in self.outcomes:
                known[path] = digest
            else:
                todo.append(path)
        return known, todo

    def add(self, path: str, outcome, stat: tuple[int, int, int] | None, digest: str | None) -> None:
        """Remember `outcome` of `path` under `digest` (of the bytes that were checked), and the `stat` the file
        had before it was read (`stat_key`); nothing is kept when either is unknown (an unreadable file)."""
        if stat is None or digest is None:
            return
        self.index[path if os.path.isabs(path) else os.path.abspath(path)] = (stat, digest)
        if digest not in self.outcomes:
            self.dirty.add(digest[:SHARD_DIGITS])
        self.outcomes[digest] = pack(outcome)
        self.changed = True

    def get(self, digest: str, source: str):
        """The stored outcome, with `source` set to this path (the same bytes may sit at several paths)."""
        outcome = self.outcomes[digest]
        return outcome if outcome.source == source else dataclasses.replace(outcome, source=source)

    def save(self) -> None:
        """Write what this build changed (atomically, file by file: the shards first, the index last, so an index
        never names an outcome no shard holds); entries of vanished files are dropped."""
        live = {absolute: entry for absolute, entry in self.index.items()
                if absolute in self.seen or os.path.exists(absolute)}
        if not self.changed and len(live) == len(self.index):
            return
        wanted = {digest for _, digest in live.values()}
        gone = [digest for digest in self.outcomes if digest not in wanted]
        self.dirty.update(digest[:SHARD_DIGITS] for digest in gone)
        for digest in gone:
            del self.outcomes[digest]
        by_shard: dict[str, dict] = {name: {} for name in self.dirty}
        for digest, outcome in self.outcomes.items():
            if digest[:SHARD_DIGITS] in by_shard:
                by_shard[digest[:SHARD_DIGITS]][digest] = outcome
        for name, outcomes in sorted(by_shard.items()):
            write_bytes_atomic(self.shards / f"{name}.pickle", pickle.dumps(
                {"key": self.key, "outcomes": outcomes}, protocol=pickle.HIGHEST_PROTOCOL))
        write_bytes_atomic(self.path, pickle.dumps({"key": self.key, "index": live},
                                                   protocol=pickle.HIGHEST_PROTOCOL))
        self.index, self.dirty, self.changed = live, set(), False
