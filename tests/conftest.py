"""Shared test helpers: run the CLI in-process, write specs to tmp_path."""

from __future__ import annotations

import io
import textwrap
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()

    def __iter__(self):  # code, out, err = run_cli(...)
        return iter((self.code, self.out, self.err))


def run_cli(*args: str) -> CliResult:
    """Run ``paramscope ARGS`` in this process; return exit code, stdout and stderr."""
    from paramscope.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def cli():
    """``cli("show", "resnet50")`` -> CliResult(code, out, err); stateless, session-wide."""
    return run_cli


@pytest.fixture
def write_spec(tmp_path):
    """``write_spec(text, name="spec.yaml")`` -> Path of the dedented text in tmp_path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
