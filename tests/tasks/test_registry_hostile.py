"""One broken or hostile file in the tasks folder never breaks the others; two files claiming one name are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.tasks.registry import load_task

TASKS = Path(__file__).parents[2] / "tasks"


def test_a_deep_extra_yaml_file_does_not_break_other_tasks(tmp_path):
    shutil.copy(TASKS / "text-gen.yaml", tmp_path / "text-gen.yaml")
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert load_task("text-gen", tmp_path).id == "text-gen"
    with pytest.raises(ConfigError, match="nested"):
        load_task("deep", tmp_path)


def test_two_task_files_claiming_one_alias_are_refused_by_name(tmp_path):
    text = (TASKS / "text-gen.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text.replace("id: text-gen", "id: other-gen"))
    with pytest.raises(ConfigError, match="claimed by two task files"):
        load_task("text_generation", tmp_path)
