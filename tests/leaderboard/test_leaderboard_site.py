import csv
import json
import xml.etree.ElementTree as ET

import pytest
from conftest import edit_result

from harness.errors import ConfigError, HarnessError, NotFoundError
from leaderboard import carbon, plots
from leaderboard.label import LABEL_HEIGHT_PX, LABEL_WIDTH_PX
from leaderboard.rating import cut_release, write_release
from leaderboard.site import SITE_MARKER, build_site

EVIL = "<script>alert(1)</script>"


def _site(results_dir, tmp_path, **kwargs):
    kwargs.setdefault("releases_dir", tmp_path / "releases")
    return build_site(results_dir, tmp_path / "site", **kwargs)


def test_empty_results_folder_builds_a_site_saying_no_results(results_dir, tmp_path):
    report = _site(results_dir, tmp_path)
    index = (tmp_path / "site" / "index.html").read_text()
    assert "No results yet" in index
    assert report.num_files == 0
    data = json.loads((tmp_path / "site" / "data" / "index.json").read_text())
    assert data["tasks"] == [] and data["refused"] == []
    for page in ("methodology.html", "releases.html", "static/site.js", "static/site.css"):
        assert (tmp_path / "site" / page).is_file()


def test_text_from_result_files_is_escaped_everywhere(add_result, results_dir, tmp_path):
    add_result(model_id=f"org/{EVIL}", task="image-gen")
    _, named = add_result(model_id="/srv/models/x", task="image-gen", mean_power_w=400.0)
    edit_result(named, lambda d: d["model"].update(name=f"{EVIL}/{EVIL}-with-a-long-name-that-wraps"))
    add_result(model_id="org/other", task="image-gen", mean_power_w=500.0)
    _site(results_dir, tmp_path)
    site = tmp_path / "site"
    files = [p for p in site.rglob("*") if p.suffix in (".html", ".svg")]
    assert files
    for path in files:
        assert EVIL not in path.read_text(), path
    index = (site / "index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    for svg in site.rglob("*.svg"):
        ET.parse(svg)  # escaped text keeps every SVG well-formed XML
    model_page = next((site / "models").glob("*script*.html"))
    assert "&lt;script&gt;" in model_page.read_text()


def test_pages_data_labels_and_plots_are_written(add_result, results_dir, tmp_path):
    add_result(model_id="org/a", task="image-gen", mean_power_w=100.0)
    add_result(model_id="org/b", task="image-gen", mean_power_w=600.0)
    add_result(model_id="org/c", task="image-gen", mean_power_w=300.0)
    add_result(model_id="org/cpu", task="image-gen", gpu_name="cpu")
    report = _site(results_dir, tmp_path, grid="FR", pue="1.1")
    site = tmp_path / "site"
    assert report.num_entries == 4 and report.release_id == "provisional"
    task = json.loads((site / "data" / "tasks" / "image-gen.json").read_text())
    stars = {e["model_id"]: e["stars"] for e in task["entries"]}
    assert stars == {"org/a": 5, "org/b": 1, "org/c": 4, "org/cpu": None}
    a = [e for e in task["entries"] if e["model_id"] == "org/a"][0]
    assert a["co2e_per_1k_queries_g"] == pytest.approx(a["gpu_energy_per_1k_queries_wh"]["mean"] * 1.1 * 56 / 1000)
    text = (site / "data" / "tasks" / "image-gen.json").read_text()
    lines = text.splitlines()  # sorted keys, one entry per line: a diff between builds names the entries changed
    assert [json.loads(line.rstrip(",")) for line in lines if line.startswith("  {")] == task["entries"]
    assert [line.split(":")[0].strip() for line in lines if line.startswith(' "')] == [
        json.dumps(k) for k in sorted(task)]
    rows = list(csv.DictReader((site / "data" / "image-gen.csv").open()))
    assert {r["model_id"] for r in rows} == {"org/a", "org/b", "org/c", "org/cpu"}
    label = ET.parse(site / a["label"]).getroot()
    assert (label.get("width"), label.get("height")) == (str(LABEL_WIDTH_PX), str(LABEL_HEIGHT_PX))
    assert "org/a" in ET.tostring(label, encoding="unicode")
    for kind in ("energy", "latency", "params"):
        ET.parse(site / "plots" / f"image-gen-{kind}.svg")
    model_page = (site / a["model_page"]).read_text()
    assert "<polyline" in model_page and "Power timeline" in model_page
    assert "France grid" in model_page and "% of a smartphone charge" in model_page


def test_refused_files_are_listed_and_the_build_goes_on(add_result, results_dir, tmp_path):
    add_result(model_id="org/good")
    (results_dir / "broken.json").write_text('{"schema_version": "1.0", "run_id": "x"}')
    report = _site(results_dir, tmp_path)
    assert [r.source for r in report.refused] == ["broken.json"]
    index = (tmp_path / "site" / "index.html").read_text()
    assert "broken.json" in index and "org/good" in index
    assert json.loads((tmp_path / "site" / "data" / "index.json").read_text())["refused"][0]["source"] == "broken.json"


def test_build_rates_under_the_latest_release(add_result, results_dir, tmp_path):
    from leaderboard.aggregate import aggregate

    add_result(model_id="org/a", task="image-gen", mean_power_w=100.0)
    add_result(model_id="org/b", task="image-gen", mean_power_w=600.0)
    add_result(model_id="org/m", task="image-gen", mean_power_w=300.0)
    entries = [e for t in aggregate(results_dir).tasks.values() for e in t.rated]
    write_release(cut_release(entries, "2026-11"), tmp_path / "releases")
    add_result(model_id="org/c", task="image-gen", mean_power_w=50.0)  # arrives after the release
    report = _site(results_dir, tmp_path)
    assert report.release_id == "2026-11"
    task = json.loads((tmp_path / "site" / "data" / "tasks" / "image-gen.json").read_text())
    stars = {e["model_id"]: e["stars"] for e in task["entries"]}
    assert stars == {"org/a": 5, "org/b": 1, "org/m": 4, "org/c": 5}
    assert "Release 2026-11" in (tmp_path / "site" / "releases.html").read_text()
    with pytest.raises(ConfigError, match="froze linear"):
        _site(results_dir, tmp_path, banding="log")


def test_a_failed_build_leaves_the_previous_site(add_result, results_dir, tmp_path, monkeypatch):
    add_result(model_id="org/a")
    _site(results_dir, tmp_path)
    before = (tmp_path / "site" / "index.html").read_text()
    add_result(model_id="org/b")
    import leaderboard.site as site_module

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(site_module, "render_label", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        _site(results_dir, tmp_path)
    assert (tmp_path / "site" / "index.html").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


def test_a_folder_not_built_by_the_command_is_never_replaced(results_dir, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(HarnessError, match="refusing to replace"):
        _site(results_dir, tmp_path)
    assert (out / "precious.txt").read_text() == "keep me"
    _site(results_dir, tmp_path / "empty-parent")  # an empty or missing folder is fine
    (out / "precious.txt").unlink()
    _site(results_dir, tmp_path)
    assert (out / SITE_MARKER).exists()


def test_bad_options_are_one_line_errors(results_dir, tmp_path):
    with pytest.raises(ConfigError, match="unknown grid"):
        _site(results_dir, tmp_path, grid="XX")
    with pytest.raises(ConfigError, match="PUE"):
        _site(results_dir, tmp_path, pue="0.5")
    with pytest.raises(ConfigError, match="banding"):
        _site(results_dir, tmp_path, banding="cubic")
    with pytest.raises(NotFoundError):
        _site(tmp_path / "missing", tmp_path)
    with pytest.raises(NotFoundError, match="no release"):
        _site(results_dir, tmp_path, release_id="2030-01")


def test_carbon_is_derived_from_measured_energy():
    france = carbon.resolve_grid("fr")
    derived = carbon.derive(10.0, france, carbon.resolve_pue("industry-average"))
    assert derived.measured_wh == 10.0
    assert derived.facility_wh == pytest.approx(15.8)
    assert derived.co2e_g == pytest.approx(15.8 / 1000 * 56)
    assert derived.smartphone_charge_pct == pytest.approx(15.8 / carbon.SMARTPHONE_CHARGE_WH * 100)
    assert carbon.resolve_pue("1.1") == 1.1 and carbon.resolve_pue("measured") == 1.0
    assert carbon.resolve_grid("PL").g_co2e_per_kwh > 10 * carbon.resolve_grid("FR").g_co2e_per_kwh
    assert all(g.source and g.year for g in carbon.GRID_INTENSITIES.values())
    for bad in ("nan", "inf", "0.9", "abc"):
        with pytest.raises(ConfigError):
            carbon.resolve_pue(bad)


def test_log_axis_ticks_and_plot_escaping():
    assert plots.log_ticks(1.0, 100.0) == [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
    assert plots.log_ticks(1.0, 1000.0) == [1.0, 10.0, 100.0, 1000.0]
    assert plots.log_ticks(0.01, 1e6)[:3] == [0.01, 0.1, 1.0]
    assert [plots.tick_text(v) for v in plots.linear_ticks(0.013)] == ["0", "0.005", "0.01", "0.015"]
    edge = plots.frontier([plots.Point("fast", 1.0, 5.0), plots.Point("both", 2.0, 2.0),
                           plots.Point("worse", 3.0, 3.0), plots.Point("frugal", 4.0, 1.0)])
    assert [p.label for p in edge] == ["fast", "both", "frugal"]
    batches = [plots.Point("m batch 1", 1.0, 2.0, group="org/m"), plots.Point("m batch 8", 0.5, 1.0, group="org/m"),
               plots.Point("other", 2.0, 3.0, group="org/o")]
    svg = plots.energy_vs_latency_svg(batches, "t")
    assert svg.count('class="model-line"') == 1 and 'class="frontier"' not in svg  # one point on the frontier
    assert svg.count('class="point-label"') == 3
    ET.fromstring(svg)
    svg = plots.energy_dots_svg([plots.Dot(EVIL, 2.0, 1.5, 2.5), plots.Dot("b", 200.0, 190.0, 210.0)], "t", "Wh")
    assert EVIL not in svg
    ET.fromstring(svg)
    svg = plots.energy_vs_params_svg([plots.Point(EVIL, 1e9, 3.0)], "t & u")
    ET.fromstring(svg)
    ET.fromstring(plots.timeline_svg([], "none"))


def test_the_site_and_labels_honour_the_umask(add_result, results_dir, tmp_path):
    import os
    import stat
    import subprocess
    import sys

    _, path = add_result(model_id="org/a", task="image-gen")
    old = os.umask(0o022)
    try:
        _site(results_dir, tmp_path)
    finally:
        os.umask(old)
    site = tmp_path / "site"
    modes = {stat.S_IMODE(p.stat().st_mode) for p in [site, *site.rglob("*")] if p.is_dir()}
    assert modes == {0o755}
    assert {stat.S_IMODE(p.stat().st_mode) for p in site.rglob("*") if p.is_file()} == {0o644}
    done = subprocess.run([sys.executable, "-c", "import os, sys; os.umask(0o022); from harness.cli import main; "
                           "sys.argv = ['harness', 'label', sys.argv[1], '--releases-dir', sys.argv[2]]; main()",
                           str(path), str(tmp_path / "releases")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(path.with_name(f"{path.stem}.label.svg").stat().st_mode) == 0o644


def test_badge_colours_pass_wcag_aa_under_white_text():
    from leaderboard.label import STAR_COLORS, UNRATED_COLOR

    def luminance(hex_colour):
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for colour in (*STAR_COLORS.values(), UNRATED_COLOR):
        assert (1.05) / (luminance(colour) + 0.05) >= 4.5, colour


def test_labels_name_the_meter_and_the_task(add_result, results_dir, tmp_path):
    add_result(model_id="org/cpu", task="image-gen", gpu_name="cpu")
    add_result(model_id="org/fake", task="image-gen", meter_backend="fake-nvml")
    add_result(model_id="org/gpu", task="image-gen")
    _site(results_dir, tmp_path)
    labels = {p.parent.name: p.read_text() for p in (tmp_path / "site" / "labels").rglob("*.svg")
              if not p.name.endswith("-badge.svg")}
    assert "NVML" not in labels["org__cpu"] and "CPU only" in labels["org__cpu"]
    assert "measured with NVML" not in labels["org__fake"] and "fake NVML meter" in labels["org__fake"]
    assert "GPU energy measured with NVML" in labels["org__gpu"]
    badges = [p.read_text() for p in (tmp_path / "site" / "labels").rglob("*-badge.svg")]
    assert all("image generation energy" in b for b in badges)


def test_a_single_repetition_shows_no_interval_rather_than_a_blank_one(add_result, results_dir, tmp_path):
    add_result(model_id="org/once", repeats=1)
    for model in ("org/b", "org/c", "org/d"):
        add_result(model_id=model)
    site = _site(results_dir, tmp_path)
    page = (site.out_dir / "models" / "org__once.html").read_text()
    assert "95 % CI no interval (one repetition), n=1" in page
    assert "—–—" not in page and "—–—" not in (site.out_dir / "index.html").read_text()


def test_the_image_tasks_get_cards_tables_and_plots_in_order(add_result, results_dir, tmp_path):
    kinds = ("image-classification", "object-detection", "image-captioning")
    for kind in kinds:
        add_result(model_id=f"org/{kind}-small", task=kind, mean_power_w=150.0)
        add_result(model_id=f"org/{kind}-mid", task=kind, mean_power_w=300.0)
        add_result(model_id=f"org/{kind}-large", task=kind, mean_power_w=600.0)
    add_result(model_id="org/sd", task="image-gen")
    _site(results_dir, tmp_path)
    site = tmp_path / "site"
    index = (site / "index.html").read_text()
    titles = ["Image generation", "Image classification", "Object detection", "Image captioning"]
    positions = [index.index(title) for title in titles]
    assert positions == sorted(positions)
    for kind in kinds:
        task = json.loads((site / "data" / "tasks" / f"{kind}.json").read_text())
        stars = {e["model_id"].removeprefix(f"org/{kind}-"): e["stars"] for e in task["entries"]}
        assert stars["small"] == 5 and stars["large"] == 1 and 1 < stars["mid"] < 5
        assert len(list(csv.DictReader((site / "data" / f"{kind}.csv").open()))) == 3
        for plot in ("energy", "latency", "params"):
            ET.parse(site / "plots" / f"{kind}-{plot}.svg")
