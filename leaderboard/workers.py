"""The leaderboard's worker processes (checking files, rendering pages): forked, deaf to Ctrl-C, gone with the build.

Ctrl-C reaches every process of the terminal's process group. Workers ignore it and the build's own process
answers it: it kills its workers (no worker prints a traceback, and no pool is left to deadlock while it
terminates workers mid-message), removes its staging folder and ends in one line. A build killed outright
(SIGKILL) takes its workers with it: each asks the kernel for SIGKILL when its parent dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1


def fork_available() -> bool:
    """Whether workers can be forked here (they inherit what they render instead of receiving it pickled)."""
    return "fork" in mp.get_all_start_methods()


def _start_worker(parent: int) -> None:
    """In each worker as it starts: Ctrl-C is the parent's to answer, SIGTERM ends the worker at once, and the
    worker dies with the parent (Linux; elsewhere it notices when its pipe to the parent closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of `workers` forked processes; on any exception (Ctrl-C, SIGTERM, a failed task) every worker is
    killed before the exception goes on, so leaving the block never waits on a worker."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"), initializer=_start_worker,
                               initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        kill_workers(pool)
        raise
    pool.shutdown(wait=True)


def kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every worker of `pool`, then let the pool wind down without waiting on them."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.join(timeout=5)
