import json
import os

import pytest

from harness.errors import HarnessError
from harness.files import write_json_atomic, write_text_atomic


def test_write_creates_folders_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a" / "b" / "result.json"
    write_json_atomic(target, {"b": 1, "a": [1.5]})
    assert json.loads(target.read_text()) == {"a": [1.5], "b": 1}
    assert target.read_text().index('"a"') < target.read_text().index('"b"')  # sorted keys
    assert os.listdir(target.parent) == ["result.json"]


def test_refuses_to_overwrite_and_keeps_the_earlier_file(tmp_path):
    target = tmp_path / "r.json"
    write_text_atomic(target, "first", overwrite=False)
    with pytest.raises(HarnessError, match="refusing to overwrite"):
        write_text_atomic(target, "second", overwrite=False)
    assert target.read_text() == "first"
    assert os.listdir(tmp_path) == ["r.json"]


def test_nan_is_not_written(tmp_path):
    target = tmp_path / "nan.json"
    with pytest.raises(ValueError):
        write_json_atomic(target, {"x": float("nan")})
    assert not target.exists()
    assert os.listdir(tmp_path) == []
