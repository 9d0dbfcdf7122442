"""A cache of checked result summaries, so a rebuild re-validates only the files that are new or changed.

Each file's outcome (a `RunRecord`, or the `Refusal` and its reason) is stored under the SHA-1 of the file's
bytes: a copied or moved file keeps its entry and an edited one gets a new one. Hashing every file on each
build would cost as much as reading them all, so an index also keeps, per absolute path, the (size, mtime,
ctime, inode, device) the file had when it was hashed; a file whose stat is unchanged is taken as unchanged, as
git does. The ctime is what makes that safe: a program can set a file's mtime back after editing it, but not
its ctime (any write, rename or `utime` sets it to now), so a file edited in place is hashed and checked again.
A stat taken within `RACY_S` of the build's start is not trusted by the next build (a write in the same clock
tick could leave it unchanged): that file is hashed again once.

The cache is data, never code: JSON (and the packed timelines as raw bytes after it), which cannot run anything
when read, sealed with an HMAC-SHA256 under a key kept outside the cache folder (`cache_secret`). An entry whose
seal does not check out (planted, edited, truncated, from another machine's key) is ignored and rebuilt, never
trusted: a build shows only what this harness's own checks accepted. The whole cache is also tied to the
harness version, `CACHE_FORMAT` and the source of the code that checks and summarises a file: a harness whose
checks or records differ starts afresh. It lives in a folder the user chooses: the index in `CACHE_FILE`, the
outcomes in 16 shard files by the first hex digit of their hash, so a build that adds one file rewrites one
shard and the index, not every summary. A cache folder that cannot be written only makes the build slower.

Timelines are kept packed (bytes) and decoded only when a page plots them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import importlib.util
import json
import logging
import os
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydantic_core

from harness.errors import HarnessError
from harness.files import read_bounded, write_bytes_atomic
from harness.results.store import read_result_bytes
from harness.version import __version__

logger = logging.getLogger(__name__)

CACHE_FORMAT = 4
"""Bump when `RunRecord`, `Refusal` or what the leaderboard checks changes without a harness version bump."""
CACHE_FILE = "summaries.json"
SHARDS_DIR = "outcomes"
SHARD_DIGITS = 1
"""Outcomes are sharded by this many leading hex digits of their hash (16 shards)."""
SHARD_SUFFIX = ".json"
MAX_CACHE_FILE_BYTES = 1024**3
"""A cache file larger than this is not read (the 10 000-file benchmark's shards are about 4 MB each)."""
RACY_S = 2.0
"""A file changed this close to a build's start may change again within the same mtime tick: hashed next time."""

KEY_VARIABLE = "HARNESS_CACHE_KEY"
"""A secret shared by the builds that share a cache (a CI secret); without it, a key file per user."""
SEAL_MAGIC = b"harness-leaderboard-cache"


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


def stat_key(path: str) -> tuple[int, ...] | None:
    """(size, mtime in ns, ctime in ns, inode, device) of `path`, None when it cannot be stat'ed: what says
    "unchanged" here."""
    try:
        st = os.stat(os.path.abspath(path))
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


# ------------------------------------------------------------------------------------------ the seal


def _state_folder() -> Path:
    state = os.environ.get("XDG_STATE_HOME")
    return (Path(state) if state else Path.home() / ".local" / "state") / "harness"


@functools.lru_cache(maxsize=1)
def cache_secret() -> bytes:
    """The key that seals the leaderboard's caches: `$HARNESS_CACHE_KEY`, else 32 random bytes kept in a file of
    this user's (`$XDG_STATE_HOME/harness/cache.key`, mode 0600, never inside a cache folder), else, where no
    such file can be kept, a key of this process only (its caches are then never trusted by another build)."""
    given = os.environ.get(KEY_VARIABLE)
    if given:
        return hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    path = _state_folder() / "cache.key"
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except (OSError, HarnessError, ValueError) as problem:
        return _process_key(f"{path} is not a usable key ({problem})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.write(fd, os.urandom(32).hex().encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    except FileExistsError:
        pass  # another build made it meanwhile
    except OSError as problem:
        return _process_key(f"cannot make {path} ({problem.strerror or problem})")
    try:
        return _read_key(path)
    except (OSError, HarnessError, ValueError) as problem:
        return _process_key(f"{path} is not a usable key ({problem})")


def _read_key(path: Path) -> bytes:
    info = os.lstat(path)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ValueError("it must be this user's own file, readable by no one else")
    key = bytes.fromhex(read_bounded(path, limit=1024).decode("ascii").strip())
    if len(key) < 16:
        raise ValueError("shorter than 16 bytes")
    return key


def _process_key(reason: str) -> bytes:
    logger.warning("the leaderboard cache is kept for this build only: %s; set %s to share one", reason, KEY_VARIABLE)
    return os.urandom(32)


def seal(payload: bytes) -> bytes:
    """`payload` with its HMAC-SHA256 under `cache_secret()` in front: what `unseal` gives back, or nothing."""
    tag = hmac.new(cache_secret(), payload, hashlib.sha256).hexdigest().encode("ascii")
    return SEAL_MAGIC + b" " + tag + b"\n" + payload


def unseal(data: bytes) -> bytes | None:
    """The payload of `seal(payload)`; None for anything else (another key, an edit, a truncation, a plant)."""
    head, newline, payload = bytes(data).partition(b"\n")
    magic, _, tag = head.partition(b" ")
    if not newline or magic != SEAL_MAGIC:
        return None
    expected = hmac.new(cache_secret(), payload, hashlib.sha256).hexdigest().encode("ascii")
    return payload if hmac.compare_digest(tag, expected) else None


def read_sealed(path: Path) -> bytes | None:
    """The payload of a sealed file; None when it is missing, unreadable or does not check out (logged)."""
    try:
        data = read_bounded(path, limit=MAX_CACHE_FILE_BYTES)
    except HarnessError as problem:
        if os.path.lexists(path):
            logger.warning("ignoring leaderboard cache file %s", problem)
        return None
    payload = unseal(data)
    if payload is None:
        logger.warning("ignoring leaderboard cache file %s: its seal does not check out (made with another key, "
                       "or changed since)", path)
    return payload


def _digest(path: str) -> str | None:
    """SHA-1 of a result file's bytes, read as the check reads it (bounded, never a FIFO or a device: those would
    hang or never end); None when it cannot be read, and the check then says why."""
    try:
        return hashlib.sha1(read_result_bytes(Path(path))).hexdigest()
    except HarnessError:
        return None


@dataclass(frozen=True)
class Codec:
    """How outcomes are stored as bytes and read back (`leaderboard.aggregate.RECORD_CODEC`: the records' module owns
    their layout); `decode` raises on anything it did not write."""

    encode: Callable[[dict[str, object]], bytes]
    decode: Callable[[bytes], dict[str, object]]


_CODECS: list[Codec] = []


def register_codec(codec: Codec) -> None:
    """Make `codec` the one a `SummaryCache` uses when none is given (`leaderboard.aggregate` registers its records':
    this module never imports the records it stores)."""
    _CODECS.append(codec)


class SummaryCache:
    """Outcomes by content hash, and the stat each path had when hashed; see the module docstring."""

    def __init__(self, folder: Path, codec: Codec | None = None):
        if codec is None and not _CODECS:
            raise RuntimeError("no record codec registered: import leaderboard.aggregate first")
        self.codec = codec or _CODECS[-1]
        self.path = Path(folder) / CACHE_FILE
        self.shards = Path(folder) / SHARDS_DIR
        self.key = [__version__, CACHE_FORMAT, code_fingerprint()]
        self.index: dict[str, tuple[tuple[int, ...] | None, str]] = {}
        self.outcomes: dict[str, object] = {}
        self.changed = False
        self.dirty: set[str] = set()
        self.seen: set[str] = set()
        self.racy_after_ns = time.time_ns() - int(RACY_S * 1e9)
        self.problem: str | None = None
        """Why the cache could not be written (the build went on without keeping it), else None."""
        head, _ = self._load(self.path)
        if head is None:
            return
        try:
            self.index = {str(path): (tuple(int(n) for n in stat) if stat else None, str(digest))
                          for path, (stat, digest) in head["index"].items()}
        except (TypeError, ValueError, KeyError, AttributeError) as problem:
            logger.warning("ignoring leaderboard cache %s (%s)", self.path, problem)
            self.index = {}
            return
        # Only this format's shard names: another format's shards are never read (their key differs).
        for shard in sorted(self.shards.glob("?" * SHARD_DIGITS + SHARD_SUFFIX)) if self.shards.is_dir() else ():
            head, body = self._load(shard)
            if head is None:
                continue
            try:
                outcomes = self.codec.decode(body)
            except Exception as problem:  # sealed with our key, yet not readable: only a slower build
                logger.warning("ignoring leaderboard cache %s (%s)", shard, problem)
                continue
            self.outcomes.update(outcomes)

    def _load(self, path: Path) -> tuple[dict | None, bytes]:
        """(the file's JSON head when it is sealed with our key and made for this code, else None; what follows
        the head's line)."""
        payload = read_sealed(path)
        if payload is None:
            return None, b""
        line, _, body = payload.partition(b"\n")
        try:
            head = pydantic_core.from_json(line)
        except ValueError as problem:
            logger.warning("ignoring leaderboard cache %s (%s)", path, problem)
            return None, b""
        if not isinstance(head, dict) or head.get("key") != self.key:
            return None, b""
        return head, body

    def _trusted(self, stat: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """`stat`, or None when it is too recent to vouch for the file next time (see `RACY_S`)."""
        if stat is None or max(stat[1], stat[2]) >= self.racy_after_ns:
            return None
        return stat

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
            digest = entry[1] if entry is not None and entry[0] is not None and entry[0] == stat else None
            if digest is None and stat is not None:
                digest = _digest(absolute)
                if digest in self.outcomes:
                    self.index[absolute] = (self._trusted(stat), digest)
                    self.changed = True
            if digest in self.outcomes:
                known[path] = digest
            else:
                todo.append(path)
        return known, todo

    def add(self, path: str, outcome, stat: tuple[int, ...] | None, digest: str | None) -> None:
        """Remember `outcome` of `path` under `digest` (of the bytes that were checked), and the `stat` the file
        had before it was read (`stat_key`); nothing is kept when either is unknown (an unreadable file)."""
        if stat is None or digest is None:
            return
        self.index[path if os.path.isabs(path) else os.path.abspath(path)] = (self._trusted(stat), digest)
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
        never names an outcome no shard holds); entries of vanished files are dropped. A folder that cannot be
        written is only a slower next build: logged, kept in `problem`, never an error."""
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
        head = json.dumps({"key": self.key}).encode("utf-8") + b"\n"
        try:
            for name, outcomes in sorted(by_shard.items()):
                write_bytes_atomic(self.shards / f"{name}{SHARD_SUFFIX}", seal(head + self.codec.encode(outcomes)),
                                   overwrite=True)
            index = {absolute: [list(stat) if stat else None, digest] for absolute, (stat, digest) in live.items()}
            write_bytes_atomic(self.path, seal(json.dumps({"key": self.key, "index": index}, ensure_ascii=False)
                                               .encode("utf-8", "surrogatepass")), overwrite=True)
        except HarnessError as problem:
            self.problem = str(problem)
            logger.warning("the leaderboard cache was not kept: %s (the build goes on without it)", problem)
            return
        self.index, self.dirty, self.changed = live, set(), False
