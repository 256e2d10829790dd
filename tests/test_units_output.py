"""Every number in its own unit: no output of summary, compare, explain, sweep or check for a
built-in config prints a non-zero value as ``0.00 <unit>``, or MB figures of 10^6 and more.

Truth is arithmetic here: a printed ``0.00 M`` is a non-zero count shown as nothing (a zero
is printed as ``0``), and a size of 10^6 MB has a better unit.  Analytic only (--measure none).
"""

from __future__ import annotations

import re

import pytest

from paramscope.api import builtin_targets
from paramscope.render.units import factor, human, nbytes, tick_text, torchinfo_mb
from render_helpers import run

#: a scaled figure that rounds to zero: ``0.00 G``, ``0.0 MB``, ``0.00 B``
ZERO_IN_A_UNIT = re.compile(r"(?<![\d.,])0\.0+ ?(?:[KMGTPE]B?|B)(?![A-Za-z])")
#: a megabyte figure: its integer part
MEGABYTES = re.compile(r"(?<![\d.,])(\d[\d,]*)(?:\.\d+)? MB\b")
CONFIGS = sorted(builtin_targets())
COMMANDS = {
    "summary": lambda c: ("summary", c, "--measure", "none"),
    "explain": lambda c: ("explain", c),
    "check": lambda c: ("check", c, "--measure", "none"),
    "compare": lambda c: ("compare", c, "resnet-stem", "--measure", "none"),
    "sweep": lambda c: ("sweep", c, "--input", "32,224"),
}

def bad_numbers(text: str) -> list[str]:
    bad = [m.group(0) for m in ZERO_IN_A_UNIT.finditer(text)]
    return bad + [m.group(0) for m in MEGABYTES.finditer(text) if int(m.group(1).replace(",", "")) >= 10**6]


def _cases():
    for command in COMMANDS:
        for config in CONFIGS:
            yield pytest.param(command, config, id=f"{command}-{config}")


#: torchvision classifiers of every family (the rest are checked the same way by hand: 0 problems
#: over all 80 with summary and compare)
TORCHVISION = ("resnet50", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "vit_b_16", "squeezenet1_0")


@pytest.mark.torchvision
@pytest.mark.parametrize("model", TORCHVISION)
def test_torchvision_models_print_no_zero_in_a_unit(model):
    pytest.importorskip("torchvision")
    target = f"torchvision.models:{model}"
    for command in ("summary", "explain", "check", "compare"):
        args = COMMANDS[command](target)
        result = run(*args)
        assert result.code in (0, 1), result.err
        assert bad_numbers(result.out) == [], (command, result.out)


@pytest.mark.parametrize("command, config", list(_cases()))
def test_no_zero_in_a_unit_and_no_huge_megabytes(command, config):
    for fmt in ("table", "markdown"):
        result = run(*COMMANDS[command](config), "--format", fmt)
        assert result.code in (0, 1), result.err
        assert bad_numbers(result.out) == [], (fmt, result.out)


def test_the_regexes():
    assert bad_numbers("0.00 G | 0.0 MB | 0.00 B | 1,000,000.00 MB") == ["0.00 G", "0.0 MB", "0.00 B",
                                                                         "1,000,000.00 MB"]
    assert bad_numbers("0 | 10.00 G | 999,999.99 MB | 5.02e-12 | 1.000 | 0.009 GFLOPs") == []


@pytest.mark.parametrize("args", [
    ("summary", "resnet-stem", "--measure", "none", "--input", "3"),
    ("summary", "vgg-stem", "--measure", "none", "--input", "100000"),
    ("compare", "resnet-stem", "vgg-stem", "--measure", "none", "--input", "100000"),
    ("sweep", "resnet-stem", "--input", "100000000,224"),
    ("sweep", "vgg-stem", "--input", "8,100000", "--mode", "train"),
])
def test_tiny_and_huge_inputs(args):
    for fmt in ("table", "markdown"):
        result = run(*args, "--format", fmt)
        assert result.code == 0, result.err
        assert bad_numbers(result.out) == [], result.out


def test_huge_sweep_point_has_units():
    """1×3×10^8×10^8 (near the tensor-size limit): units up to E, never a bare huge integer."""
    out = run("sweep", "resnet-stem", "--input", "100000000,224", columns=200).out
    big = next(line for line in out.splitlines() if line.startswith("1×3×100000000×100000000"))
    assert "23.52 E" in big and "47.32 E" in big and "800.00 PB" in big
    small = next(line for line in out.splitlines() if line.startswith("1×3×224×224"))
    assert "118.01 M" in small and "5.02e-12" in small and "0.000" not in small
    assert not re.search(r"\d{7,}", out.replace(",", "").replace("100000000", ""))


# ---------------------------------------------------------------- the formatters


@pytest.mark.parametrize("value, text", [
    (0, "0"), (9_999, "9,999"), (10_000, "10.00 K"), (86_704_128, "86.70 M"), (4_089_184_256, "4.09 G"),
    (23_520_000_000_000_000_000, "23.52 E"), (-12_800, "-12.80 K"), (None, "--"),
])
def test_human(value, text):
    assert human(value) == text


@pytest.mark.parametrize("value, text", [
    (0, "0 B"), (512, "512 B"), (1_000, "1.00 KB"), (1_492_992, "1.49 MB"), (29_940_000_000_000, "29.94 TB"),
    (800 * 10**15, "800.00 PB"), (3 * 10**18, "3.00 EB"),
])
def test_nbytes(value, text):
    assert nbytes(value) == text


def test_torchinfo_mb_only_where_readable():
    assert torchinfo_mb(602_112) == "0.60 MB"
    assert torchinfo_mb(999_990_000_000) == "999,990.00 MB"
    assert torchinfo_mb(10**12) == "1.00 TB"
    assert torchinfo_mb(48) == "48 B" and torchinfo_mb(None) == "--"


def test_factor():
    assert [factor(v) for v in (1.0, 1.0094, 0.033, 0.0, None)] == ["1.000", "1.009", "0.033", "0.000", "--"]
    assert factor(5.02e-12) == "5.02e-12" and factor(2.35e11) == "2.35e+11"


def test_tick_text():
    assert [tick_text(v) for v in (0.0, 500.0, 2.5e9, 1.2e6, 3e6, 1.234e9)] == ["0", "500", "2.5 G", "1.2 M", "3 M", "1.23 G"]
