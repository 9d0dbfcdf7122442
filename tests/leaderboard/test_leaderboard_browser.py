"""The built site in headless Chromium (Debian's), served over HTTP and opened from file://."""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result
from leaderboard.site import build_site

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EVIL = "<script>alert(1)</script>"


def _require_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium not found at {CHROMIUM}: CI must install it (see .ci/run)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")


SPECS = {  # the resolved task settings a real run records (synthetic results carry only a stub)
    "text-gen": {"max_input_tokens": 512, "generation": {"min_new_tokens": 10, "max_new_tokens": 10}},
    "image-gen": {"generation": {"num_inference_steps": 30, "width": 512, "height": 512}},
    "text-classification": {"max_input_tokens": 512, "generation": {}},
}
H100 = "NVIDIA H100 80GB HBM3"
LONG = "some-organisation/an-exceptionally-long-model-name-that-wraps-v2"
LOCAL = "/home/someone/.cache/ai-energy-harness/demo-models/tiny-gpt2"


def _write(results: Path, seed: int, **kwargs) -> None:
    result = make_result(seed=seed, **kwargs)
    task = kwargs.get("task", "text-gen")
    spec = {**result.task.spec, **SPECS.get(task, {})}
    result = result.model_copy(update={"task": result.task.model_copy(update={"spec": spec})})
    write_result(result, default_result_path(results, result))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    results = root / "results"
    specs = [("org/alpha", 120.0, H100), ("org/beta", 480.0, H100), ("org/gamma", 260.0, "NVIDIA L4"),
             (f"org/{EVIL}", 300.0, H100), ("org/delta", 200.0, H100), (LONG, 350.0, H100)]
    seed = 0
    for model, power, gpu in specs:
        for task in ("image-gen", "text-classification"):
            seed += 1
            _write(results, seed, task=task, model_id=model, mean_power_w=power, gpu_name=gpu,
                   seconds_per_query=0.02 + power / 10000)
    for i, (params, power) in enumerate([(1e9, 150.0), (3e9, 220.0), (7e9, 300.0), (13e9, 420.0),
                                         (34e9, 500.0), (70e9, 640.0)]):
        _write(results, 100 + i, task="text-gen", model_id=f"org/llm-{int(params / 1e9)}b", mean_power_w=power,
               num_parameters=int(params), seconds_per_query=0.01 * (i + 1))
    _write(results, 200, task="text-gen", model_id=LOCAL, gpu_name="cpu")
    _write(results, 201, task="image-gen", model_id="org/cpu-only", gpu_name="cpu")
    build_site(results, root / "site", releases_dir=root / "releases")
    return root / "site"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.errors = errors
    yield page
    context.close()


WIDTHS = (390, 1400)
AXE_JS = Path(os.environ.get("AXE_CORE_JS", Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"))
TASK_ORDER = ["Text generation", "Text classification", "Image generation"]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Screenshots for people to look at: $HARNESS_SCREENSHOT_DIR when set (CI keeps it), else pytest's tmp."""
    folder = Path(os.environ.get("HARNESS_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _at(page, width):
    page.set_viewport_size({"width": width, "height": 900})


def _models(page, table_id):
    return page.eval_on_selector_all(f"#{table_id} tbody tr:not([hidden]) th[scope=row]",
                                     "cells => cells.map(c => c.textContent.trim())")


def _table_for(page, model):
    return page.locator("table.board", has=page.locator(f"th[scope=row]:text-is('{model}')")).first


def _axe(page):
    if not AXE_JS.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"axe-core not found at {AXE_JS}: CI must `npm ci` (see .ci/run)")
        pytest.skip("axe-core is not installed (npm ci)")
    page.add_script_tag(path=str(AXE_JS))
    found = page.evaluate("async () => (await axe.run(document)).violations.map("
                          "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))")
    return [v for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("width", WIDTHS)
def test_index_answers_first_and_fits_the_screen(page, server, shots, width):
    _at(page, width)
    page.goto(f"{server}/index.html")
    cards = page.locator("section.answers article.answer")
    assert cards.locator("h3").all_inner_texts() == TASK_ORDER
    image = page.locator("#answer-image-gen")
    text = image.inner_text()
    assert "org/alpha" in text and "Wh per query" in text and "Wh per 1000 queries" in text
    assert "% of a phone charge" in text and "web searches" in text
    assert re.search(r"of the 5 models it is rated against uses [0-9.]+× as much", text)  # not the L4 entry
    assert "Compared within its rating group: " in text
    assert "512×512 image with 30 denoising steps" in page.locator("#task-image-gen p.query").inner_text()
    assert "exactly 10 new tokens" in page.locator("#task-text-gen p.query").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways page scroll
    headline = page.locator("#task-image-gen table.board th button", has_text="GPU Wh per query").first
    box = headline.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    charts = page.locator("#task-image-gen figure.chart img")
    assert charts.count() == 3
    for chart in charts.all():  # drawn with 12 px text: never shrunk below 3/4 of it (they scroll instead)
        chart.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
        scale = chart.evaluate("img => img.getBoundingClientRect().width / img.naturalWidth")
        assert scale >= 0.75, scale
        assert chart.get_attribute("alt")
    page.screenshot(path=str(shots / f"index-{width}.png"), full_page=True)
    assert page.errors == []


def test_one_table_per_rating_group_with_a_legend_and_reference_hardware_first(page, server):
    page.goto(f"{server}/index.html")
    groups = page.locator("#task-image-gen section.group h4").all_inner_texts()
    assert len(groups) == 2 and "H100" in groups[0] and "L4" in groups[1]
    assert page.locator("#task-image-gen h3.other-hw").count() == 1
    h100 = page.locator("#task-image-gen section.group").first
    assert _models(page, "tbl-image-gen-1")[0] == "org/alpha"  # most efficient first
    legend = h100.locator("p.legend").inner_text()
    assert "up to" in legend and "above" in legend and "5 stars" in legend
    assert "stars need at least 3" in page.locator("#task-image-gen section.group").nth(1).inner_text()
    classes = page.locator("#task-text-gen section.group h4").all_inner_texts()
    assert [c.split(" · ")[0] for c in classes] == ["Size class A (up to 20B parameters)",
                                                     "Size class B (20B to 66B parameters)",
                                                     "Size class C (over 66B parameters)"]
    assert page.locator("th[scope=row]", has_text="tiny-gpt2").count() == 1  # a folder, never a machine path
    assert "/home/someone" not in page.content()
    assert page.errors == []


def test_sorting_by_keyboard_stars_best_first_and_ci_by_interval(page, server):
    page.goto(f"{server}/index.html")
    table = "tbl-image-gen-1"
    header = page.locator(f"#{table} thead th", has=page.locator("button", has_text="GPU Wh / 1000"))
    header.locator("button").focus()
    page.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "ascending"
    ascending = _models(page, table)
    assert ascending[0] == "org/alpha" and ascending[-1] == "org/beta"
    page.keyboard.press("Space")
    assert header.get_attribute("aria-sort") == "descending"
    assert _models(page, table) == list(reversed(ascending))
    stars = page.locator(f"#{table} thead th", has=page.locator("button", has_text="Stars"))
    stars.locator("button").focus()
    page.keyboard.press("Enter")
    assert stars.get_attribute("aria-sort") == "descending"  # best first on the first press
    assert _models(page, table)[0] == "org/alpha"
    assert page.locator(f"#{table} thead th[aria-sort]").count() == 1
    ci = page.locator(f"#{table} thead th", has=page.locator("button", has_text="95 % CI"))
    ci.locator("button").click()
    lows = page.eval_on_selector_all(f"#{table} tbody tr td:nth-child(5)",
                                     "cells => cells.map(c => parseFloat(c.getAttribute('data-v')))")
    assert lows == sorted(lows)  # by the interval shown, not by its width
    star_cell = page.locator(f"#{table} tbody tr td.stars").first
    assert "of 5 stars" in star_cell.locator("[role=img]").get_attribute("aria-label")
    assert page.errors == []


def test_filter_matches_model_names_only_and_says_when_nothing_matches(page, server):
    page.goto(f"{server}/index.html")
    box = page.locator('#task-image-gen input.filter')
    box.fill("gam")
    assert _models(page, "tbl-image-gen-2") == ["org/gamma"] and _models(page, "tbl-image-gen-1") == []
    assert page.locator("#task-image-gen p.no-match:not([hidden])").count() >= 1
    box.fill("NVIDIA")  # hardware and dates are not names
    assert _models(page, "tbl-image-gen-1") == [] and _models(page, "tbl-image-gen-2") == []
    box.fill("")
    assert len(_models(page, "tbl-image-gen-1")) == 5
    assert page.locator("#task-image-gen p.no-match:not([hidden])").count() == 0
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_accessibility_violations_on_any_page_type(page, server, site, shots, width):
    _at(page, width)
    model_page = next((site / "models").glob("org__alpha*.html")).name
    for name in ("index.html", f"models/{model_page}", "methodology.html", "releases.html"):
        page.goto(f"{server}/{name}")
        assert _axe(page) == [], name
        page.screenshot(path=str(shots / f"{Path(name).stem}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    assert page.errors == []


def test_model_page_label_badge_and_embed_snippets(page, server):
    page.goto(f"{server}/index.html")
    page.click("#tbl-image-gen-1 a:text('org/alpha')")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "org/alpha"
    assert page.locator("section.entry").count() == 2
    assert page.locator(".timeline svg polyline").count() >= 1
    label = page.locator("img.label").first
    assert page.evaluate("img => img.complete && img.naturalWidth", label.element_handle()) == 260
    svg = page.evaluate("async () => (await fetch(document.querySelector('img.label').src)).text()")
    assert svg.startswith("<svg") and "AI ENERGY LABEL" in svg and "org/alpha" in svg
    assert "not rated: no release cut yet" in svg  # as `harness label` says before a release
    badge = page.evaluate("async () => (await fetch(document.querySelectorAll('.entry img')[1].src)).text()")
    assert "energy" in badge and ("image generation" in badge or "text classification" in badge)
    snippet = page.locator("details.snippet").first
    snippet.locator("summary").click()
    assert "[![" in snippet.inner_text() and "<img src=" in snippet.inner_text()
    assert page.errors == []


def test_long_names_wrap_on_labels(site):
    label = next((site / "labels").glob("some-organisation*/*image-gen*[0-9a-f].svg")).read_text()
    assert "an-exceptionally-long" in label and "wraps-v2" in label


def test_escaped_model_page_runs_no_script(page, server, site):
    evil_page = next((site / "models").glob("*script*.html")).name
    page.goto(f"{server}/models/{evil_page}")
    assert page.locator("h1").inner_text() == f"org/{EVIL}"
    page.goto(f"{server}/index.html")
    assert EVIL in page.locator("#tbl-image-gen-1").inner_text()  # shown as text, never run
    assert page.errors == []


def test_site_works_from_file_urls(page, site):
    page.goto((site / "index.html").as_uri())
    page.locator("#tbl-text-classification-1 button", has_text="GPU Wh per query").click()  # shown ascending
    assert _models(page, "tbl-text-classification-1")[-1] == "org/alpha"
    for other in ("methodology.html", "releases.html"):
        page.goto((site / other).as_uri())
        assert page.locator("h1").count() == 1
    assert page.errors == []
