"""Batch commands are all-or-nothing, and hostile files in their sources are refused by name, never a crash."""

from __future__ import annotations

import io
import json
import os
import tarfile
import tracemalloc

import pytest

from harness.errors import HarnessError, ResultFileError
from harness.ops.collect import CollectRefused, collect
from harness.ops.submission import create_bundle, verify_bundle
from harness.results.store import default_result_path
from harness.testing.synthetic import make_result


def _write(folder, result, name=None):
    path = default_result_path(folder, result) if name is None else folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.model_dump(mode="json"), indent=1))
    return path


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_a_write_failing_midway_leaves_the_results_folder_as_it_was(tmp_path):
    outputs, results = tmp_path / "outputs", tmp_path / "results"
    first, second = make_result(seed=1, task="text-gen"), make_result(seed=2, task="image-gen")
    _write(outputs / "a", first)
    _write(outputs / "b", second)
    _write(results, make_result(seed=9))
    before = _tree(results)
    default_result_path(results, second).mkdir(parents=True)  # the second target is taken by a folder
    before_with_blocker = _tree(results)
    with pytest.raises(HarnessError, match="nothing was collected") as caught:
        collect([outputs], results)
    assert "Traceback" not in str(caught.value) and "\n" not in str(caught.value)
    assert _tree(results) == before_with_blocker
    assert not default_result_path(results, first).exists()
    assert set(before) <= set(_tree(results))


@pytest.mark.parametrize("hostile", ["fifo", "dev-zero", "deep", "huge-int", "overflow-float", "not-utf8"])
def test_hostile_files_are_refused_by_name_and_nothing_is_written(hostile, tmp_path):
    outputs, results = tmp_path / "outputs", tmp_path / "results"
    _write(outputs, make_result(seed=1))
    bad = outputs / "bad.json"
    good = make_result(seed=2).model_dump(mode="json")
    if hostile == "fifo":
        os.mkfifo(bad)
    elif hostile == "dev-zero":
        os.symlink("/dev/zero", bad)
    elif hostile == "deep":
        bad.write_text("[" * 100_000 + "]" * 100_000)
    elif hostile == "huge-int":
        good["model"]["num_parameters"] = 10**400
        bad.write_text(json.dumps(good))
    elif hostile == "overflow-float":
        good["settings"]["sample_hz"] = 0.123456
        bad.write_text(json.dumps(good).replace("0.123456", "1e400"))
    else:
        bad.write_bytes(b"\xff\xfe" + json.dumps(good).encode())
    with pytest.raises(CollectRefused) as caught:
        collect([outputs], results)
    refused = caught.value.report.refused
    assert len(refused) == 1 and refused[0].source == str(bad)
    assert not results.exists()


def test_collect_into_a_file_is_one_line(tmp_path):
    outputs = tmp_path / "outputs"
    _write(outputs, make_result(seed=1))
    (tmp_path / "file").write_text("x")
    with pytest.raises(HarnessError, match="is a file, not a folder"):
        collect([outputs], tmp_path / "file")


def test_submit_to_an_unwritable_place_is_one_line_and_leaves_nothing(tmp_path):
    source = _write(tmp_path / "in", make_result(seed=1))
    for out in (tmp_path / "a-file" / "bundle", tmp_path / "a-file" / "bundle.tar.gz"):
        (tmp_path / "a-file").write_text("x")
        with pytest.raises(HarnessError, match="cannot write"):
            create_bundle([source], out)
    assert sorted(os.listdir(tmp_path)) == ["a-file", "in"]


class _Zeros(io.RawIOBase):
    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = b"\0" * n
        self.left -= n
        return n


def test_verify_never_decompresses_a_member_the_manifest_does_not_list(tmp_path):
    source = _write(tmp_path / "in", make_result(seed=1))
    folder = create_bundle([source], tmp_path / "bundle")
    archive = tmp_path / "bomb.tar.gz"
    size = 200 * 1024**2
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=f"bomb/{path.relative_to(folder).as_posix()}")
        info = tarfile.TarInfo("bomb/results/zeros.bin")
        info.size = size
        tar.addfile(info, _Zeros(size))
    assert archive.stat().st_size < 2 * 1024**2
    tracemalloc.start()
    try:
        report = verify_bundle(archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.problems == ["results/zeros.bin: not listed in MANIFEST.json"]
    assert peak < 20 * 1024**2, f"verify held {peak / 1024**2:.0f} MiB"


def test_a_deeply_nested_manifest_is_one_problem(tmp_path):
    source = _write(tmp_path / "in", make_result(seed=1))
    folder = create_bundle([source], tmp_path / "bundle")
    (folder / "MANIFEST.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ResultFileError, match="MANIFEST.json"):
        verify_bundle(folder)
