"""``summary``'s torchinfo-style module tree: goldens, subtotals that add up to independent
totals, torchinfo's own row labels for built specs, --columns / col_names, hidden rows, colour."""

from __future__ import annotations

import csv
import io

import pytest

import paramscope
from paramscope.reconciling.grouping import module_tree, visible_rows
from render_helpers import ANSI, check_golden, number, run

RESNET50 = {"params": 25_557_032, "macs": 4_089_184_256}  # reference: torchvision resnet50
CIFAR_RESNET = {"params": 175_258}


# ---------------------------------------------------------------------- goldens (checked by eye)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_golden_bottleneck_projection(depth):
    out = run("summary", "bottleneck-projection", "--depth", str(depth), columns=160).out
    check_golden(f"summary_bottleneck-projection_depth{depth}.txt", out)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_golden_resnet50(depth):
    out = run("summary", "resnet50", "--measure", "none", "--depth", str(depth), columns=120).out
    check_golden(f"summary_resnet50_depth{depth}.txt", out)


@pytest.mark.parametrize("columns", [60, 80])
def test_golden_narrow(columns):
    """Columns are dropped by their priority (each tool, output, status), never cut, and the
    line under the table names them."""
    out = run("summary", "bottleneck-projection", "--depth", "2", columns=columns).out
    assert all(len(line.rstrip()) <= columns for line in out.splitlines())
    assert "columns dropped to fit" in out and "torchinfo" in out.split("columns dropped to fit")[1].splitlines()[0]
    check_golden(f"summary_bottleneck-projection_depth2_cols{columns}.txt", out)


# ---------------------------------------------------------------------- subtotals add up


@pytest.mark.parametrize("target, truth", [("resnet50", RESNET50), ("cifar-resnet", CIFAR_RESNET),
                                           ("bottleneck-projection", {"params": 57_728})])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_visible_rows_add_up_to_the_totals(target, truth, depth):
    report = paramscope.analyze(target, measure="none")
    rows = visible_rows(module_tree(report), depth)
    assert all(node.depth <= depth for node, _ in rows)
    t = report.totals
    for key in ("params", "macs", "flops", "activation_bytes", "trainable_params"):
        assert sum(getattr(group, key) for _, group in rows) == t[key]
    for key, value in truth.items():
        assert t[key] == value


@pytest.mark.parametrize("depth", ["1", "2", "3"])
def test_cli_rows_add_up(depth):
    """What the table shows (hidden rows included in nothing) adds up to torchvision's figures."""
    out = run("summary", "resnet50", "--measure", "none", "--depth", depth, "--format", "csv").out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sum(int(r["params"]) for r in rows) == RESNET50["params"]
    assert sum(int(r["macs"]) for r in rows) == RESNET50["macs"]
    assert max(int(r["depth"]) for r in rows) == int(depth)
    md = run("summary", "resnet50", "--measure", "none", "--depth", depth, "--format", "markdown").out
    from render_helpers import parse_markdown_tables

    table = parse_markdown_tables(md)[0]
    assert len(table.rows) == len(rows) + 1  # the same rows as the CSV, and the total
    assert sum(number(v) for v in table.column("params")[:-1] if v != "--") == RESNET50["params"]


def test_depth_folds_deeper_rows_into_a_subtotal():
    """resnet50 at depth 3: a downsample Sequential (depth 3) carries its conv + bn."""
    report = paramscope.analyze("resnet50", measure="none")
    rows = dict((node.name, group) for node, group in visible_rows(module_tree(report), 3))
    assert rows["layer1.0.downsample"].params == 64 * 256 + 2 * 256  # 1×1 conv + BatchNorm
    assert rows["layer1.0"].params == 0 and rows["layer1"].params == 0  # their rows are shown


# ---------------------------------------------------------------------- torchinfo's rows


@pytest.mark.parametrize("target", ["resnet50", "resnet18", "bottleneck-projection", "cifar-resnet"])
def test_built_spec_rows_are_torchinfos(target):
    """The spec analysis (pure Python) labels every row as torchinfo does for the built model:
    class name (Bottleneck, BasicBlock, Sequential), depth and depth index."""
    import torchinfo

    from paramscope.api import build

    report = paramscope.analyze(target, measure="none")
    truth = torchinfo.summary(build(target), input_size=tuple(report.input_shape), depth=99, verbose=0)
    want = [(layer.class_name, layer.depth, layer.depth_index) for layer in truth.summary_list]
    got = [(n.kind, n.depth, n.index or 1) for n in module_tree(report).walk() if not n.functional]
    assert got == want


def test_spec_containers_keep_their_behaviour():
    from paramscope.building.modules import Chain, Residual
    from paramscope.api import build

    model = build("resnet50")
    assert type(model.layer1[0]).__name__ == "Bottleneck" and isinstance(model.layer1[0], Residual)
    assert type(model.layer1).__name__ == "Sequential" and isinstance(model.layer1, Chain)
    assert type(model.layer1[0]) is type(model.layer2[0])  # one class per name


def test_shared_module_and_container_params_and_ops():
    """A module called twice: two rows, params once ("(recursive)"); a container's own
    parameter on its row; a functional op under the module that called it."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)
            self.scale = nn.Parameter(torch.ones(8))

        def forward(self, x):
            return self.fc(self.fc(x)) * self.scale + x

    model = nn.Sequential(Block(), nn.Linear(8, 2))
    report = paramscope.summary(model, input_size=(1, 8), verbose=0, measure="none")
    root = module_tree(report)
    block = root.children[0]
    assert (block.kind, block.extra) == ("Block", 8)
    assert [(c.kind, c.index, c.repeat) for c in block.children] == \
        [("Linear", 1, False), ("Linear", 2, True), ("mul", None, False), ("add", None, False)]
    text = report.render(columns=("params", "macs"), all_rows=True)
    assert "(recursive)" in text and "│    └─mul()" in text and "│    └─add()" in text
    rows = visible_rows(root, 1)
    assert sum(g.params for _, g in rows) == report.totals["params"] == 72 + 8 + 18
    assert [g.params for n, g in rows if n.depth == 1] == [80, 18]


# ---------------------------------------------------------------------- columns


def test_columns_option_and_torchinfo_names():
    out = run("summary", "bottleneck-projection", "--measure", "none", "--columns",
              "input,output,kernel,params,trainable,macs,flops,memory", columns=200).out
    header = out.splitlines()[1]
    for title in ("input", "output", "kernel", "params", "trainable", "MACs", "FLOPs", "memory"):
        assert title in header
    assert "3×3" in out and "True" in out and "KB" in out
    report = paramscope.summary("bottleneck-projection", col_names=("input_size", "output_size", "kernel_size",
                                                                    "num_params", "mult_adds"),
                                verbose=0, measure="none")
    assert report.display["columns"] == ("input", "output", "kernel", "params", "macs")
    header = str(report).splitlines()[1]
    assert "kernel" in header and "FLOPs" not in header


def test_unknown_column_is_one_line_exit_2():
    result = run("summary", "resnet-stem", "--columns", "params,bogus")
    assert result.code == 2 and result.out == ""
    assert len(result.err.strip().splitlines()) == 1 and "bogus" in result.err and "choices:" in result.err
    idle = run("summary", "resnet-stem", "--measure", "none", "--columns", "fvcore")
    assert idle.code == 2 and "not measured" in idle.err
    with pytest.raises(paramscope.ParamscopeError, match="unknown column"):
        paramscope.summary("resnet-stem", col_names=["num_params", "nope"], verbose=0)


# ---------------------------------------------------------------------- hidden rows, units, legend


def test_rows_with_nothing_hidden_and_counted():
    shown = run("summary", "resnet50", "--measure", "none", "--depth", "1").out
    assert "Flatten" not in shown.split("\nTotal")[0]
    assert "1 row with nothing to count hidden (Flatten); --all-rows shows them" in shown
    every = run("summary", "resnet50", "--measure", "none", "--depth", "1", "--all-rows").out
    assert "├─Flatten: 1-10" in every and "hidden" not in every
    # ReLU counts FLOPs, so it shows while FLOPs are a column, and hides when they are not
    assert "├─ReLU: 1-3" in shown
    no_flops = run("summary", "resnet50", "--measure", "none", "--depth", "1", "--columns", "params,macs").out
    assert "ReLU" not in no_flops.split("\nTotal")[0] and "(ReLU, MaxPool2d, AdaptiveAvgPool2d, Flatten)" in no_flops


def test_cells_in_their_own_units():
    out = run("summary", "resnet50", "--measure", "none", "--depth", "1", "--columns",
              "params,macs,flops,memory").out
    conv1 = next(line for line in out.splitlines() if "├─Conv2d: 1-1" in line)
    assert [c.strip() for c in conv1.split("|")[1:]] == ["9,408", "118.01 M", "236.03 M", "3.21 MB"]
    fc = next(line for line in out.splitlines() if "├─Linear: 1-11" in line)
    assert [c.strip() for c in fc.split("|")[1:]] == ["2,049,000", "2.05 M", "4.10 M", "4.00 KB"]
    assert "0.00 M" not in out


def test_legend_and_colour_only_on_a_terminal():
    from rich.console import Console

    from paramscope.render.summary import LEGEND, summary_renderables

    report = paramscope.analyze("bottleneck-projection")
    plain = run("summary", "bottleneck-projection").out
    assert " ".join(LEGEND.split()) in " ".join(plain.split()) and not ANSI.search(plain)  # wrapped
    assert LEGEND not in run("summary", "bottleneck-projection", "--columns", "params,macs").out
    console = Console(file=io.StringIO(), width=200, force_terminal=True, color_system="standard")
    for part in summary_renderables(report, width=200, plain=False):
        console.print(part)
    coloured = console.file.getvalue()
    assert "\x1b[32m✓" in coloured and "├─Residual: 1-1" in coloured and "│    └─Conv2d: 2-1" in coloured
    md = run("summary", "bottleneck-projection", "--format", "markdown").out
    assert not ANSI.search(md) and "├─Residual: 1-1" in md


def test_compare_agreement_mark_only_when_all_agree():
    from paramscope.reconciling.report import MeasurerResult, Report
    from paramscope.render.compare import _measured

    report = Report("x", (1,), "float32", "spec", [])
    report.measurers = {"a": MeasurerResult("a", "", "match"), "b": MeasurerResult("b", "", "unsupported")}
    assert _measured(report) == "? 1 unsupported, 1 match"  # no tool disagrees, one cannot count all
    report.measurers["b"] = MeasurerResult("b", "", "match")
    assert _measured(report) == "✓ 2 match"
    report.measurers["b"] = MeasurerResult("b", "", "mismatch")
    assert _measured(report) == "✗ 1 mismatch, 1 match"
