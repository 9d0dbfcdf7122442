"""The built site in headless Chromium (Debian's), served over HTTP and opened from file://."""

from __future__ import annotations

import functools
import os
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


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    results = root / "results"
    specs = [("org/alpha", 120.0, "NVIDIA H100 80GB HBM3"), ("org/beta", 480.0, "NVIDIA H100 80GB HBM3"),
             ("org/gamma", 260.0, "NVIDIA L4"), (f"org/{EVIL}", 300.0, "NVIDIA H100 80GB HBM3")]
    for seed, (model, power, gpu) in enumerate(specs):
        for offset, task in enumerate(("image-gen", "text-classification")):
            result = make_result(task=task, model_id=model, mean_power_w=power, gpu_name=gpu, seed=seed * 2 + offset)
            write_result(result, default_result_path(results, result))
    cpu = make_result(task="image-gen", model_id="org/cpu-only", gpu_name="cpu", seed=99)
    write_result(cpu, default_result_path(results, cpu))
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


def _models(page, table_id):
    return page.eval_on_selector_all(f"#{table_id} tbody tr:not([hidden]) td:first-child",
                                     "cells => cells.map(c => c.textContent.trim())")


def test_index_renders_one_table_per_task_and_sorts(page, server):
    page.goto(f"{server}/index.html")
    assert page.locator("table#tbl-image-gen tbody tr").count() == 4
    assert page.locator("table#tbl-text-classification tbody tr").count() == 4
    assert page.locator("table#tbl-image-gen-apart tbody tr").count() == 1
    assert EVIL in page.locator("#tbl-image-gen").inner_text()  # shown as text, never run
    energy = page.locator("#tbl-image-gen th", has_text="GPU Wh")
    energy.click()
    assert _models(page, "tbl-image-gen") == ["org/alpha", "org/gamma", f"org/{EVIL}", "org/beta"]
    energy.click()
    assert _models(page, "tbl-image-gen") == ["org/beta", f"org/{EVIL}", "org/gamma", "org/alpha"]
    page.locator("#tbl-image-gen th", has_text="Model").click()
    assert _models(page, "tbl-image-gen") == sorted(_models(page, "tbl-image-gen"), key=str.lower)
    assert page.errors == []


def test_filters_hide_rows(page, server):
    page.goto(f"{server}/index.html")
    page.fill('input.filter[data-table="tbl-image-gen"]', "gam")
    assert _models(page, "tbl-image-gen") == ["org/gamma"]
    page.fill('input.filter[data-table="tbl-image-gen"]', "")
    page.select_option('select.hw[data-table="tbl-image-gen"]', "1x NVIDIA L4")
    assert _models(page, "tbl-image-gen") == ["org/gamma"]
    assert page.errors == []


def test_model_page_and_label_load(page, server):
    page.goto(f"{server}/index.html")
    page.click("#tbl-image-gen a:text('org/alpha')")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "org/alpha"
    assert page.locator("section.entry").count() == 2
    assert page.locator(".timeline svg polyline").count() >= 1
    label = page.locator("img.label").first
    assert page.evaluate("img => img.complete && img.naturalWidth", label.element_handle()) == 260
    svg = page.evaluate("async () => (await fetch(document.querySelector('img.label').src)).text()")
    assert svg.startswith("<svg") and "AI ENERGY LABEL" in svg and "org/alpha" in svg
    assert page.errors == []


def test_escaped_model_page_runs_no_script(page, server, site):
    evil_page = next((site / "models").glob("*script*.html")).name
    page.goto(f"{server}/models/{evil_page}")
    assert page.locator("h1").inner_text() == f"org/{EVIL}"
    assert page.errors == []


def test_site_works_from_file_urls(page, site):
    page.goto((site / "index.html").as_uri())
    page.locator("#tbl-text-classification th", has_text="GPU Wh").click()
    assert _models(page, "tbl-text-classification")[0] == "org/alpha"
    for other in ("methodology.html", "releases.html"):
        page.goto((site / other).as_uri())
        assert page.locator("h1").count() == 1
    assert page.errors == []
