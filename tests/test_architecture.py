"""The package's shape, as docs/architecture.md states it: no import cycles, and each package imports only
what its job allows. Read from the source (every import, at module level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "leaderboard")

TOP_LEVEL_MODULES = {"__init__", "__main__", "api", "cli", "errors", "files", "kinds", "provenance", "runner",
                     "sweep"}
SUBPACKAGES = {"tasks", "workloads", "energy", "results", "ops", "testing", "commands"}

ALLOWED = {
    # package: harness packages it may import (beyond errors, files, kinds, which everyone may use)
    "harness.energy": {"harness.energy", "harness.testing.fake_nvml"},  # the fake, only for HARNESS_FAKE_NVML
    "harness.tasks": {"harness.tasks"},
    "harness.results": {"harness.results", "harness.tasks"},
    "harness.workloads": {"harness.workloads", "harness.energy", "harness.tasks"},
    "harness.ops": {"harness", "harness.ops", "harness.results", "harness.tasks"},
    "harness.testing": {"harness.testing", "harness", "harness.results", "harness.tasks", "harness.workloads"},
    "harness.provenance": {"harness.energy"},
    "leaderboard": {"leaderboard", "harness", "harness.results"},
}
SHARED = {"harness.errors", "harness.files", "harness.kinds"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    modules = {_module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


GRAPH = _imports()


def test_no_import_cycles():
    state: dict[str, str] = {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if target.startswith(module + ".") or module.startswith(target + "."):
                continue  # a package and its own modules
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target] if target in stack else [module, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*stack, target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_harness_holds_only_its_packages_and_the_few_top_level_modules():
    entries = {p.stem for p in (REPO / "harness").iterdir() if p.suffix == ".py"}
    folders = {p.name for p in (REPO / "harness").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert entries <= TOP_LEVEL_MODULES
    assert folders == SUBPACKAGES


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_its_job_allows(package):
    allowed = ALLOWED[package] | SHARED
    for module, targets in GRAPH.items():
        if module != package and not module.startswith(package + "."):
            continue
        for target in targets:
            if not target.startswith(("harness", "leaderboard")):
                continue
            owner = next((a for a in sorted(allowed, key=len, reverse=True)
                          if target == a or target.startswith(a + ".")), None)
            if owner == "harness" and target != "harness":
                owner = None  # `harness` itself (its version), not everything under it
            assert owner is not None, f"{module} imports {target}"


def test_only_the_cli_imports_the_commands():
    for module, targets in GRAPH.items():
        if module.startswith("harness.commands") or module == "harness.cli":
            continue
        assert not any(t.startswith("harness.commands") for t in targets), module


def test_only_energy_talks_to_nvml():
    for path in [p for package in PACKAGES for p in (REPO / package).rglob("*.py")]:
        name = _module_name(path)
        if name.startswith(("harness.energy", "harness.testing")):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert "pynvml" not in imported, name
