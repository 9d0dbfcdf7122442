"""The engine axis: engines registered by name, workloads keyed by (engine, kind), the engine recorded in every
result and part of its workload identity, and a new engine added as its own module with nothing else edited."""

from __future__ import annotations

import json
import os

import pytest

from harness import runner
from harness.engines import ENGINES, engine_named
from harness.engines.hf_transformers import TransformersEngine
from harness.errors import ConfigError
from harness.kinds import KINDS
from harness.results.identity import result_workload_key, workload_key
from harness.results.schema import ResultFile
from harness.results.store import parse_result
from harness.tasks.registry import load_task
from harness.workloads import WORKLOADS, workload_class
from harness.workloads.base import WORKLOAD_REGISTRY
from harness.workloads.text_classification import TextClassificationWorkload
from tests.cli_helpers import run_cli_captured

SERVER_PID = 4242
"""A process on the fake GPU that the test engine says is its own (as a server's worker would be)."""


def test_the_in_process_engines_are_registered_and_every_kind_has_a_workload_on_its_default_engine():
    assert {"transformers", "diffusers"} <= set(ENGINES)
    for kind, descriptor in KINDS.items():
        assert WORKLOADS[kind].engine == descriptor.default_engine, kind
        assert (descriptor.default_engine, kind) in WORKLOAD_REGISTRY, kind


def test_an_unknown_engine_is_one_line_listing_the_engines():
    with pytest.raises(ConfigError, match=r"unknown engine 'nosuch'; engines: .*diffusers.*transformers"):
        engine_named("nosuch")


def test_an_engine_that_cannot_run_a_kind_says_which_can():
    with pytest.raises(ConfigError, match=r"engine 'diffusers' cannot run task kind 'text-gen'.*engines that can: "
                                          r"endpoint, sglang, transformers, vllm$"):
        workload_class(load_task("text-gen"), "diffusers")


def test_text_gen_picks_its_workload_by_generation_mode():
    assert workload_class(load_task("text-gen")).__name__ == "TextGenerationWorkload"
    assert workload_class(load_task("text-gen-chat")).__name__ == "ChatGenerationWorkload"


def test_a_subclass_that_does_not_name_its_kind_is_not_registered():
    before = {key: list(value) for key, value in WORKLOAD_REGISTRY.items()}

    class Spy(TextClassificationWorkload):
        pass

    assert Spy not in WORKLOAD_REGISTRY[("transformers", "text-classification")]
    assert before == WORKLOAD_REGISTRY


def test_run_refuses_an_unknown_engine_before_any_model_loads(capsys, tmp_path):
    code, out, err = run_cli_captured(capsys, "run", "--task", "text-classification", "--model",
                                      str(tmp_path / "no-such-model"), "--engine", "nosuch", "--device", "cpu",
                                      "--results-dir", str(tmp_path / "results"))
    assert code != 0 and "Traceback" not in err
    assert err.strip().splitlines() == [f"error: unknown engine 'nosuch'; engines: {', '.join(sorted(ENGINES))}"]
    assert not (tmp_path / "results").exists()


def test_the_engine_is_recorded_and_a_result_without_one_ran_on_its_kinds_default(tiny_models_dir, fake_gpu,
                                                                                 tmp_path):
    result, path = runner.execute(runner.RunRequest(
        task="text-classification", model=str(tiny_models_dir / "text-classification"), device="cpu",
        num_queries=2, measure_gpus=[0], idle_seconds=0.2, results_dir=tmp_path / "results"))
    written = json.loads(path.read_text())
    assert written["schema_version"] == "2.1"
    assert written["engine"]["name"] == "transformers"
    assert written["engine"]["version"] == TransformersEngine().version() and written["engine"]["version"]
    assert written["engine"]["settings"] == "{}"  # free-form parts are canonical JSON text in a file
    # The same file as schema 2.0 wrote it: no engine, and torch required.
    older = {key: value for key, value in written.items() if key != "engine"} | {"schema_version": "2.0"}
    loaded = parse_result(json.dumps(older).encode(), "older.json")
    assert loaded.engine is None and loaded.engine_name == "transformers"
    assert result_workload_key(loaded) == result_workload_key(result)  # the default engine keeps old keys


def test_the_engine_is_part_of_the_workload_identity():
    spec = load_task("text-gen")
    default = workload_key(spec)
    assert workload_key(spec, engine="transformers") == default
    assert workload_key(spec, engine="vllm") != default
    assert workload_key(spec, engine="vllm", engine_settings={"max_num_seqs": 8}) != workload_key(spec, engine="vllm")


@pytest.fixture
def served_engine(tiny_models_dir):
    """An engine added the way a new one is: an `Engine` subclass with a name, and a workload keyed by it, each
    defined once, with no table edited. It runs transformers in this process but owns a second process."""

    class ServedEngine(TransformersEngine):
        name = "test-served"

        def owned_pids(self, loaded):
            return frozenset({os.getpid(), SERVER_PID})

        def settings(self, loaded):
            return {"max_num_seqs": 4}

    class ServedClassification(TextClassificationWorkload):
        engine = "test-served"
        kind = "text-classification"

    yield ServedEngine
    ENGINES.pop("test-served")
    WORKLOAD_REGISTRY.pop(("test-served", "text-classification"))


def test_a_new_engine_runs_records_its_settings_and_its_processes_are_not_contention(
        served_engine, tiny_models_dir, tmp_path, monkeypatch):
    script = tmp_path / "gpu.json"
    script.write_text(json.dumps({"gpus": [{"name": "Fake NVIDIA H100 80GB HBM3", "power_w": 200,
                                            "processes": [{"pid": SERVER_PID, "start_s": 0, "end_s": 1e9}]}]}))
    monkeypatch.setenv("HARNESS_FAKE_NVML", str(script))

    def run(engine: str | None) -> ResultFile:
        result, _ = runner.execute(runner.RunRequest(
            task="text-classification", model=str(tiny_models_dir / "text-classification"), device="cpu",
            engine=engine, num_queries=2, measure_gpus=[0], idle_seconds=0.2, write=False))
        return result

    served, default = run("test-served"), run(None)
    assert served.engine.name == "test-served" and served.engine.settings == {"max_num_seqs": 4}
    assert "contention" not in {w.code for w in served.warnings}
    assert "contention" in {w.code for w in default.warnings}  # the same process is someone else's to transformers
    assert result_workload_key(served) != result_workload_key(default)
