"""An inference server as a managed child process: started on a free loopback port, waited for until it answers,
and stopped with its whole process tree on every path (success, failure, Ctrl-C, SIGTERM; SIGKILL of the harness
through the kernel's parent-death signal).

The server runs in a session of its own, so a Ctrl-C at the terminal reaches the harness only, and the harness
stops the server in order: SIGTERM to its process group, a grace period, then SIGKILL to whatever is left of the
tree (workers that left the group included). Its output goes to a log file whose last lines every failure quotes.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from harness.errors import MeasurementError

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 600.0
"""Longest wait for a server to answer: a large model loads for minutes (a tiny one on a busy CPU, about 60 s)."""
STOP_GRACE_S = 15.0
"""How long a server has to exit after SIGTERM before the rest of its tree is killed."""
LOG_TAIL_LINES = 5
_PR_SET_PDEATHSIG = 1


class ServerError(MeasurementError):
    """The server did not start, died, or answered something else than it should."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the kernel's pick), so two runs never race for a fixed one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM when the harness dies, even by SIGKILL (no orphaned server on the GPU)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    """One server: `start()`, `wait_ready(url)`, `pids()`, `stop()` (idempotent); a context manager."""

    def __init__(self, command: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None,
                 name: str = "server") -> None:
        self.command = list(command)
        self.log_path = Path(log_path)
        self.env = env
        self.name = name
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - the command is built by the engine, not a shell
                self.command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, start_new_session=True,
                preexec_fn=_die_with_parent if os.name == "posix" else None,  # noqa: PLW1509
            )
        except OSError as error:
            self._log.close()
            raise ServerError(f"cannot start the {self.name}: {error.strerror or error} ({self.command[0]})") from None
        logger.info("started %s (pid %d): %s", self.name, self.process.pid, " ".join(self.command))
        return self

    def __enter__(self) -> ServerProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, url: str, timeout_s: float = READY_TIMEOUT_S, poll_s: float = 0.5,
                   ready: Callable[[bytes], bool] = lambda body: True) -> float:
        """Poll `url` until it answers 200 (and `ready(body)`); returns the seconds waited. A server that exits or
        does not answer in time is one ServerError line quoting its log."""
        start = time.monotonic()
        while True:
            if not self.alive():
                code = None if self.process is None else self.process.returncode
                raise ServerError(f"the {self.name} exited (code {code}) before it answered: {self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError), \
                    urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL we built
                if response.status == 200 and ready(response.read()):
                    return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                raise ServerError(f"the {self.name} did not answer {url} within {timeout_s:.0f} s: {self.log_tail()}")
            time.sleep(poll_s)

    def pids(self) -> frozenset[int]:
        """The server and every process it started (its workers use the GPU too)."""
        if not self.alive():
            return frozenset()
        try:
            root = psutil.Process(self.process.pid)
            return frozenset({root.pid, *(child.pid for child in root.children(recursive=True))})
        except psutil.Error:
            return frozenset()

    def stop(self) -> None:
        """SIGTERM to the server's process group, then SIGKILL to whatever of its tree is left after a grace period."""
        if self.process is None:
            return
        tree = self._tree()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0f s of SIGTERM: killing it", self.name, STOP_GRACE_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        psutil.wait_procs(tree, timeout=5)  # gone (or reaped) before stop() returns
        if self._log is not None:
            self._log.close()
            self._log = None

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the server's log, joined with ' | ' (for a one-line error), and where the log is."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 16384))
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return f"(no log at {self.log_path})"
        tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return (" | ".join(tail) or "(empty log)") + f" (log: {self.log_path})"
