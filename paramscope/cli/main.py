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

from paramscope.errors import ParamscopeError

app = typer.Typer(
    name="paramscope",
    help="Parameters, MACs and FLOPs of PyTorch networks: derived by formula, measured by "
         "torchinfo, fvcore and FlopCounterMode, reconciled layer by layer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def package_version() -> str:
    """paramscope's version from the installed package metadata (the source's ``__version__``
    when paramscope runs from a checkout that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paramscope")
    except PackageNotFoundError:
        from paramscope import __version__
        return __version__


def _print_version(value: bool) -> None:
    """``--version``: print ``paramscope X.Y.Z`` and stop (eager, so no command is needed)."""
    if value:
        typer.echo(f"paramscope {package_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", help="Print paramscope's version and exit.",
                                       callback=_print_version, is_eager=True)) -> None:
    """Parameters, MACs and FLOPs of PyTorch networks: derived by formula, measured by torchinfo,
    fvcore and FlopCounterMode, reconciled layer by layer."""


def _register_commands() -> None:
    from paramscope.cli import (analysis_commands, compare_commands,  # noqa: F401  (importing
                                spec_commands, sweep_commands)  # registers the commands)
    from paramscope.cli import perf_commands  # noqa: F401  (profile)


def say(prefix: str, message) -> None:
    """Print ``paramscope: PREFIX MESSAGE`` as one printable line on stderr, whatever happens
    while formatting ``message`` (a broken ``__str__``, MemoryError, a lone surrogate)."""
    from paramscope.sandbox import safe_text

    line = f"paramscope: {prefix}{safe_text(message)}"
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001  (stderr closed or unencodable: nothing more to do)
        pass


def fail(message: str, code: int = 2) -> "typer.Exit":
    """Print one line on stderr and return the Exit to raise."""
    say("error: ", message)
    return typer.Exit(code)


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
        errors = _click_exceptions()
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
