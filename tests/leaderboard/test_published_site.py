"""Other projects' published figures on the site (`leaderboard.published_views`): per task, on model pages, on the
index's answer cards and on the sources page, as what they are; never rated, ranked or averaged with ours.

The site is built from synthetic results (never real measurements) and the shipped published records
(`published/*.jsonl`, read through `harness.published.load_published`, as the build reads them).
"""

from __future__ import annotations

import functools
import html
import json
import re
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.published import load_published
from harness.published.catalogue import COLLECTIONS, ORIGINS
from harness.published.schema import PublishedRecord
from harness.published.store import published_folder
from harness.results.store import default_result_path, write_result
from harness.testing.synthetic import make_result
from leaderboard import published_views
from leaderboard.published_views import SUMMARY_FILE, source_label, table_anchor
from leaderboard.site import build_site
from tests.leaderboard import test_leaderboard_browser as _browser

TEXT_GEN_SPEC = {"max_input_tokens": 512, "generation": {"min_new_tokens": 10, "max_new_tokens": 10}}
MATCHED = "Google/Gemma-2-2B-IT"
"""A harness model that AI Energy Score (both rounds) and ML.ENERGY v2 published figures for, spelt in another case."""


def _write(results: Path, seed: int, **kwargs) -> Path:
    result = make_result(seed=seed, **kwargs)
    if kwargs.get("task", "text-gen") == "text-gen":
        spec = {**result.task.spec, **TEXT_GEN_SPEC}
        result = result.model_copy(update={"task": result.task.model_copy(update={"spec": spec})})
    return write_result(result, default_result_path(results, result))


def _results(results: Path) -> None:
    """Text generation measured on a GPU (rated: four models), image generation on CPU only (no GPU figure)."""
    for seed, (model, power) in enumerate([(MATCHED, 150.0), ("org/alpha", 220.0), ("org/beta", 300.0),
                                           ("org/gamma", 420.0)], 1):
        _write(results, seed, task="text-gen", model_id=model, mean_power_w=power, num_parameters=2_000_000_000)
    _write(results, 20, task="image-gen", model_id="org/painter", gpu_name="cpu")


@functools.cache
def _records() -> tuple[PublishedRecord, ...]:
    return tuple(load_published())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The same results built with the shipped published records and without them."""
    root = tmp_path_factory.mktemp("published")
    _results(root / "results")
    build_site(root / "results", root / "with", releases_dir=root / "releases", published=True)
    build_site(root / "results", root / "without", releases_dir=root / "releases")
    return {"root": root, "with": root / "with", "without": root / "without"}


@pytest.fixture(scope="module")
def site(built) -> Path:
    return built["with"]


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))).strip()


def _section(page: str, anchor: str) -> str:
    match = re.search(rf'<section class="published-table" id="{re.escape(anchor)}".*?</section>', page, re.S)
    assert match, anchor
    return match.group(0)


def _rows(section: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", section, re.S).group(1)
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>.*?</tr>", body, re.S)]


def _task_page(site: Path, task_id: str) -> str:
    return (site / "tasks" / f"{task_id}.html").read_text()


# ---- task pages -----------------------------------------------------------------------------------------------


def test_each_task_page_has_one_table_per_source_round_and_task_with_every_figure_as_written(site):
    tables: dict[tuple[str, str, str], list[PublishedRecord]] = {}
    for record in _records():
        if record.task.harness_task is not None:
            tables.setdefault((record.task.harness_task, record.collection, record.task.source_task), []).append(record)
    assert len(tables) >= 20
    for (task_id, collection, source_task), records in tables.items():
        section = _section(_task_page(site, task_id), table_anchor(collection, source_task))
        # Introduced as what it is, with its own unit as written and as read.
        assert source_label(records[0].source, records[0].round) in section
        assert COLLECTIONS[collection].title in section
        reading = records[0].headline
        assert html.escape(reading.unit_read_as) in section
        assert ("no unit written" in section) if reading.unit_as_written is None else \
            f"unit as written: {reading.unit_as_written}" in section
        rows = _rows(section)
        assert len(rows) == len(records)
        # Sorted by the source's own figure, every number exactly as the file spells it.
        expected = sorted(records, key=lambda r: (r.headline.value, r.model.casefold(), r.id))
        assert [row[1] for row in rows] == [r.headline.as_written for r in expected], (collection, source_task)
        assert [row[0].removesuffix(" (measured here too)") for row in rows] == [r.model for r in expected]
        values = [r.headline.value for r in expected]
        assert values == sorted(values)


def test_aies_tables_show_the_kwh_reading_the_normalised_figure_and_the_stars_of_their_round(site):
    records = sorted((r for r in _records() if r.collection == "aies-v1" and r.task.source_task == "asr"),
                     key=lambda r: (r.headline.value, r.model.casefold(), r.id))
    section = _section(_task_page(site, "speech-to-text"), table_anchor("aies-v1", "asr"))
    assert "read as kWh per 1000 queries" in section
    assert html.escape(records[0].headline.unit_basis) in section
    header = [html.unescape(h) for h in re.findall(r'<th scope="col">(.*?)</th>', section)]
    assert "Wh per 1000 queries (normalised)" in header
    assert "Stars (AI Energy Score v1 (February 2025)'s own)" in header
    for row, record in zip(_rows(section), records, strict=True):
        assert row[1] == record.headline.as_written
        assert row[2] == published_views.plain(record.headline.value)
        assert float(row[2]) == pytest.approx(float(record.headline.as_written) * 1000)
        assert row[3].startswith("★" * record.rating.stars + "☆" * (5 - record.rating.stars))
        assert record.rating.scope in row[3]
        assert row[-1] == f"asr.csv, {record.provenance.row}"
    links = re.findall(r'<a href="(https://github.com/[^"]+/blob/[^"]+)">', section)
    assert links == [f"https://github.com/ebbalg/AI-climate-overview/blob/{ORIGINS['aies-v1'].commit}/"
                     f"{r.provenance.path}#L{r.provenance.row.removeprefix('line ')}" for r in records]


def test_records_that_map_onto_no_harness_task_are_on_the_sources_page_only(site):
    unmapped = {(r.collection, r.task.source_task) for r in _records() if r.task.harness_task is None}
    assert ("mlenergy-v3", "text-to-video") in unmapped
    sources = (site / "sources.html").read_text()
    task_pages = [p.read_text() for p in (site / "tasks").glob("*.html")]
    for collection, source_task in unmapped:
        anchor = table_anchor(collection, source_task)
        count = sum(1 for r in _records() if (r.collection, r.task.source_task) == (collection, source_task))
        assert len(_rows(_section(sources, anchor))) == count
        assert not any(f'id="{anchor}"' in page for page in task_pages)
    assert {p.stem for p in (site / "tasks").glob("*.html")} == \
        {r.task.harness_task for r in _records() if r.task.harness_task}


def test_unknown_stays_unknown_and_hostile_text_is_escaped(tmp_path, add_result, results_dir):
    """A record that states nothing beyond its figure: every fact reads "not stated", nothing is guessed."""
    base = next(r for r in _records() if r.collection == "aies-v1")
    bare = base.model_copy(update={
        "id": "aies-v1/x.csv#0", "model": "org/<script>alert(1)</script>", "model_id": None, "rating": None,
        "hardware": base.hardware.model_copy(update={"gpu": None, "num_gpus": None}),
        "protocol": base.protocol.model_copy(update={"engine": None, "batching": None, "batch_size": None,
                                                     "precision": None, "queries": None, "energy_counted": None}),
        "figures": (base.headline.model_copy(update={"as_written": "0.000123456789", "value": 0.123456789}),)})
    other = base.model_copy(update={"id": "aies-v1/x.csv#1", "model": "org/known"})
    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "aies-v1.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in (bare, other)))
    add_result(task="text-gen", model_id="org/x")
    build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", published=folder)
    page = _task_page(tmp_path / "site", base.task.harness_task)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    row = next(r for r in _rows(_section(page, table_anchor("aies-v1", base.task.source_task)))
               if "script" in r[0])
    assert row[1] == "0.000123456789" and row[2] == "0.123456789"
    assert row.count("not stated") >= 4  # hardware count and GPU, batching, precision, queries, energy counted
    assert "(count not stated) GPU not stated" in row
    assert "none published" in row  # no stars: never a guessed rating


# ---- never rated or ranked with ours --------------------------------------------------------------------------


def test_published_records_never_change_a_rating_a_group_or_the_harness_data(built):
    with_, without = built["with"], built["without"]
    for data in sorted((without / "data").rglob("*")):
        if data.is_file() and data.name != "index.json":
            assert (with_ / data.relative_to(without)).read_bytes() == data.read_bytes(), data.name
    entries = json.loads((with_ / "data/tasks/text-gen.json").read_text())["entries"]
    assert len(entries) == 4 and all(e["stars"] is not None for e in entries)  # rated, and as without them
    index_with = json.loads((with_ / "data/index.json").read_text())
    index_without = json.loads((without / "data/index.json").read_text())
    assert {k: v for k, v in index_with.items() if k != "published"} == index_without
    assert index_with["published"]["records"] == len(_records())
    # The index's tables hold only harness entries: no published model sits in a rating group's table.
    page = (with_ / "index.html").read_text()
    boards = "".join(re.findall(r'<table class="board sortable".*?</table>', page, re.S))
    assert "Qwen" not in boards and MATCHED in boards


def test_without_published_records_the_site_is_the_site_of_before(built):
    without = built["without"]
    assert not (without / "sources.html").exists() and not (without / "tasks").exists()
    assert not (without / SUMMARY_FILE).exists()
    assert "Published elsewhere" not in (without / "index.html").read_text()
    assert "published-card" not in (without / "index.html").read_text()


# ---- the index ------------------------------------------------------------------------------------------------


def test_answer_cards_use_harness_results_and_say_plainly_when_a_figure_is_published(site):
    page = (site / "index.html").read_text()
    cards = dict(re.findall(r'<article class="answer" id="answer-([^"]+)">(.*?)</article>', page, re.S))
    # Text generation has GPU-measured results: ours, with no published figure on the card.
    assert "published-card" not in cards["text-gen"] and "Wh per query" in cards["text-gen"]
    # Image generation has only a CPU run: the card shows AI Energy Score's lowest figure, labelled as such.
    card = cards["image-gen"]
    assert "No GPU-measured results yet." in card
    assert "Published by AI Energy Score (v1), not measured by this harness." in _text(card)
    assert 'href="sources.html#aies-v1"' in card
    lowest = min((r for r in _records() if r.collection == "aies-v1" and r.task.harness_task == "image-gen"),
                 key=lambda r: r.headline.value)
    assert f"as written: {lowest.headline.as_written}" in _text(card) and lowest.model in card
    # Tasks that only other projects measured get a card and a section too, each card labelled.
    for task_id in ("speech-to-text", "question-answering", "text-gen-chat"):
        assert "not measured by this harness" in cards[task_id]
        assert f'id="task-{task_id}"' in page and f'href="tasks/{task_id}.html"' in page
    assert "Meanwhile" not in page  # this site has results of its own


def test_with_no_result_at_all_every_task_others_measured_has_a_labelled_card(tmp_path):
    (tmp_path / "results").mkdir()
    build_site(tmp_path / "results", tmp_path / "site", releases_dir=tmp_path / "releases", published=True)
    page = (tmp_path / "site" / "index.html").read_text()
    assert "No results yet." in page and "none of them was measured by this harness" in page
    cards = re.findall(r'<article class="answer" id="answer-([^"]+)">(.*?)</article>', page, re.S)
    assert {task for task, _ in cards} == {r.task.harness_task for r in _records() if r.task.harness_task}
    assert all("not measured by this harness" in card for _, card in cards)


def test_no_published_number_is_shown_without_its_source(site):
    """Every published table sits in a section that names its source and round; every card and model-page line is
    labelled; the index shows no published figure outside its labelled cards."""
    for path in [site / "sources.html", *(site / "tasks").glob("*.html")]:
        page = path.read_text()
        tables = re.findall(r'<table class="published"', page)
        sections = re.findall(r'<section class="published-table".*?</section>', page, re.S)
        assert len(tables) == len(sections) >= (1 if "tasks" in path.parts else 0)
        for section in sections:
            assert "not measured by this harness" in section and "https://github.com/" in section
            assert section.count("/blob/") == len(_rows(section))  # each row links to its source file and row
    index = (site / "index.html").read_text()
    cards = re.findall(r'<div class="published-card">.*?</div>', index, re.S)
    assert cards and all("not measured by this harness" in c for c in cards)
    outside = re.sub(r'<div class="published-card">.*?</div>', "", index, flags=re.S)
    for record in _records():
        if len(record.headline.as_written) > 5:
            assert record.headline.as_written not in outside, record.id


# ---- model pages ------------------------------------------------------------------------------------------------


def test_model_page_shows_every_figure_known_for_the_model_with_the_protocol_differences(site):
    page = next((site / "models").glob("Google__Gemma-2-2B-IT*.html")).read_text()
    matching = [r for r in _records() if MATCHED.casefold() in {(r.model_id or "").casefold(), r.model.casefold()}]
    assert {r.collection for r in matching} == {"aies-v1", "aies-2025-12", "mlenergy-v2"}
    known = re.search(r'<table class="known">.*?</table>', page, re.S).group(0)
    lines = re.findall(r"<tr( class=\"ours\")?><th scope=\"row\">(.*?)</tr>", known, re.S)
    assert len(lines) == 1 + len(matching)
    assert lines[0][0] and "This harness" in lines[0][1]
    for record in matching:
        assert html.escape(record.headline.as_written) in known
    assert known.count("not measured by this harness") == len(matching)
    differences = re.search(r'<table class="differences">.*?</table>', page, re.S).group(0)
    text = _text(differences)
    for words in ("Batching (differs)", "Precision (differs)", "Energy counted (differs)", "fixed batch 1",
                  "FP16", "not stated", "GPU only (CodeCarbon, NVML)"):
        assert words in text, words
    assert [html.unescape(t) for t in re.findall(r'<th scope="col">(.*?)</th>', differences)] == \
        ["Fact", "This harness", *(COLLECTIONS[c].title for c in COLLECTIONS if c in {r.collection for r in matching})]


def test_model_without_published_figures_says_so_and_published_models_are_listed_on_the_sources_page(site):
    page = next((site / "models").glob("org__alpha*.html")).read_text()
    assert "every-figure" not in page and "No figure published by ML.ENERGY or AI Energy Score" in page
    sources = (site / "sources.html").read_text()
    only = re.search(r'<table class="published-models">.*?</table>', sources, re.S).group(0)
    assert ">Qwen/Qwen3-14B<" in only and MATCHED.casefold() not in only.casefold()


# ---- the sources page ---------------------------------------------------------------------------------------


def test_sources_page_names_each_source_its_commit_licence_unit_reading_and_counts(site):
    page = (site / "sources.html").read_text()
    counts: dict[str, int] = {}
    for record in _records():
        counts[record.collection] = counts.get(record.collection, 0) + 1
    for collection in COLLECTIONS.values():
        origin = ORIGINS[collection.importer]
        block = re.search(rf'<section class="source" id="{collection.id}".*?(?=<section class="source"|'
                          rf'<section id="models-only)', page, re.S).group(0)
        assert html.escape(collection.title) in block and collection.url in block
        assert f"https://github.com/{origin.repository}/tree/{origin.commit}" in block
        assert html.escape(origin.licence) in block and html.escape(origin.licence_note) in block
        assert f"<td>{counts[collection.id]}</td>" in block
    assert "non-commercial use only" in page
    assert "read as <strong>kWh per 1000 queries</strong>" in page and "only kWh fits" in page
    assert '<a href="sources.html" aria-current="page">' in page  # in the navigation
    assert 'href="sources.html"' in (site / "index.html").read_text()


# ---- rebuilds, options ----------------------------------------------------------------------------------------


def test_a_rebuild_reuses_the_published_pages_without_reading_the_records(tmp_path, monkeypatch, add_result,
                                                                         results_dir):
    add_result(task="text-gen", model_id=MATCHED)
    add_result(task="text-gen", model_id="org/other")
    build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", published=True)
    cold = {p.relative_to(tmp_path / "site"): p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}

    def refuse(*args, **kwargs):
        raise AssertionError("the records were read again")

    monkeypatch.setattr(published_views, "load_published", refuse)
    # A model no source published, on a task of its own: no page that shows published figures changes but the index.
    add_result(task="text-classification", model_id="org/new")
    report = build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", published=True)
    assert report.pages_rendered < 12 and report.pages_reused > 12
    for name in ("sources.html", "tasks/text-gen.html", "tasks/image-gen.html"):
        assert (tmp_path / "site" / name).read_bytes() == cold[Path(name)]
    monkeypatch.undo()
    # The same bytes as a cold build of the same files.
    build_site(results_dir, tmp_path / "cold", releases_dir=tmp_path / "releases", published=True)
    for path in (tmp_path / "cold").rglob("*"):
        if path.is_file() and path.name != ".leaderboard-pages.json":
            assert (tmp_path / "site" / path.relative_to(tmp_path / "cold")).read_bytes() == path.read_bytes(), path


def test_a_new_model_that_others_published_renders_only_the_published_pages_that_link_to_it(tmp_path, add_result,
                                                                                            results_dir):
    add_result(task="text-classification", model_id="org/x")
    build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", published=True)
    inodes = {p.name: p.stat().st_ino for p in (tmp_path / "site" / "tasks").glob("*.html")}
    add_result(task="text-classification", model_id="qwen/QWEN3-14B")  # ML.ENERGY v3 measured it, on chat
    build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", published=True)
    again = {p.name: p.stat().st_ino for p in (tmp_path / "site" / "tasks").glob("*.html")}
    assert {name for name in inodes if again[name] != inodes[name]} == {"text-gen-chat.html"}
    chat = _task_page(tmp_path / "site", "text-gen-chat")
    assert chat.count('<a href="../models/qwen__QWEN3-14B.html">Qwen/Qwen3-14B</a>') == \
        sum(1 for r in _records() if r.model_id == "Qwen/Qwen3-14B" and r.task.harness_task == "text-gen-chat")


def test_changed_records_render_the_published_pages_again(tmp_path, add_result, results_dir):
    folder = tmp_path / "published"
    folder.mkdir()
    lines = [line for line in (published_folder() / "aies-v1.jsonl").read_text().splitlines(keepends=True)
             if '"source_task": "asr"' in line]
    (folder / "aies-v1.jsonl").write_text("".join(lines[:5]))
    add_result(task="text-gen", model_id="org/x")
    build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", published=folder)
    first = _task_page(tmp_path / "site", "speech-to-text")
    (folder / "aies-v1.jsonl").write_text("".join(lines[:6]))
    build_site(results_dir, tmp_path / "site", releases_dir=tmp_path / "releases", published=folder)
    second = _task_page(tmp_path / "site", "speech-to-text")
    assert len(_rows(second)) == len(_rows(first)) + 1


def _harness(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_command_options(tmp_path, add_result, results_dir):
    add_result(task="text-gen", model_id="org/x")
    out = tmp_path / "site"
    done = _harness("leaderboard", "build", results_dir, "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (out / "sources.html").is_file()  # published records are shown by default
    done = _harness("leaderboard", "build", results_dir, "--out", out, "--no-published", cwd=tmp_path)
    assert done.returncode == 0 and not (out / "sources.html").exists()
    done = _harness("leaderboard", "build", results_dir, "--out", out, "--no-published", "--published-dir", tmp_path,
                    cwd=tmp_path)
    assert done.returncode != 0 and done.stderr.count("error:") == 1 and "--no-published" in done.stderr
    done = _harness("leaderboard", "build", results_dir, "--out", out, "--published-dir", tmp_path / "missing",
                    cwd=tmp_path)
    assert done.returncode != 0 and "does not exist" in done.stderr and "Traceback" not in done.stderr
    assert (out / "index.html").is_file()  # the previous site stays


# ---- in a browser ---------------------------------------------------------------------------------------------

browser, page, shots = _browser.browser, _browser.page, _browser.shots  # Debian's Chromium, console errors collected


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_browser._QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


ONE_LINE = """cells => cells.slice(0, 40).filter(cell => {
    const range = document.createRange(); range.selectNodeContents(cell);
    const lines = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
    return lines.size > 1; }).map(cell => cell.textContent)"""
"""The numeric cells whose text wraps onto a second line (a number broken in two)."""


@pytest.mark.browser
@pytest.mark.parametrize("width", _browser.WIDTHS)
def test_index_and_task_pages_with_published_figures_in_a_browser(page, server, site, width, shots):
    page.set_viewport_size({"width": width, "height": 900})
    # axe-core takes about 8 s on a page of 1000 rows: the big pages are checked once, the small ones at each width.
    checked = ["index.html", "tasks/text-gen.html", "tasks/speech-to-text.html", "models/Google__Gemma-2-2B-IT.html",
               *(["sources.html"] if width > 1000 else [])]
    for name in [*checked, "tasks/text-gen-chat.html"]:
        page.goto(f"{server}/{name}")
        if name in checked:
            assert _browser._axe(page) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name  # never sideways
        page.screenshot(path=str(shots / f"published-{name.replace('/', '-')}-{width}.png"))
        if name.startswith("tasks/"):
            assert page.eval_on_selector_all("table.published td.n", ONE_LINE) == [], name
    page.goto(f"{server}/tasks/text-gen-chat.html")
    region = page.locator(".scroll", has=page.locator("table.published")).first
    scrolls = region.evaluate("el => el.scrollWidth > el.clientWidth")
    assert scrolls or width > 1000  # the table scrolls in its own box on a phone, the page does not
    page.goto(f"{server}/index.html")
    card = page.locator("#answer-image-gen .published-card")
    assert "not measured by this harness" in card.inner_text()
    card.get_by_role("link", name="Every published figure for this task").click()
    assert page.url.endswith("tasks/image-gen.html#pub-aies-v1-image_generation")
    assert page.errors == []


@pytest.mark.browser
def test_published_pages_work_from_file_urls(page, site):
    page.goto((site / "tasks" / "image-gen.html").as_uri())
    assert page.locator("table.published").count() == 3
    page.get_by_role("link", name="sources").first.click()
    assert page.url.endswith("sources.html")
    assert page.errors == []
