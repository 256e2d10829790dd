"""Commands that need no tensors must never import torch (it costs seconds at startup).

Each command runs in a fresh interpreter; afterwards ``sys.modules`` must hold no torch,
torchvision, torchinfo or fvcore.  No timing asserts: ``python tests/benchmark.py``
measures the wall times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import fresh_python

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "torchvision", "torchinfo", "fvcore", "numpy")

PROBE = r"""
import io, json, sys
from contextlib import redirect_stdout
from paramscope.cli.main import main
out = io.StringIO()
code = 0
with redirect_stdout(out):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
heavy = [m for m in %r if m in sys.modules]
print(json.dumps({"code": code, "heavy": heavy, "out": out.getvalue()[-2000:]}))
""" % (HEAVY,)


def run_fresh(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


COMMANDS = [
    ("--help",),
    ("--version",),
    ("list",),
    ("list", "--format", "json"),
    ("show", "resnet50"),
    ("show", "resnext50_32x4d", "--set", "groups=64", "--input", "320"),
    ("schema",),
    ("summary", "resnet50", "--measure", "none"),
    ("summary", "resnet152", "--measure", "none", "--input", "1024", "--batch", "4", "--format", "json"),
    ("summary", "--help"),
    ("sweep", "resnext50_32x4d", "--set", "groups=1,2,4,8,32", "--set", "width_per_group=64,40,24,14,4",
     "--zip"),
    ("sweep", "resnet50", "--input", "224,320", "--format", "csv"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_command_does_not_import_torch(args):
    result = run_fresh(*args)
    assert result["code"] == 0, result["out"]
    assert result["heavy"] == [], f"paramscope {' '.join(args)} imported {result['heavy']}"


def test_yaml_file_target_does_not_import_torch(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text("name: tiny\ninput: [3, 32, 32]\nlayers:\n  - conv: {out_channels: 8, kernel_size: 3}\n"
                    "  - relu\n")
    result = run_fresh("summary", str(spec), "--measure", "none", "--format", "json")
    assert result["code"] == 0, result["out"]
    assert result["heavy"] == []


def test_importing_paramscope_and_its_api_does_not_import_torch():
    code = ("import sys, paramscope; paramscope.resolve_spec('resnet50'); "
            "paramscope.analyze('resnet50', measure='none'); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    proc = fresh_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("text", ["a: " + "[" * 200_000 + "]" * 200_000, "- " * 200_000 + "x",
                                  "a: " + "{b: " * 50_000 + "1" + "}" * 50_000])
def test_deeply_nested_yaml_is_refused_not_crashed(text, tmp_path):
    """The fast (libyaml) parser recurses on the C stack: deep texts must not reach it."""
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    code = ("import sys\nfrom paramscope.spec.yamlsafe import load_file\nfrom paramscope.errors import ParamscopeError\n"
            "try:\n    load_file(sys.argv[1])\nexcept ParamscopeError as err:\n    print(type(err).__name__, err)\n")
    proc = fresh_python(code, str(path))
    assert proc.returncode == 0, proc.stderr[-500:]  # a segfault would be -11
    assert "nests deeper" in proc.stdout


def test_fast_and_pure_python_parsers_agree_on_every_builtin_config(monkeypatch):
    from paramscope.spec import yamlsafe
    from paramscope.spec.library import builtin_files

    for path in builtin_files().values():
        fast = yamlsafe.load_file(str(path))
        monkeypatch.setattr(yamlsafe, "_FAST_LOADER", None)
        slow = yamlsafe.load_file(str(path))
        monkeypatch.undo()
        assert fast == slow, path
        assert fast.line == slow.line and fast.key_lines == slow.key_lines, path
