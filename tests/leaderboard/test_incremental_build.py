"""Rebuilds: pages whose inputs are unchanged come from the previous site, and the site is byte for byte the
one a cold build makes; the summary cache and page reuse never change what is refused or shown."""

from __future__ import annotations

import json
import re

import pytest
from conftest import edit_result

from harness.errors import ConfigError
from leaderboard.pages import MANIFEST
from leaderboard.site import build_site


def _tree(site):
    """Every file of a built site and its bytes (the page manifest holds mtimes, so it is left out)."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def _build(results_dir, site, tmp_path, **kwargs):
    return build_site(results_dir, site, releases_dir=tmp_path / "releases", workers=1, **kwargs)


def test_a_rebuild_renders_only_what_changed_and_matches_a_cold_build(add_result, results_dir, tmp_path):
    for i in range(4):
        add_result(model_id=f"org/img{i}", task="image-gen", mean_power_w=100.0 + 50 * i)
        add_result(model_id=f"org/txt{i}", task="text-gen", mean_power_w=120.0 + 40 * i)
    site, cache = tmp_path / "site", tmp_path / "cache"
    first = _build(results_dir, site, tmp_path, cache_dir=cache)
    assert first.pages_reused == 0 and first.pages_rendered > 0
    again = _build(results_dir, site, tmp_path, cache_dir=cache)
    assert (again.pages_rendered, again.pages_reused) == (0, first.pages_rendered)  # nothing new: nothing rendered
    _, changed = add_result(model_id="org/txt9", task="text-gen", mean_power_w=400.0)
    before = _tree(site)
    third = _build(results_dir, site, tmp_path, cache_dir=cache)
    assert 0 < third.pages_rendered < first.pages_rendered and third.pages_reused > 0
    assert _tree(site)["models/org__img0.html"] == before["models/org__img0.html"]
    cold = _build(results_dir, tmp_path / "cold", tmp_path)
    assert cold.pages_reused == 0
    assert _tree(site) == _tree(tmp_path / "cold")
    # A file that turns bad is refused the same way whether or not the cache and the old pages are there.
    edit_result(changed, lambda d: d["figures"]["latency_p50_s"].update(mean=-1.0))
    fourth = _build(results_dir, site, tmp_path, cache_dir=cache)
    cold = _build(results_dir, tmp_path / "cold", tmp_path)
    assert [r.reason for r in fourth.refused] == [r.reason for r in cold.refused] != []
    assert _tree(site) == _tree(tmp_path / "cold")


def test_a_page_edited_after_the_build_is_rendered_again(add_result, results_dir, tmp_path):
    add_result(model_id="org/a", task="image-gen")
    site = tmp_path / "site"
    _build(results_dir, site, tmp_path)
    page = site / "models" / "org__a.html"
    good = page.read_bytes()
    page.write_bytes(good.replace(b"</body>", b"<script>alert(1)</script></body>"))
    report = _build(results_dir, site, tmp_path)
    assert page.read_bytes() == good and report.pages_rendered >= 1


def test_embed_snippets_use_the_base_url_or_say_they_need_one(add_result, results_dir, tmp_path):
    add_result(model_id="org/a", task="image-gen")
    _build(results_dir, tmp_path / "plain", tmp_path)
    plain = (tmp_path / "plain" / "models" / "org__a.html").read_text()
    assert "SITE/labels/" in plain and "built without <code>--base-url</code>" in plain
    _build(results_dir, tmp_path / "site", tmp_path, base_url="https://example.org/energy/")
    page = (tmp_path / "site" / "models" / "org__a.html").read_text()
    assert "SITE/" not in page
    assert re.search(r'\]\(https://example\.org/energy/badges?|\(https://example\.org/energy/labels/', page)
    assert 'href="https://example.org/energy/models/org__a.html#' in page.replace("&#34;", '"').replace(
        "&quot;", '"')
    for bad in ("javascript:alert(1)", "https://example.org/a b", 'https://x.org/"><script>', "ftp://x.org"):
        with pytest.raises(ConfigError, match="--base-url"):
            _build(results_dir, tmp_path / "bad", tmp_path, base_url=bad)
    assert not (tmp_path / "bad").exists()


def test_the_summary_compares_the_best_model_with_its_own_rating_group(add_result, results_dir, tmp_path):
    add_result(model_id="org/small-a", task="text-gen", num_parameters=1_000_000_000, mean_power_w=100.0)
    add_result(model_id="org/small-b", task="text-gen", num_parameters=1_000_000_000, mean_power_w=200.0)
    add_result(model_id="org/huge", task="text-gen", num_parameters=70_000_000_000, mean_power_w=900.0)
    _build(results_dir, tmp_path / "site", tmp_path)
    index = (tmp_path / "site" / "index.html").read_text()
    card = index[index.index('id="answer-text-gen"'):].split("</article>")[0]
    ratio = float(re.search(r"of the 2 models it is rated against uses <strong>([0-9.]+)×", card).group(1))
    assert ratio == pytest.approx(2.0, rel=0.1)  # org/huge (class C, 9x) is not in the comparison
    assert "Compared within its rating group: Size class A" in card


def test_release_headings_are_words_not_group_keys(add_result, results_dir, tmp_path):
    from leaderboard.aggregate import aggregate
    from leaderboard.rating import cut_release, write_release

    for i, power in enumerate((100.0, 300.0, 600.0)):
        add_result(model_id=f"org/m{i}", task="text-gen", mean_power_w=power)
    entries = [e for t in aggregate(results_dir).tasks.values() for e in t.rated]
    write_release(cut_release(entries, "2026-11"), tmp_path / "releases")
    _build(results_dir, tmp_path / "site", tmp_path)
    page = (tmp_path / "site" / "releases.html").read_text()
    headings = re.findall(r"<h3>(.*?)</h3>", page)
    assert headings == ["Text generation · size class A (up to 20B parameters) · 1x NVIDIA H100 80GB HBM3 · "
                        "this harness&#39;s protocol"]


def test_one_new_file_rewrites_one_cache_shard_and_the_index(add_result, results_dir, tmp_path):
    from leaderboard.cache import CACHE_FILE, SHARDS_DIR

    for i in range(12):
        add_result(model_id=f"org/m{i}", task="image-gen")
    cache = tmp_path / "cache"
    _build(results_dir, tmp_path / "site", tmp_path, cache_dir=cache)
    shards = {p.name: p.stat().st_mtime_ns for p in (cache / SHARDS_DIR).iterdir()}
    index = (cache / CACHE_FILE).stat().st_mtime_ns
    _, new = add_result(model_id="org/new", task="image-gen")
    report = _build(results_dir, tmp_path / "site", tmp_path, cache_dir=cache)
    after = {p.name: p.stat().st_mtime_ns for p in (cache / SHARDS_DIR).iterdir()}
    assert len([name for name, mtime in after.items() if shards.get(name) != mtime]) == 1
    assert (cache / CACHE_FILE).stat().st_mtime_ns != index and report.num_runs == 13
    new.unlink()  # a vanished file's summary leaves the cache with it
    _build(results_dir, tmp_path / "site", tmp_path, cache_dir=cache)
    from leaderboard.aggregate import summary_cache

    assert len(summary_cache(cache).outcomes) == 12


def test_pages_rendered_in_worker_processes_are_the_same_bytes(add_result, results_dir, tmp_path, monkeypatch):
    from leaderboard import pages

    for i in range(3):
        add_result(model_id=f"org/m{i}", task="image-gen", mean_power_w=100.0 + 100 * i)
    serial = _build(results_dir, tmp_path / "serial", tmp_path)
    monkeypatch.setattr(pages, "PARALLEL_MIN_PAGES", 1)
    parallel = build_site(results_dir, tmp_path / "parallel", releases_dir=tmp_path / "releases", workers=2)
    assert parallel.pages_rendered == serial.pages_rendered
    assert _tree(tmp_path / "parallel") == _tree(tmp_path / "serial")
    again = build_site(results_dir, tmp_path / "parallel", releases_dir=tmp_path / "releases", workers=2)
    assert again.pages_rendered == 0  # the workers' pages are in the manifest too

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("leaderboard.site.render_label", boom)
    add_result(model_id="org/late", task="image-gen")
    with pytest.raises(RuntimeError, match="disk full"):  # a worker's failure fails the build
        build_site(results_dir, tmp_path / "parallel", releases_dir=tmp_path / "releases", workers=2)
    assert _tree(tmp_path / "parallel") == _tree(tmp_path / "serial")


def test_worker_processes_take_runs_of_pages_and_report_the_index_size(add_result, results_dir, tmp_path,
                                                                       monkeypatch):
    from leaderboard import pages

    for i in range(4):
        add_result(model_id=f"org/m{i}", task="image-gen", mean_power_w=100.0 + 50 * i)
    serial = _build(results_dir, tmp_path / "serial", tmp_path)
    monkeypatch.setattr(pages, "PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr(pages, "RUNS_PER_WORKER", 3)  # more runs than workers: they are handed out one by one
    parallel = build_site(results_dir, tmp_path / "parallel", releases_dir=tmp_path / "releases", workers=2)
    assert _tree(tmp_path / "parallel") == _tree(tmp_path / "serial")
    assert parallel.index_bytes == serial.index_bytes == (tmp_path / "parallel" / "index.html").stat().st_size
    manifest = json.loads((tmp_path / "parallel" / MANIFEST).read_text())["pages"]
    assert "index.html" in manifest and manifest.keys() == json.loads((tmp_path / "serial" / MANIFEST).read_text())[
        "pages"].keys()


def test_pages_are_not_reused_under_another_umask(add_result, results_dir, tmp_path):
    import os

    add_result(model_id="org/a", task="image-gen")
    site = tmp_path / "site"
    _build(results_dir, site, tmp_path)
    old = os.umask(0o027)
    try:
        report = _build(results_dir, site, tmp_path)
    finally:
        os.umask(old)
    assert report.pages_reused == 0
    assert (site / "models" / "org__a.html").stat().st_mode & 0o777 == 0o640


def test_a_corrupt_page_manifest_only_means_rendering_again(add_result, results_dir, tmp_path):
    add_result(model_id="org/a", task="image-gen")
    site = tmp_path / "site"
    first = _build(results_dir, site, tmp_path)
    for junk in ("not json", '{"code": 1, "pages": []}', '[]', '{"pages": {"index.html": 7}}'):
        (site / MANIFEST).write_text(junk)
        report = _build(results_dir, site, tmp_path)
        assert (report.pages_rendered, report.pages_reused) == (first.pages_rendered, 0)
    manifest = json.loads((site / MANIFEST).read_text())
    manifest["pages"].update({"index.html": 7, "methodology.html": ["x"], "releases.html": [None, 1, 2]})
    (site / MANIFEST).write_text(json.dumps(manifest))
    report = _build(results_dir, site, tmp_path)  # entries this code cannot have written: those pages rendered
    assert (report.pages_rendered, report.pages_reused) == (3, first.pages_rendered - 3)


def test_compiled_templates_are_kept_in_the_cache_folder_and_a_bad_one_is_only_compiled_again(
        add_result, results_dir, tmp_path):
    from leaderboard import templating
    from leaderboard.site import TEMPLATES_CACHE_DIR

    add_result(model_id="org/m0", task="image-gen")
    cache = tmp_path / "cache"
    cold = _build(results_dir, tmp_path / "cold", tmp_path)
    templating.environment.cache_clear()  # as a new process starts: no template compiled yet
    _build(results_dir, tmp_path / "site", tmp_path, cache_dir=cache)
    compiled = sorted((cache / TEMPLATES_CACHE_DIR).iterdir())
    assert compiled  # one file per template used
    for path in compiled:
        path.write_bytes(b"not bytecode")
    (tmp_path / "site" / MANIFEST).unlink()  # render every page again, from the spoilt compiled templates
    templating.environment.cache_clear()
    _build(results_dir, tmp_path / "site", tmp_path, cache_dir=cache)
    assert _tree(tmp_path / "site") == _tree(tmp_path / "cold")
    spoilt = tmp_path / "spoilt"
    spoilt.mkdir()
    (spoilt / TEMPLATES_CACHE_DIR).write_text("a file where the folder would go")
    assert _build(results_dir, tmp_path / "other", tmp_path, cache_dir=spoilt).num_entries == cold.num_entries
    assert _tree(tmp_path / "other") == _tree(tmp_path / "cold")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_cache_that_cannot_be_written_is_only_a_slower_next_build(workers, add_result, results_dir, tmp_path,
                                                                    monkeypatch, caplog):
    """The cache is optional: written while the pages render (in forked workers, or before rendering without
    them), a folder that cannot take it is logged and the site is built as without `--cache-dir`."""
    import leaderboard.pages

    monkeypatch.setattr(leaderboard.pages, "PARALLEL_MIN_PAGES", 1)  # forked workers even for a small site
    for i in range(3):
        add_result(model_id=f"org/m{i}")
    cold = _build(results_dir, tmp_path / "cold", tmp_path)
    (tmp_path / "not-a-folder").write_text("x")
    report = build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", workers=workers,
                        cache_dir=tmp_path / "not-a-folder" / "cache")
    assert report.num_entries == cold.num_entries and _tree(tmp_path / "site") == _tree(tmp_path / "cold")
    assert "the leaderboard cache was not kept" in caplog.text and "not-a-folder" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site")) == []


@pytest.mark.parametrize("manifest", ["fifo", "garbage"])
def test_a_previous_site_whose_manifest_is_not_a_manifest_is_rendered_afresh(manifest, add_result, results_dir,
                                                                           tmp_path):
    """The manifest is read bounded: a FIFO put in its place cannot hang the build, and garbage only means that
    no page is reused."""
    import os

    add_result(model_id="org/a")
    site = tmp_path / "site"
    _build(results_dir, site, tmp_path)
    (site / MANIFEST).unlink()
    if manifest == "fifo":
        os.mkfifo(site / MANIFEST)
    else:
        (site / MANIFEST).write_bytes(b"\xff{not json")
    report = _build(results_dir, site, tmp_path)
    assert report.pages_reused == 0 and report.pages_rendered > 0
    assert json.loads((site / MANIFEST).read_text())["pages"]
