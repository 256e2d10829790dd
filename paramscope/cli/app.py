"""The Typer app every command registers on, and the one-line messages commands print.

Command modules (``*_commands.py``) import ``app`` and ``fail`` from here; only
:mod:`paramscope.cli.main` imports the command modules, so the package has no cycle.
Importing this module does not import torch.
"""

from __future__ import annotations

import sys

import typer

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
