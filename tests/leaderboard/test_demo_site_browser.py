"""A demonstration site as a visitor meets it, in headless Chromium at a phone's 390 px and a desktop's 1400 px
(issue 28's first ten minutes): it says on every page that it is a demo and what the real task is; no machine path
names a model anywhere; no table breaks a number or a word; labels and badges fit; intervals read `[a, b]`.
Screenshots go to $HARNESS_SCREENSHOT_DIR (CI keeps them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from harness.commands.demo import real_task_specs
from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result
from leaderboard.site import build_site
from leaderboard.views import Demo
from tests.leaderboard import test_leaderboard_browser as shared
from tests.leaderboard.test_leaderboard_browser import WIDTHS, _at, _QuietHandler

browser, page, shots = shared.browser, shared.page, shared.shots  # the same Chromium fixtures as the site's tests

pytestmark = pytest.mark.browser

HOME = "/home/someone/.cache/ai-energy-harness/demo-models"
DEMO_SPECS = {  # what `harness demo` records: the demo preset's cut-down settings
    "image-gen": {"generation": {"num_inference_steps": 2, "width": 64, "height": 64}},
    "text-gen": {"max_input_tokens": 128, "generation": {"min_new_tokens": 10, "max_new_tokens": 10}},
    "text-classification": {"max_input_tokens": 128, "generation": {}},
}

BROKEN_TOKENS_JS = """() => {
  const bad = [];
  for (const cell of document.querySelectorAll('main table td, main table th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      if (node.parentElement.closest('code, th[scope=row]')) continue;  // model names and file paths may wrap
      const re = /\\S+/g; let m;
      while ((m = re.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        // A number, a date or an interval never wraps; a word wraps only after a hyphen or a slash (an address
        // after a slash).
        const wraps = /^https?:\\/\\//.test(m[0]) || (!/\\d/.test(m[0]) && /[-\\/]/.test(m[0]));
        if (lines.size > 1 && !wraps) bad.push(m[0]);
      }
    }
  }
  return bad;
}"""

TEXT_OUTSIDE_JS = """() => {
  const svg = document.documentElement, box = svg.viewBox.baseVal;
  const width = box && box.width ? box.width : svg.width.baseVal.value;
  return [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBBox()])
    .filter(([, b]) => b.x < 0 || b.x + b.width > width).map(([text]) => text);
}"""

BADGE_TEXT_OUTSIDE_JS = """() => {
  const rects = [...document.querySelectorAll('rect')].slice(0, 2).map(r => r.getBBox());
  return [...document.querySelectorAll('text')].map((t, i) => [t.textContent, t.getBBox(), rects[i]])
    .filter(([, b, r]) => b.x < r.x + 2 || b.x + b.width > r.x + r.width - 2).map(([text]) => text);
}"""


def _write(results: Path, seed: int, *, preset: str | None = "demo", path_id: str | None = None, **kwargs) -> Path:
    """A synthetic result as `harness demo` writes it; `path_id`: as an older harness wrote a local model, its id the
    folder's absolute path."""
    result = make_result(seed=seed, **kwargs)
    task = kwargs.get("task", "text-gen")
    spec = {**result.task.spec, **DEMO_SPECS.get(task, {})}
    result = result.model_copy(update={"task": result.task.model_copy(update={"spec": spec})})
    path = write_result(result, default_result_path(results, result))
    data = json.loads(path.read_text())
    data["settings"]["preset"] = preset
    if path_id is not None:
        data["model"]["id"] = path_id
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo-site")
    results = root / "results"
    for seed, task in enumerate(DEMO_SPECS, start=1):  # CPU runs of local folders, written with their paths
        _write(results, seed, task=task, gpu_name="cpu", repeats=1, path_id=f"{HOME}/{task}")
    _write(results, 10, task="image-gen", model_id="demo/tiny-random-image-gen-with-a-long-name",
           meter_backend="fake-nvml", repeats=2, jitter_share=0.6)  # a simulated GPU, an interval below zero
    build_site(results, root / "site", releases_dir=root / "releases",
               demo=Demo(task_specs=real_task_specs(list(DEMO_SPECS))))
    return root / "site"


@pytest.fixture(scope="module")
def demo_server(demo_site):
    import functools
    import threading
    from http.server import ThreadingHTTPServer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(demo_site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _pages(site: Path) -> list[str]:
    return ["index.html", *(f"models/{p.name}" for p in sorted((site / "models").glob("*.html"))), "methodology.html",
            "releases.html"]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_says_it_is_a_demo_and_the_index_names_the_real_task(page, demo_server, demo_site, shots, width):
    _at(page, width)
    for name in _pages(demo_site):
        page.goto(f"{demo_server}/{name}")
        banner = page.locator(".demo-banner")
        assert banner.is_visible(), name
        assert banner.bounding_box()["y"] < 10, name  # the first thing on the page
        text = banner.inner_text()
        assert text.startswith("Demonstration: tiny random-weight models on a CPU with a simulated GPU"), text
        assert "the numbers show the method, not any model's cost" in text
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.screenshot(path=str(shots / f"demo-{Path(name).stem}-{width}.png"), full_page=True)
    page.goto(f"{demo_server}/index.html")
    image = page.locator("#task-image-gen")
    assert "with 30 denoising steps" in image.locator("p.query").first.inner_text()  # the task as shipped
    demo = image.locator("p.demo-query").inner_text()
    assert demo.startswith("This demo ran 20 queries") and "64×64 image with 2 denoising steps" in demo
    assert "The task is 1000 queries" in page.locator("#task-text-classification p.query").first.inner_text()
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_no_machine_path_anywhere_a_visitor_or_a_download_reaches(page, demo_server, demo_site, width):
    _at(page, width)
    for name in _pages(demo_site):
        page.goto(f"{demo_server}/{name}")
        assert "/home/" not in page.content() and "someone" not in page.content(), name
        hrefs = page.eval_on_selector_all("a[href], img[src]", "els => els.map(e => e.href || e.src)")
        assert not [h for h in hrefs if "home" in unquote(h) or "someone" in unquote(h)], name
    files = [p for p in demo_site.rglob("*") if p.is_file()]
    assert not [p for p in files if "home" in str(p.relative_to(demo_site)) or "someone" in p.name]
    for data in [p for p in files if p.suffix in (".json", ".csv", ".svg")]:
        assert "someone" not in data.read_text(), data
    page.goto(f"{demo_server}/index.html")
    assert page.locator("th[scope=row]", has_text="image-gen").count() >= 1  # the folder's name stands in
    model = page.locator("h1.model")
    page.goto(f"{demo_server}/models/image-gen.html")
    assert model.inner_text() == "image-gen"
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_tables_never_break_a_number_or_a_word(page, demo_server, demo_site, width):
    _at(page, width)
    for name in _pages(demo_site):
        page.goto(f"{demo_server}/{name}")
        for details in page.locator("details").all():  # the chart data and environment tables too
            details.evaluate("d => d.open = true")
        assert page.evaluate(BROKEN_TOKENS_JS) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name  # wide tables scroll inside
    assert page.errors == []


def test_intervals_read_as_brackets_and_unusable_figures_say_why_in_words(page, demo_server):
    page.goto(f"{demo_server}/models/demo__tiny-random-image-gen-with-a-long-name.html")
    figures = page.locator("table.figures").first.inner_text()
    match = re.search(r"95 % CI (\[[^\]]*\])", figures)
    assert match and re.fullmatch(r"\[-[0-9.]+, [0-9.]+\]", match.group(1)), figures  # never `-6.96-10.4`
    assert "UNUSABLE" not in page.content()
    assert "too few repetitions for how much they differ" in page.content()
    assert page.errors == []


def test_labels_and_badges_fit_and_a_badge_stays_readable_on_a_phone(page, demo_server, demo_site, shots):
    for label in sorted((demo_site / "labels").rglob("*.svg")):
        page.goto(f"{demo_server}/{label.relative_to(demo_site)}")
        outside = page.evaluate(BADGE_TEXT_OUTSIDE_JS if label.name.endswith("-badge.svg") else TEXT_OUTSIDE_JS)
        assert outside == [], label.name
    page.errors.clear()  # a bare SVG document has no `<link rel="icon">`: Chromium asks for /favicon.ico (a 404)
    _at(page, 390)
    for name in _pages(demo_site)[1:-2]:
        page.goto(f"{demo_server}/{name}")
        for badge in page.locator(".entry img[src$='-badge.svg']").all():
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=badge.element_handle())
            scale = badge.evaluate("img => img.getBoundingClientRect().width / img.naturalWidth")
            assert 11 * scale >= 9, (name, scale)  # the badge's 11 px text shown at 9 px or more
    page.locator(".label-row").first.screenshot(path=str(shots / "demo-label-and-badge-390.png"))
    assert page.errors == []
