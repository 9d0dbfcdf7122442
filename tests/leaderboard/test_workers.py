"""The leaderboard's worker processes: Ctrl-C is the build's to answer, and no worker outlives the build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from leaderboard.workers import worker_pool


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split()[2] == "Z":  # a zombie no one has reaped yet: it has ended
                    return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_kills_the_workers_and_never_waits_on_them():
    pids = []
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), worker_pool(2) as pool:
        futures = [pool.submit(_sleep, 30) for _ in range(4)]
        pids = [process.pid for process in pool._processes.values()]
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()  # a real Ctrl-C
        [future.result() for future in futures]
    assert time.monotonic() - started < 10
    assert pids and all(_gone(pid) for pid in pids)


def test_workers_ignore_ctrl_c_so_none_prints_a_traceback():
    with worker_pool(2) as pool:
        pids = {pool.submit(_sleep, 0.2).result() for _ in range(4)}
        for pid in pids:
            os.kill(pid, 2)  # SIGINT, as the terminal sends it to the whole process group
        assert pool.submit(_sleep, 0).result() in pids  # still alive, still working


def test_workers_die_with_a_build_killed_outright(tmp_path):
    """SIGKILL leaves the build no chance to clean up: its workers end anyway (the kernel's parent-death signal)."""
    script = tmp_path / "build.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from leaderboard.workers import worker_pool
        with worker_pool(2) as pool:
            futures = [pool.submit(time.sleep, 60) for _ in range(2)]
            print(" ".join(str(p.pid) for p in pool._processes.values()), flush=True)
            time.sleep(60)
    """))
    build = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        pids = [int(pid) for pid in build.stdout.readline().split()]
        build.kill()
        build.wait(timeout=10)
        assert pids and all(_gone(pid) for pid in pids)
    finally:
        build.kill()


@pytest.mark.parametrize(("signum", "code", "line"), [(2, 130, "error: interrupted; nothing was written"),
                                                      (15, 143, "error: terminated (SIGTERM); nothing was written")])
def test_a_stopped_command_ends_in_one_line(signum, code, line, tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        import leaderboard.site
        def slow(*args, **kwargs):
            print("building", file=sys.stderr, flush=True)
            time.sleep(60)
        leaderboard.site.build_site = slow
        from harness.cli import main
        main(["leaderboard", "build", "results", "--out", "site"])
    """))
    command = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert command.stderr.readline().strip() == "building"
        command.send_signal(signum)
        _, err = command.communicate(timeout=30)
    finally:
        command.kill()
    assert command.returncode == code
    assert err.strip() == line and "Traceback" not in err


def test_ctrl_c_while_the_command_still_loads_is_one_line_too():
    """The app and its commands are imported after the handlers are in place: a Ctrl-C in the first moments of
    any command (here while `harness tasks` imports) ends in the same line, never an import traceback."""
    for delay in (0.1, 0.2, 0.3, 0.45):
        command = subprocess.Popen([sys.executable, "-m", "harness", "tasks"], stderr=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, text=True, cwd=os.getcwd())
        time.sleep(delay)
        command.send_signal(2)
        _, err = command.communicate(timeout=30)
        assert "Traceback" not in err, (delay, err)
        # 130, or ended by SIGINT itself (-2; a shell reports 130 for both) when it came during an import
        assert command.returncode in (0, 130, -2), (delay, command.returncode, err)
        assert err.strip() in ("", "error: interrupted; nothing was written"), (delay, err)
