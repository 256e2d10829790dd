"""Factory targets end to end: ``module:callable`` and ``path/file.py:callable``.

``--set`` values become keyword arguments; models are built on the meta device when the
factory allows it (CPU fallback with a note otherwise); every way a factory can be wrong
is one clean line on stderr and exit 2.
"""

from __future__ import annotations

import itertools
import json
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

import paramscope  # noqa: E402
from paramscope.errors import ParamscopeError  # noqa: E402

_ids = itertools.count()

FACTORY = '''
import torch
from torch import nn

BUILT_ON = []


def build(width=8, depth=2, num_classes=10):
    layers = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)]
    model = nn.Sequential(*layers)
    BUILT_ON.append(next(model.parameters()).device.type)
    return model


def needs_real_tensors(width=8):
    # data-dependent construction (like stochastic-depth rates): fails on the meta device
    rates = torch.linspace(0, 0.1, 4).tolist()
    assert len(rates) == 4
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU())


def fails_everywhere():
    raise ValueError("unsupported configuration")


def not_a_module():
    return {"weights": 1}


NOT_CALLABLE = 42
'''


def expected_params(width=8, depth=2, num_classes=10):
    params = 3 * width * 9 + width
    params += (depth - 1) * (width * width * 9 + width)
    return params + width * num_classes + num_classes


from conftest import run_cli  # noqa: E402  (the one in-process CLI runner)


@pytest.fixture
def factory_file(tmp_path):
    """A factory module under tmp_path with a unique name: (path, module name)."""
    name = f"psfactory_{next(_ids)}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(FACTORY))
    yield path, name
    sys.modules.pop(name, None)


@pytest.fixture
def in_dir(factory_file, monkeypatch):
    """Run from the factory's directory, as a user would run ``paramscope summary mynets:build``."""
    path, name = factory_file
    monkeypatch.chdir(path.parent)
    monkeypatch.syspath_prepend(str(path.parent))
    return name


# ---------------------------------------------------------------- working factories

def test_module_factory_summary_with_sets(in_dir):
    code, out, err = run_cli("summary", f"{in_dir}:build", "--set", "width=16", "--set", "depth=3",
                             "--measure", "none", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["totals"]["params"] == expected_params(16, 3)
    assert report["source"] == "module"
    assert sys.modules[in_dir].BUILT_ON == ["meta"]  # built on the meta device


def test_file_factory_summary(factory_file):
    path, _ = factory_file
    code, out, err = run_cli("summary", f"{path}:build", "--set", "num_classes=100", "--measure", "none",
                             "--input", "3x32x32", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["totals"]["params"] == expected_params(num_classes=100)
    assert report["input_shape"] == [1, 3, 32, 32]
    # MACs: two 3x3 convs over 32x32 plus the classifier
    assert report["totals"]["macs"] == 32 * 32 * (8 * 3 * 9 + 8 * 8 * 9) + 8 * 100


def test_file_factory_table_output(factory_file):
    path, _ = factory_file
    code, out, err = run_cli("summary", f"{path}:build", "--measure", "none")
    assert code == 0, err
    assert f"{expected_params():,}" in out


def test_api_analyze_and_build_factory(factory_file):
    path, _ = factory_file
    report = paramscope.analyze(f"{path}:build", (2, 3, 16, 16), overrides={"width": 4}, measure="none")
    assert report.totals["params"] == expected_params(4)
    assert report.input_shape == (2, 3, 16, 16)
    assert not any("CPU" in n for n in report.notes)
    model = paramscope.build(f"{path}:build", device="meta", width=4)
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == expected_params(4)


def test_meta_failure_falls_back_to_cpu_with_a_note(factory_file):
    path, _ = factory_file
    report = paramscope.analyze(f"{path}:needs_real_tensors", (1, 3, 8, 8), measure="none")
    assert report.totals["params"] == 3 * 8 * 9 + 8
    assert any("built on the CPU" in n and "meta" in n for n in report.notes), report.notes
    code, out, err = run_cli("summary", f"{path}:needs_real_tensors", "--measure", "none", "--input", "3x8x8")
    assert code == 0, err
    assert "built on the CPU" in out


def test_sweep_over_a_factory(factory_file):
    path, _ = factory_file
    from paramscope.sweep import sweep

    result = sweep(f"{path}:build", {"width": [4, 8, 16]}, ["3x16x16"])
    assert [r.totals["params"] for r in result.rows] == [expected_params(w) for w in (4, 8, 16)]
    assert [r.input_shape for r in result.rows] == [(1, 3, 16, 16)] * 3


# ---------------------------------------------------------------- errors: one line, exit 2

def _one_line_error(args, *needles):
    code, out, err = run_cli(*args)
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_module_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line_error(("summary", "no_such_module_xyz:build", "--measure", "none"),
                    "no_such_module_xyz", "not found")


def test_attribute_missing_suggests(in_dir):
    _one_line_error(("summary", f"{in_dir}:buidl", "--measure", "none"), "'buidl' not found", "build")


def test_not_callable(in_dir):
    _one_line_error(("summary", f"{in_dir}:NOT_CALLABLE", "--measure", "none"), "not callable")


def test_factory_raises(factory_file):
    path, _ = factory_file
    _one_line_error(("summary", f"{path}:fails_everywhere", "--measure", "none"),
                    "ValueError", "unsupported configuration")


def test_factory_returns_non_module(factory_file):
    path, _ = factory_file
    _one_line_error(("summary", f"{path}:not_a_module", "--measure", "none"), "returned dict", "nn.Module")


def test_unknown_keyword(factory_file):
    path, _ = factory_file
    _one_line_error(("summary", f"{path}:build", "--set", "widht=4", "--measure", "none"), "widht")


def test_missing_factory_file(tmp_path):
    _one_line_error(("summary", f"{tmp_path}/nope.py:build", "--measure", "none"), "does not exist")


def test_import_raises(tmp_path):
    bad = tmp_path / "broken_factory.py"
    bad.write_text("raise RuntimeError('boom at import')\n")
    _one_line_error(("summary", f"{bad}:build", "--measure", "none"), "RuntimeError", "boom at import")


def test_syntax_error(tmp_path):
    bad = tmp_path / "syntax_factory.py"
    bad.write_text("def build(:\n")
    _one_line_error(("summary", f"{bad}:build", "--measure", "none"), "syntax error")


def test_api_errors_are_paramscope_errors(factory_file):
    path, _ = factory_file
    with pytest.raises(ParamscopeError, match="returned dict"):
        paramscope.analyze(f"{path}:not_a_module", measure="none")
    with pytest.raises(ParamscopeError, match="unsupported configuration"):
        paramscope.build(f"{path}:fails_everywhere")


# ---------------------------------------------------------------- torchvision

@pytest.mark.torchvision
def test_torchvision_factory_with_sets():
    pytest.importorskip("torchvision")
    report = paramscope.analyze("torchvision.models:resnet50", measure="none",
                                overrides={"groups": 32, "width_per_group": 4})
    assert report.totals["params"] == 25_028_904  # resnext50_32x4d
    assert report.totals["macs"] == 4_230_479_872
    code, out, err = run_cli("summary", "torchvision.models:resnet18", "--measure", "none", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["params"] == 11_689_512
