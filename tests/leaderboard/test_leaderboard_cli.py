import json
import subprocess
import sys
import xml.etree.ElementTree as ET

from conftest import edit_result


def harness(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_build_release_and_label_from_the_command_line(add_result, results_dir, tmp_path):
    _, a_path = add_result(model_id="org/a", task="image-gen", mean_power_w=100.0)
    add_result(model_id="org/b", task="image-gen", mean_power_w=600.0)
    add_result(model_id="org/c", task="image-gen", mean_power_w=300.0)
    releases = tmp_path / "releases"

    done = harness("leaderboard", "build", results_dir, "--out", tmp_path / "site", "--releases-dir", releases,
                   "--grid", "PL", "--pue", "hyperscale", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 runs from 3 files" in done.stdout and "provisional" in done.stdout

    done = harness("label", a_path, "--out", tmp_path / "a.svg", "--releases-dir", releases, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no release cut yet" in done.stdout
    assert "not rated" in (tmp_path / "a.svg").read_text()
    site_label = next((tmp_path / "site" / "labels" / "org__a").glob("*[!e].svg"))
    assert site_label.read_text() == (tmp_path / "a.svg").read_text()  # the site and `harness label` agree

    done = harness("leaderboard", "release", "2026-11", results_dir, "--releases-dir", releases, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    frozen = json.loads((releases / "2026-11.json").read_text())
    assert frozen["banding"] == "linear" and len(frozen["groups"]) == 1

    done = harness("label", a_path, "--out", tmp_path / "a.svg", "--releases-dir", releases, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("error: refusing to overwrite existing file")
    (tmp_path / "a.svg").unlink()  # a label is written to a new path only: the user removes the old one
    done = harness("label", a_path, "--out", tmp_path / "a.svg", "--releases-dir", releases, cwd=tmp_path)
    assert done.returncode == 0 and "5 stars; release 2026-11" in done.stdout
    done = harness("leaderboard", "build", results_dir, "--out", tmp_path / "site", "--releases-dir", releases,
                   "--cache-dir", tmp_path / "cache", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cache" / "summaries.json").is_file()
    assert site_label.read_text() == (tmp_path / "a.svg").read_text()  # and still agree under the release
    label = ET.parse(tmp_path / "a.svg").getroot()
    assert label.get("width") == "260" and label.get("height") == "364"
    done = harness("label", a_path, "--badge", "--releases-dir", releases, cwd=tmp_path)
    assert done.returncode == 0
    assert "★★★★★" in a_path.with_name(f"{a_path.stem}.badge.svg").read_text()

    done = harness("leaderboard", "release", "2026-11", results_dir, "--releases-dir", releases, cwd=tmp_path)
    assert done.returncode != 0 and done.stderr.strip().startswith("error: refusing to overwrite")


def test_user_errors_are_one_line_and_non_zero(add_result, results_dir, tmp_path):
    _, path = add_result()
    edit_result(path, lambda d: d["figures"]["latency_p50_s"].update(mean=-1.0))
    cases = [
        ("leaderboard", "build", tmp_path / "missing", "--out", tmp_path / "s"),
        ("leaderboard", "build", results_dir, "--out", tmp_path / "s", "--grid", "ATLANTIS"),
        ("leaderboard", "build", results_dir, "--out", tmp_path / "s", "--pue", "7"),
        ("leaderboard", "build", results_dir, "--out", tmp_path / "s", "--base-url", "javascript:alert(1)"),
        ("leaderboard", "release", "r1", results_dir, "--releases-dir", tmp_path / "rel"),
        ("label", tmp_path / "missing.json"),
        ("label", path),
    ]
    for args in cases:
        done = harness(*args, cwd=tmp_path)
        assert done.returncode != 0, args
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()
