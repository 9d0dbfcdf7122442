"""Served runs on the site: the task's "Served under load" section (plot, table, latency limit), the model page's
serving figures, and rating groups that never mix a served run with an in-process one or two engines.

The browser tests drive Debian's Chromium as `test_leaderboard_browser.py` does, from file:// and with scripts off.
"""

from __future__ import annotations

import functools
import html
import json
import re
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result, make_serving
from leaderboard.aggregate import aggregate, load_records
from leaderboard.cache import SummaryCache
from leaderboard.rating import rate_live
from leaderboard.site import build_site
from tests.leaderboard import test_leaderboard_browser as _browser

TEXT_GEN_SPEC = {"max_input_tokens": 512, "generation": {"min_new_tokens": 10, "max_new_tokens": 10}}

UNUSABLE = "the steady window lasted 3.00 s, under the 10 s minimum window that bounds the counter's edge error"

# model -> (engine, concurrency, inter-token latency p50 in s, GPU J per output token, steady figures unusable)
SERVED = {
    "org/alpha": [("vllm", 1, 0.012, 0.30, None), ("vllm", 8, 0.020, 0.08, None), ("vllm", 64, 0.055, 0.03, None)],
    "org/beta": [("vllm", 1, 0.010, 0.50, None), ("vllm", 8, 0.030, 0.20, None), ("vllm", 64, 0.090, 0.10, None),
                 ("sglang", 8, 0.028, 0.15, None)],
    # Its cheapest configuration is fast enough for any limit below but unusable: never picked.
    "org/gamma": [("vllm", 1, 0.015, 0.40, None), ("vllm", 64, 0.020, 0.01, UNUSABLE)],
    "org/slow": [("vllm", 1, 0.200, 0.20, None), ("vllm", 8, 0.400, 0.10, None)],
}
MODEL_ORDER = ["org/alpha"] * 3 + ["org/beta"] * 4 + ["org/gamma"] * 2 + ["org/slow"] * 2
"""The table's rows: by model, then engine (sglang before vllm), then concurrency."""


def _write(results: Path, seed: int, **kwargs):
    result = make_result(seed=seed, task="text-gen", **kwargs)
    spec = {**result.task.spec, **TEXT_GEN_SPEC}
    result = result.model_copy(update={"task": result.task.model_copy(update={"spec": spec})})
    return write_result(result, default_result_path(results, result))


def _served_results(results: Path, *, in_process: bool = True) -> None:
    seed = 0
    for model, configs in SERVED.items():
        for engine, concurrency, itl_s, j_per_token, unusable in configs:
            seed += 1
            _write(results, seed, model_id=model, engine=engine,
                   serving=make_serving(concurrency=concurrency, j_per_token=j_per_token, itl_p50_s=itl_s,
                                        steady_unusable=unusable))
    if in_process:  # the same model run in the harness's own process at batch size 8
        _write(results, 100, model_id="org/alpha", batch_size=8)


def _plain_results(results: Path) -> None:
    for seed, (model, power) in enumerate([("org/alpha", 150.0), ("org/beta", 300.0), ("org/gamma", 450.0)], 1):
        _write(results, seed, model_id=model, mean_power_w=power)


@pytest.fixture(scope="module")
def served_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("served")
    _served_results(root / "results")
    build_site(root / "results", root / "site", releases_dir=root / "releases")
    return root / "site"


def _served_rows(html: str) -> list[str]:
    table = re.search(r'<table class="served-runs" id="tbl-text-gen-served">(.*?)</table>', html, re.S).group(1)
    return re.findall(r"<tr data-group=.*?</tr>", table, re.S)


def _cells(row: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]


# ------------------------------------------------------------------------------------------ records and rating


def test_served_figures_reach_the_record_and_survive_the_summary_cache(tmp_path):
    results = tmp_path / "results"
    _served_results(results)
    records, refused, _ = load_records(results, workers=1, cache=SummaryCache(tmp_path / "cache"))
    assert refused == []
    by_config = {(r.model_id, r.engine, r.batch_size): r for r in records}
    beta = by_config[("org/beta", "sglang", 8)].served
    assert beta.concurrency == 8 and beta.j_per_token.mean == pytest.approx(0.15)
    assert beta.itl_p50_s == pytest.approx(0.028) and beta.ttft_p50_s == pytest.approx(0.05)
    assert beta.tokens_per_s == pytest.approx(8 / 0.028) and beta.steady_window_s == pytest.approx(30.0)
    assert beta.prefill_request_j + beta.decode_request_j == pytest.approx(beta.request_j)
    assert beta.engine_version == "0.0.0-synthetic" and beta.unusable is None
    assert by_config[("org/gamma", "vllm", 64)].served.unusable == UNUSABLE
    assert by_config[("org/alpha", "transformers", 8)].served is None
    cache = SummaryCache(tmp_path / "cache")  # a rebuild reads the summaries back from the cache
    again, _, _ = load_records(results, workers=1, cache=cache)
    assert {r.run_id: r.served for r in again} == {r.run_id: r.served for r in records}


def test_served_runs_are_never_rated_with_in_process_runs_nor_engines_with_each_other(tmp_path):
    results = tmp_path / "results"
    seed = 0
    for i, model in enumerate(("org/a", "org/b", "org/c")):
        for engine, power in (("vllm", 500.0 + 50 * i), ("sglang", 400.0 + 50 * i), (None, 100.0 + 50 * i)):
            seed += 1
            serving = make_serving(concurrency=8, j_per_token=0.1, itl_p50_s=0.02) if engine else None
            _write(results, seed, model_id=model, mean_power_w=power, batch_size=8, engine=engine, serving=serving)
    board = aggregate(results)
    entries = board.tasks["text-gen"].rated
    assert len(entries) == 9
    groups = {}
    for entry in entries:
        groups.setdefault(entry.rating_group, set()).add(entry.latest.engine)
    assert sorted(map(sorted, groups.values())) == [["sglang"], ["transformers"], ["vllm"]]
    ratings = rate_live(entries)
    best = {e.latest.engine: ratings[e.key].stars for e in entries if e.latest.model_id == "org/a"}
    # Rated together, the in-process runs (a fifth of the energy) would leave every served run one star.
    assert best == {"vllm": 5, "sglang": 5, "transformers": 5}


def test_a_served_run_by_the_default_engine_is_still_its_own_entry_and_group(tmp_path):
    results = tmp_path / "results"
    _write(results, 1, model_id="org/a", batch_size=4)
    _write(results, 2, model_id="org/a", engine="transformers",
           serving=make_serving(concurrency=4, j_per_token=0.1, itl_p50_s=0.02))
    entries = aggregate(results).tasks["text-gen"].rated
    assert len(entries) == 2
    served, plain = sorted(entries, key=lambda e: e.latest.served is None)
    assert served.key != plain.key and served.rating_group != plain.rating_group
    assert "engine transformers" in served.latest.workload and "engine" not in plain.latest.workload


# ------------------------------------------------------------------------------------------ pages


def test_no_served_section_without_served_runs(tmp_path):
    _plain_results(tmp_path / "results")
    build_site(tmp_path / "results", tmp_path / "site", releases_dir=tmp_path / "releases")
    site = tmp_path / "site"
    index = (site / "index.html").read_text()
    assert "Served under load" not in index and "latency-limit" not in index and "served by" not in index
    assert not list((site / "plots").glob("*-served.svg"))
    for page in (site / "models").glob("*.html"):
        assert "served-figures" not in page.read_text()
    entries = json.loads((site / "data" / "tasks" / "text-gen.json").read_text())["entries"]
    assert all("serving" not in e for e in entries)


def test_served_section_table_numbers_and_order(served_site):
    page = (served_site / "index.html").read_text()
    assert page.count("Served under load</h3>") == 1
    rows = _served_rows(page)
    cells = [_cells(row) for row in rows]
    assert [c[0] for c in cells] == MODEL_ORDER  # the in-process run is not a served configuration
    assert [(c[1].split()[0], int(c[2])) for c in cells[3:7]] == [("sglang", 8), ("vllm", 1), ("vllm", 8),
                                                                   ("vllm", 64)]
    alpha8 = cells[1]
    # model, engine, concurrency, J/token, CI, ITL p50 / p90 (ms), TTFT p50 (ms), tokens/s, J per request, window, note
    assert alpha8[1:9] == ["vllm 0.0.0-synthetic", "8", "0.0800", "[0.0784, 0.0816]", "20.0 / 28.0", "50.0", "400",
                           "8.00 (0.800 / 7.20)"]
    assert alpha8[9] == "30.0" and alpha8[10] == ""
    gamma64 = cells[8]
    assert gamma64[10] == f"steady figures unusable: {UNUSABLE}"
    assert "data-itl-ms" not in rows[8] and 'data-itl-ms="20"' in rows[1] and 'data-j="0.08"' in rows[1]
    groups = [re.search(r'data-group="(\d+)"', row).group(1) for row in rows]
    assert groups == ["0"] * 3 + ["1"] * 4 + ["2"] * 2 + ["3"] * 2
    # Served groups name their engine; the in-process group at the same batch size stays as it was.
    titles = re.findall(r'<h4 id="tbl-text-gen-\d+-title">(.*?)</h4>', page)
    assert sum("served by vllm" in t for t in titles) == 3 and sum("served by sglang" in t for t in titles) == 1
    assert sum("served by" not in t for t in titles) == 1
    # Without scripts the control stays hidden and nothing is marked.
    assert re.search(r'<div class="latency-limit" data-table="tbl-text-gen-served" hidden>', page)
    assert "picked" not in page


def test_served_plot_draws_each_model_and_engine_over_its_concurrency_levels(served_site):
    svg = (served_site / "plots" / "text-gen-served.svg").read_text()
    assert svg.startswith("<svg") and "inter-token latency p50 (s)" in svg and "GPU J per output token" in svg
    lines = re.findall(r'<polyline class="model-line" data-group="([^"]+)"', svg)
    assert sorted(lines) == ["org/alpha · vllm", "org/beta · vllm", "org/slow · vllm"]  # sglang and gamma: 1 point
    assert svg.count("<circle") == 10  # gamma's unusable configuration is left out
    assert sorted(re.findall(r'class="point-label"[^>]*>(c=\d+)<', svg)) == sorted(
        ["c=1", "c=8", "c=64", "c=1", "c=8", "c=64", "c=8", "c=1", "c=1", "c=8"])


def test_served_figures_in_the_task_data_and_on_the_model_page(served_site):
    entries = json.loads((served_site / "data" / "tasks" / "text-gen.json").read_text())["entries"]
    serving = {(e["model_id"], e["serving"]["engine"], e["serving"]["concurrency"]): e["serving"]
               for e in entries if "serving" in e}
    assert len(serving) == 11 and sum("serving" not in e for e in entries) == 1
    beta = serving[("org/beta", "sglang", 8)]
    assert beta["gpu_energy_per_output_token_j"]["mean"] == pytest.approx(0.15)
    assert beta["inter_token_latency_p50_s"] == pytest.approx(0.028)
    assert serving[("org/gamma", "vllm", 64)]["steady_unusable"] == UNUSABLE
    page = next((served_site / "models").glob("org__beta*.html")).read_text()
    tables = re.findall(r'<table class="figures served-figures">(.*?)</table>', page, re.S)
    assert len(tables) == 4
    sglang = next(t for t in tables if "sglang 0.0.0-synthetic, concurrency 8" in t)
    assert "0.150 J (95 % CI [0.147, 0.153], n=3)" in sglang and "28.0 ms / 39.2 ms" in sglang
    assert "prefill 1.50 J, decode 13.5 J" in sglang
    alpha = next((served_site / "models").glob("org__alpha*.html")).read_text()
    assert alpha.count('class="figures served-figures"') == 3  # not for its in-process run


# ------------------------------------------------------------------------------------------ in Chromium

browser, page = _browser.browser, _browser.page  # the same fixtures: Debian's Chromium, console errors collected


def _marked(page) -> dict[str, str]:
    """Model -> `engine concurrency` of the row marked in the served table."""
    return dict(page.eval_on_selector_all(
        "#tbl-text-gen-served tbody tr.picked",
        "rows => rows.map(r => [r.getAttribute('data-group-name'), r.getAttribute('data-config')])"))


def _picks(page) -> list[str]:
    return page.locator("#served-text-gen ul.picks li").all_inner_texts()


@pytest.mark.browser
def test_latency_limit_marks_each_models_least_energy_configuration_from_file_urls(page, served_site):
    page.goto((served_site / "index.html").as_uri())
    control = page.locator("#served-text-gen div.latency-limit")
    assert control.is_visible()
    # No limit: each model's cheapest usable configuration (gamma's cheaper c=64 is unusable).
    assert _marked(page) == {"org/alpha": "concurrency 64 on vllm 0.0.0-synthetic",
                             "org/beta": "concurrency 64 on vllm 0.0.0-synthetic",
                             "org/gamma": "concurrency 1 on vllm 0.0.0-synthetic",
                             "org/slow": "concurrency 8 on vllm 0.0.0-synthetic"}
    page.get_by_label("Maximum inter-token latency p50 (ms)").fill("25")
    assert _marked(page) == {"org/alpha": "concurrency 8 on vllm 0.0.0-synthetic",
                             "org/beta": "concurrency 1 on vllm 0.0.0-synthetic",
                             "org/gamma": "concurrency 1 on vllm 0.0.0-synthetic"}
    assert _picks(page)[3] == "org/slow: none meets it"
    assert _picks(page)[0].startswith("org/alpha: concurrency 8 on vllm 0.0.0-synthetic, 0.0800 J per output token")
    assert page.locator("#tbl-text-gen-served tr.picked .pick-mark").count() == 3
    page.get_by_label("Maximum inter-token latency p50 (ms)").fill("60")  # sglang's c=8 beats vllm's c=8 for beta
    assert _marked(page) == {"org/alpha": "concurrency 64 on vllm 0.0.0-synthetic",
                             "org/beta": "concurrency 8 on sglang 0.0.0-synthetic",
                             "org/gamma": "concurrency 1 on vllm 0.0.0-synthetic"}
    page.get_by_label("Maximum inter-token latency p50 (ms)").fill("5")
    assert _marked(page) == {} and all(p.endswith(": none meets it") for p in _picks(page))
    assert page.locator("#tbl-text-gen-served .pick-mark").count() == 0
    page.get_by_label("Maximum inter-token latency p50 (ms)").fill("20")  # on the limit counts as within it
    assert _marked(page)["org/alpha"] == "concurrency 8 on vllm 0.0.0-synthetic"
    assert page.locator("#served-text-gen img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.errors == []


@pytest.mark.browser
def test_without_scripts_the_plain_table_shows_every_configuration_and_nothing_is_marked(browser, served_site):
    _browser._require_browser()
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        plain.goto((served_site / "index.html").as_uri())
        assert not plain.locator("#served-text-gen div.latency-limit").is_visible()
        rows = plain.locator("#tbl-text-gen-served tbody tr")
        assert rows.count() == len(MODEL_ORDER) and all(r.is_visible() for r in rows.all())
        assert plain.locator("#tbl-text-gen-served tr.picked, #tbl-text-gen-served .pick-mark").count() == 0
        assert "steady figures unusable" in plain.locator("#tbl-text-gen-served").inner_text()
    finally:
        context.close()


@pytest.fixture(scope="module")
def served_server(served_site):
    """The served site over HTTP, as the other browser tests serve theirs (axe-core reads the stylesheets, which a
    file:// page may not fetch)."""
    handler = functools.partial(_browser._QuietHandler, directory=str(served_site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.browser
@pytest.mark.parametrize("width", _browser.WIDTHS)
def test_served_section_and_model_page_pass_the_accessibility_check(page, served_site, served_server, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{served_server}/index.html")
    page.get_by_label("Maximum inter-token latency p50 (ms)").fill("25")
    assert page.locator("#tbl-text-gen-served tr.picked").count() == 3
    assert _browser._axe(page) == [], "index.html"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    model_page = next((served_site / "models").glob("org__beta*.html")).name
    page.goto(f"{served_server}/models/{model_page}")
    assert page.locator("table.served-figures").count() == 4
    assert _browser._axe(page) == [], model_page
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.errors == []
