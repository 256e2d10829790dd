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
