"""Result folders made of synthetic (never real) result files, written the way `harness run` writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result


@pytest.fixture
def results_dir(tmp_path) -> Path:
    folder = tmp_path / "results"
    folder.mkdir()
    return folder


@pytest.fixture
def add_result(results_dir):
    """Write one synthetic result under `results_dir` at its default path and return (result, path)."""
    counter = {"seed": 0}

    def add(**kwargs):
        counter["seed"] += 1
        kwargs.setdefault("seed", counter["seed"])
        result = make_result(**kwargs)
        path = write_result(result, default_result_path(results_dir, result))
        return result, path

    return add


def edit_result(path: Path, change) -> None:
    """Load a result file's JSON, let `change(data)` alter it, write it back (to make invalid files)."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
