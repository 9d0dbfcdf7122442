"""No result file can stop the leaderboard build or take over another entry's pages, data, CSV or plots."""

from __future__ import annotations

import csv
import io
import json
import os
import xml.dom.minidom

import pytest

from harness.results.store import MAX_RESULT_BYTES, default_result_path, write_result
from harness.testing.synthetic import make_result
from leaderboard.site import build_site


def _build(results_dir, tmp_path):
    return build_site(results_dir, tmp_path / "site", workers=1, releases_dir=tmp_path / "releases")


@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "filled-cache"])
@pytest.mark.parametrize("hostile", ["huge-params", "long-names", "deep", "dev-zero", "fifo", "oversized"])
def test_one_hostile_file_never_stops_the_build(hostile, cached, add_result, results_dir, tmp_path):
    """With a filled summary cache, a file it does not know is hashed before it is checked: that read is bounded
    too (a FIFO once hung the build there, and a huge file was read whole)."""
    add_result(model_id="org/good")
    cache = tmp_path / "cache" if cached else None
    if cached:
        build_site(results_dir, tmp_path / "first", workers=1, releases_dir=tmp_path / "releases", cache_dir=cache)
    bad = results_dir / "bad.json"
    if hostile == "huge-params":
        data = make_result(seed=50, model_id="org/huge").model_dump(mode="json")
        data["model"]["num_parameters"] = 10**400
        bad.write_text(json.dumps(data))
    elif hostile == "long-names":
        result = make_result(seed=51, model_id="org/" + "m" * 300, gpu_name="G" * 300)
        data = result.model_dump(mode="json")
        data["task"]["id"] = "t" * 300
        bad.write_text(json.dumps(data))
    elif hostile == "deep":
        bad.write_text("[" * 100_000 + "]" * 100_000)
    elif hostile == "dev-zero":
        os.symlink("/dev/zero", bad)
    elif hostile == "fifo":
        os.mkfifo(bad)
    else:
        with open(bad, "wb") as handle:  # sparse: past the reader's limit without filling the disk
            handle.truncate(MAX_RESULT_BYTES + 1)
    report = build_site(results_dir, tmp_path / "site", workers=1, releases_dir=tmp_path / "releases", cache_dir=cache)
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    models = json.loads((site / "data" / "index.json").read_text())["models"]
    assert "org/good" in [m["model_id"] for m in models]
    if hostile == "long-names":  # valid, so shown: its files fit the 255-byte file-name limit
        assert report.num_runs == 2 and all(len(p.name) <= 255 for p in site.rglob("*"))
    else:
        assert [r.source for r in report.refused] == ["bad.json"]


def test_a_task_id_that_slugs_alike_cannot_replace_the_real_task(add_result, results_dir, tmp_path):
    add_result(model_id="org/real", task="text-gen")
    data = make_result(seed=60, model_id="org/intruder", task="text-gen").model_dump(mode="json")
    data["task"]["id"] = "text-gen!"
    path = results_dir / "intruder.json"
    path.write_text(json.dumps(data))
    _build(results_dir, tmp_path)
    site = tmp_path / "site"
    real = json.loads((site / "data" / "tasks" / "text-gen.json").read_text())
    assert [e["model_id"] for e in real["entries"]] == ["org/real"]
    assert "org/intruder" not in (site / "data" / "text-gen.csv").read_text()
    assert "org/intruder" not in (site / "plots" / "text-gen-energy.svg").read_text()
    tasks = json.loads((site / "data" / "index.json").read_text())["tasks"]
    assert len({t["data"] for t in tasks}) == 2


def test_model_ids_that_slug_alike_get_pages_of_their_own(add_result, results_dir, tmp_path):
    for model_id in ("org/model", "org/model!", "org/model?"):
        add_result(model_id=model_id)
    _build(results_dir, tmp_path)
    models = json.loads((tmp_path / "site" / "data" / "index.json").read_text())["models"]
    pages = {m["model_id"]: m["page"] for m in models}
    assert pages["org/model"] == "models/org__model.html" and len(set(pages.values())) == 3
    for model_id, page in pages.items():
        assert model_id in (tmp_path / "site" / page).read_text().replace("&#x27;", "'").replace("&#39;", "'")


def test_a_copied_run_id_with_other_contents_refuses_both(add_result, results_dir, tmp_path):
    result, path = add_result(model_id="org/real", run_id="20261101T000000Z-00000001")
    fake = make_result(seed=70, model_id="org/real", run_id=result.run_id, mean_power_w=10.0)
    write_result(fake, results_dir / "aaa-first-in-path-order.json")
    report = _build(results_dir, tmp_path)
    assert report.num_runs == 0 and len(report.refused) == 2
    assert all("duplicate run id" in r.reason and "different contents" in r.reason for r in report.refused)


def test_formulas_in_ids_reach_the_csv_as_text(add_result, results_dir, tmp_path):
    add_result(model_id='=HYPERLINK("http://evil.example","x")')
    add_result(model_id="+cmd|' /C calc'!A0")
    _build(results_dir, tmp_path)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "site" / "data" / "text-gen.csv").read_text())))
    assert sorted(r["model_id"] for r in rows) == ["'+cmd|' /C calc'!A0", "'=HYPERLINK(\"http://evil.example\",\"x\")"]


def test_control_characters_in_ids_are_refused_and_labels_stay_valid_xml(add_result, results_dir, tmp_path):
    add_result(model_id="org/fine")
    result = make_result(seed=80, model_id="org/bell\x07")
    path = default_result_path(results_dir, result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.model_dump(mode="json")))
    report = _build(results_dir, tmp_path)
    assert len(report.refused) == 1 and "control character U+0007" in report.refused[0].reason
    for svg in (tmp_path / "site").rglob("*.svg"):
        xml.dom.minidom.parse(str(svg))
