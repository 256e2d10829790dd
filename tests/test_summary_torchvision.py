"""paramscope.summary(torchvision.models.resnet50(), input_size=...) against torchinfo.summary itself."""

from __future__ import annotations

import pytest

torchvision = pytest.importorskip("torchvision")


@pytest.mark.torchvision
def test_resnet50_summary_totals_equal_torchinfo(capsys):
    import torchinfo

    import paramscope

    truth = torchinfo.summary(torchvision.models.resnet50(), input_size=(1, 3, 224, 224), verbose=0)
    report = paramscope.summary(torchvision.models.resnet50(), input_size=(1, 3, 224, 224))
    printed = capsys.readouterr().out
    assert truth.total_params == 25_557_032 and f"{truth.total_mult_adds / 1e9:.2f}" == "4.09"  # the figures
    assert report.totals["params"] == truth.total_params
    assert report.measurers["torchinfo"].total["mult-adds"] == truth.total_mult_adds
    assert report.measurers["torchinfo"].status == "match"
    assert printed == str(report) + "\n"
    assert f"{truth.total_params:,}" in printed and f"{truth.total_mult_adds:,}" in printed
    assert "4.09 G" in printed


@pytest.mark.torchvision
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_resnet50_tree_rows_are_torchinfos(depth):
    """The rows paramscope.summary shows at ``depth`` (hidden ones included) are torchinfo's
    own: class name, depth and depth index; the subtotals at the depth add up to its totals."""
    import torchinfo

    import paramscope
    from paramscope.reconciling.grouping import module_tree, visible_rows

    truth = torchinfo.summary(torchvision.models.resnet50(), input_size=(1, 3, 224, 224), depth=depth, verbose=0)
    report = paramscope.summary(torchvision.models.resnet50(), input_size=(1, 3, 224, 224), depth=depth,
                                verbose=0, measure="none")
    rows = visible_rows(module_tree(report), depth)
    want = [(info.class_name, info.depth, info.depth_index) for info in truth.summary_list if info.depth <= depth]
    got = [(node.kind, node.depth, node.index or 1) for node, _ in rows if not node.functional]
    assert got == want
    assert sum(group.params for _, group in rows) == truth.total_params == 25_557_032
    text = str(report)
    printed = [line.split("  ")[0] for line in str(truth).splitlines() if line[:1] in ("├", "│")]
    assert len(printed) == len(want) - 1
    for label in printed:  # every row torchinfo prints, as it prints it (none of resnet50's counts nothing)
        assert f"\n{label} " in text, label
    if depth == 3:
        assert "│    │    └─Sequential: 3-9 " in text  # layer1.0.downsample, folded: its subtotal
        downsample = next(g for n, g in rows if n.name == "layer1.0.downsample")
        assert downsample.params == 16_896
