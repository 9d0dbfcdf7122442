"""Build hooks that pyproject.toml cannot express.

- The task and preset files stay where people edit them (`tasks/`, `configs/`) and ship inside the wheel as
  `harness/_data/...`, where `harness.tasks.registry` reads them with importlib.resources. So do the published
  records (`published/*.jsonl`, read by `harness.published.store`); their raw source copies stay in the sdist only.
- The harness's own commit is baked in at build time (`harness/_build.py`), so an installed harness never
  reports the commit of whatever repository it happens to be installed in. Only the commit of the repository
  whose top level is this folder counts; `HARNESS_BUILD_COMMIT` gives it where the source has no `.git`
  (the Docker image is built from a copy).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA_PACKAGES = {
    "harness._data.tasks": "tasks",
    "harness._data.configs.presets": "configs/presets",
    "harness._data.configs.campaigns": "configs/campaigns",
    "harness._data.published": "published",
}


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(HERE), *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def build_commit() -> str | None:
    """This source tree's commit (`-dirty` with uncommitted changes), or None when it is not a checkout."""
    if os.environ.get("HARNESS_BUILD_COMMIT"):
        return os.environ["HARNESS_BUILD_COMMIT"]
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != HERE:
        return None  # an unpacked sdist inside someone else's repository: not our commit
    sha = _git("rev-parse", "HEAD")
    if not sha:
        return None
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{sha}-dirty" if dirty else sha


class BuildPyWithCommit(build_py):
    def run(self) -> None:
        super().run()
        if self.dry_run:
            return
        target = Path(self.build_lib) / "harness" / "_build.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text('"""Written by setup.py at build time."""\n\n'
                          f"COMMIT = {build_commit()!r}\n", encoding="utf-8")


setup(
    packages=find_namespace_packages(include=["harness*", "leaderboard*"], exclude=["harness._data*"])
    + list(DATA_PACKAGES),
    package_dir=DATA_PACKAGES,
    package_data={name: ["*.yaml", "*.yml", "*.jsonl"] for name in DATA_PACKAGES},
    cmdclass={"build_py": BuildPyWithCommit},
)
