"""Property-based fuzzing (Hypothesis): mutated result files and task files never crash the harness.

Each example starts from a valid file, applies a few drawn mutations (a value replaced by a hostile one: huge
or non-finite numbers, control characters, deep nesting, wrong types; a key dropped; the text cut short or
spliced with bytes), and runs the real `validate`, `collect`, `leaderboard build` and `label` on it. The only
exceptions allowed are the harness's own `HarnessError`s; each example must also finish within a time and a
memory bound. Derandomised, so CI runs the same examples every time.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import HarnessError
from harness.ops.collect import collect
from harness.ops.validation import validate_paths
from harness.tasks.registry import load_task_file
from harness.testing.synthetic import make_result
from leaderboard.site import build_site
from tests.cli_helpers import run_cli

MEMORY_BOUND_BYTES = 256 * 1024**2
FUZZ = settings(max_examples=60, deadline=10_000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.sampled_from([10**400, -(10**30), 2**63, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(["=HYPERLINK(\"x\")", "a\x01b", "x" * 400, "../../etc", "org/model!", ""]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.integers(min_value=50, max_value=3000).map(lambda depth: _nested(depth)),
)


def _nested(depth: int):
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def _paths(node, prefix=()):
    """Paths to values in a JSON-like tree, at most 8 deep (a drawn deep value is not walked into)."""
    yield prefix
    if len(prefix) >= 8:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:4]):
            yield from _paths(value, (*prefix, index))


def _replace(tree, path, value, drop=False):
    if not path:
        return value
    node = tree
    for key in path[:-1]:
        node = node[key]
    if drop and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return tree


def _dumps(data) -> str:
    """JSON text, with non-finite floats spelled as Python's json does (NaN, Infinity): hostile on purpose."""
    return json.dumps(data, allow_nan=True, default=str)


@st.composite
def mutated_text(draw, base: dict, dump) -> bytes:
    data = json.loads(json.dumps(base))
    paths = list(_paths(data))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths))
        data = _replace(data, path, draw(HOSTILE_VALUES), drop=draw(st.booleans()))
        paths = list(_paths(data)) or [()]
    try:
        text = dump(data).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError, yaml.YAMLError):
        text = b"{}"
    cut = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=len(text))))
    if cut is not None:
        text = text[:cut] + draw(st.binary(max_size=8))
    return text


def _bounded(call):
    """Run `call`; only HarnessError may escape; within the memory bound."""
    tracemalloc.start()
    try:
        with contextlib.suppress(HarnessError):
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND_BYTES, f"{peak / 1024**2:.0f} MiB"


RESULT = make_result(seed=1).model_dump(mode="json")


@pytest.fixture
def work(tmp_path):
    def fresh() -> Path:
        folder = tmp_path / "w"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        return folder
    return fresh


@FUZZ
@given(text=mutated_text(RESULT, _dumps))
def test_mutated_result_files_never_crash(text, work, capsys):
    folder = work()
    results = folder / "results"
    results.mkdir()
    path = results / "fuzzed.json"
    path.write_bytes(text)
    good = results / "good.json"
    good.write_text(json.dumps(make_result(seed=2).model_dump(mode="json")))

    statuses = validate_paths([results])
    assert len(statuses) == 2 and all(s.messages or s.valid for s in statuses)
    _bounded(lambda: collect([path], folder / "collected"))
    report = None

    def build():
        nonlocal report
        report = build_site(results, folder / "site", workers=1, releases_dir=folder / "releases")

    _bounded(build)
    assert report is not None and report.num_runs >= 1  # the good file is always shown: one file never stops it
    code = run_cli("label", str(path), "--out", str(folder / "label.svg"), "--releases-dir", str(folder / "r"))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and isinstance(code, int)
    if code == 0:
        import xml.dom.minidom

        xml.dom.minidom.parse(str(folder / "label.svg"))  # the SVG is well-formed XML whatever the ids hold


TASK = yaml.safe_load((Path(__file__).parents[2] / "tasks" / "text-gen.yaml").read_text())


def _yaml(data) -> str:
    return yaml.safe_dump(data, allow_unicode=True)


@FUZZ
@given(text=mutated_text(TASK, _yaml))
def test_mutated_task_files_never_crash(text, work):
    folder = work()
    path = folder / "task.yaml"
    path.write_bytes(text)
    statuses = validate_paths([path])
    assert len(statuses) == 1
    _bounded(lambda: load_task_file(path))



JSON_TREES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=3), children,
                                                                              max_size=4)),
    max_leaves=40,
)


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(tree=JSON_TREES, max_depth=st.integers(min_value=1, max_value=6),
       max_nodes=st.integers(min_value=1, max_value=60))
def test_the_fast_bounds_walk_gives_check_trees_verdict(tree, max_depth, max_nodes):
    """`loads_json_bounded` trusts the level-by-level walk on what pydantic parsed; it must refuse exactly what
    `check_tree` refuses (depth, value count, non-finite floats, 64-bit ints), here under small bounds."""
    import harness.files as files

    saved = files.MAX_DEPTH, files.MAX_NODES
    files.MAX_DEPTH, files.MAX_NODES = max_depth, max_nodes
    try:
        try:
            files.check_tree(tree, "x")
            expected = True
        except HarnessError:
            expected = False
        assert files._parsed_within_bounds(tree) is expected
    finally:
        files.MAX_DEPTH, files.MAX_NODES = saved
