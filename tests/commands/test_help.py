"""Every command's `--help` prints every help text as it is written: nothing is read as markup and dropped (rich
markup once turned `--set key=[a,b] sweeps it` into `key= sweeps it`)."""

from __future__ import annotations

import re

import pytest

from tests.cli_helpers import run_cli_captured as run_cli


def _commands() -> list[tuple[tuple[str, ...], object]]:
    """(the words that name it, its click command) for every command and subcommand of `harness`."""
    from typer.main import get_command

    from harness.cli import build_app

    found = []

    def walk(words: tuple[str, ...], command) -> None:
        found.append((words, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk((*words, name), sub)

    walk((), get_command(build_app()))
    return found


COMMANDS = _commands()


def _bare(text: str) -> str:
    """Text without whitespace: help is wrapped to the terminal, anywhere between words (or after a hyphen)."""
    return re.sub(r"\s+", "", text)


def test_every_command_is_checked():
    names = {" ".join(words) for words, _ in COMMANDS}
    assert {"run", "demo", "validate", "leaderboard build", "label", "plan"} <= names


@pytest.mark.parametrize("words", [words for words, _ in COMMANDS], ids=lambda words: " ".join(words) or "harness")
def test_help_prints_every_help_text_as_written(words, capsys):
    command = dict(COMMANDS)[words]
    code, out, err = run_cli(capsys, *words, "--help")
    assert code == 0, err
    shown = _bare(out)
    texts = [getattr(param, "help", None) for param in command.params]
    texts.append((command.help or "").split("\n\n")[0])
    for text in filter(None, texts):
        assert _bare(text) in shown, f"`harness {' '.join(words)} --help` does not show {text!r}"
    assert "[/" not in out and "\x1b[" not in out  # no markup, no terminal styling in plain help


def test_the_sweep_syntax_survives_in_run_help(capsys):
    _, out, _ = run_cli(capsys, "run", "--help")
    assert "key=[a,b]" in _bare(out)
