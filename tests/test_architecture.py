"""The package's shape, as docs/architecture.md states it: no import cycles, each package importing only what its
job allows, and the edges that must never come back asserted one by one. Read from the source: every import, at
module level or inside a function.

Which edges count, following what Python executes:

- `import a.b.c` runs `a`, `a.b` and `a.b.c`; `from a.b import x` runs `a` and `a.b`, then needs `a.b`'s attribute
  `x` (an edge to `a.b`) unless `x` is a submodule, which Python imports itself (an edge to `a.b.x`).
- A module's own parent packages are already running when it runs, so the implied runs of them are not edges;
  naming them is: `import harness` or `from harness import __version__` inside `harness.runner` is an edge to the
  package module `harness`, and an `__init__` importing its own submodule is an edge too.

The rules (`ALLOWED` and the `test_never_*` tests) read the edges a module names; the cycle test adds the parent
packages Python runs on the way (`leaderboard.site` importing `harness.results.schema` runs `harness.results`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "leaderboard")

TOP_LEVEL_MODULES = {"__init__", "__main__", "api", "cli", "errors", "files", "kinds", "provenance", "runner",
                     "sweep", "version"}
SUBPACKAGES = {"tasks", "engines", "workloads", "energy", "results", "ops", "testing", "commands", "published"}

SHARED = {"harness.errors", "harness.files", "harness.kinds"}
"""Modules every package may import (each of them has its own, narrower row below)."""

LIBRARY = {"harness.tasks", "harness.engines", "harness.workloads", "harness.energy", "harness.results", "harness.ops",
           "harness.provenance", "harness.version", "harness.published"}
"""The library packages: what the runner, the sweep and the API sequence (never the commands, the CLI, the
leaderboard or the `harness` facade)."""

ALLOWED: dict[str, set[str]] = {
    # docs/architecture.md's table: a module or package -> what it may import besides itself and SHARED.
    # `harness` is the facade (`harness/__init__.py`) only, never everything under it.
    "harness": {"harness.version", "harness.api"},  # the API lazily, inside __getattr__
    "harness.version": set(),
    "harness.kinds": set(),
    "harness.errors": set(),
    "harness.files": {"harness.errors"},
    "harness.tasks": set(),
    "harness.engines": {"harness.tasks"},
    "harness.workloads": {"harness.engines", "harness.tasks"},  # keyed by (engine, kind); no meter inside
    "harness.energy": set(),  # meters only: no workloads, no engines, no fake
    "harness.results": {"harness.tasks"},
    "harness.ops": {"harness.results", "harness.tasks", "harness.version"},
    "harness.published": {"harness.results", "harness.tasks"},  # others' published figures, never the runner
    "harness.testing": {"harness.results", "harness.tasks", "harness.workloads", "harness.version",
                        "harness.energy"},  # the fake NVML plugs into energy's backend table
    "harness.provenance": {"harness.energy", "harness.version"},
    "harness.runner": LIBRARY,
    "harness.sweep": LIBRARY | {"harness.runner"},
    "harness.api": LIBRARY | {"harness.runner"},
    "harness.commands": {"harness", "harness.commands", "harness.runner", "harness.sweep", "harness.api",
                         "harness.testing", "leaderboard"} | LIBRARY,
    "harness.cli": {"harness.commands"},
    "harness.__main__": {"harness.cli"},
    "leaderboard": {"harness.results", "harness.version", "harness.published"},  # others' figures, never rated
}



# ---- reading the imports -------------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _ancestors(name: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`]."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _import_nodes(tree: ast.AST, module_level_only: bool) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement; with `module_level_only`, those run when the module is imported (class bodies run,
    function bodies do not)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        for child in ast.iter_child_nodes(node):
            if module_level_only and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            stack.append(child)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def named_imports(module: str, source: str, modules: Iterable[str], is_package: bool = False,
                  module_level_only: bool = False) -> set[str]:
    """The modules of `modules` that `module`'s source names, as Python resolves them: `from a.b import x` is an
    edge to `a.b.x` when that is a module, else to `a.b` (its attribute `x`)."""
    modules = set(modules)
    found: set[str] = set()
    for node in _import_nodes(ast.parse(source), module_level_only):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        else:
            base = _absolute(module, is_package, node)
            for alias in node.names:
                submodule = f"{base}.{alias.name}" if base else alias.name
                found.add(submodule if submodule in modules else base)
    return {t for t in found if t in modules and t != module}


def executed_imports(module: str, named: Iterable[str], modules: Iterable[str]) -> set[str]:
    """`named` plus the parent packages Python runs to reach them, except `module`'s own (already running)."""
    modules, own = set(modules), set(_ancestors(module))
    implied = {a for target in named for a in _ancestors(target) if a in modules and a not in own and a != module}
    return set(named) | implied


def import_graph(sources: Mapping[str, str], packages: Iterable[str] = (), module_level_only: bool = False,
                 executed: bool = False) -> dict[str, set[str]]:
    """module -> the modules it imports, from each module's source (`packages`: the modules that are `__init__`s)."""
    packages = set(packages)
    graph = {name: named_imports(name, source, sources, name in packages, module_level_only)
             for name, source in sources.items()}
    if executed:
        graph = {name: executed_imports(name, targets, sources) for name, targets in graph.items()}
    return graph


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One import cycle (`[a, b, ..., a]`), or None when the graph is acyclic. Depth-first, without recursion."""
    state: dict[str, str] = {}
    for root in sorted(graph):
        if root in state:
            continue
        path, iterators = [root], [iter(sorted(graph.get(root, ())))]
        state[root] = "open"
        while iterators:
            target = next(iterators[-1], None)
            if target is None:
                state[path.pop()] = "done"
                iterators.pop()
            elif state.get(target) == "open":
                return path[path.index(target):] + [target]
            elif target not in state:
                state[target] = "open"
                path.append(target)
                iterators.append(iter(sorted(graph.get(target, ()))))
    return None


def path_to(graph: Mapping[str, Iterable[str]], start: str, goal) -> list[str] | None:
    """The shortest import chain from `start` to a module for which `goal(module)` holds, or None."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    for module in queue:
        for target in sorted(graph.get(module, ())):
            if target in previous:
                continue
            previous[target] = module
            if goal(target):
                chain = [target]
                while previous[chain[-1]] is not None:
                    chain.append(previous[chain[-1]])
                return chain[::-1]
            queue.append(target)
    return None


def _read_tree() -> tuple[dict[str, str], set[str]]:
    paths = {_module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}
    return ({name: path.read_text(encoding="utf-8") for name, path in paths.items()},
            {name for name, path in paths.items() if path.name == "__init__.py"})


SOURCES, PACKAGE_MODULES = _read_tree()
GRAPH = import_graph(SOURCES, PACKAGE_MODULES)
"""The edges each module names, anywhere in it."""
EXECUTED = import_graph(SOURCES, PACKAGE_MODULES, executed=True)
"""GRAPH plus the parent packages Python runs on the way: what a cycle is made of."""


def _within(module: str, area: str) -> bool:
    """`harness` is the facade module only; any other area is a module or a package with everything under it."""
    return module == area or (area != "harness" and module.startswith(area + "."))


def _in_any(module: str, areas: Iterable[str]) -> bool:
    return any(_within(module, area) for area in areas)


def _row(module: str) -> str | None:
    return max((area for area in ALLOWED if _within(module, area)), key=len, default=None)


def _modules_in(area: str) -> list[str]:
    return sorted(m for m in GRAPH if _within(m, area))


# ---- the detector itself -------------------------------------------------------------------------------------


def test_find_cycle_finds_a_known_cycle_and_passes_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None  # a diamond is no cycle
    assert find_cycle({}) is None


FACADE = """
from harness.version import __version__

def __getattr__(name):
    from harness import api
    return getattr(api, name)
"""


@pytest.mark.parametrize(("runner_import", "cycle"), [
    ("from harness import __version__", ["harness", "harness.api", "harness.runner", "harness"]),
    ("import harness", ["harness", "harness.api", "harness.runner", "harness"]),
    ("from harness.version import __version__", None),
])
def test_the_facade_cycle_is_found_through_a_lazy_import_and_a_parent_package(runner_import, cycle):
    sources = {"harness": FACADE, "harness.version": "__version__ = '1'",
               "harness.api": "def run():\n    from harness.runner import execute\n",
               "harness.runner": runner_import + "\n"}
    assert find_cycle(import_graph(sources, {"harness"}, executed=True)) == cycle


def test_a_package_importing_its_submodule_which_imports_a_sibling_through_it_is_no_cycle():
    # `from pkg import sibling` inside pkg.a needs pkg.sibling, not pkg's half-run __init__
    sources = {"pkg": "from pkg.a import f\n", "pkg.a": "from pkg import b\n", "pkg.b": ""}
    assert import_graph(sources, {"pkg"}) == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert find_cycle(import_graph(sources, {"pkg"}, executed=True)) is None
    # ... but taking a name the __init__ defines is an edge to it, and a cycle
    sources["pkg.a"] = "from pkg import VALUE\n"
    assert find_cycle(import_graph(sources, {"pkg"}, executed=True)) == ["pkg", "pkg.a", "pkg"]


def test_importing_a_module_runs_its_parent_packages():
    sources = {"lb": "", "lb.site": "import h.results.schema\n", "h": "", "h.results": "from h.ops import x\n",
               "h.results.schema": "", "h.ops": "def f():\n    import lb.site\n"}
    assert import_graph(sources, {"lb", "h", "h.results"})["lb.site"] == {"h.results.schema"}
    assert find_cycle(import_graph(sources, {"lb", "h", "h.results"}, executed=True)) == [
        "h.ops", "lb.site", "h.results", "h.ops"]


def test_relative_imports_are_resolved():
    sources = {"p": "from . import a\n", "p.a": "from .b import x\nfrom .. import q\n", "p.b": "", "q": ""}
    assert import_graph(sources, {"p"}) == {"p": {"p.a"}, "p.a": {"p.b", "q"}, "p.b": set(), "q": set()}


# ---- the tree ------------------------------------------------------------------------------------------------


def test_no_import_cycles():
    cycle = find_cycle(EXECUTED)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_harness_holds_only_its_packages_and_the_few_top_level_modules():
    entries = {p.stem for p in (REPO / "harness").iterdir() if p.suffix == ".py"}
    folders = {p.name for p in (REPO / "harness").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert entries <= TOP_LEVEL_MODULES
    assert folders == SUBPACKAGES


def test_every_module_has_a_row_in_the_table():
    assert [m for m in sorted(GRAPH) if _row(m) is None] == []


@pytest.mark.parametrize("area", sorted(ALLOWED))
def test_each_package_imports_only_what_its_job_allows(area):
    allowed = ALLOWED[area] | {area} | (SHARED if area not in SHARED | {"harness.version"} else set())
    bad = [f"{module} imports {target}" for module in _modules_in(area) if _row(module) == area
           for target in sorted(GRAPH[module]) if not _in_any(target, allowed)]
    assert bad == [], f"{area} may import only {sorted(allowed)}"


# ---- the edges that must never come back ----------------------------------------------------------------------

ENGINE_LIBRARIES = ("torch", "transformers", "diffusers", "accelerate", "vllm", "optimum")


def _third_party(module: str) -> set[str]:
    tree = ast.parse(SOURCES[module])
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
              and node.level == 0}
    return {name.split(".")[0] for name in names}


def _reaches(area: str, forbidden: Iterable[str]) -> list[str]:
    """Each chain of imports from a module of `area` to a forbidden one (empty when none)."""
    forbidden = tuple(forbidden)
    chains = (path_to(GRAPH, module, lambda m: _in_any(m, forbidden)) for module in _modules_in(area))
    return [" -> ".join(chain) for chain in chains if chain]


def test_never_energy_to_workloads_testing_or_engines():
    chains = _reaches("harness.energy", ["harness.workloads", "harness.testing", "harness.engines"])
    engines = [f"{m} imports {sorted(_third_party(m) & set(ENGINE_LIBRARIES))}" for m in _modules_in("harness.energy")
               if _third_party(m) & set(ENGINE_LIBRARIES)]
    assert chains + engines == [], ("harness.energy measures, nothing else: it imports nothing from "
                                    "harness.workloads, harness.testing or any engine code")


@pytest.mark.parametrize("area", ["leaderboard", "harness.ops"])
def test_never_leaderboard_or_ops_to_the_runner_the_api_the_sweep_or_the_facade(area):
    chains = _reaches(area, ["harness.runner", "harness.api", "harness.sweep", "harness"])
    assert chains == [], (f"{area} reads and writes result files: it never reaches harness.runner, harness.api, "
                          "harness.sweep or the harness facade (the version comes from harness.version)")


def test_never_results_to_run_resolution_or_energy():
    chains = _reaches("harness.results", ["harness.tasks.resolution", "harness.energy"])
    assert chains == [], ("harness.results imports nothing from harness.tasks.resolution or harness.energy: "
                          "constants both need live in harness.kinds")


def test_never_workloads_to_energy():
    chains = _reaches("harness.workloads", ["harness.energy"])
    assert chains == [], "harness.workloads runs batches and never imports harness.energy (the runner holds the meter)"


def test_never_the_api_but_from_the_facade_the_commands_or_the_cli():
    importers = sorted(m for m, targets in GRAPH.items() if "harness.api" in targets)
    assert [m for m in importers if not _in_any(m, ["harness", "harness.commands", "harness.cli"])] == [], (
        "only harness/__init__.py (lazily), harness.commands and harness.cli import harness.api")


def test_never_more_than_the_version_in_the_facade_at_import():
    at_import = named_imports("harness", SOURCES["harness"], SOURCES, is_package=True, module_level_only=True)
    assert at_import <= {"harness.version"}, ("harness/__init__.py imports at most harness.version when it runs "
                                               "(the API on first use), so `import harness` stays light")


def test_only_the_cli_imports_the_commands():
    for module, targets in GRAPH.items():
        if _in_any(module, ["harness.commands", "harness.cli"]):
            continue
        assert not any(_within(t, "harness.commands") for t in targets), module


VENDOR_MODULES = {"pynvml": {"harness.energy.nvidia", "harness.testing.fake_nvml"},
                  "amdsmi": {"harness.energy.amd", "harness.testing.fake_amdsmi"}}
"""Each vendor's library, and the modules that may call it: its backend, and the fake standing in for it."""


@pytest.mark.parametrize("library", sorted(VENDOR_MODULES))
def test_only_a_vendors_backend_talks_to_its_library(library):
    callers = sorted(module for module in SOURCES if library in _third_party(module))
    assert set(callers) <= VENDOR_MODULES[library], f"only {sorted(VENDOR_MODULES[library])} import {library}"


def test_the_meter_reaches_gpus_only_through_the_device_interface():
    vendor_backends = {module for modules in VENDOR_MODULES.values() for module in modules}
    for module in _modules_in("harness.energy"):
        if module in vendor_backends or module in ("harness.energy.backends", "harness.energy"):
            continue  # the table that picks a vendor, and the package naming it
        named = GRAPH[module] & vendor_backends
        assert not named, f"{module} imports {sorted(named)}: only harness.energy.backends names a vendor's module"


def test_only_an_engine_runs_a_model_library():
    """torch and the model libraries are the engines' and the workloads' (which run a kind on an engine); the
    runner, results, leaderboard and ops reach them only through an engine."""
    for module in SOURCES:
        if _in_any(module, ["harness.engines", "harness.workloads", "harness.testing"]):
            continue
        used = _third_party(module) & {"transformers", "diffusers", "accelerate", "vllm", "sglang"}
        assert not used, f"{module} imports {sorted(used)}: load and run models through harness.engines"
