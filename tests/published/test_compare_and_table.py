"""`harness compare` and `harness.load_results(published=True)`: published figures beside ours, labelled as theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.published import load_published
from harness.published.compare import compare, our_figures
from harness.results.schema import TaskInfo
from harness.results.store import write_result
from harness.testing.synthetic import make_result, make_serving
from tests.cli_helpers import run_cli_captured

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "published"


def _result(model_id: str, task_id: str = "text-gen", generation: dict | None = None, **settings):
    result = make_result(task="text-gen", model_id=model_id, **settings)
    spec = {"generation": generation or {"mode": "fixed", "max_new_tokens": 10, "min_new_tokens": 10}}
    return result.model_copy(update={"task": TaskInfo(id=task_id, version="1.0", kind="text-gen", spec=spec)})


@pytest.fixture(scope="module")
def records():
    return load_published(PUBLISHED)


def test_a_result_is_set_beside_every_round_that_published_its_model_case_insensitively(records):
    result = _result("OpenAI-Community/GPT2")
    comparison = compare(result, records)
    assert [c.collection for c in comparison.collections] == ["aies-v1", "aies-2025-12"]
    line = comparison.collections[0].lines[0]
    pair = line.pairs[0]
    assert pair.figure.as_written == "0.002146239" and pair.figure.unit == "Wh/1000 queries"
    assert pair.ours == pytest.approx(result.figures.gpu_energy_per_1k_queries_wh.mean)
    assert pair.ratio == pytest.approx(pair.ours / 2.146239)
    differences = dict((fact, (ours, theirs)) for fact, ours, theirs in comparison.collections[0].differences)
    assert differences["precision"] == ("bfloat16", "FP16")
    assert differences["batching"] == ("fixed batch 1", "fixed batch 1")
    assert differences["output length"] == ("10 new tokens (min = max)", "10 new tokens (min = max)")


def test_a_served_chat_result_meets_ml_energy_per_token_nearest_concurrency_first(records):
    serving = make_serving(concurrency=16, j_per_token=0.3, itl_p50_s=0.02)
    result = _result("Qwen/Qwen3-8B", "text-gen-chat", {"mode": "chat", "max_new_tokens": 1024, "min_new_tokens": 1},
                     engine="vllm", serving=serving)
    assert our_figures(result)["J/token"] == pytest.approx(0.3)
    group = next(c for c in compare(result, records).collections if c.collection == "mlenergy-v3")
    first = group.lines[0]
    assert first.record.protocol.max_concurrency == 16 and first.record.hardware.gpu == "H100"
    per_token = first.pairs[0]
    assert per_token.figure.unit == "J/token" and per_token.ratio == pytest.approx(0.3 / per_token.figure.value)
    facts = {fact: (ours, theirs) for fact, ours, theirs in group.differences}
    assert facts["batching"][0] == "serving, concurrency 16" and "serving, batch cap 16" in facts["batching"][1]
    assert facts["output length"][0] == "natural length, capped at 1024 new tokens"


def test_the_command_prints_ours_theirs_as_written_the_ratio_and_what_differs(capsys, tmp_path):
    path = write_result(_result("openai-community/gpt2"), tmp_path / "gpt2.json")
    code, out, err = run_cli_captured(capsys, "compare", str(path))
    assert code == 0, err
    assert "ours: openai-community/gpt2 | text-gen" in out
    assert "total_gpu_energy = 0.002146239 (no unit written, read as kWh per 1000 queries)" in out
    assert "ours/theirs" in out and "what differs (ours | theirs):" in out and "precision: bfloat16 | FP16" in out
    assert "another project's measurement" in out


def test_the_command_says_when_no_published_figure_matches(capsys, tmp_path):
    path = write_result(_result("nobody/unpublished-model"), tmp_path / "none.json")
    code, out, _ = run_cli_captured(capsys, "compare", str(path))
    assert code == 0 and "no published figure for nobody/unpublished-model" in out


def test_load_results_labels_measured_rows_and_adds_published_ones_only_on_request(tmp_path):
    import harness

    write_result(_result("openai-community/gpt2"), tmp_path / "gpt2.json")
    measured = harness.load_results(tmp_path)
    assert list(measured["source"]) == ["measured"] and measured["source_file"][0].endswith("gpt2.json")
    both = harness.load_results(tmp_path, published=True)
    assert (both["source"] == "measured").sum() == 1
    assert set(both["source"]) == {"measured", "mlenergy-v3", "mlenergy-v2", "mlenergy-v1", "aies-v1", "aies-2025-12"}
    gpt2 = both[(both["source"] == "aies-v1") & (both["model_id"] == "openai-community/gpt2")].iloc[0]
    assert gpt2["gpu_energy_per_1k_queries_wh"] == 2.146239 and gpt2["source_figure_as_written"] == "0.002146239"
    assert gpt2["source_unit_read_as"] == "kWh per 1000 queries" and gpt2["source_stars"] == 5
    assert gpt2["task_id"] == "text-gen" and gpt2["num_queries"] == 1000
    assert gpt2["source_file"].startswith("ebbalg/AI-climate-overview@96c2d78865b13f822f09b8dd246c76687af4b7dd:")
    v3 = both[both["source"] == "mlenergy-v3"].iloc[0]
    assert v3["gpu_energy_per_output_token_j"] > 0 and v3["gpu_energy_per_1k_queries_wh"] > 0


def test_load_results_with_published_needs_no_result(tmp_path):
    import harness

    frame = harness.load_results(tmp_path, published=True)
    assert len(frame) == 2838 and "measured" not in set(frame["source"])


def test_the_records_load_from_a_wheels_layout_and_from_the_environment(tmp_path, monkeypatch):
    from harness.published import store
    from harness.tasks import registry

    site = tmp_path / "site-packages"
    (site / "harness" / "tasks").mkdir(parents=True)
    (site / "harness" / "_data" / "published").mkdir(parents=True)
    (site / "harness" / "_data" / "published" / "aies-v1.jsonl").write_bytes((PUBLISHED / "aies-v1.jsonl").read_bytes())
    monkeypatch.setattr(registry, "__file__", str(site / "harness" / "tasks" / "registry.py"))
    monkeypatch.setattr(registry.importlib.resources, "files", lambda _package: site / "harness")
    monkeypatch.delenv(store.PUBLISHED_DIR_ENV, raising=False)
    assert store.published_folder() == site / "harness" / "_data" / "published"
    assert len(load_published()) == 166
    monkeypatch.setenv(store.PUBLISHED_DIR_ENV, str(PUBLISHED))
    assert len(load_published()) == 2838
    assert '"harness._data.published": "published"' in (REPO / "setup.py").read_text()


def test_a_broken_records_file_is_one_line(tmp_path):
    from harness.published.schema import SourceFileError

    (tmp_path / "aies-v1.jsonl").write_text('{"id": 1}\n')
    with pytest.raises(SourceFileError, match=r"aies-v1.jsonl: line 1: "):
        load_published(tmp_path)
