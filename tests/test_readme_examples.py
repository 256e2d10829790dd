"""Every terminal example in the README is real output: run it and compare (see readme_examples)."""

from __future__ import annotations

import importlib.util

import pytest

from readme_examples import examples, matches, run

NEEDS = {"torchvision.models:": "torchvision"}  # an example that needs an optional package


def _cases():
    for example in examples():
        need = next((pkg for prefix, pkg in NEEDS.items() if any(a.startswith(prefix) for a in example.argv)),
                    None)
        marks = [pytest.mark.torchvision] if need else []
        yield pytest.param(example, need, id=f"line{example.line}", marks=marks)


def test_the_readme_has_examples():
    assert len(examples()) >= 8


@pytest.mark.parametrize("example,need", list(_cases()))
def test_readme_example(example, need):
    if need and importlib.util.find_spec(need) is None:
        pytest.skip(f"needs {need}")
    code, actual = run(example)
    assert code == example.exit_code, f"README.md:{example.line}: `{example.command}` exited {code}"
    assert matches(example.expected, actual, example.measured, example.reflowed), (
        f"README.md:{example.line}: `{example.command}` prints:\n" + "\n".join(actual))


def test_ellipsis_skips_lines_and_nothing_else():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "b"], ["a", "b"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["a", "b"], ["a", "b", "c"])
    assert matches(["t | 1.5 ms", "...", "why: 2× faster"], ["t |  12.25 ms", "x", "why: 3×", "faster"], measured=True)
    assert matches(["t 1.5 ms", "GFLOP/s"], ["t 834.5 µs", "GFLOP/s"], measured=True)
    assert not matches(["1.5 GFLOP/s"], ["2.5 MFLOP/s"], measured=True)
    assert matches(["error: a b", "  c"], ["error: a", "  b c"], reflowed=True)
    assert not matches(["error: a 1"], ["error: a 2"], reflowed=True)
    assert not matches(["b", "..."], ["a", "b"], measured=True)


def test_markers_qualify_the_next_example():
    text = "<!-- readme: exit 1 -->\n\n```\n$ paramscope sweep x\nout\n```\n```\n$ paramscope list\n```\n"
    first, second = examples(text)
    assert (first.argv, first.expected, first.exit_code, first.measured) == (["sweep", "x"], ["out"], 1, False)
    assert (second.exit_code, second.measured) == (0, False)
