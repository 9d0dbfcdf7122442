"""The `harness` command: one Typer app, one module per subcommand under `harness/commands/`.

`main()` is the console entry point. It turns every `HarnessError` into one line on stderr and the
error's exit code, and Ctrl-C (SIGINT) and SIGTERM into one line and exit 130 or 143, so a user never sees a
traceback for a mistake they can fix or a stop they asked for. Importing this module imports nothing but the
standard library: the app and its commands are imported inside `main`, after the signal handlers are in place,
so a Ctrl-C in a command's first half second (while Typer, rich and the commands load) is answered the same way.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable

SIGNAL_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""Exit codes of a command stopped by a signal: 128 + the signal's number, as a shell reports it."""


def build_app():
    import logging

    import typer

    from harness.commands import (
        campaign,
        compare,
        demo,
        env,
        export,
        importing,
        label,
        leaderboard,
        run,
        submission,
        tasks,
        validate,
    )

    # Each module defines `register(app)`; the order is the order of `harness --help`. Command modules import their
    # heavy libraries (torch, transformers) inside the command, so `harness --help` stays fast.
    command_modules = (run, demo, tasks, validate, env, leaderboard, label, export, campaign, submission, importing,
                       compare)
    app = typer.Typer(
        name="harness",
        help="Measure AI models' energy per 1000 queries on a standard workload, and publish the results.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        # Help is printed as written: rich markup would read `--set key=[a,b]` as a style tag and drop `[a,b]`.
        rich_markup_mode=None,
    )

    @app.callback()
    def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )

    for module in command_modules:
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


def stopped_line(signum: int | None) -> str:
    """What a stopped command says: by Ctrl-C or by SIGTERM (a scheduler's time limit, `kill`)."""
    if signum == signal.SIGTERM:
        return "error: terminated (SIGTERM); nothing was written"
    return "error: interrupted; nothing was written"


class _Signals:
    """While a command runs: SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (so every `finally`
    and clean-up runs: staging folders removed, worker processes killed), remembering which one came. A second
    signal during the clean-up is noted and ignored; a third ends the process at once."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.previous: dict[int, Callable | int | None] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNAL_EXIT_CODES:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            raise KeyboardInterrupt
        if len(self.received) >= 3:
            print(stopped_line(self.received[0]), file=sys.stderr, flush=True)
            os._exit(SIGNAL_EXIT_CODES[self.received[0]])

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    def exit_code(self, default: int = 130) -> int:
        return SIGNAL_EXIT_CODES.get(self.first, default)

    def __exit__(self, *_exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _no_temporary_folder() -> str | None:
    """Why no temporary folder is usable (torch needs one as it imports), else None."""
    try:
        tempfile.gettempdir()
    except OSError as problem:
        return str(problem)
    return None


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors end in one line on stderr and a non-zero exit."""
    with _Signals() as signals:
        try:
            sys.exit(_main(argv, signals))
        except KeyboardInterrupt:  # before the app was running (imports), or after it returned
            print(stopped_line(signals.first), file=sys.stderr)
            sys.exit(signals.exit_code())


def _main(argv: list[str] | None, signals: _Signals) -> int:
    from harness.errors import HarnessError, InterruptedRun

    no_temporary = _no_temporary_folder()
    try:
        import typer

        app = build_app()
        code = app(args=argv, standalone_mode=False)
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return signals.exit_code(error.exit_code) if isinstance(error, InterruptedRun) else error.exit_code
    except KeyboardInterrupt:
        print(stopped_line(signals.first), file=sys.stderr)
        return signals.exit_code()
    except typer.Exit as done:
        return done.exit_code
    except Exception as error:
        usage_error, abort = _click_exception_types()
        if isinstance(error, usage_error):  # a usage error: click's own message, one or two lines
            error.show()
            return error.exit_code
        if isinstance(error, abort):
            print("error: aborted", file=sys.stderr)
            return InterruptedRun.exit_code
        if no_temporary is not None:
            print(f"error: no writable temporary folder ({no_temporary}); set TMPDIR to a folder you can write in",
                  file=sys.stderr)
            return 1
        raise
    if code == InterruptedRun.exit_code:  # Typer turns Ctrl-C into this exit code before we see it
        print(stopped_line(signals.first), file=sys.stderr)
        return signals.exit_code()
    return code or 0
