"""Campaign files: validation, expansion into keyed jobs, idempotent re-planning, GitHub matrix chunking."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

import pytest

from harness.errors import ConfigError, NotFoundError
from harness.ops import campaigns, scheduler_outputs
from harness.results.store import load_result

REPO = Path(__file__).resolve().parents[2]

TWO_GROUPS = """\
name: t
hardware: [h100]
defaults: {repeats: 3}
groups:
  - tasks: [text-gen, summarization]
    models: [org/a, {id: org/b, revision: abc123, random_weights: true}]
    settings: [{}, {batch_size: 4}]
  - tasks: [image-gen]
    models: [org/c]
    settings: [{preset: smoke, set: {generation.num_inference_steps: 4}}]
    hardware: [h100, a100]
"""


def _plan(path, results_dir=None):
    return campaigns.plan(path, results_dir)


def test_repository_campaigns_expand(tmp_path):
    for path in sorted((REPO / "configs" / "campaigns").glob("*.yaml")):
        planned = campaigns.plan(path, tmp_path / "no-results")
        assert planned.todo, path
        assert len({job.key for job in planned.todo}) == len(planned.todo)
        for job in planned.todo:
            assert job.task_id in {"text-gen", "summarization", "text-classification", "image-gen"}
            assert job.resolved.spec.id == job.task_id


def test_expansion_is_the_cross_product(write_campaign):
    jobs = _plan(write_campaign(TWO_GROUPS)).todo
    # 2 tasks x 2 models x 2 settings x 1 hardware, then 1 x 1 x 1 x 2.
    assert len(jobs) == 10
    image = [job for job in jobs if job.task_id == "image-gen"]
    assert sorted(job.hardware for job in image) == ["a100", "h100"]
    assert all(job.resolved.spec.generation.num_inference_steps == 4 for job in image)
    # The smoke preset's 5 queries reach the resolved spec; the campaign's explicit repeats beat the preset's 1.
    assert all(job.resolved.spec.num_queries == 5 and job.repeats == 3 for job in image)
    b = next(job for job in jobs if job.model.id == "org/b" and job.settings.batch_size == 4)
    assert b.run_args() == ["--task", b.task, "--model", "org/b", "--device", "cuda", "--repeats", "3",
                            "--revision", "abc123", "--batch-size", "4", "--random-weights"]


def test_job_key_is_sha256_of_canonical_identity(write_campaign):
    job = _plan(write_campaign(TWO_GROUPS)).todo[0]
    canonical = json.dumps(job.identity(), sort_keys=True, separators=(",", ":"))
    assert job.key == hashlib.sha256(canonical.encode()).hexdigest()
    assert job.identity()["task_version"] == job.task_version
    assert job.short_key == job.key[:16]


def test_keys_are_stable_across_formatting_and_order(write_campaign):
    first = {job.key for job in _plan(write_campaign(TWO_GROUPS, "a.yaml")).todo}
    reordered = """\
    groups:
      - hardware: [a100, h100]
        settings:
          - set: {generation.num_inference_steps: 4}
            preset: smoke
        models: [org/c]
        tasks: [image-gen]
      - tasks: [summarization, text-gen]
        models: [{random_weights: true, id: org/b, revision: abc123}, org/a]
        settings: [{batch_size: 4}, {}]
    defaults: {repeats: 3}
    hardware: [h100]
    name: t
    """
    assert {job.key for job in _plan(write_campaign(reordered, "b.yaml")).todo} == first


@pytest.mark.parametrize("change", [
    ("org/a", "org/a2"),                     # model
    ("[h100]", "[h200]"),                    # hardware
    ("{repeats: 3}", "{repeats: 5}"),        # settings
    ("models: [org/a]", "models: [{id: org/a, revision: v2}]"),  # revision
])
def test_key_changes_with_what_is_measured(write_campaign, change):
    base = "name: t\nhardware: [h100]\ndefaults: {repeats: 3}\ngroups:\n  - tasks: [text-gen]\n    models: [org/a]\n"
    before = _plan(write_campaign(base, "a.yaml")).todo[0].key
    after = _plan(write_campaign(base.replace(*change), "b.yaml")).todo[0].key
    assert before != after


def test_key_changes_with_task_version(write_campaign, tmp_path):
    task_text = (REPO / "tasks" / "text-classification.yaml").read_text()
    (tmp_path / "v1.yaml").write_text(task_text)
    version = re.search(r'^version: "([^"]+)"', task_text, re.MULTILINE).group(1)
    (tmp_path / "v2.yaml").write_text(task_text.replace(f'version: "{version}"', 'version: "99.0"'))
    keys = []
    for name in ("v1", "v2"):
        path = write_campaign(f"name: t\nhardware: [h100]\ngroups:\n  - tasks: [{tmp_path / name}.yaml]\n"
                              f"    models: [org/a]\n", f"{name}-campaign.yaml")
        job = _plan(path).todo[0]
        keys.append((job.task_version, job.key))
    assert keys[0][0] == version and keys[1][0] == "99.0"
    assert keys[0][1] != keys[1][1]


def test_duplicate_jobs_are_planned_once(write_campaign):
    text = "name: t\nhardware: [h100]\ngroups:\n  - tasks: [text-gen, text_generation]\n    models: [org/a, org/a]\n"
    assert len(_plan(write_campaign(text)).todo) == 1


@pytest.mark.parametrize("text, error, words", [
    ("name: t\nhardware: [h100]\ngroups: []\n", ConfigError, "groups"),
    ("name: t\nhardware: [H100]\ngroups:\n  - {tasks: [text-gen], models: [a]}\n", ConfigError, "lower-case"),
    ("name: t\nhardware: [h100]\nextra: 1\ngroups:\n  - {tasks: [text-gen], models: [a]}\n", ConfigError, "extra"),
    ("name: t\nhardware: [h100]\ngroups:\n  - {tasks: [text-gen], models: [a], setings: [{}]}\n", ConfigError,
     "setings"),
    ("name: t\nhardware: [h100]\ngroups:\n  - {tasks: [text-gen], models: [a], settings: [{set: {nope: 1}}]}\n",
     ConfigError, "nope"),
    ("name: t\nhardware: [h100]\ngroups:\n  - {tasks: [text-gne], models: [a]}\n", NotFoundError, "text-gen"),
    ("name: t\nhardware: [h100]\ngroups:\n  - {tasks: [text-gen], models: [a], settings: [{preset: nope}]}\n",
     NotFoundError, "nope"),
    ("- just a list\n", ConfigError, "mapping"),
    ("name: [unclosed\n", ConfigError, "not valid YAML"),
    ("name: t\nname: u\nhardware: [h100]\ngroups:\n  - {tasks: [text-gen], models: [a]}\n", ConfigError,
     "duplicate"),
])
def test_bad_campaigns_are_one_line_errors(write_campaign, text, error, words):
    with pytest.raises(error) as raised:
        _plan(write_campaign(text))
    message = str(raised.value)
    assert "\n" not in message and words in message and "campaign.yaml" in message


def test_missing_campaign_file(tmp_path):
    with pytest.raises(NotFoundError):
        campaigns.plan(tmp_path / "nope.yaml")


def test_replan_skips_jobs_with_a_valid_result(write_campaign, tmp_path, result_for_job, file_result):
    path = write_campaign(TWO_GROUPS)
    results = tmp_path / "results"
    first = _plan(path, results)
    assert len(first.todo) == 10 and not first.done
    done_job = first.todo[0]
    written = file_result(results, result_for_job(done_job))
    second = _plan(path, results)
    assert [job.key for job in second.todo] == [job.key for job in first.todo[1:]]
    assert second.done == [(done_job, written)]
    # Planning again changes nothing: the plan is a function of the campaign and the results.
    third = _plan(path, results)
    assert [job.key for job in third.todo] == [job.key for job in second.todo]


def test_a100_job_is_satisfied_by_an_a100_result_only(write_campaign, tmp_path, result_for_job, file_result):
    path = write_campaign(TWO_GROUPS)
    results = tmp_path / "results"
    a100_job = next(job for job in _plan(path).todo if job.hardware == "a100")
    file_result(results, result_for_job(a100_job, gpu_name="NVIDIA A100-SXM4-80GB"))
    todo = {job.key for job in _plan(path, results).todo}
    assert a100_job.key not in todo
    h100_twin = next(job for job in _plan(path).todo if job.hardware == "h100" and job.task_id == "image-gen")
    assert h100_twin.key in todo


@pytest.mark.parametrize("changes, satisfies", [
    ({}, True),
    ({"model": {"id": "org/other"}}, False),
    ({"model": {"random_weights": True}}, False),
    ({"settings": {"preset": "full"}}, True),      # how the settings were typed is not what was measured
    ({"settings": {"idle_seconds": 0.5}}, False),  # another protocol
    ({"task": {"version": "0.9"}}, False),
])
def test_result_must_match_the_job(write_campaign, result_for_job, changes, satisfies):
    job = _plan(write_campaign(TWO_GROUPS)).todo[0]
    assert campaigns.result_satisfies(job, result_for_job(job, **changes)) is satisfies


def test_result_with_other_task_settings_does_not_satisfy(write_campaign, result_for_job):
    jobs = _plan(write_campaign(TWO_GROUPS)).todo
    batch1 = next(job for job in jobs if job.task_id == "text-gen" and job.settings.batch_size is None)
    batch4 = next(job for job in jobs if job.task_id == "text-gen" and job.settings.batch_size == 4
                  and job.model == batch1.model)
    assert campaigns.result_satisfies(batch1, result_for_job(batch1))
    assert not campaigns.result_satisfies(batch4, result_for_job(batch1))


@pytest.mark.parametrize("hardware, gpu_name, backend, matches", [
    ("h100", "NVIDIA H100 80GB HBM3", "nvml", True),
    ("h100-80gb", "NVIDIA H100 80GB HBM3", "nvml", True),
    ("h100", "NVIDIA H200", "nvml", False),
    ("a10", "NVIDIA A100-SXM4-80GB", "nvml", False),   # whole tokens: A10 is not A100
    ("a10", "NVIDIA A10", "nvml", True),
    ("rtx-4090", "NVIDIA GeForce RTX 4090", "nvml", True),
    ("gpu", "NVIDIA L4", "nvml", True),
    ("h100", "NVIDIA H100 80GB HBM3", "fake-nvml", False),  # a fake meter never satisfies a GPU job
    ("cpu", "cpu", "nvml", True),
    ("h100", "cpu", "nvml", False),
])
def test_hardware_matching(hardware, gpu_name, backend, matches):
    from harness.testing.synthetic import make_result

    result = make_result(gpu_name=gpu_name, meter_backend=backend)
    assert campaigns.hardware_matches(hardware, result) is matches


def test_invalid_results_do_not_count_as_done(write_campaign, tmp_path, result_for_job, file_result):
    path = write_campaign(TWO_GROUPS)
    results = tmp_path / "results"
    job = _plan(path).todo[0]
    written = file_result(results, result_for_job(job))
    data = json.loads(written.read_text())
    data["figures"]["gpu_energy_per_1k_queries_wh"]["mean"] *= 0.5  # a headline edited by hand
    written.write_text(json.dumps(data))
    planned = _plan(path, results)
    assert job.key in {j.key for j in planned.todo}
    assert len(planned.invalid_results) == 1 and "headline" in planned.invalid_results[0]
    assert "1 invalid result files ignored" in campaigns.summary(planned)


def test_results_are_matched_by_content_not_path(write_campaign, tmp_path, result_for_job):
    path = write_campaign(TWO_GROUPS)
    results = tmp_path / "results"
    job = _plan(path).todo[0]
    odd = results / "somewhere" / "else.json"
    odd.parent.mkdir(parents=True)
    odd.write_text(json.dumps(result_for_job(job).model_dump(mode="json")))
    assert job.key not in {j.key for j in _plan(path, results).todo}
    assert load_result(odd).run_id


def _many_jobs_campaign(write_campaign, count):
    models = "\n".join(f"      - org/model-{i:04d}" for i in range(count))
    return write_campaign(f"name: many\nhardware: [h100]\ngroups:\n  - tasks: [text-classification]\n"
                          f"    models:\n{models}\n")


def test_github_matrix_is_chunked_at_256(write_campaign):
    jobs = _plan(_many_jobs_campaign(write_campaign, 600)).todo
    chunks = scheduler_outputs.github_matrix_chunks(jobs)
    assert [len(chunk["include"]) for chunk in chunks] == [256, 256, 88]
    entries = [entry for chunk in chunks for entry in chunk["include"]]
    assert [entry["key"] for entry in entries] == [job.short_key for job in jobs]
    for entry, job in zip(entries, jobs):
        assert shlex.split(entry["args"]) == job.run_args()
        assert entry["hardware"] == "h100"
    lines = scheduler_outputs.github_output_lines(chunks).splitlines()
    assert lines[1] == "chunks=[0,1,2]" and lines[2] == "jobs=600"
    assert json.loads(lines[0].removeprefix("matrix=")) == chunks


def test_github_matrix_chunk_size_bounds(write_campaign):
    jobs = _plan(_many_jobs_campaign(write_campaign, 5)).todo
    assert [len(c["include"]) for c in scheduler_outputs.github_matrix_chunks(jobs, 2)] == [2, 2, 1]
    assert scheduler_outputs.github_matrix_chunks([], 256) == []
    for bad in (0, 257):
        with pytest.raises(ConfigError):
            scheduler_outputs.github_matrix_chunks(jobs, bad)


def test_job_arguments_are_accepted_by_harness_run(write_campaign):
    """Every option a job passes exists in `harness run` (parsed by the real CLI, stopped before running)."""
    from typer.main import get_command

    from harness.cli import build_app
    from harness.sweep import LIST_OPTIONS, sweep_settings

    run = get_command(build_app()).commands["run"]
    for job in _plan(write_campaign(TWO_GROUPS)).todo:
        context = run.make_context("run", list(job.run_args()), resilient_parsing=False)
        assert context.params["task"] == job.task and context.params["model"] == job.model.id
        # `harness run` reads its sweepable options as text (a comma list is a sweep): one value is one point.
        settings = sweep_settings({name: context.params[name] for name in LIST_OPTIONS}, {})
        assert settings.grid() == [settings] and settings.repeats == job.repeats


SAME_WORK_TYPED_TWICE = """\
name: typed-twice
hardware: [h100, cpu]
groups:
  - tasks: [text-gen, text_generation]
    models: [org/a]
    settings: [{}, {num_queries: 1000}, {set: {num_queries: 1000, generation.max_new_tokens: 10}}, {batch_size: 8},
               {preset: full}, {preset: smoke, repeats: 2}]
"""


def test_planner_and_runner_resolve_the_same_request_alike(write_campaign):
    from tests.ops.conftest import runner_resolution

    jobs = _plan(write_campaign(SAME_WORK_TYPED_TWICE)).todo
    repository_jobs = [job for path in sorted((REPO / "configs" / "campaigns").glob("*.yaml"))
                       for job in _plan(path).todo]
    for job in [*jobs, *repository_jobs]:
        assert runner_resolution(job) == job.resolved, job.name


def test_work_typed_differently_is_one_job(write_campaign):
    jobs = _plan(write_campaign(SAME_WORK_TYPED_TWICE)).todo
    # Per hardware: the default (= num_queries 1000 = the --set spelling), batch 8, smoke, and the full preset (the
    # same work with a 30 s idle baseline: another protocol). An alias of the task is the same task.
    assert sorted((job.hardware, job.resolved.spec.batch_size, job.resolved.spec.num_queries,
                   job.resolved.idle_seconds) for job in jobs) == [
        ("cpu", 1, 5, 1.0), ("cpu", 1, 1000, 1.0), ("cpu", 1, 1000, 30.0), ("cpu", 8, 1000, 1.0),
        ("h100", 1, 5, 1.0), ("h100", 1, 1000, 5.0), ("h100", 1, 1000, 30.0), ("h100", 8, 1000, 5.0)]
    default = next(job for job in jobs if job.hardware == "h100" and job.resolved.spec.batch_size == 1
                   and job.resolved.spec.num_queries == 1000)
    assert default.repeats == 3 and default.settings == campaigns.JobSettings()
    cpu_default = next(job for job in jobs if job.hardware == "cpu" and job.resolved.spec.num_queries == 1000
                       and job.resolved.spec.batch_size == 1)
    assert cpu_default.repeats == 1  # the CPU default, from the one resolution


SWEEP = """\
name: sweep
hardware: [h100]
defaults: {repeats: 3, batch_size: [1, 4]}
groups:
  - tasks: [image-gen]
    models: [org/sd]
    settings:
      - {batch_size: [1, 4, 16], set: {generation.num_inference_steps: [20, 50]}}
      - {}
"""


def test_a_sweep_expands_into_one_job_per_point(write_campaign):
    jobs = _plan(write_campaign(SWEEP)).todo
    points = sorted((job.resolved.spec.batch_size, job.resolved.spec.generation.num_inference_steps) for job in jobs)
    # 3 batch sizes x 2 step counts from the first variant; the second inherits the defaults' sweep of
    # batch 1 and 4 at the task's 30 steps.
    assert points == [(1, 20), (1, 30), (1, 50), (4, 20), (4, 30), (4, 50), (16, 20), (16, 50)]
    assert len({job.key for job in jobs}) == 8 and all(job.repeats == 3 for job in jobs)
    batch16 = next(job for job in jobs if job.resolved.spec.batch_size == 16
                   and job.resolved.spec.generation.num_inference_steps == 50)
    args = batch16.run_args()
    assert args[args.index("--batch-size") + 1] == "16"
    assert "generation.num_inference_steps=50" in args


@pytest.mark.parametrize("settings, message", [
    ("{batch_size: []}", "a sweep needs at least one value"),
    ("{batch_size: [1, 1]}", "lists a value twice"),
    ("{batch_size: [4, 0]}", "must be at least 1"),
    ("{set: {generation.num_inference_steps: []}}", "a sweep needs at least one value"),
])
def test_bad_sweeps_are_one_line_config_errors(write_campaign, settings, message):
    path = write_campaign(f"name: s\nhardware: [h100]\ngroups:\n  - tasks: [image-gen]\n    models: [m]\n"
                          f"    settings: [{settings}]\n")
    with pytest.raises(ConfigError, match=message) as caught:
        _plan(path)
    assert "\n" not in str(caught.value)
