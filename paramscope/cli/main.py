"""The ``paramscope`` command.  Thin commands; the work lives in the library.

Exit codes: 0 success, 1 a check found a mismatch, 2 bad input (one line on
stderr, no traceback).  Importing this module does not import torch.
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
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register_commands() -> None:
    from paramscope.cli import (analysis_commands, compare_commands,  # noqa: F401  (importing
                                spec_commands, sweep_commands)  # registers the commands)
    from paramscope.cli import perf_commands  # noqa: F401  (profile)


def fail(message: str, code: int = 2) -> "typer.Exit":
    """Print one line on stderr and return the Exit to raise."""
    typer.echo(f"paramscope: error: {' '.join(str(message).split())}", err=True)
    return typer.Exit(code)


def _click_exceptions():
    """click's exception module, or the copy newer typer releases vendor as ``typer._click``."""
    try:
        from typer._click import exceptions  # typer >= 0.20 vendors click
    except ImportError:
        from click import exceptions
    return exceptions


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turn every user error into one line and exit 2."""
    errors = _click_exceptions()
    _register_commands()
    try:
        code = app(args=argv, prog_name="paramscope", standalone_mode=False)
    except ParamscopeError as err:
        typer.echo(f"paramscope: error: {err}", err=True)
        code = 2
    except typer.Exit as exc:
        code = exc.exit_code
    except errors.ClickException as err:  # usage errors: unknown option, bad value ...
        typer.echo(f"paramscope: error: {' '.join(err.format_message().split())}", err=True)
        code = 2 if isinstance(err, errors.UsageError) else err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("paramscope: interrupted", err=True)
        code = 130
    except RecursionError:
        typer.echo("paramscope: error: input nests too deeply to analyse", err=True)
        code = 2
    except MemoryError:
        typer.echo("paramscope: error: out of memory; try a smaller --input or --measure none", err=True)
        code = 2
    except Exception as err:  # a bug: one line unless PARAMSCOPE_DEBUG asks for the traceback
        if os.environ.get("PARAMSCOPE_DEBUG"):
            raise
        typer.echo(f"paramscope: internal error: {type(err).__name__}: {' '.join(str(err).split())} "
                   "(set PARAMSCOPE_DEBUG=1 for the traceback)", err=True)
        code = 3
    sys.exit(code if isinstance(code, int) else 0)
