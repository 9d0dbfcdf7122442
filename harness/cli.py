"""The `harness` command: one Typer app, one module per subcommand under `harness/commands/`.

`main()` is the console entry point. It turns every `HarnessError` into one line on stderr and the
error's exit code, and Ctrl-C into exit 130, so a user never sees a traceback for a mistake they can fix.
"""

from __future__ import annotations

import logging
import sys

import typer

from harness.commands import campaign, demo, env, export, label, leaderboard, run, submission, tasks, validate
from harness.errors import HarnessError, InterruptedRun

COMMAND_MODULES = (run, demo, tasks, validate, env, leaderboard, label, export, campaign, submission)
"""Each module defines `register(app)`; the order is the order of `harness --help`. Command modules import
their heavy libraries (torch, transformers) inside the command, so `harness --help` stays fast."""


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="harness",
        help="Measure AI models' energy per 1000 queries on a standard workload, and publish the results.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )

    for module in COMMAND_MODULES:
        module.register(app)
    return app


def _click_exception_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """Usage-error and abort classes of click and of Typer (newer Typer releases vendor their own click)."""
    import importlib

    usage: list[type] = []
    abort: list[type] = []
    for module_name in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        usage += [cls for cls in (getattr(module, "ClickException", None),) if cls is not None]
        abort += [cls for cls in (getattr(module, "Abort", None),) if cls is not None]
    return tuple(usage), tuple(abort)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors end in one line on stderr and a non-zero exit."""
    app = build_app()
    try:
        code = app(args=argv, standalone_mode=False)
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        sys.exit(InterruptedRun.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as error:
        usage_error, abort = _click_exception_types()
        if isinstance(error, usage_error):  # a usage error: click's own message, one or two lines
            error.show()
            sys.exit(error.exit_code)
        if isinstance(error, abort):
            print("error: aborted", file=sys.stderr)
            sys.exit(InterruptedRun.exit_code)
        raise
    if code == InterruptedRun.exit_code:  # Typer turns Ctrl-C into this exit code before we see it
        print("error: interrupted; nothing was written", file=sys.stderr)
    sys.exit(code or 0)
