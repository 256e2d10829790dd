"""The ``paramscope`` command.  Thin commands; the work lives in the library.

Exit codes: 0 success, 1 a check found a mismatch, 2 bad input (one line on
stderr, no traceback), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Every message goes through :func:`say`, which keeps it on one printable line
even when formatting it fails.  Importing this module does not import torch.
"""

from __future__ import annotations

import os
import sys

import typer

from paramscope.cli.app import app, fail, package_version, say  # noqa: F401  (re-exported)
from paramscope.errors import ParamscopeError

def _register_commands() -> None:
    """Import the command modules: each registers its commands on ``app`` (Typer's pattern;
    they import ``app`` from :mod:`paramscope.cli.app`, never this module)."""
    from paramscope.cli import (analysis_commands, compare_commands,  # noqa: F401  (importing
                                spec_commands, sweep_commands)  # registers the commands)
    from paramscope.cli import perf_commands  # noqa: F401  (profile)


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so ``finally`` blocks (temp files) run."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def _click_exceptions():
    """click's exception module, or the copy newer typer releases vendor as ``typer._click``."""
    try:
        from typer._click import exceptions  # typer >= 0.20 vendors click
    except ImportError:
        from click import exceptions
    return exceptions


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turn every user error into one line and exit 2."""
    import gc
    import signal
    import warnings

    gc.set_threshold(100_000, 50, 100)  # 100,000-layer graphs: fewer full collections (linear time)

    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (tests calling main() from a thread)
        previous = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # user code's warnings become report notes (sandbox)
            code = _run(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(code)


def _run(argv: list[str] | None) -> int:
    """Run the app; every way it can end becomes an exit code and at most one stderr line."""
    try:
        _register_commands()
        code = app(args=argv, prog_name="paramscope", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into a silent Exit(130)
            say("", "interrupted")
    except ParamscopeError as err:
        say("error: ", err)
        code = 2
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        say("", "interrupted")
        code = 130
    except Terminated:
        say("", "terminated")
        code = 143
    except RecursionError:
        say("error: ", "input nests too deeply to analyse")
        code = 2
    except MemoryError:
        say("error: ", "out of memory; try a smaller --input or --measure none")
        code = 2
    except BrokenPipeError:  # `paramscope ... | head`: the reader left; exit like SIGPIPE would
        _silence_stdout()
        code = 141
    except SystemExit as exc:  # paramscope never calls sys.exit inside the app: user code did
        if _after_broken_pipe(exc):  # click turns a closed stdout (`| head`) into sys.exit(1)
            _silence_stdout()
            return 141
        if _raised_by_typer(exc):  # shell completion (--show-completion, TAB) ends with sys.exit
            return exc.code if isinstance(exc.code, int) else 0
        say("error: ", f"code run for this command called sys.exit({exc.code})")
        code = 2
    except Exception as err:  # noqa: BLE001
        if _is_click_error(err):  # usage errors: unknown option, bad value ...
            say("error: ", err.format_message())
            code = 2 if isinstance(err, _click_exceptions().UsageError) else err.exit_code
        else:  # a bug: one line unless PARAMSCOPE_DEBUG asks for the traceback
            if os.environ.get("PARAMSCOPE_DEBUG"):
                raise
            from paramscope.sandbox import safe_text

            say("internal error: ", f"{type(err).__name__}: {safe_text(err)} "
                                    "(set PARAMSCOPE_DEBUG=1 for the traceback)")
            code = 3
    except BaseException:  # noqa: BLE001  (anything else raised by user code)
        say("error: ", "interrupted by an unexpected exception")
        code = 2
    return code if isinstance(code, int) else 0


def _after_broken_pipe(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while handling a closed pipe on stdout."""
    import errno

    seen = exc.__context__
    while seen is not None:
        if isinstance(seen, BrokenPipeError) or (isinstance(seen, OSError) and seen.errno == errno.EPIPE):
            return True
        seen = seen.__context__
    return False


def _raised_by_typer(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside typer or click themselves (their shell-completion code
    calls sys.exit), not by user code run for a command."""
    tb, module = exc.__traceback__, ""
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        tb = tb.tb_next
    return module.split(".")[0] in ("typer", "click")


def _is_click_error(err: BaseException) -> bool:
    return isinstance(err, _click_exceptions().ClickException)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
