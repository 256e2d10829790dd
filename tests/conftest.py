"""Shared test helpers: run the CLI in-process, write specs to tmp_path."""

from __future__ import annotations

import io
import os
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


ROOT = Path(__file__).resolve().parent.parent


def fresh_python(code: str, *args: str, timeout: int = 300):
    """Run ``code`` in a fresh interpreter (nothing imported yet) with this checkout importable."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=timeout)


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


# --------------------------------------------------------------------------- profiles, markers
# Hypothesis profiles: ``dev`` (fast, the default outside CI), ``ci`` (the default when CI is
# set) and ``deep`` (10x the examples).  Choose with ``pytest --hypothesis-profile=deep``.
# Tests that fix their own example count scale it with :func:`examples`.
from hypothesis import HealthCheck, settings  # noqa: E402

_SCALE = {"dev": 0.1, "ci": 1.0, "deep": 10.0}
for _name in _SCALE:
    settings.register_profile(_name, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def examples(n: int) -> int:
    """``n`` examples in the ``ci`` profile, scaled for ``dev`` (÷10) and ``deep`` (×10)."""
    name = settings.get_current_profile_name()
    return max(5, int(n * _SCALE.get(name, 1.0)))


def pytest_collection_modifyitems(config, items):
    """``property`` marks every hypothesis test; ``slow`` the long ones (see SLOW)."""
    for item in items:
        func = getattr(item, "obj", None)
        if getattr(func, "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)
        path = item.nodeid.split("::")[0].rpartition("/")[2]
        if path in SLOW_FILES or any(item.nodeid.startswith(p) for p in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)
        if path in TORCHVISION_FILES:
            item.add_marker(pytest.mark.torchvision)
        if path in HF_FILES:
            item.add_marker(pytest.mark.hf)


#: test files and tests that take seconds each (``pytest -m "not slow"`` skips them).
SLOW_FILES = {"test_hostile.py", "test_scale.py", "test_torchvision_alignment.py",
              "test_torchvision_measure.py"}
SLOW_TESTS: tuple[str, ...] = ()
#: files of cross-checks against real model code (skipped when the package is missing)
TORCHVISION_FILES = {"test_torchvision_alignment.py", "test_torchvision_measure.py", "test_depth_torchvision.py",
                     "test_zoo_torchvision.py"}
HF_FILES = {"test_hf.py"}


FFT_NET = ("import torch\nfrom torch import nn\n"
           "class FFTNet(nn.Module):\n"
           "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(3, 4, 3)\n"
           "    def forward(self, x):\n        return torch.fft.rfft2(self.conv(x)).real\n"
           "def build():\n    return FFTNet()\n")


@pytest.fixture
def fft_factory(tmp_path, monkeypatch):
    """``fft_factory("name")`` -> ``"name:build"``: a factory whose forward runs torch.fft.rfft2,
    an op with no formula (aten._fft_r2c)."""

    def make(module: str) -> str:
        (tmp_path / f"{module}.py").write_text(FFT_NET)
        monkeypatch.syspath_prepend(str(tmp_path))
        return f"{module}:build"

    return make
