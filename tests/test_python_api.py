"""The Python API a torchinfo user meets (issue 11): print(report), __all__/dir, paramscope.summary
with torchinfo's own arguments."""

from __future__ import annotations

import pytest

from conftest import fresh_python
RESNET_STEM_PARAMS = 3 * 64 * 7 * 7 + 64  # conv1 weight + bias
RESNET50_PARAMS = 25_557_032  # torchvision's resnet50, as torchinfo reports it


# ---------------------------------------------------------------------- str / repr


def test_str_of_a_report_is_the_summary_table():
    import paramscope

    report = paramscope.analyze("resnet-stem", measure="none")
    text = str(report)
    assert text.splitlines()[0].startswith("resnet-stem  input 1×3×224×224  float32")
    assert f"{RESNET_STEM_PARAMS:,}" in text and "MACs" in text and "FLOPs" in text
    assert "LayerRow(" not in text and "Report(" not in text


def test_print_report_prints_str(capsys):
    import paramscope

    report = paramscope.analyze("resnet-stem", measure="none")
    print(report)
    assert capsys.readouterr().out == str(report) + "\n"


def test_repr_is_short_and_names_the_totals():
    import paramscope

    for report in (paramscope.analyze("resnet50", measure="none"),
                   paramscope.analyze("resnet-stem", measure="none", mode="train")):
        text = repr(report)
        assert len(text) < 200 and "\n" not in text, text
        assert f"{report.totals['params']:,} params" in text and report.target in text
    assert f"{RESNET50_PARAMS:,} params" in repr(paramscope.analyze("resnet50", measure="none"))


def test_report_render_takes_depth_and_width():
    import paramscope

    report = paramscope.analyze("resnet50", measure="none")
    grouped = report.render(depth=1, width=100)
    assert "├─Sequential: 1-8" in grouped and "Bottleneck: 2-" not in grouped
    assert "Bottleneck: 2-16" in report.render(width=100)  # torchinfo's default depth 3
    assert max(len(line) for line in grouped.splitlines()) <= 100


# ---------------------------------------------------------------------- __all__ and dir()


def test_all_lists_the_public_api_and_dir_shows_it():
    """In a fresh interpreter: every name in __all__ resolves, dir() lists it, `import *` binds it,
    and none of that imports torch."""
    code = ("import sys, paramscope\n"
            "names = [n for n in paramscope.__all__]\n"
            "assert {'analyze', 'build', 'summary', 'Report', 'ParamscopeError'} <= set(names), names\n"
            "assert set(names) <= set(dir(paramscope)), dir(paramscope)\n"
            "ns = {}\nexec('from paramscope import *', ns)\n"
            "assert all(ns[n] is getattr(paramscope, n) for n in names)\n"
            "assert callable(paramscope.summary) and callable(paramscope.analyze)\n"
            "print('torch' in sys.modules)\n")
    proc = fresh_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


# ---------------------------------------------------------------------- summary(): torchinfo's arguments


def _net():
    from torch import nn

    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Sequential(nn.Conv2d(8, 16, 3, bias=False), nn.ReLU()),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def test_summary_totals_equal_torchinfo_summary():
    """The same call to both: params equal torchinfo's total, and paramscope's torchinfo column
    equals torchinfo's own total mult-adds."""
    import torchinfo

    import paramscope

    truth = torchinfo.summary(_net(), input_size=(2, 3, 32, 32), verbose=0)
    report = paramscope.summary(_net(), input_size=(2, 3, 32, 32), verbose=0)
    assert report.totals["params"] == truth.total_params
    assert report.measurers["torchinfo"].total["mult-adds"] == truth.total_mult_adds
    assert report.measurers["torchinfo"].status == "match"


def test_summary_honours_batch_dim_and_depth():
    import torchinfo

    import paramscope

    truth = torchinfo.summary(_net(), input_size=(3, 32, 32), batch_dim=0, verbose=0)
    report = paramscope.summary(_net(), input_size=(3, 32, 32), batch_dim=0, depth=1, verbose=0)
    assert tuple(report.input_shape) == (1, 3, 32, 32)
    assert report.measurers["torchinfo"].total["mult-adds"] == truth.total_mult_adds
    text = str(report)
    assert "├─Sequential: 1-4" in text and "├─Conv2d: 2-1" not in text and "rows deeper than 1" in text


def test_summary_takes_input_data_and_dtypes():
    import torch
    from torch import nn

    import paramscope

    emb = nn.Sequential(nn.Embedding(100, 16), nn.Linear(16, 4))
    by_data = paramscope.summary(emb, input_data=torch.zeros(2, 7, dtype=torch.long), verbose=0, measure="none")
    by_size = paramscope.summary(emb, input_size=(2, 7), dtypes=[torch.long], verbose=0, measure="none")
    linear_macs = 2 * 7 * 16 * 4
    for report in (by_data, by_size):
        assert report.totals["params"] == 100 * 16 + 16 * 4 + 4
        assert report.totals["macs"] == linear_macs


def test_summary_prints_unless_verbose_0(capsys):
    import paramscope

    quiet = paramscope.summary(_net(), input_size=(1, 3, 16, 16), verbose=0, measure="none")
    assert capsys.readouterr().out == ""
    loud = paramscope.summary(_net(), input_size=(1, 3, 16, 16), measure="none")
    assert capsys.readouterr().out == str(loud) + "\n"
    assert quiet.totals == loud.totals


def test_summary_notes_the_arguments_it_does_not_apply():
    import paramscope

    report = paramscope.summary(_net(), input_size=(1, 3, 16, 16), col_names=("num_params",), col_width=20,
                                row_settings=("var_names",), device="cpu", mode="train", verbose=0,
                                measure="none")
    noted = " ".join(report.notes)
    for key in ("col_width", "row_settings", "device", "mode"):
        assert f"summary({key}=" in noted
    assert "col_names" not in noted and report.display["columns"] == ("params",)  # applied
    silent = paramscope.summary(_net(), input_size=(1, 3, 16, 16), mode="eval", verbose=0, measure="none")
    assert not any(n.startswith("summary(") for n in silent.notes)


def test_summary_refuses_what_it_cannot_honour():
    import paramscope
    from paramscope import ParamscopeError

    with pytest.raises(ParamscopeError, match="unknown argument"):
        paramscope.summary(_net(), input_size=(1, 3, 16, 16), attention_mask=None, verbose=0)
    with pytest.raises(ParamscopeError, match="depth"):
        paramscope.summary(_net(), input_size=(1, 3, 16, 16), depth=0, verbose=0)
    with pytest.raises(ParamscopeError, match="input_size"):
        paramscope.summary(_net(), input_size="224", verbose=0)
    with pytest.raises(ParamscopeError, match="mode"):
        paramscope.summary(_net(), input_size=(1, 3, 16, 16), mode="infer", verbose=0)
