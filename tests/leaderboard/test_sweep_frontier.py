"""A model measured at several batch sizes (a `harness run` sweep) is its own Pareto frontier on the task's
energy-vs-latency plot and on its model page, each point labelled by batch size, with the numbers in a table;
chat (natural-length) runs show energy per output token, output lengths and the reasoning switch."""

from __future__ import annotations

import html as html_text
import re
from pathlib import Path

import pytest

from harness.results.figures import derive_figures
from harness.results.schema import InputLengths
from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result
from leaderboard.site import build_site

SWEPT = "org/swept"
SPEC = {"max_input_tokens": 512, "generation": {"min_new_tokens": 10, "max_new_tokens": 10}}
# (batch size, mean power W, seconds per query): larger batches are slower per query and use less energy per
# query, except batch 64, which is slower AND costlier than batch 16 (dominated: off the model's frontier).
POINTS = [(1, 400.0, 0.010), (4, 150.0, 0.020), (16, 50.0, 0.040), (64, 100.0, 0.050)]


def _write(results: Path, result) -> None:
    write_result(result, default_result_path(results, result))


def _with_spec(result, spec: dict, task_id: str | None = None):
    task = result.task.model_copy(update={"spec": {**result.task.spec, **spec}, "id": task_id or result.task.id})
    return result.model_copy(update={"task": task})


def _chat_result(seed: int, model_id: str, thinking: bool | None):
    """A natural-length chat run: answers of 40 tokens on average, 2 of 20 at the 1024 cap."""
    result = make_result(seed=seed, model_id=model_id, mean_power_w=300.0, seconds_per_query=0.5)
    spec = {"max_input_tokens": 512, "generation": {"mode": "chat", "min_new_tokens": 1, "max_new_tokens": 1024,
                                                    "enable_thinking": thinking}}
    repetitions = [rep.model_copy(update={"output_tokens": 40 * rep.num_queries}) for rep in result.repetitions]
    figures = derive_figures(repetitions, result.idle)[0]
    result = result.model_copy(update={
        "schema_version": "1.3", "repetitions": repetitions, "figures": figures,
        "output_lengths": InputLengths(mean=40.0, p50=31.0, p90=88.0, num_queries=20, at_cap=2)})
    return _with_spec(result, spec, "text-gen-chat")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep-site")
    results = root / "results"
    for seed, (batch, power, spq) in enumerate(POINTS):
        _write(results, _with_spec(make_result(seed=seed, model_id=SWEPT, batch_size=batch, mean_power_w=power,
                                               seconds_per_query=spq), SPEC))
    _write(results, _with_spec(make_result(seed=10, model_id="org/single", mean_power_w=250.0,
                                           seconds_per_query=0.03), SPEC))
    _write(results, _chat_result(20, "org/chatty", True))
    _write(results, _chat_result(21, "org/chatty", False))
    build_site(results, root / "site", releases_dir=root / "releases")
    return root / "site"


def _polyline_points(svg: str, css_class: str) -> list[list[str]]:
    return [m.split() for m in re.findall(rf'<polyline class="{css_class}"[^>]* points="([^"]+)"', svg)]


def test_the_task_plot_draws_the_models_own_frontier_with_batch_labels(site):
    svg = (site / "plots" / "text-gen-latency.svg").read_text()
    (own,) = _polyline_points(svg, "model-line")
    assert len(own) == 3  # batch 1, 4 and 16; batch 64 is dominated and left off the line
    labels = re.findall(r'<text class="point-label"[^>]*>([^<]+)</text>', svg)
    assert {f"{SWEPT} · batch {b}" for b in (1, 4, 16)} <= set(labels)
    assert "org/single" in labels and not any(label.startswith("org/single ·") for label in labels)


def test_the_model_page_has_its_frontier_and_the_points_as_a_table(site):
    (page,) = [p for p in (site / "models").glob("*.html") if "swept" in p.name]
    html = page.read_text()
    assert "Text generation on 1x NVIDIA H100 80GB HBM3: energy vs latency" in html
    (svg,) = re.findall(r'<figure class="chart" tabindex="0">(<svg.*?</svg>)', html, re.S)
    assert len(_polyline_points(svg, "model-line")[0]) == 3
    table = re.search(r'<table class="frontier-data">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr><td>(\d+)</td><td>bfloat16</td>.*?<td>(yes|no)</td></tr>", table)
    assert rows == [("1", "yes"), ("4", "yes"), ("16", "yes"), ("64", "no")]  # by latency


def test_a_model_with_one_point_has_no_frontier_section(site):
    (page,) = [p for p in (site / "models").glob("*.html") if "single" in p.name]
    assert "frontier-data" not in page.read_text()


def test_the_chart_data_table_gives_each_points_batch_size(site):
    html = (site / "index.html").read_text()
    table = re.search(r"Text generation: figures plotted above.*?</table>", html, re.S).group(0)
    assert sorted(re.findall(rf"<tr><td>{SWEPT}</td><td>(\d+)</td>", table), key=int) == ["1", "4", "16", "64"]


def test_chat_runs_show_per_token_energy_output_lengths_and_thinking(site):
    html = (site / "index.html").read_text()
    section = re.search(r'<section class="task" id="task-text-gen-chat".*?</section>\s*</section>', html, re.S)
    assert section is not None
    text = html_text.unescape(section.group(0))
    assert "a chat prompt (at most 512 tokens) in the model's chat template, answered at the model's natural " \
           "length, up to 1024 tokens" in text
    assert "GPU J per output token" in text and "40.0 / 31.0 / 88.0" in text and "2 of 20" in text
    assert "chat, up to 1024 new tokens, thinking on" in text and "chat, up to 1024 new tokens, thinking off" in text
    (page,) = [p for p in (site / "models").glob("*.html") if "chatty" in p.name]
    model_html = html_text.unescape(page.read_text())
    assert "GPU energy per output token" in model_html
    assert "mean 40.0, p50 31.0, p90 88.0; 2 of 20 answers reached the cap" in model_html


@pytest.mark.browser
def test_the_model_frontier_in_a_browser(site):
    from tests.leaderboard.test_leaderboard_browser import _require_browser

    _require_browser()
    from playwright.sync_api import sync_playwright

    (page_file,) = [p for p in (site / "models").glob("*.html") if "swept" in p.name]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--disable-gpu"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(page_file.as_uri())
        chart = page.locator("section.frontier-view figure.chart svg")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box["width"] > 300 and box["height"] > 200
        labels = page.locator("section.frontier-view text.point-label").all_text_contents()
        assert {f"{SWEPT} · batch {b}" for b in (1, 4, 16, 64)} <= set(labels)
        line = page.locator("section.frontier-view polyline.model-line")
        assert line.count() == 1 and line.bounding_box()["width"] > 50
        assert page.locator("table.frontier-data tbody tr").count() == 4
        browser.close()
        assert errors == []
