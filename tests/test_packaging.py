"""Packaging: the shipped task and preset files, outputs outside the installed package, a true commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import harness
from harness import provenance
from harness.tasks import registry
from harness.tasks.registry import data_folder
from leaderboard import rating

REPO = Path(__file__).resolve().parents[1]


def test_a_checkout_reads_its_own_task_and_preset_folders(monkeypatch):
    monkeypatch.delenv("HARNESS_TASKS_DIR", raising=False)
    monkeypatch.delenv("HARNESS_CONFIGS_DIR", raising=False)
    assert data_folder("HARNESS_TASKS_DIR", "tasks") == REPO / "tasks"
    assert data_folder("HARNESS_CONFIGS_DIR", "configs") == REPO / "configs"


def test_an_installed_package_reads_the_files_shipped_inside_it(tmp_path, monkeypatch):
    """Laid out as a wheel installs it: no checkout above the package, the files under harness/_data."""
    monkeypatch.delenv("HARNESS_TASKS_DIR", raising=False)
    site = tmp_path / "site-packages"
    (site / "harness" / "tasks").mkdir(parents=True)
    (site / "harness" / "_data" / "tasks").mkdir(parents=True)
    (site / "harness" / "_data" / "tasks" / "text-gen.yaml").write_text((REPO / "tasks" / "text-gen.yaml").read_text())
    monkeypatch.setattr(registry, "__file__", str(site / "harness" / "tasks" / "registry.py"))
    monkeypatch.setattr(registry.importlib.resources, "files", lambda package: site / package)
    assert data_folder("HARNESS_TASKS_DIR", "tasks") == site / "harness" / "_data" / "tasks"
    assert [spec.id for spec in registry.list_tasks()] == ["text-gen"]


def test_setup_ships_every_task_and_preset_folder():
    setup_text = (REPO / "setup.py").read_text()
    assert '"harness._data.tasks": "tasks"' in setup_text
    assert '"harness._data.configs.presets": "configs/presets"' in setup_text


def test_releases_go_to_the_working_directory_not_the_package():
    assert not rating.RELEASES_DIR.is_absolute()
    assert Path(rating.__file__).resolve().parent not in (Path.cwd() / rating.RELEASES_DIR).resolve().parents \
        or Path.cwd().resolve() == REPO.resolve()


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_the_commit_is_never_that_of_the_repository_the_harness_is_installed_in(tmp_path, monkeypatch):
    """A harness installed in site-packages inside a user's own repository reports no commit of that repository."""
    user_repo = tmp_path / "my-project"
    (user_repo / ".venv" / "lib" / "site-packages" / "harness").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(user_repo)], check=True)
    (user_repo / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    _git(user_repo, "add", "pyproject.toml")
    subprocess.run(["git", "-C", str(user_repo), "-c", "user.name=x", "-c", "user.email=x@y", "commit", "-qm", "x"],
                   check=True)
    monkeypatch.delenv("HARNESS_GIT_SHA", raising=False)
    monkeypatch.setattr(provenance, "__file__", str(user_repo / ".venv" / "lib" / "site-packages" / "harness" /
                                                    "provenance.py"))
    monkeypatch.setattr(provenance, "build_commit", lambda: None)
    assert provenance.git_sha() is None
    monkeypatch.setattr(provenance, "build_commit", lambda: "abc123")
    assert provenance.git_sha() == "abc123"


def test_a_checkout_reports_its_own_commit(monkeypatch):
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    monkeypatch.delenv("HARNESS_GIT_SHA", raising=False)
    assert provenance.git_sha().removesuffix("-dirty") == _git(REPO, "rev-parse", "HEAD")


def test_version_is_the_installed_distributions():
    import importlib.metadata

    assert harness.__version__ == importlib.metadata.version("ai-energy-harness")


def test_pyproject_declares_what_the_code_imports_and_a_license():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    def names(requirements):
        return {r.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip() for r in requirements}

    assert {"huggingface_hub", "accelerate", "diffusers", "datasets", "torch"} <= names(
        project["optional-dependencies"]["run"])
    assert not {"torch", "transformers", "diffusers"} & names(project["dependencies"])  # the light install
    assert project["license"] == "Apache-2.0"
    assert (REPO / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert "License :: OSI Approved :: Apache Software License" not in project["classifiers"]  # SPDX instead


def test_the_light_install_says_in_one_line_what_running_needs(monkeypatch, capsys, tmp_path):
    """Without the `run` extra (no torch), `harness run` and `harness demo` end in one `error:` line."""
    import importlib.util

    from tests.cli_helpers import run_cli

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else
                        real_find_spec(name, *a))
    for args in (["run", "--task", "text-gen", "--model", "x", "--device", "cpu"],
                 ["demo", "--results-dir", str(tmp_path / "demo")]):
        assert run_cli(*args) == 2
        err = capsys.readouterr().err
        assert err.count("error:") == 1 and "ai-energy-harness[run]" in err and "Traceback" not in err
    assert not (tmp_path / "demo").exists()


def test_requirements_cpu_names_pytorchs_cpu_index_and_a_pin_the_cpu_build_satisfies():
    """pip reads the index from the file on any machine; `torch==X` takes the index's `X+cpu`, which PEP 440
    sorts above PyPI's CUDA `X` (and macOS, whose CPU wheels carry no local label, gets plain `X`)."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    lines = [line.strip() for line in (REPO / "requirements-cpu.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    (torch,) = [Requirement(line) for line in lines if not line.startswith("-")]
    pinned = Version(next(iter(torch.specifier)).version)
    cpu_build = Version(f"{pinned}+cpu")
    assert torch.name == "torch" and torch.specifier.contains(cpu_build) and cpu_build > pinned
    tomllib = pytest.importorskip("tomllib")
    run_extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["run"]
    declared = next(Requirement(r) for r in run_extra if r.startswith("torch"))
    assert declared.specifier.contains(pinned)
    assert 'PIP_RETRIES="${PIP_RETRIES:-1}"' in (REPO / ".ci" / "run").read_text()
