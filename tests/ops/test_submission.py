"""Submission bundles: submit then verify round trip, tampering detected, unsafe archives refused."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from harness.errors import HarnessError, NotFoundError, ResultFileError
from harness.ops.submission import MANIFEST_NAME, create_bundle, read_bundle, verify_bundle
from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result


@pytest.fixture
def results_dir(tmp_path):
    root = tmp_path / "results"
    for seed, task in enumerate(["text-gen", "image-gen"]):
        result = make_result(seed=seed, task=task)
        write_result(result, default_result_path(root, result))
    log = tmp_path / "run.log"
    log.write_text("harness run ... done\n")
    return root


@pytest.mark.parametrize("name", ["bundle.tar.gz", "bundle.tgz", "bundle-folder"])
def test_round_trip(results_dir, tmp_path, name):
    bundle = create_bundle([results_dir], tmp_path / name, [tmp_path / "run.log"])
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert len(report.results) == 2 and report.logs == ["logs/run.log"]
    originals = {p.read_text() for p in results_dir.rglob("*.json")}
    assert {item.text for item in report.results} == originals
    assert report.manifest.harness_version and report.manifest.created_at.utcoffset().total_seconds() == 0
    assert set(report.manifest.files) == {item.path for item in report.results} | {"logs/run.log"}


def test_archives_are_reproducible(results_dir, tmp_path):
    from datetime import datetime, timezone

    when = datetime(2026, 11, 22, tzinfo=timezone.utc)
    first = create_bundle([results_dir], tmp_path / "a.tar.gz", created_at=when)
    second = create_bundle([results_dir], tmp_path / "b.tar.gz", created_at=when)
    def members(archive):  # everything but the top folder, which is named after the archive
        with tarfile.open(archive) as tar:
            return [(m.name.split("/", 1)[1], m.size, m.mode, m.mtime, m.uid, m.gid, m.uname, m.gname) for m in tar]

    assert members(first) == members(second)
    names = [m[0] for m in members(first)]
    assert names == sorted(names) and {m[2:6] for m in members(first)} == {(0o644, 0, 0, 0)}
    assert read_bundle(first) == read_bundle(second)
    assert first.read_bytes()[4:8] == b"\0\0\0\0"  # the gzip header carries no date


def test_invalid_result_is_not_packed(results_dir, tmp_path):
    bad = make_result(seed=9).model_dump(mode="json")
    bad["repetitions"][0]["query_latencies_s"].pop()
    (results_dir / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ResultFileError, match="latency-count"):
        create_bundle([results_dir], tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()


def test_existing_bundle_is_never_replaced(results_dir, tmp_path):
    target = tmp_path / "b.tar.gz"
    target.write_bytes(b"earlier")
    with pytest.raises(HarnessError, match="refusing to overwrite"):
        create_bundle([results_dir], target)
    assert target.read_bytes() == b"earlier"


def test_missing_inputs(tmp_path):
    with pytest.raises(NotFoundError):
        create_bundle([tmp_path / "nope"], tmp_path / "b.tar.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="no result files"):
        create_bundle([tmp_path / "empty"], tmp_path / "b.tar.gz")


def _rewrite_archive(source, target, change):
    """Copy a bundle archive member by member, letting `change(name, data)` return new bytes (or None to drop)."""
    with tarfile.open(source) as tar, tarfile.open(target, "w:gz") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read() if member.isfile() else None
            if data is not None:
                data = change(member.name, data)
                if data is None:
                    continue
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    return target


def test_tampered_result_is_detected(results_dir, tmp_path):
    bundle = create_bundle([results_dir], tmp_path / "b.tar.gz")

    def halve_energy(name, data):
        if "/results/" not in name or "text-gen" not in name:
            return data
        doc = json.loads(data)
        doc["figures"]["gpu_energy_per_1k_queries_wh"]["mean"] /= 2
        return json.dumps(doc).encode()

    report = verify_bundle(_rewrite_archive(bundle, tmp_path / "t.tar.gz", halve_energy))
    assert not report.ok
    assert any("checksum mismatch" in p for p in report.problems)
    assert len(report.results) == 1  # the untouched file still verifies


def test_tampered_manifest_and_result_still_fail_plausibility(results_dir, tmp_path):
    """A sender who recomputes the checksum cannot hide an edited headline: the checks re-derive it."""
    import hashlib

    bundle = create_bundle([results_dir], tmp_path / "b.tar.gz")
    files = read_bundle(bundle)
    target = next(name for name in files if name.startswith("results/text-gen"))
    doc = json.loads(files[target])
    doc["figures"]["gpu_energy_per_1k_queries_wh"]["mean"] /= 2
    new = json.dumps(doc).encode()

    def edit(name, data):
        if name.endswith("/" + target):
            return new
        if name.endswith(MANIFEST_NAME):
            manifest = json.loads(data)
            manifest["files"][target].update(sha256=hashlib.sha256(new).hexdigest(), size_bytes=len(new))
            return json.dumps(manifest).encode()
        return data

    report = verify_bundle(_rewrite_archive(bundle, tmp_path / "t.tar.gz", edit))
    assert not report.ok and any("headline" in p for p in report.problems)


def test_unlisted_and_missing_files_are_problems(results_dir, tmp_path):
    bundle = create_bundle([results_dir], tmp_path / "folder", [tmp_path / "run.log"])
    (bundle / "results" / "extra.json").write_text("{}")
    (bundle / "logs" / "run.log").unlink()
    report = verify_bundle(bundle)
    assert any("extra.json: not listed" in p for p in report.problems)
    assert any("logs/run.log: listed in MANIFEST.json but missing" in p for p in report.problems)


def _archive_with(tmp_path, members):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


@pytest.mark.parametrize("name", ["../escape.json", "/etc/evil.json", "top/../../escape.json", "a//b.json"])
def test_path_traversal_is_refused(tmp_path, name):
    info = tarfile.TarInfo(name)
    info.size = 2
    path = _archive_with(tmp_path, [(info, b"{}")])
    with pytest.raises(ResultFileError, match="unsafe path"):
        verify_bundle(path)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE])
def test_links_and_devices_are_refused(tmp_path, kind):
    info = tarfile.TarInfo("top/results/link.json")
    info.type = kind
    info.linkname = "/etc/passwd"
    path = _archive_with(tmp_path, [(info, None)])
    with pytest.raises(ResultFileError, match="link or special file"):
        verify_bundle(path)


def test_symlink_in_a_folder_bundle_is_refused(results_dir, tmp_path):
    bundle = create_bundle([results_dir], tmp_path / "folder")
    (bundle / "results" / "sneaky.json").symlink_to("/etc/hostname")
    with pytest.raises(ResultFileError, match="symbolic link"):
        verify_bundle(bundle)


def test_not_a_bundle(tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(ResultFileError, match="not a readable"):
        verify_bundle(tmp_path / "x.tar.gz")
    (tmp_path / "x.zip").write_bytes(b"PK")
    with pytest.raises(ResultFileError, match="folder or a .tar.gz"):
        verify_bundle(tmp_path / "x.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResultFileError, match="no MANIFEST.json"):
        verify_bundle(tmp_path / "empty")
    with pytest.raises(NotFoundError):
        verify_bundle(tmp_path / "missing.tar.gz")
