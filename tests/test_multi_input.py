"""Several / keyword / integer / list inputs, structured outputs, the CPU fallback for
data-dependent models, TorchScript and forward-failure messages.

Truth: sum(p.numel()) and torch's FlopCounterMode run on the same model and inputs.
"""

import textwrap

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from paramscope.analysis import analyze  # noqa: E402
from paramscope.errors import ParamscopeError  # noqa: E402
from conftest import run_cli  # noqa: E402


class TwoImages(nn.Module):
    """Two positional inputs; a dict holding a tuple comes out."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 8, 3)
        self.conv_b = nn.Conv2d(3, 8, 3, stride=2)

    def forward(self, image1, image2):
        return {"a": self.conv_a(image1), "b": (self.conv_b(image2),)}


class Tokens(nn.Module):
    """Integer ids and an optional keyword tensor."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, ids, scale=None):
        h = self.emb(ids)
        return self.fc(h if scale is None else h * scale)


class Images(nn.Module):
    """A list of images in, a list out (like torchvision detection)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, images):
        return [self.conv(image.unsqueeze(0)) for image in images]


class Select(nn.Module):
    """How many elements reach ``fc`` depends on the input's values."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 4)

    def forward(self, x):
        return self.fc(x[x > 0.5].unsqueeze(1))


def flop_counter_macs(model, args, kwargs=None):
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*args, **(kwargs or {}))
    return counter.get_total_flops() // 2


def params(model):
    return sum(p.numel() for p in model.parameters())


def test_two_positional_inputs_and_dict_output_in_every_measurer():
    model = TwoImages()
    report = analyze(model, inputs=["[1,3,16,16]", "[1,3,20,20]"], measure="all")
    assert report.totals["params"] == params(model)
    assert report.totals["macs"] == flop_counter_macs(model, [torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 20, 20)])
    for tool, result in report.measurers.items():
        assert result.status in ("match", "unsupported"), (tool, result.status, result.note)
    assert report.to_dict()["totals"]["input_bytes"] == (3 * 16 * 16 + 3 * 20 * 20) * 4


def test_keyword_inputs_reach_forward_and_fvcore_says_why_it_skips():
    model = Tokens()
    report = analyze(model, inputs=["ids:long=2x7", "scale=2x7x16"], measure="all")
    ids, scale = torch.zeros(2, 7, dtype=torch.long), torch.zeros(2, 7, 16)
    assert report.totals["macs"] == flop_counter_macs(model, [ids], {"scale": scale}) == 2 * 7 * 16 * 4
    assert any(row.node.kind == "mul" for row in report.layers)  # the keyword input was used
    assert report.measurers["flop_counter"].status == "match"
    assert report.measurers["torchinfo"].status in ("match", "unsupported")
    fvcore = report.measurers["fvcore"]
    assert fvcore.status == "skipped" and "keyword" in fvcore.note
    assert report.notes[0] == "inputs: ids:int64=2x7, scale=2x7x16"


def test_integer_dtype_is_used_for_token_ids():
    report = analyze(Tokens(), inputs="long:[3,5]", measure="flop_counter")
    assert report.totals["macs"] == 3 * 5 * 16 * 4
    assert report.measurers["flop_counter"].status == "match"


def test_list_input_has_batch_images():
    model = Images()
    report = analyze(model, inputs="list:3x10x10", batch=3, measure="all")
    expected = flop_counter_macs(model, [[torch.zeros(3, 10, 10)] * 3])
    assert report.totals["macs"] == expected == 3 * 8 * 8 * 4 * 27
    assert report.measurers["flop_counter"].status == "match"
    assert report.measurers["fvcore"].status == "match"
    assert report.measurers["torchinfo"].status in ("match", "unsupported")


def test_data_dependent_model_runs_once_on_the_cpu_and_says_so():
    model = Select()
    report = analyze(model, input_shape=(2, 50), measure="all")
    x = torch.rand((2, 50), generator=torch.Generator().manual_seed(0))  # the documented seeded input
    kept = int((x > 0.5).sum())
    assert 0 < kept < 100
    assert report.totals["macs"] == flop_counter_macs(model, [x]) == kept * 4
    assert report.totals["params"] == params(model)
    notes = " ".join(report.notes)
    assert "real CPU run" in notes and "input-dependent" in notes and "fc" in notes
    measured = report.measurers["flop_counter"]  # FlopCounterMode watched the same CPU run
    assert measured.status == "match" and measured.total["flops (2 per MAC)"] == 2 * kept * 4
    assert report.measurers["torchinfo"].status == report.measurers["fvcore"].status == "skipped"


def test_cpu_fallback_respects_the_memory_budget():
    with pytest.raises(ParamscopeError, match="over the budget"):
        analyze(Select(), input_shape=(2, 50), measure="none", fvcore_budget=100)


def test_forward_failure_message_is_cut_at_a_word():
    class Fails(nn.Module):
        def forward(self, x):
            raise RuntimeError("elephant " * 100)

    with pytest.raises(ParamscopeError) as info:
        analyze(Fails(), measure="none")
    message = str(info.value)
    assert message.endswith(" …")
    assert message.split(": ")[-1].removesuffix(" …").split() == ["elephant"] * 33


@pytest.fixture
def factories(tmp_path):
    path = tmp_path / "multi_input_factories.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class TwoImages(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3)
            def forward(self, image1, image2):
                return self.conv(image1) + self.conv(image2)

        def two():
            return TwoImages()

        def video():
            return nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU())

        def scripted():
            return nn.Sequential(nn.Conv2d(3, 8, 3), torch.jit.script(nn.Sequential(nn.Conv2d(8, 8, 3))))
    """))
    return path


def test_cli_repeated_keyword_inputs(factories):
    code, out, err = run_cli("summary", f"{factories}:two", "--input", "image1=1x3x12x12",
                             "--input", "image2=1x3x12x12", "--measure", "flop_counter,torchinfo", "-f", "json")
    assert code == 0, err
    import json

    data = json.loads(out)
    assert data["totals"]["macs"] == 2 * 10 * 10 * 8 * 27
    assert "inputs: image1=1x3x12x12, image2=1x3x12x12" in data["notes"]
    assert data["inputs"] == [{"name": f"image{i}", "shape": [1, 3, 12, 12], "dtype": None, "list": False}
                              for i in (1, 2)]


def test_cli_video_sizes_are_channels_time_height_width(factories):
    import json

    code, out, err = run_cli("summary", f"{factories}:video", "--input", "3x4x8x8", "--measure", "none",
                             "-f", "json")
    assert code == 0, err
    assert json.loads(out)["input_shape"] == [1, 3, 4, 8, 8]


def test_cli_torchscript_is_named_in_one_line(factories):
    code, out, err = run_cli("summary", f"{factories}:scripted", "--measure", "none")
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "submodule '1' is a TorchScript module" in err


def test_spec_targets_take_one_plain_input(cli):
    code, out, err = cli("summary", "resnet18", "--input", "a=1x3x224x224", "--measure", "none")
    assert code == 2 and "takes one input tensor" in err and "Traceback" not in err


class SelectAttend(nn.Module):
    """Value-dependent sizes, then attention and a biased Linear: FlopCounterMode's CPU run
    counts the fused attention kernel 0 and the bias never."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        kept = x[x > 0.5]
        q = kept[: kept.numel() // 4 * 4].view(1, 1, -1, 4)
        return self.fc(torch.nn.functional.scaled_dot_product_attention(q, q, q))


def test_cpu_fallback_predicts_the_cpu_kernels_and_explains_in_data():
    import json

    model = SelectAttend()
    report = analyze(model, input_shape=(2, 50), measure="flop_counter")
    x = torch.rand((2, 50), generator=torch.Generator().manual_seed(0))  # the documented seeded input
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(x)
    measured = report.measurers["flop_counter"]
    assert measured.total["flops (2 per MAC)"] == counter.get_total_flops()
    assert measured.status == "match", measured.explanation
    total = measured.extra["paramscope_total"] + sum(d.amount for d in measured.explanation)
    assert total == counter.get_total_flops()
    assert any("scaled_dot_product_attention" in d.category for d in measured.explanation)  # named
    assert json.loads(json.dumps(report.to_dict()))["measurers"]["flop_counter"]["explanation"]
