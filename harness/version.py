"""The harness's version, in a module of its own so that anything may read it without importing the API.

`harness/__init__.py` re-exports it as `harness.__version__` for users; code inside the harness and the
leaderboard imports it from here, since importing `harness` itself would reach `harness.api` (and so the
runner) through the facade.
"""

from __future__ import annotations

import importlib.metadata

try:
    __version__ = importlib.metadata.version("ai-energy-harness")
    """From git tags at build time (setuptools-scm)."""
except importlib.metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
